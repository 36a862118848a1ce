package agent_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// actionInMachine is where the example composite action's directory is
// bound inside the test machine.
const actionInMachine = "/opt/action"

// TestCompositeAction runs the example GitHub Actions composite action's
// step (examples/github-action/cache/cache.sh) inside a real machine, as
// the runner, the way the action's step runs it (sh, inputs in the
// environment), against the real agent, with both of its clients: a
// first job on main gets the default volume, saves its cache under its
// key and branch, and a later mount by the same key copies that save (a
// hit); a pull request's job starts from main's cache by a restore key;
// refused mounts fail the step with the agent's reason.
func TestCompositeAction(t *testing.T) {
	e := newEnv(t, 1)
	rigplanBinary(t) // bound into the machine at binInMachine
	src, err := filepath.Abs("../../examples/github-action/cache")
	if err != nil {
		t.Fatal(err)
	}
	e.serve(e.config(nil), depsNone())
	m := e.startMachine(e.declared[0], machinetest.Bind{Host: src, Machine: actionInMachine})

	// step runs the action's script with the inputs of env and returns
	// its standard output, the outputs it set and whether it succeeded.
	step := func(t *testing.T, env map[string]string) (string, map[string]string, bool) {
		t.Helper()
		out := home + "/github_output"
		m.Sh(t, machinetest.Runner, ": >"+out)
		vars := []string{"GITHUB_OUTPUT=" + out}
		for k, v := range env {
			vars = append(vars, k+"="+v)
		}
		res, err := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Env: vars,
			Args: []string{"sh", "-e", actionInMachine + "/cache.sh"}})
		var se *sysexec.Error
		if err != nil && !errors.As(err, &se) {
			t.Fatal(err)
		}
		if err != nil {
			t.Logf("the step failed (%v); it printed %q", se.Err, res.Stdout)
		}
		outputs := map[string]string{}
		for _, line := range strings.Split(m.Sh(t, machinetest.Runner, "cat "+out), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				outputs[k] = v
			}
		}
		return string(res.Stdout), outputs, err == nil
	}
	onMain := func(path string, mod func(map[string]string)) map[string]string {
		env := map[string]string{
			"CACHE_PATH": path, "CACHE_KEY": "npm linux 5f3a", "CACHE_RESTORE_KEYS": "npm linux",
			"CACHE_SOCKET": sockInMachine, "CACHE_DEFAULT_BRANCH": "main", "GITHUB_REF_NAME": "main",
			"CACHE_CLIENT": "ncat",
		}
		if mod != nil {
			mod(env)
		}
		return env
	}
	// The rigplan client, found on PATH as a machine image would have it.
	withRigplan := func(env map[string]string) {
		env["CACHE_CLIENT"] = "rigplan"
		env["PATH"] = binInMachine + ":/usr/sbin:/usr/bin:/sbin:/bin"
	}

	stdout, outputs, ok := step(t, onMain(cacheDir, nil))
	if !ok || outputs["cache-hit"] != "false" || outputs["matched"] != "default" || outputs["snapshot"] == "" {
		t.Fatalf("first mount: ok %v, outputs %v, stdout %q", ok, outputs, stdout)
	}
	first := outputs["snapshot"]
	if s, _ := e.snapshot(first); s.State != store.InUse || strings.Join(s.Annotations, " ") != "5f3a branch:main linux npm" {
		t.Errorf("the first snapshot in the store: %+v", s)
	}
	if got := m.Sh(t, machinetest.Runner, "cat "+cacheDir+"/"+defaultFile+" && echo installed > "+cacheDir+"/node_modules"); got != "default" {
		t.Errorf("the job reads %q from its cache", got)
	}

	stdout, outputs, ok = step(t, onMain(cacheDir, func(env map[string]string) { env["CACHE_SAVE"] = "true" }))
	saved := outputs["snapshot"]
	if !ok || saved == "" || saved == first || len(outputs) != 1 {
		t.Fatalf("save: ok %v, outputs %v, stdout %q", ok, outputs, stdout)
	}
	if s, _ := e.snapshot(saved); s.State != store.Sealed || strings.Join(s.Annotations, " ") != "5f3a branch:main linux npm" {
		t.Errorf("the saved copy in the store: %+v", s)
	}

	stdout, outputs, ok = step(t, onMain(home+"/cache2", withRigplan))
	if !ok || outputs["cache-hit"] != "true" || outputs["matched"] != "> npm linux 5f3a branch:main" {
		t.Fatalf("mount by the exact key with the rigplan client: ok %v, outputs %v, stdout %q", ok, outputs, stdout)
	}
	if s, _ := e.snapshot(outputs["snapshot"]); s.Origin != saved {
		t.Errorf("the hit's origin is %q, want the saved copy %s", s.Origin, saved)
	}
	if got := m.Sh(t, machinetest.Runner, "cat "+home+"/cache2/node_modules"); got != "installed" {
		t.Errorf("the hit holds %q", got)
	}

	pr := func(env map[string]string) {
		env["CACHE_KEY"] = "npm linux 9d1e"
		env["GITHUB_HEAD_REF"], env["GITHUB_BASE_REF"], env["GITHUB_REF_NAME"] = "feature/login", "main", "7/merge"
	}
	stdout, outputs, ok = step(t, onMain(home+"/cache3", pr))
	if !ok || outputs["cache-hit"] != "false" || outputs["matched"] != "> npm linux branch:main" {
		t.Fatalf("a pull request's mount: ok %v, outputs %v, stdout %q", ok, outputs, stdout)
	}
	if s, _ := e.snapshot(outputs["snapshot"]); s.Origin != saved || strings.Join(s.Annotations, " ") != "9d1e branch:feature/login linux npm" {
		t.Errorf("the pull request's snapshot: %+v", s)
	}

	for _, client := range []func(map[string]string){nil, withRigplan} {
		stdout, outputs, ok = step(t, onMain("/etc/cache", client))
		if ok || len(outputs) != 0 || !strings.HasPrefix(stdout, "::error title=rigplan cache::") ||
			!strings.Contains(stdout, `mount path "/etc/cache" is outside the machine's allowed prefixes (/home/runner)`) {
			t.Errorf("a refused mount: ok %v, outputs %v, stdout %q; want a failed step with the agent's reason", ok, outputs, stdout)
		}
	}
	if mountedIn(t, m, "/etc/cache") {
		t.Error("a refused mount mounted something")
	}
	e.noLeaks()
}
