// Package testhost runs a package's tests inside a real Linux kernel with
// device-mapper, so that LVM thin pools, mounts and snapshots are tested for
// real on machines (and CI runners) whose own kernel has no device-mapper.
// Its second flavour boots a cached Debian root with systemd as PID 1, for
// tests of units, machined and systemd-nspawn machines (see "With systemd
// as PID 1" below).
//
// The kernel is User-Mode Linux (Debian package user-mode-linux): an ordinary
// process that boots in about two seconds, needs no KVM, and mounts the host's
// own root filesystem as its root through hostfs. The host's lvm2, xfsprogs
// and the test binary itself are therefore visible inside unchanged.
//
// A package opts in with
//
//	func TestMain(m *testing.M) { os.Exit(testhost.Main(m)) }
//
// and each test that needs the kernel starts with
//
//	k := testhost.Kernel(t)
//	disks := k.Disks() // /dev/ubda … /dev/ubdd, sparse and empty
//
// On the host, Main boots the kernel once per test binary, with four sparse
// scratch disks, and runs the same binary with the same -test.* flags,
// working directory and environment inside it. The inner run's output
// (stdout and stderr merged, exactly as go test merges them) is passed
// through byte for byte and live, so go test -v and go test -json look as
// they do for any other package; the inner exit code becomes the outer one.
// Kernel messages go to a separate console log, printed only when something
// went wrong. -test.timeout counts from the start of the outer binary, boot
// included, so the inner binary's own timeout panic (with its goroutines)
// comes first; if the kernel hangs beyond that, a guard kills it 30 seconds
// later and prints the end of the console log. The kernel runs in a PID
// namespace of its own, so no part of it outlives the test binary.
//
// Where the kernel cannot run (not root, user-mode-linux or its modules not
// installed, lvm2 missing), Main runs the tests natively and Kernel skips
// each test with a message naming what is missing and how to install it.
//
// Inside, each test gets the disks clean: Kernel registers a cleanup that
// unmounts what the test mounted from them, removes every volume group and
// physical volume, wipes all signatures and partition tables, and fails the
// test if it leaked mounts, device-mapper devices outside LVM, or loop
// devices. Tests that call Kernel must not run in parallel with each other:
// they share the disks.
//
// What the inside looks like (see init.sh.tmpl):
//
//   - / is the host's root over hostfs: writes there reach the host. The
//     harness shadows /etc/lvm with a copy on tmpfs, so LVM's metadata
//     backups, archives and devices file never reach the host's /etc/lvm.
//   - /run and TMPDIR (so t.TempDir) are tmpfs inside the test kernel, at
//     most half its memory: put big files on the scratch disks.
//   - DM_DISABLE_UDEV=1: there is no udev; LVM creates /dev nodes itself.
//   - modprobe on PATH is a wrapper that finds the UML kernel's modules;
//     dm-thin-pool, dm-snapshot, dm-zero, loop and overlay are loaded.
//   - One CPU, 1 GiB of memory, loopback network only.
//
// # With systemd as PID 1
//
// Tests of what needs a whole system (systemctl, daemon-reload, machined,
// machinectl, systemd-nspawn@.service) use the systemd flavour instead:
//
//	func TestMain(m *testing.M) { os.Exit(testhost.MainSystemd(m)) }
//
//	func TestMachine(t *testing.T) {
//		k := testhost.SystemdHost(t) // the same K: k.Disks() as above
//
// The test kernel's root is then a Debian 12 directory built by
// debootstrap (minbase with systemd, systemd-container, dbus, lvm2,
// thin-provisioning-tools, xfsprogs, btrfs-progs, busybox-static …; see
// systemdRecipe), with the UML kernel's modules where modprobe finds them.
// It is built once per recipe and cached outside the work tree, in
// /var/cache/rigplan/testhost-systemd-KEY (about 370 MB), where KEY hashes
// the recipe: a changed package list, kernel release or first init builds
// a new root and never reuses an old one. The build takes a few minutes
// (measured 5 to 8 on a busy two-CPU machine, mostly downloading and
// unpacking) and prints how long it took (go test shows it with -v); it
// runs in a temporary directory renamed into place when complete, under a
// flock, so test binaries starting together build it once while the
// others wait. The time counts against the first test binary's -timeout.
// Old roots are not removed: delete /var/cache/rigplan/testhost-systemd-*
// to reclaim the space.
//
// The kernel mounts that root read-only through hostfs. Its first init
// (systemd-stage0.sh, part of the recipe) mounts the per-boot directory and
// runs the init script rendered there (systemd.sh.tmpl), which lays an
// overlay over the root with a tmpfs as its writable layer, mounts the test
// binary's directory and the working directory at their host paths, adds
// this boot's units under /run/systemd/system, pivots into the overlay and
// executes /lib/systemd/systemd. What the tests write anywhere in / (units,
// /etc/systemd/nspawn, /var/lib/machines, LVM's backups) lives in memory
// until the boot ends and never reaches the cached root, so parallel boots
// share it safely. Units with nothing to do in a test host (gettys,
// housekeeping timers, LVM monitoring) are masked with systemd.mask= on the
// kernel command line, and most generators are masked too. The tests run in
// rigplan-testhost.service (Type=exec), started after multi-user.target, so
// the system reaches "running" while they run; their output reaches the
// harness over the serial line as in the other flavour, and the service
// powers the kernel off when they end. Booting takes 20 to 40 seconds. If
// systemd falls into emergency or rescue mode, it prints the failed units
// and errors and powers off; if the tests have not started five minutes
// after the kernel did (systemd froze, or waits for a device), the harness
// kills the kernel. Either way it reports that the tests never ran, with
// the console's end.
//
// Inside it differs from the other flavour in that the host's files are
// not there (only the two directories above), tools come from the cached
// root, and there is no /etc/lvm shadow (the root is not the host's). What
// is the same: the scratch disks, TMPDIR on a tmpfs under /run/testhost,
// DM_DISABLE_UDEV=1 (no udev runs), device-mapper modules loaded at boot
// (by systemd-modules-load), one CPU, 1 GiB of memory, the timeout and the
// guard.
//
// Where it cannot run (no root, user-mode-linux, or, while the root is not
// built, debootstrap), MainSystemd runs the tests natively and SystemdHost
// skips each test naming what is missing, except under CI (CI set in the
// environment), where it fails the test: CI installs everything.
//
// Knobs (environment of the outer go test):
//
//   - RIGPLAN_TESTHOST_KEEP=1 keeps the per-boot directory (init script,
//     console log; disk images are sparse) when the run fails, and says where.
//   - RIGPLAN_TESTHOST_CACHE=DIR keeps the systemd flavour's roots in DIR
//     rather than /var/cache/rigplan.
//
// The boot is described by a bootConfig and PID 1 is rendered from an
// embedded template; the two flavours are two configs and two templates
// (boot.go, systemd.go).
package testhost
