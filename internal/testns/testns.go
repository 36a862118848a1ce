// Package testns runs a test binary in a mount namespace of its own.
//
// Every process on the host that makes a mount namespace copies the
// mounts of the one it is in. The tests that start systemd-nspawn
// machines of the host's root (cache/inject/machinetest) make such
// namespaces all the time, and a machine one package's tests start would
// keep a copy of another package's mount (a snapshot, a loop device's
// filesystem) taken at that moment, after that package unmounted it: the
// store then rightly finds the snapshot still mounted, and the loop
// device stays busy. With each such test binary in a private namespace
// of its own, their mounts never meet.
package testns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// env is set in the environment of the test binary once it runs in its
// own namespace.
const env = "RIGPLAN_TEST_OWN_MOUNT_NAMESPACE"

// Main runs m's tests in a new private mount namespace and returns the
// exit status for os.Exit: as root, the test binary runs itself again,
// unshared (the namespace a process makes applies to all its threads
// only when made before it starts); otherwise, and in the re-run, m.Run
// in place.
func Main(m *testing.M) int {
	if os.Geteuid() != 0 || os.Getenv(env) != "" {
		return m.Run()
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// CLONE_NEWNS: Go makes the new namespace's mounts private too, so
	// that nothing mounted in it reaches the host's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintf(os.Stderr, "testns: run the tests in a mount namespace of their own: %v\n", err)
		return 1
	}
	return 0
}
