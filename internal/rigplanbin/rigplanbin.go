// Package rigplanbin builds the rigplan binary for tests that run it as
// its own process: the CLI against real LVM, the agent under systemd, the
// client inside machines.
package rigplanbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Build builds cmd/rigplan into dir/rigplan as the Makefile ships it
// (static: no cgo, containers/image's pure-Go OpenPGP), so that it also
// runs inside machines and test hosts whatever their libraries, and
// returns its path. go build's output goes to stderr.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "rigplan")
	cmd := exec.Command("go", "build", "-tags=containers_image_openpgp", "-o", bin, "github.com/rigplan/rigplan/cmd/rigplan")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build rigplan (needs the go toolchain on PATH): %w", err)
	}
	return bin, nil
}

// NextToTest is the rigplan binary of a test package whose tests run in
// the systemd test host, where of the host's directories only the test
// binary's (and the working directory) are seen at the same path. Called
// with build (on the host, before the test kernel boots) it builds rigplan
// next to the test binary; inside the test host it only names that path.
func NextToTest(build bool) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if build {
		return Build(filepath.Dir(exe))
	}
	return filepath.Join(filepath.Dir(exe), "rigplan"), nil
}

// Run runs rigplan with args and NO_COLOR, fails the test unless it exits
// with want, and returns what it printed (stdout and stderr).
func Run(t testing.TB, bin string, want int, args ...string) string {
	t.Helper()
	return RunEnv(t, bin, nil, want, args...)
}

// RunEnv is Run with env (KEY=VALUE) added to the environment.
func RunEnv(t testing.TB, bin string, env []string, want int, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != want {
		t.Fatalf("rigplan %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return string(out)
}
