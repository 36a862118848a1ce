package lvmstoretest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// killAfter runs commands like sysexec.Host but SIGKILLs each one after d
// (sysexec kills a command whose context ends).
type killAfter struct{ d time.Duration }

func (k killAfter) Run(ctx context.Context, cmd sysexec.Cmd) (sysexec.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, k.d)
	defer cancel()
	return sysexec.Host{}.Run(ctx, cmd)
}

// checkOnlyPending checks the crash-safety promise: every LV in the group
// besides the pool and the default volume carries the membership tag and
// the pending state (in LVM's own view), and List reports each as Pending.
// It then deletes them as the agent does at start-up, and checks they are
// gone.
//
// A device left suspended is resumed first and logged: SIGKILL of an
// lvcreate while it holds the origin suspended leaves it so (seen here
// with a kill 1.3 s into a 1.4 s lvcreate). The store never kills LVM
// itself (TestCancelDoesNotKillLVM); this is what an outside kill does.
func checkOnlyPending(t *testing.T, e *env, label string) (made int) {
	t.Helper()
	out := sh(t, "dmsetup", "info", "-c", "--noheadings", "-o", "name,suspended")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if dev, state, _ := strings.Cut(line, ":"); state == "Suspended" {
			t.Logf("%s: LVM left %s suspended; resuming it", label, dev)
			sh(t, "dmsetup", "resume", dev)
		}
	}
	for name, x := range lvs(t) {
		if name == "pool" || name == "default" {
			continue
		}
		made++
		t.Logf("%s: left %s (lv_attr %s)", label, name, x.Attr)
		tags := strings.Split(x.Tags, ",")
		if !contains(tags, ns+":snapshot") || !contains(tags, ns+":state:pending") {
			t.Errorf("%s: LV %s has tags %q: an LV the store cannot account for", label, name, tags)
		}
	}
	for name, sn := range byName(t, e.store) {
		if sn.Default {
			continue
		}
		if sn.State != store.Pending {
			t.Errorf("%s: List reports %s as %s, want pending", label, name, sn.State)
		}
		if err := e.store.Delete(bg, name); err != nil {
			t.Errorf("%s: deleting the pending %s: %v", label, name, err)
		}
	}
	if n := len(byName(t, e.store)); n != 1 {
		t.Errorf("%s: after deleting the pending snapshots List has %d entries, want only the default volume", label, n)
	}
	return made
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A Create whose lvcreate is SIGKILLed at any point leaves nothing, or a
// snapshot tagged pending: lvcreate writes the LV and its tags in one
// metadata commit. The origin is mounted, so lvcreate suspends it; a kill
// must not leave it suspended.
func TestCreateKilledLeavesOnlyPending(t *testing.T) {
	e := setup(t, "xfs", "4G", 0)
	origin := t.TempDir()
	sh(t, "mount", "-o", "nouuid", "/dev/"+vg+"/default", origin)
	defer sh(t, "umount", origin)
	made := 0
	for i, d := range []time.Duration{0, 400, 800, 1100, 1300, 1500, 5000} {
		d *= time.Millisecond
		s := e.newStore(killAfter{d})
		_, err := s.Create(bg, "default", fmt.Sprintf("k%d", i), "m", []string{"linux"})
		t.Logf("lvcreate killed after %v: %v", d, firstLine(err))
		made += checkOnlyPending(t, e, fmt.Sprintf("killed after %v", d))
		// The origin is still usable.
		if err := os.WriteFile(origin+"/probe", []byte(d.String()), 0o644); err != nil {
			t.Fatalf("after a kill at %v the origin is not writable: %v", d, err)
		}
	}
	if made == 0 {
		t.Error("no kill left a snapshot: the test never hit the window after lvcreate's commit")
	}
}

func firstLine(err error) string {
	if err == nil {
		return "finished"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// The agent killed (SIGKILL) in the middle of a Create: its lvcreate runs
// on, orphaned, and finishes; what it leaves is pending.
func TestAgentKilledDuringCreate(t *testing.T) {
	e := setup(t, "xfs", "4G", 0)
	for i, d := range []time.Duration{300, 1000} {
		d *= time.Millisecond
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+fmt.Sprintf("a%d", i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d)
		cmd.Process.Kill()
		cmd.Wait()
		waitNoLVMCommand(t)
		checkOnlyPending(t, e, fmt.Sprintf("agent killed after %v", d))
	}
}

// helperEnv makes the test binary act as a tiny agent that runs one
// Create and exits (see TestMain).
const helperEnv = "RIGPLAN_LVMSTORETEST_CREATE"

// helperCreate is that agent.
func helperCreate(name string) int {
	s, err := newStore(sysexec.Host{})
	if err == nil {
		_, err = s.Create(context.Background(), "default", name, "m", []string{"linux"})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// waitNoLVMCommand waits until no LVM command runs (an orphaned lvcreate
// finishes on its own).
func waitNoLVMCommand(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		busy := false
		entries, _ := os.ReadDir("/proc")
		for _, en := range entries {
			comm, err := os.ReadFile("/proc/" + en.Name() + "/comm")
			if err == nil && strings.TrimSpace(string(comm)) == "lvcreate" {
				busy = true
			}
		}
		if !busy {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("an lvcreate is still running after two minutes")
}

// Cancelling a request's context does not kill an LVM command the store
// has started: Create waits for lvcreate and reports what it did.
func TestCancelDoesNotKillLVM(t *testing.T) {
	e := setup(t, "xfs", "4G", 0)
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	sn, err := e.store.Create(ctx, "default", "c1", "m", []string{"linux"})
	if err != nil {
		t.Fatalf("Create with a context that ended while lvcreate ran: %v", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Logf("lvcreate took only %v: the context did not end while it ran", took)
	}
	if got := byName(t, e.store)["c1"]; got.State != store.Pending || !got.Created.Equal(sn.Created) {
		t.Errorf("List reports %+v, want the pending snapshot Create returned", got)
	}
	// A context already done stops a command from starting.
	if _, err := e.store.Create(ctx, "default", "c2", "m", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Create with a dead context: %v, want context.DeadlineExceeded", err)
	}
	if _, ok := byName(t, e.store)["c2"]; ok {
		t.Error("Create with a dead context made a snapshot")
	}
}
