package testhost

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeKernel is a stand-in for linux.uml that plays one scenario: it finds
// the boot directory from its uml_dir= argument ($d), prints to its
// console (stdout) and to the serial line (fd 3), and writes $d/exit.
func fakeKernel(t *testing.T, body string) bootConfig {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", filepath.Join(dir, "tmp"))
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nfor a in \"$@\"; do case $a in uml_dir=*) d=${a#uml_dir=}; d=${d%/uml};; esac; done\n" + body + "\n"
	kernel := filepath.Join(dir, "linux.uml")
	if err := os.WriteFile(kernel, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := hostRootConfig()
	cfg.kernel, cfg.release, cfg.modules = kernel, "6.1.176", "/nonexistent"
	cfg.disks, cfg.diskSize = 1, 1<<20
	return cfg
}

func testSpec(timeout time.Duration) runSpec {
	return runSpec{argv: []string{"/bin/true", "-test.v"}, dir: "/", env: []string{"PATH=/usr/bin"}, timeout: timeout, start: time.Now()}
}

// bootDirsLeft lists what boot left in TMPDIR.
func bootDirsLeft(t *testing.T) []string {
	entries, err := os.ReadDir(os.Getenv("TMPDIR"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestBootPassesOutputThroughUnchanged(t *testing.T) {
	// Framing bytes of -test.v=test2json and a last line without newline.
	cfg := fakeKernel(t, `echo "Linux version 6.1.176"
printf '\026=== RUN   TestA\n\026--- PASS: TestA (0.00s)\nPASS\r\nno newline' >&3
echo 0 >"$d/exit"`)
	var out bytes.Buffer
	code, err := boot(context.Background(), cfg, testSpec(time.Minute), &out)
	if code != 0 || err != nil {
		t.Fatalf("boot = %d, %v", code, err)
	}
	want := "\x16=== RUN   TestA\n\x16--- PASS: TestA (0.00s)\nPASS\r\nno newline\n"
	if out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
	if left := bootDirsLeft(t); len(left) != 0 {
		t.Errorf("boot left %v in TMPDIR", left)
	}
}

func TestBootReturnsTheInnerStatusWithKernelMessages(t *testing.T) {
	cfg := fakeKernel(t, `echo "testhost-init: ready"
echo "testhost-init: running the tests in '/x'"
echo "device-mapper: thin: 254:3: reached low water mark"
printf -- '--- FAIL: TestA (0.01s)\nFAIL\n' >&3
echo "testhost-init: the tests exited with status 1; powering off"
echo "reboot: System halted"
echo 1 >"$d/exit"`)
	var out bytes.Buffer
	code, err := boot(context.Background(), cfg, testSpec(time.Minute), &out)
	if code != 1 || err != nil {
		t.Fatalf("boot = %d, %v, want 1 and no harness error", code, err)
	}
	want := "--- FAIL: TestA (0.01s)\nFAIL\ntesthost: kernel messages while the tests ran:\n    device-mapper: thin: 254:3: reached low water mark\n"
	if out.String() != want {
		t.Errorf("output =\n%s\nwant\n%s", out.String(), want)
	}
}

func TestBootFailsWhenNoStatusIsReported(t *testing.T) {
	cfg := fakeKernel(t, `echo "Kernel panic - not syncing: Attempted to kill init!"
printf 'half a line' >&3`)
	var out bytes.Buffer
	code, err := boot(context.Background(), cfg, testSpec(time.Minute), &out)
	if code == 0 || err == nil || !strings.Contains(err.Error(), "never reported an exit status") ||
		!strings.Contains(err.Error(), "    Kernel panic - not syncing: Attempted to kill init!") {
		t.Errorf("boot = %d, %v; want a failure quoting the console", code, err)
	}
	if out.String() != "half a line\n" {
		t.Errorf("output = %q", out.String())
	}
}

func TestBootFailsWhenTheKernelFailsAfterPassing(t *testing.T) {
	cfg := fakeKernel(t, `echo 0 >"$d/exit"; exit 7`)
	code, err := boot(context.Background(), cfg, testSpec(time.Minute), &bytes.Buffer{})
	if code == 0 || err == nil || !strings.Contains(err.Error(), "the tests passed but the test kernel then failed: exit status 7") {
		t.Errorf("boot = %d, %v", code, err)
	}
}

func TestBootGuardKillsAHungKernel(t *testing.T) {
	// The child records its pid as the host sees it (the kernel runs in a
	// PID namespace; /proc is the host's).
	cfg := fakeKernel(t, `sh -c 'read pid rest </proc/self/stat; echo $pid >"$1"; exec sleep 300' sh "$d/../child" &
echo "testhost-init: running the tests"
printf 'started\n' >&3
sleep 300`)
	cfg.grace = 200 * time.Millisecond
	start := time.Now()
	var out bytes.Buffer
	code, err := boot(context.Background(), cfg, testSpec(300*time.Millisecond), &out)
	if elapsed := time.Since(start); elapsed > 15*time.Second {
		t.Errorf("the guard took %v", elapsed)
	}
	if code == 0 || err == nil || !strings.Contains(err.Error(), "still running 200ms after -test.timeout 300ms; killed it") ||
		!strings.Contains(err.Error(), "testhost-init: running the tests") {
		t.Errorf("boot = %d, %v", code, err)
	}
	if out.String() != "started\n" {
		t.Errorf("output = %q", out.String())
	}
	// The whole process group went, not only the kernel process.
	pid, err := os.ReadFile(filepath.Join(os.Getenv("TMPDIR"), "child"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(n) + "/stat")
	if err == nil && !strings.Contains(string(stat), ") Z ") {
		t.Errorf("the kernel's child %d survived the guard: %s", n, stat)
	}
}

func TestBootInterrupted(t *testing.T) {
	cfg := fakeKernel(t, `sleep 300`)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	code, err := boot(ctx, cfg, testSpec(0), &bytes.Buffer{})
	if code == 0 || err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("boot = %d, %v", code, err)
	}
}

func TestBootKeepsTheDirectoryOfAFailedRunWhenAsked(t *testing.T) {
	cfg := fakeKernel(t, `echo boom`)
	t.Setenv(envKeep, "1")
	_, err := boot(context.Background(), cfg, testSpec(time.Minute), &bytes.Buffer{})
	left := bootDirsLeft(t)
	if len(left) != 1 || err == nil || !strings.Contains(err.Error(), "kept the boot directory "+filepath.Join(os.Getenv("TMPDIR"), left[0])) {
		t.Fatalf("left %v, error %v", left, err)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("TMPDIR"), left[0], "console.log")); err != nil {
		t.Error(err)
	}
}

func TestReadExit(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int{"0\n": 0, "3": 3, "255\n": 255, "": -1, "x": -1, "256": -1, "-1": -1} {
		p := filepath.Join(dir, "exit")
		os.WriteFile(p, []byte(content), 0o600)
		got, err := readExit(p)
		if (err != nil) != (want < 0) || (err == nil && got != want) {
			t.Errorf("readExit(%q) = %d, %v; want %d", content, got, err, want)
		}
	}
}

// errWriter is an output nobody reads any more.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestBootStopsWhenTheOutputIsGone(t *testing.T) {
	cfg := fakeKernel(t, `printf 'x\n' >&3; sleep 300`)
	start := time.Now()
	code, err := boot(context.Background(), cfg, testSpec(time.Hour), errWriter{})
	if code == 0 || err == nil || !strings.Contains(err.Error(), "writing the tests' output failed") {
		t.Errorf("boot = %d, %v", code, err)
	}
	if elapsed := time.Since(start); elapsed > 15*time.Second {
		t.Errorf("stopping took %v", elapsed)
	}
}
