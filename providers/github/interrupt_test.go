package github

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/internal/systemd/standin"
	"github.com/rigplan/rigplan/providers/github/githubtest"
)

// An apply killed or interrupted right after its first deletion of a
// left-over runner (of four), run by the real binary against the strict local
// GitHub: the next apply deletes the rest, and plan then has nothing to
// do. Runners without rigplan's label and online ones are never touched.
func TestInterruptedRunnerCleanUp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("rigplan apply refuses to run without root: run the test as root")
	}
	bin, err := rigplanbin.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { interruptCleanUp(t, bin, sig) })
	}
}

func interruptCleanUp(t *testing.T, bin string, sig syscall.Signal) {
	const scope = "repos/acme/widgets"
	root, work := t.TempDir(), t.TempDir()
	write(t, filepath.Join(root, "etc/rigplan/github-token"), "ghp_rigplantest\n")
	sd, err := standin.Write(filepath.Join(work, "systemd"), root)
	if err != nil {
		t.Fatal(err)
	}
	srv := githubtest.New(t)
	srv.AddScope(scope)
	srv.AddToken("ghp_rigplantest")
	cfg := filepath.Join(work, "config")
	write(t, filepath.Join(cfg, "main.hcl"), "runner \"ci\" {\n  api_url = \""+srv.URL+"\"\n"+repoRunner+"}\n")
	env := []string{
		"PATH=" + filepath.Dir(sd.Systemctl) + ":" + os.Getenv("PATH"),
		"RIGPLAN_ROOT=" + root,
		"RIGPLAN_LOCK_FILE=" + filepath.Join(work, "lock"),
	}
	rigplanbin.RunEnv(t, bin, env, 0, "apply", "-auto-approve", cfg)

	// Machines died mid-job and left their runners behind; the plan says
	// apply deletes them.
	mark := []string{"self-hosted", "linux", "rigplan.runner.ci"}
	var orphans []string
	for _, n := range []string{"github-runner-0000dead", "github-runner-1111dead", "github-runner-2222dead", "github-runner-3333dead"} {
		srv.AddRunner(scope, githubtest.Runner{Name: n, Status: "offline", Labels: mark})
		orphans = append(orphans, n)
	}
	srv.AddRunner(scope, githubtest.Runner{Name: "hand-made", Status: "offline", Labels: []string{"self-hosted", "linux"}})
	srv.AddRunner(scope, githubtest.Runner{Name: "github-runner-4444live", Status: "online", Labels: mark})
	kept := []string{"hand-made", "github-runner-4444live"}
	if out := rigplanbin.RunEnv(t, bin, env, 2, "plan", "-detailed-exitcode", cfg); !strings.Contains(out, orphans[3]) {
		t.Fatalf("plan does not name the left-over runners:\n%s", out)
	}

	// The signal goes out from the server, after it deleted the first
	// runner and before rigplan reads the answer.
	var pid atomic.Int64
	var once sync.Once
	srv.AfterRequest(func(line string) {
		if strings.HasPrefix(line, "DELETE ") {
			once.Do(func() {
				if sig == syscall.SIGINT {
					syscall.Kill(-int(pid.Load()), sig) // the process group, as Ctrl-C does
				} else {
					syscall.Kill(int(pid.Load()), sig)
				}
			})
		}
	})
	proc := rigplanbin.Start(t, bin, env, "apply", "-auto-approve", cfg)
	pid.Store(int64(proc.Pid()))
	exit := proc.Wait(t, time.Minute)
	srv.AfterRequest(nil)
	left := runnerNames(srv.Runners(scope))

	switch sig {
	case syscall.SIGKILL:
		if exit.Signal != syscall.SIGKILL {
			t.Fatalf("rigplan ended with %+v before the kill point", exit)
		}
		if want := append(slices.Clone(orphans[1:]), kept...); !sameSet(left, want) {
			t.Errorf("runners after the kill: %v, want %v (one orphan deleted)", left, want)
		}
		out := rigplanbin.RunEnv(t, bin, env, 2, "plan", "-detailed-exitcode", cfg)
		for _, n := range orphans[1:] {
			if !strings.Contains(out, n) {
				t.Errorf("plan after the kill does not name %s:\n%s", n, out)
			}
		}
		rigplanbin.RunEnv(t, bin, env, 0, "apply", "-auto-approve", cfg)
	case syscall.SIGINT:
		// The running change finishes: all four go, and as it was the only
		// one, the apply is complete.
		// rigplan says at once what an interrupt does.
		if exit.Code != 0 || !strings.Contains(exit.Output, "Apply complete!") || !strings.Contains(exit.Output, "Interrupted: rigplan starts nothing new") {
			t.Errorf("interrupted apply: %+v, want it complete, the interrupt acknowledged", exit)
		}
		if !sameSet(left, kept) {
			t.Errorf("runners after the interrupted apply: %v, want %v", left, kept)
		}
	}
	if left := runnerNames(srv.Runners(scope)); !sameSet(left, kept) {
		t.Errorf("runners after the second apply: %v, want %v", left, kept)
	}
	rigplanbin.RunEnv(t, bin, env, 0, "plan", "-detailed-exitcode", cfg)
}

func runnerNames(rs []githubtest.Runner) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
