package lvmtest

import (
	"context"
	"testing"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/providers/lvm"
)

func TestRefreshRunsThreeCommands(t *testing.T) {
	e := newEnv(t)
	e.stack()
	e.mustConverge()
	e.sh("lvcreate", "-q", "--size", "100M", "--name", "handmade", vg)

	count := &sysexec.Counter{Runner: sysexec.Host{}}
	p := lvm.New(count, lvm.Options{})
	resp := p.Refresh(context.Background(), &providers.RefreshRequest{Desired: e.desired})
	if resp.Diagnostics.HasErrors() {
		t.Fatal(resp.Diagnostics)
	}
	if len(resp.Objects) != 5 {
		t.Errorf("refresh reported %d objects, want 5", len(resp.Objects))
	}
	if n := count.Count(); n != 3 {
		t.Errorf("refresh of %d resources ran %d commands, want 3 (one lvs, vgs, pvs)", len(e.desired), n)
	}
}
