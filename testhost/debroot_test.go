package testhost

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRecipeKey(t *testing.T) {
	base := systemdRecipe("6.1.176", "/usr/lib/uml/modules/6.1.176")
	key := base.key()
	if len(key) != 16 {
		t.Fatalf("key %q is not 16 hex digits", key)
	}

	same := base
	same.packages = append([]string(nil), base.packages...)
	same.packages[0], same.packages[1] = same.packages[1], same.packages[0]
	same.modules = "/elsewhere"
	if got := same.key(); got != key {
		t.Errorf("package order or the modules' host path changed the key: %s, want %s", got, key)
	}

	for name, change := range map[string]func(r *debRecipe){
		"suite":    func(r *debRecipe) { r.suite = "trixie" },
		"variant":  func(r *debRecipe) { r.variant = "buildd" },
		"packages": func(r *debRecipe) { r.packages = append(r.packages, "ncat") },
		"release":  func(r *debRecipe) { r.release = "6.1.177" },
		"stage0":   func(r *debRecipe) { r.stage0 += "# changed\n" },
	} {
		r := base
		r.packages = append([]string(nil), base.packages...)
		change(&r)
		if r.key() == key {
			t.Errorf("changing the recipe's %s kept the key %s", name, key)
		}
	}
	if got := base.rootDir("/var/cache/rigplan"); got != "/var/cache/rigplan/testhost-systemd-"+key {
		t.Errorf("rootDir = %s", got)
	}
}

// fakeBuild makes a root with one file, counting builds.
func fakeBuild(builds *atomic.Int32, err error) rootBuilder {
	return func(ctx context.Context, dir string, log io.Writer) error {
		builds.Add(1)
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			return errors.New("build directory not empty")
		}
		if werr := os.WriteFile(filepath.Join(dir, "built"), []byte("yes"), 0o644); werr != nil {
			return werr
		}
		return err
	}
}

func TestEnsureRootBuildsOnceForParallelCallers(t *testing.T) {
	root := filepath.Join(t.TempDir(), "cache", "testhost-systemd-0123")
	var builds atomic.Int32
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 4)
	errs := make([]error, 4)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ensureRoot(context.Background(), root, fakeBuild(&builds, nil), &outs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("built %d times, want once", n)
	}
	if b, err := os.ReadFile(filepath.Join(root, "built")); err != nil || string(b) != "yes" {
		t.Errorf("the root lacks what the build made: %q, %v", b, err)
	}
	var all strings.Builder
	for i := range outs {
		all.WriteString(outs[i].String())
	}
	if !strings.Contains(all.String(), "testhost: built the systemd test host's root in ") {
		t.Errorf("no caller said how long the build took:\n%s", all.String())
	}
	if left, _ := filepath.Glob(root + ".build-*"); len(left) > 0 {
		t.Errorf("build directories left: %v", left)
	}

	// Built: no build, no output.
	var out bytes.Buffer
	if _, err := ensureRoot(context.Background(), root, fakeBuild(&builds, nil), &out); err != nil || builds.Load() != 1 || out.Len() != 0 {
		t.Errorf("with the root built: err %v, builds %d, output %q", err, builds.Load(), out.String())
	}
}

func TestEnsureRootFailedBuildLeavesNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "testhost-systemd-0123")
	var builds atomic.Int32
	_, err := ensureRoot(context.Background(), root, fakeBuild(&builds, errors.New("mirror unreachable")), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "mirror unreachable") || !strings.Contains(err.Error(), root+".log") {
		t.Errorf("err = %v, want the build's error and the log's path", err)
	}
	if isDir(root) {
		t.Error("a failed build left a root in place")
	}
	if left, _ := filepath.Glob(root + ".build-*"); len(left) > 0 {
		t.Errorf("build directories left: %v", left)
	}
}

func TestEnsureRootRemovesAnInterruptedBuild(t *testing.T) {
	root := filepath.Join(t.TempDir(), "testhost-systemd-0123")
	stale := root + ".build-99999"
	if err := os.MkdirAll(filepath.Join(stale, "usr"), 0o755); err != nil {
		t.Fatal(err)
	}
	var builds atomic.Int32
	if _, err := ensureRoot(context.Background(), root, fakeBuild(&builds, nil), io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the interrupted build %s is still there (%v)", stale, err)
	}
}

func TestLockFileWaitsAndGivesUpWithTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(context.Background(), path, func() { t.Error("waited for a free lock") })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := false
	_, err = lockFile(ctx, path, func() { waited = true; cancel() })
	if !waited || !errors.Is(err, context.Canceled) {
		t.Errorf("second lock: waited %v, err %v; want it to wait, then give up with the context", waited, err)
	}
	unlock()
	unlock2, err := lockFile(context.Background(), path, func() { t.Error("waited for a released lock") })
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}

func TestRunLoggedNamesAMissingProgram(t *testing.T) {
	err := runLogged(context.Background(), io.Discard, "rigplan-no-such-program")
	if err == nil || !strings.Contains(err.Error(), "rigplan-no-such-program is not installed") {
		t.Errorf("err = %v", err)
	}
	var log bytes.Buffer
	err = runLogged(context.Background(), &log, "sh", "-c", "echo one; echo two >&2; exit 4")
	if err == nil || !strings.Contains(err.Error(), "exit status 4") || !strings.Contains(err.Error(), "    two\n") {
		t.Errorf("err = %v, want the exit status and the last lines", err)
	}
	if !strings.Contains(log.String(), "+ sh -c") || !strings.Contains(log.String(), "one\n") {
		t.Errorf("log = %q, want the command and its output", log.String())
	}
}
