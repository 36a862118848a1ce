// Package systemdtest proves the systemd flavour of the testhost harness
// against the real thing: its tests run inside the User-Mode Linux test
// host with systemd as PID 1 (TestMain is testhost.MainSystemd) and check
// that the system comes up, that a Type=notify unit written by a test is
// loaded, started and reported ready, that a user-namespaced
// systemd-nspawn machine starts through machined and powers itself off,
// that the root is a per-boot layer that never writes into the cached
// root, and that LVM thin pools work on the scratch disks.
//
// The package has no code of its own; everything is in its tests.
package systemdtest
