package lvmstoretest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Busy sees what a mount table scan of this namespace would miss: a mount
// in another mount namespace (a machine's), and a filesystem lazily
// unmounted while a process still has a file open on it.
func TestBusy(t *testing.T) {
	e := setup(t, "xfs", "4G", 0)
	s := e.store
	if _, err := s.Create(bg, "default", "b1", "m", nil); err != nil {
		t.Fatal(err)
	}
	check := func(label string, want bool) {
		t.Helper()
		busy, where, err := s.Busy(bg, "b1")
		if err != nil || busy != want {
			t.Errorf("%s: Busy = %v (%s), %v; want %v", label, busy, where, err, want)
		}
	}
	check("created, not mounted", false)

	target := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", `mount -o nouuid "$1" "$2" && touch "$3" && exec sleep 60`, "sh", "/dev/"+vg+"/b1", target, ready)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the other namespace never mounted the snapshot")
		}
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), target) {
		t.Error("the other namespace's mount shows in ours: the test proves nothing")
	}
	check("mounted in another namespace", true)
	cmd.Process.Kill()
	cmd.Wait()
	check("that namespace gone", false)

	dir := t.TempDir()
	if err := s.Mount(bg, "b1", dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	check("lazily unmounted, a file still open", true)
	f.Close()
	check("the file closed", false)
}
