package btrfsstore

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// jobUID is the host user the tests' jobs run as. In a machine the job's
// runner is an unprivileged user whose files land on disk under the uid
// the idmapped mount maps it to; here the job runs as that uid directly,
// with no capabilities, which is all an attacker inside a machine has
// over its own cache.
const jobUID = 1000

// needTool skips the test, naming the package, unless name is installed.
func needTool(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("btrfsstore: needs %s (apt-get install %s)", name, pkg)
	}
}

// openDir makes an empty directory that every user can traverse
// (t.TempDir's are 0700), removed when the test ends.
func openDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "btrfsstore-job-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	return dir
}

// jobMount mounts snapshot name where the job's user can reach it and
// gives the cache's root to that user, as the agent's default subvolume
// does for a machine's runner. The mount is undone when the test ends
// unless the test did it.
func jobMount(t testing.TB, s *Store, name string) string {
	t.Helper()
	dir := openDir(t)
	if err := s.Mount(bg, name, dir); err != nil {
		t.Fatalf("Mount(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if err := os.Chown(dir, jobUID, jobUID); err != nil {
		t.Fatal(err)
	}
	return dir
}

// asJob runs a command as the job's user (setpriv: no groups, no
// capabilities) and returns what it printed, and its error.
func asJob(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	needTool(t, "setpriv", "util-linux")
	id := strconv.Itoa(jobUID)
	cmd := sysexec.Cmd{
		Name:    "setpriv",
		Args:    append([]string{"--reuid=" + id, "--regid=" + id, "--clear-groups", "--", name}, args...),
		Timeout: 2 * time.Minute,
	}
	res, err := (sysexec.Host{}).Run(context.Background(), cmd)
	return string(res.Stdout), err
}

// job runs a command as the job's user and fails the test if it fails.
func job(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := asJob(t, name, args...)
	if err != nil {
		t.Fatalf("as the job: %v", err)
	}
	return out
}
