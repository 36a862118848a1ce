// Package nspawn implements the machine resource type: a systemd-nspawn
// machine run by systemd-nspawn@NAME.service, the way the original
// hand-built runner host ran its ephemeral GitHub runner.
//
// # Files
//
// Apply writes, each starting with rigplan's mark (`# rigplan:managed
// machine.ADDR`):
//
//   - /etc/systemd/nspawn/NAME.nspawn: every setting of the machine, the
//     defaults too, since the unit's command line (--boot --network-veth
//     -U --link-journal=try-guest) decides what the file leaves out;
//   - /etc/systemd/system/systemd-nspawn@NAME.service.d/rigplan.conf:
//     Restart= and Environment= of systemd-nspawn itself;
//   - /var/lib/rigplan/machines/NAME: the mark of the machine's root,
//     outside the tree so that nothing in the machine can forge it, with
//     the layout, manifest digest and uid shift it was unpacked with.
//
// and unpacks the image's OCI layout into /var/lib/machines/NAME (beside
// it first, then swapped in with RENAME_EXCHANGE). A directory there
// without a root mark, or a file without the mark, is someone else's:
// rigplan refuses to touch it.
//
// Refresh reads those files back into attributes (so a hand edit is a
// change of the attribute it touched) and asks `systemctl show` about all
// machines in one call.
//
// # Attributes
//
//   - name (required, replaces): the machine name; nspawn's rules
//     (letters, digits, - _ and dots between labels, at most 64).
//   - image (required): the image's OCI layout, `image.NAME.layout`.
//   - image_digest: the manifest digest the root is unpacked from; write
//     `image.NAME.digest`, or leave it to be read from the layout at plan.
//   - private_users: "BASE:RANGE", "pick" (default) or "no".
//   - ownership: "off" (rigplan unpacks the files shifted by BASE, the
//     original's one-off chown; needs an explicit range), "chown" (nspawn
//     chowns at boot; rigplan still unpacks shifted when the range is
//     explicit), "map" (idmapped mount; files unpacked 0-based) or "auto"
//     (default; files unpacked 0-based, nspawn maps or chowns).
//   - nested_podman: the jobs run rootless podman; the range must hold
//     131072 ids or more.
//   - volatile ("overlay" by default, "state", "yes", "no"), read_only.
//   - bind, bind_read_only: nspawn's SOURCE[:DEST[:OPTIONS]].
//   - resolv_conf, link_journal: nspawn's ResolvConf= and LinkJournal=.
//   - network: "veth" (default, as the unit), "none" or "host".
//   - environment: the machine's init's environment.
//   - command: run this instead of booting (Boot=no, Parameters=).
//   - restart: the unit's Restart=, "always" by default.
//   - unit_environment: systemd-nspawn's environment (SYSTEMD_SECCOMP=0).
//   - enabled, running: true by default.
//   - job_wait: how long apply waits for a running job before it swaps
//     the root ("1h").
//
// Computed: unit, settings_file, dropin_file, directory, active_state,
// unit_file_state and busy.
//
// # Validation
//
// At validate time, pointing at the attribute: read_only with chown
// (nspawn refuses it), chown with a range that is not 65536 ids at a
// multiple of 65536 (nspawn's automatic chown cannot), ownership off with
// a picked range, nested_podman with fewer than 131072 ids, bases below
// 65536 or ranges past the last uid, bad machine names, relative bind
// paths, command words and environment values a .nspawn file cannot
// carry. At plan time: systemd-nspawn not installed (no
// systemd-nspawn@.service); two machines with one name or overlapping
// ranges (Refresh sees every machine), and a warning when a picked range
// could land on a fixed one; a missing bind source is a warning at plan
// (another resource of the same apply may create it, as the cache agent
// creates its socket directory) and an error at apply.
//
// # Busy machines
//
// A machine is busy while a GitHub runner job runs in it: a process
// named Runner.Worker (the runner starts one per job; Runner.Listener
// only waits) in the unit's cgroup under machine.slice. A new image or
// user range is unpacked beside the running machine, then apply waits up
// to job_wait for the job to end before it stops the machine, swaps the
// root and starts it; Ctrl-C ends the wait at once, leaving the machine
// and its root as they were (ApplyRequest.Interrupted). While it waits, a runtime drop-in (Restart=no)
// keeps systemd from booting the machine again after the job, so that no
// new job starts on the old root. New settings alone restart an idle machine; a busy
// one keeps running and picks them up when it next boots (after its job,
// with restart = "always").
package nspawn
