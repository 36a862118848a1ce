package sysexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunCarriesStderrAndExitCode(t *testing.T) {
	_, err := Host{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo 'Volume group \"vg0\" not found' >&2; exit 5"}})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %v", err)
	}
	if e.ExitCode != 5 {
		t.Errorf("exit code %d, want 5", e.ExitCode)
	}
	msg := err.Error()
	for _, want := range []string{"sh -c", "exit status 5", `Volume group "vg0" not found`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestRunUsesCLocaleAndStdin(t *testing.T) {
	res, err := Host{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", `printf '%s:' "$LC_ALL"; cat`}, Stdin: strings.NewReader("in")})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "C:in" {
		t.Errorf("stdout %q, want C:in", got)
	}
}

func TestRunNotInstalled(t *testing.T) {
	_, err := Host{}.Run(context.Background(), Cmd{Name: "rigplan-no-such-tool"})
	if !NotInstalled(err) || !strings.Contains(err.Error(), "rigplan-no-such-tool is not installed") {
		t.Fatalf("got %v", err)
	}
}

func TestRunTimeout(t *testing.T) {
	_, err := Host{}.Run(context.Background(), Cmd{Name: "sleep", Args: []string{"30"}, Timeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %v", err)
	}
}

func TestCounterAndRefuse(t *testing.T) {
	c := &Counter{Runner: Refuse{Reason: "validate never touches the host"}}
	_, err := c.Run(context.Background(), Cmd{Name: "lvs"})
	if err == nil || !strings.Contains(err.Error(), "validate never touches the host") {
		t.Errorf("Refuse ran a command: %v", err)
	}
	if c.Count() != 1 {
		t.Errorf("count %d, want 1", c.Count())
	}
}

func TestCmdString(t *testing.T) {
	got := Cmd{Name: "lvcreate", Args: []string{"--addtag", "rigplan:addr:volume.a", "-n", "it's"}}.String()
	if want := `lvcreate --addtag rigplan:addr:volume.a -n 'it'\''s'`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRunStreamsAndCaptures(t *testing.T) {
	var stream strings.Builder
	res, err := Host{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo out; echo err >&2; exit 3"}, Stream: &stream})
	var e *Error
	if !errors.As(err, &e) || e.Stderr != "err\n" {
		t.Fatalf("err = %v, want exit 3 carrying stderr", err)
	}
	if string(res.Stdout) != "out\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
	if got := stream.String(); !strings.Contains(got, "out\n") || !strings.Contains(got, "err\n") || len(got) != 8 {
		t.Errorf("stream %q, want both lines", got)
	}
}

// Ctrl-C in a terminal signals the foreground process group: a command
// must not be in rigplan's, or the interrupt that lets rigplan's running
// changes finish would kill the command under them.
func TestRunInProcessGroupOfItsOwn(t *testing.T) {
	res, err := Host{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", `echo $$; cut -d' ' -f5 /proc/$$/stat`}})
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(res.Stdout))
	if len(f) != 2 || f[0] != f[1] {
		t.Fatalf("pid and process group of the command: %q, want it to lead a group of its own", res.Stdout)
	}
	if f[1] == strconv.Itoa(syscall.Getpgrp()) {
		t.Errorf("the command runs in rigplan's process group %s", f[1])
	}
}

// A timeout kills what the command started too, not only the command.
func TestRunTimeoutKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	_, err := Host{}.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", `sleep 30 & echo $! >` + pidFile + `; wait`}, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %v", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return // gone, or dead and waiting for init to reap it
		}
		if time.Now().After(end) {
			t.Fatalf("the command's child %d still runs after the timeout: %s", pid, stat)
		}
	}
}
