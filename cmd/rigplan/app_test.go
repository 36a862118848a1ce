package main

import (
	"bytes"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
)

// An interrupt that arrives while a command is finishing is still
// acknowledged: the command's own goroutines may well win the race to
// the exit, and a real Ctrl-C must never pass unanswered. The command
// here interrupts its own process and returns at once, the tightest
// form of that race; each of many runs must print the acknowledgement.
func TestInterruptAcknowledged(t *testing.T) {
	for i := range 200 {
		var stderr bytes.Buffer
		a := &app{stdout: &bytes.Buffer{}, stderr: &stderr}
		root := &cobra.Command{
			Use:           "rigplan",
			SilenceUsage:  true,
			SilenceErrors: true,
			RunE: func(*cobra.Command, []string) error {
				return syscall.Kill(syscall.Getpid(), syscall.SIGINT)
			},
		}
		if code := a.execute(root, nil); code != 0 {
			t.Fatalf("run %d: exit status %d, stderr %q", i, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "Interrupted: rigplan starts nothing new") {
			t.Fatalf("run %d: the interrupt was not acknowledged; stderr %q", i, stderr.String())
		}
	}
}

// A command that does something else on an interrupt says what.
func TestInterruptNoticeOfCommand(t *testing.T) {
	var stderr bytes.Buffer
	a := &app{stdout: &bytes.Buffer{}, stderr: &stderr}
	root := &cobra.Command{Use: "rigplan", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(&cobra.Command{
		Use:         "serve",
		Annotations: map[string]string{interruptAnnotation: "Stopping: the agent exits."},
		RunE: func(*cobra.Command, []string) error {
			return syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
		},
	})
	if code := a.execute(root, []string{"serve"}); code != 0 || stderr.String() != "\nStopping: the agent exits.\n" {
		t.Errorf("exit status %d, stderr %q", code, stderr.String())
	}
}
