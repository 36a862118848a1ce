package lvmagent

import (
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/store"
)

// request is the original setup's request, as its workflows send it.
const request = "mount " + cacheDir + "\n> linux dc5e8c\n> linux\n< linux dc5e8c\n"

// TestOriginalRequestLVM is package agent's TestOriginalRequest on LVM:
// the runner in one machine asks with the original ncat heredoc and gets
// a thin snapshot of the default volume (xfs, mounted idmapped), writes,
// powers off; the snapshot is sealed (its LV tags say so); a later
// machine's job gets a thin snapshot of it and sees what was written.
func TestOriginalRequestLVM(t *testing.T) {
	e := newEnv(t, pool{size: "1G", volume: "1G"}, 2)
	e.serve(nil)

	first := e.machine(0)
	m1 := okMount(t, ncat(t, first, request))
	if !m1.Default {
		t.Fatalf("first job: %+v, want a copy of the default volume", m1)
	}
	if got := first.Sh(t, machinetest.Runner, "cat "+cacheDir+"/"+defaultFile+" && echo built > "+cacheDir+"/artifact && stat -c %u "+cacheDir+"/artifact"); got != "default\n1000" {
		t.Errorf("the runner sees %q", got)
	}
	if s, _ := e.snapshot(m1.Snapshot); s.State != store.InUse || strings.Join(s.Annotations, " ") != "dc5e8c linux" {
		t.Errorf("in the store: %+v", s)
	}
	if _, tags := lv(t, m1.Snapshot); !strings.Contains(tags, namespace+":cache:linux") || !strings.Contains(tags, namespace+":state:in-use") {
		t.Errorf("LV tags: %s", tags)
	}
	e.powerOff(first, m1.Snapshot)
	if _, tags := lv(t, m1.Snapshot); !strings.Contains(tags, namespace+":state:sealed") {
		t.Errorf("LV tags once its machine exited: %s", tags)
	}

	second := e.machine(1)
	m2 := okMount(t, ncat(t, second, request))
	if s, _ := e.snapshot(m2.Snapshot); m2.Default || strings.Join(m2.Criterion, " ") != "linux dc5e8c" || s.Origin != m1.Snapshot {
		t.Fatalf("second job: %+v (origin %q), want a thin snapshot of %s", m2, s.Origin, m1.Snapshot)
	}
	if got := second.Sh(t, machinetest.Runner, "cat "+cacheDir+"/artifact"); got != "built" {
		t.Errorf("the second job reads %q, want what the first wrote", got)
	}
	e.noLeaks()
	e.powerOff(second, m2.Snapshot)
}
