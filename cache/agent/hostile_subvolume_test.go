package agent_test

import (
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
)

// Every snapshot the agent made can be deleted by it, whatever the job
// built inside: a job makes btrfs subvolumes in its cache (nested, one
// of them read-only), which btrfs will not delete with their parent.
// With commit on-save its unsaved snapshot is discarded when its machine
// exits; with on-exit, the sealed snapshot goes with rm. Either way no
// subvolume of it is left to pin the space out of retention's reach.
func TestHostileNestedSubvolumes(t *testing.T) {
	plant := "btrfs -q subvolume create " + cacheDir + "/a && btrfs -q subvolume create " + cacheDir + "/a/b && " +
		"btrfs -q subvolume create " + cacheDir + "/a/b/c && echo x > " + cacheDir + "/a/b/c/f && btrfs -q property set " + cacheDir + "/a/b ro true && echo planted"
	for _, commit := range []agent.CommitPolicy{agent.CommitOnSave, agent.CommitOnExit} {
		t.Run(string(commit), func(t *testing.T) {
			e := newEnv(t, 1)
			e.serve(e.config(func(c *agent.Config) { c.Commit = commit }), depsNone())
			m := e.machine(0)
			got := okMount(t, ncat(t, m, "mount "+cacheDir+"\n"))
			if out := m.Sh(t, machinetest.Runner, plant); out != "planted" {
				t.Fatalf("the job could not make subvolumes: %q", out)
			}
			powerOff(t, m)
			if commit == agent.CommitOnExit {
				e.waitState(got.Snapshot, "sealed")
				if resp := e.ask(&protocol.Request{Command: protocol.CommandRemove, Name: got.Snapshot}); !resp.OK {
					t.Fatalf("rm: %s", resp.Reason)
				}
			}
			e.waitState(got.Snapshot, "")
			for _, line := range strings.Split(sh(t, "btrfs", "subvolume", "list", e.mnt), "\n") {
				if line != "" && !strings.HasSuffix(line, " path default") {
					t.Errorf("a subvolume is left in the store: %s", line)
				}
			}
			e.noLeaks()
		})
	}
}
