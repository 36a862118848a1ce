// Package selftest proves the testhost harness against the real thing: its
// tests run inside the User-Mode Linux test kernel (TestMain is
// testhost.Main) and check that the kernel is the UML 6.1 kernel with
// device-mapper, that LVM thin pools, thin volumes, XFS and tagged thin
// snapshots work on the scratch disks, that the disks are clean between
// tests, that leaks fail the leaking test, and that LVM never writes into the
// host's /etc/lvm.
//
// The package has no code of its own; everything is in its tests.
package selftest
