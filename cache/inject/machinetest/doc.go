// Package machinetest starts real systemd-nspawn machines for tests of the
// cache agent and of package inject.
//
// A machine is what production runs, minus systemd inside: systemd-nspawn
// with --directory=/ --volatile=yes (a tmpfs root over the host's read-only
// /usr, so sh, coreutils and ncat exist inside), a private user range
// (--private-users=BASE:RANGE, never chowning anything), --register=no
// --keep-unit, in the unified-hierarchy cgroup production uses:
// /machine.slice/systemd-nspawn@NAME.service (nspawn itself then makes
// the payload and supervisor cgroups below it). The nspawn process is moved
// there before it forks the machine, by starting it through
// `sh -c 'echo $$ >…/cgroup.procs; exec systemd-nspawn …'`.
//
// PID 1 inside is `sh -c 'read -r _'` on nspawn's stdin (--console=pipe):
// PowerOff closes that pipe, PID 1 exits, and the machine is gone the way
// a runner's machine powers off after its job.
//
// Commands run inside with nsenter --all (optionally as an unprivileged
// uid), after moving the nsenter process into the leader's cgroup, so that
// to the agent they are indistinguishable from the machine's own processes.
//
// Everything is undone in t.Cleanup: the machine is powered off (killed if
// it will not go), its cgroups are removed. The shared parent
// machine.slice is left in place: other tests may be using it.
//
// Start skips the test, naming what is missing, without root,
// systemd-nspawn, nsenter, user namespaces or a unified cgroup hierarchy.
package machinetest
