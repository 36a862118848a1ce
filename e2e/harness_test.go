package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"go.yaml.in/yaml/v3"

	"github.com/rigplan/rigplan/internal/ghapi"
	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/providers/github/githubtest"
)

// host is the test host as the operator of examples/lvm-cache-runner sees
// it, and the GitHub its runners register on.
type host struct {
	t      *testing.T
	work   string // the test's scratch directory
	config string // the operator's copy of the example
	github *githubtest.Server
	api    *ghapi.Client
	scope  ghapi.Scope
	// boots is the machine's last boot seen; registered[B] the runner
	// boot B registered.
	boots      int
	registered map[int]string
}

// newHost prepares what an operator has before the first apply: the
// example's files, a GitHub token, podman's image policy, and what is
// not rigplan's: another volume group, another machine's settings.
func newHost(t *testing.T, disks []string) *host {
	h := &host{t: t, work: t.TempDir(), github: githubtest.New(t), registered: map[int]string{}}
	h.github.AddScope("repos/" + repository)
	h.github.AddToken(githubToken)
	h.scope = ghapi.Scope{Kind: ghapi.Repository, Name: repository}
	h.config = filepath.Join(h.work, "lvm-cache-runner")
	if err := copyTree(example, h.config); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RIGPLAN_VAR_devices", fmt.Sprintf("[%q]", disks[0]))
	t.Setenv("NO_COLOR", "1")

	mkdir(t, filepath.Dir(tokenFile), 0)
	if err := os.WriteFile(tokenFile, []byte(githubToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.api = newAPI(t, h.github.URL)
	// What podman's containers-common installs on a real host.
	mkdir(t, "/etc/containers", 0)
	mkfile(t, "/etc/containers/policy.json", `{"default": [{"type": "insecureAcceptAnything"}]}`, 0)
	mkdir(t, reports, rootBase) // root in the machine writes its reports
	h.run("vgcreate", "other", disks[1])
	h.run("lvcreate", "--size", "8M", "--name", "keep", "other")
	mkdir(t, "/etc/systemd/nspawn", 0)
	mkfile(t, "/etc/systemd/nspawn/other.nspawn", "[Exec]\nBoot=yes\n", 0)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(journal(machineUnit), journal(agentUnit))
		}
		exec.Command("systemctl", "stop", machineUnit, agentUnit).Run()
	})
	return h
}

// configure adapts the example as an operator of this test host would:
// the runner image imported from an OCI layout (no podman and no
// network here), the machine's job reports bound at /jobs, and the
// runners registered on the local GitHub.
func (h *host) configure(layout string) {
	t := h.t
	t.Helper()
	edit(t, filepath.Join(h.config, "machine.hcl"), func(body *hclwrite.Body) {
		img := block(t, body, "image", "runner").Body()
		if b := img.FirstMatchingBlock("build", nil); b != nil {
			img.RemoveBlock(b)
		}
		img.SetAttributeValue("source", cty.StringVal("oci:"+layout))
		m := block(t, body, "machine", "runner").Body()
		m.SetAttributeValue("bind", cty.ListVal([]cty.Value{cty.StringVal(reports + ":/jobs")}))
		m.SetAttributeValue("job_wait", cty.StringVal("5m"))
	})
	edit(t, filepath.Join(h.config, "runner.hcl"), func(body *hclwrite.Body) {
		block(t, body, "runner", "repository").Body().SetAttributeValue("api_url", cty.StringVal(h.github.URL+"/"))
	})
}

func edit(t *testing.T, file string, change func(*hclwrite.Body)) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclwrite.ParseConfig(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	change(f.Body())
	if err := os.WriteFile(file, f.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func block(t *testing.T, body *hclwrite.Body, typ string, labels ...string) *hclwrite.Block {
	t.Helper()
	b := body.FirstMatchingBlock(typ, labels)
	if b == nil {
		t.Fatalf("examples/lvm-cache-runner has no %s %v block where the test looks", typ, labels)
	}
	return b
}

// workflowStep is the run script of the step named name in a workflow.
func workflowStep(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct{ Name, Run string }
		}
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, j := range wf.Jobs {
		for _, s := range j.Steps {
			if s.Name == name {
				return s.Run
			}
		}
	}
	t.Fatalf("%s has no step named %q", file, name)
	return ""
}

// rigplan runs the binary under test and fails unless it exits with want.
func (h *host) rigplan(want int, args ...string) string {
	h.t.Helper()
	return rigplanbin.Run(h.t, rigplan, want, args...)
}

// waitBoot waits for the machine's n-th boot report and returns it, by
// its lines' first words.
func (h *host) waitBoot(n int) map[string]string {
	h.t.Helper()
	text := h.waitFile(fmt.Sprintf("boot-%d", n))
	h.boots = n
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		k, _, _ := strings.Cut(line, " ")
		got[k] = strings.Join(strings.Fields(line), " ")
	}
	return got
}

// want checks report lines of a boot.
func want(t *testing.T, boot map[string]string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		k, _, _ := strings.Cut(l, " ")
		if boot[k] != l {
			t.Errorf("the machine's boot reported %q, want %q", boot[k], l)
		}
	}
}

// waitFile waits for a report of the machine and returns it.
func (h *host) waitFile(name string) string {
	h.t.Helper()
	p := filepath.Join(reports, name)
	h.waitFor(name, func() bool {
		_, err := os.Stat(p)
		return err == nil
	})
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// waitFor polls until ok; the bound only keeps a hung machine from
// hanging the test (a boot takes seconds, in the emulated kernel).
func (h *host) waitFor(what string, ok func() bool) {
	h.t.Helper()
	for end := time.Now().Add(3 * time.Minute); !ok(); {
		if time.Now().After(end) {
			h.t.Fatalf("waited three minutes for %s\n%s", what, journal(machineUnit))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// show reads a property of a unit.
func (h *host) show(unit, prop string) string {
	h.t.Helper()
	return strings.TrimSpace(h.run("systemctl", "show", "--property", prop, "--value", unit))
}

func (h *host) run(name string, args ...string) string {
	h.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		h.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// journal is a unit's log and the machine's reports, for a failure.
func journal(unit string) string {
	out, _ := exec.Command("journalctl", "--boot", "--unit", unit, "--no-pager", "-n", "60").CombinedOutput()
	ls, _ := exec.Command("ls", "-ln", "--full-time", reports).CombinedOutput()
	return "journal of " + unit + ":\n" + string(out) + "\n" + reports + ":\n" + string(ls)
}

func mkdir(t *testing.T, dir string, owner int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, owner, owner); err != nil {
		t.Fatal(err)
	}
}

func mkfile(t *testing.T, path, text string, owner int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, owner, owner); err != nil {
		t.Fatal(err)
	}
}
