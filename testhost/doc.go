// Package testhost runs a package's tests inside a real Linux kernel with
// device-mapper, so that LVM thin pools, mounts and snapshots are tested for
// real on machines (and CI runners) whose own kernel has no device-mapper.
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
// Knobs (environment of the outer go test):
//
//   - RIGPLAN_TESTHOST_KEEP=1 keeps the per-boot directory (init script,
//     console log; disk images are sparse) when the run fails, and says where.
//
// The boot is described by a bootConfig and PID 1 is rendered from an
// embedded template, so another flavour (a debootstrapped Debian directory
// as root with systemd as PID 1, for systemd-nspawn@.service tests) is a new
// config and template rather than a rewrite.
package testhost
