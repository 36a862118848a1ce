package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// narrator tells the scenario: on standard output for `make demo`
// (RIGPLAN_DEMO=1), in the test's log otherwise.
type narrator struct {
	t    *testing.T
	demo bool
}

func newNarrator(t *testing.T) *narrator {
	return &narrator{t: t, demo: os.Getenv("RIGPLAN_DEMO") == "1"}
}

func (n *narrator) printf(format string, args ...any) {
	if n.demo {
		fmt.Printf(format, args...)
		return
	}
	n.t.Logf(strings.TrimRight(format, "\n"), args...)
}

// step announces a step of the scenario.
func (n *narrator) step(what string) {
	if n.demo {
		n.printf("\n\033[1m==> %s\033[0m\n\n", what)
		return
	}
	n.printf("==> %s", what)
}

// show prints a command's output, indented.
func (n *narrator) show(out string) {
	n.printf("%s\n", "    "+strings.ReplaceAll(strings.TrimRight(out, "\n"), "\n", "\n    "))
}

// job reports where a job's cache came from and how long the agent took.
func (n *narrator) job(no int, branch, lock string, j job, took string) {
	from := "the default volume (no cache matched)"
	if j.criterion != "default" {
		from = fmt.Sprintf("criterion %q", j.criterion)
	}
	had := j.history
	if had == "" {
		had = "nothing yet"
	}
	n.printf("job %d  branch %s, lockfiles %s…: cache from %s, restored in %s; it held: %s\n", no, branch, lock[:8], from, took, had)
}
