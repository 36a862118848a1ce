package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/store"
)

// One machine cannot make the agent grow without bound, or see what
// other machines keep. A hostile job asks for hundreds of caches, each
// with as many annotation bytes as a request may carry, then runs 48 ls
// at once: the agent (its own process, as systemd runs it) keeps the
// machine to its quota of caches in use, refuses oversized annotations,
// and its peak resident memory stays under 64 MiB. The neighbour's ls
// shows only its own snapshots.
func TestHostileResourceLimits(t *testing.T) {
	e := newEnv(t, 2)
	p := e.startProcess(e.writeConfig(agent.CommitOnExit), "")
	defer p.stop()
	hostile, neighbour := e.machine(0), e.machine(1)
	mine := okMount(t, ncat(t, neighbour, "mount "+cacheDir+"\n< neighbour\n"))

	// 30 annotation terms of 1000 bytes: about 30 KiB, under the
	// request size limit.
	term := strings.Repeat("a", 999)
	var ann strings.Builder
	for i := range 30 {
		fmt.Fprintf(&ann, "< %s%d\n", term, i%10)
	}
	script := fmt.Sprintf(`ok=0; refused=0
for i in $(seq 200); do
	if printf 'mount %s/c%%d\n%s' $i | ncat -U %s | grep -q '^ok'; then ok=$((ok+1)); else refused=$((refused+1)); fi
done
echo "$ok $refused"`, home, strings.ReplaceAll(ann.String(), "\n", `\n`), sockInMachine)
	res, err := hostile.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"sh", "-c", script}, Timeout: 0})
	if err != nil {
		t.Fatalf("the hostile job's mounts: %v", err)
	}
	var ok, refused int
	fmt.Sscan(string(res.Stdout), &ok, &refused)
	if ok != 0 || refused != 200 {
		t.Errorf("mounts with 30 KiB of annotations each: %d served, %d refused; want all refused", ok, refused)
	}
	// Small annotations: the machine's quota of caches in use holds.
	res, err = hostile.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"sh", "-c",
		strings.ReplaceAll(script, ann.String(), "< small\n")}})
	if err != nil {
		t.Fatalf("the hostile job's mounts: %v", err)
	}
	fmt.Sscan(string(res.Stdout), &ok, &refused)
	inUse := 0
	for _, s := range e.snapshots() {
		if s.Machine == hostile.Name() && s.State == store.InUse {
			inUse++
		}
	}
	if ok > 16 || inUse != ok {
		t.Errorf("one machine holds %d caches in use (%d mounts served of 200); want at most a small quota", inUse, ok)
	}

	// 48 ls at once, each printing what it got.
	res, err = hostile.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"sh", "-c",
		`for i in $(seq 48); do (echo ls | ncat -U ` + sockInMachine + ` | tail -n 1 | cut -f1) & done; wait`}})
	if err != nil {
		t.Fatalf("ls storm: %v", err)
	}
	if n := strings.Count(string(res.Stdout), "ok") + strings.Count(string(res.Stdout), "error"); n != 48 {
		t.Errorf("of 48 ls, %d were answered: %q", n, res.Stdout)
	}
	if peak := procStatus(t, p.cmd.Process.Pid, "VmHWM"); peak > 64<<20 {
		t.Errorf("the agent's peak resident memory is %d MiB, over 64 MiB", peak>>20)
	}

	// The neighbour's ls lists its own snapshot only.
	out := ncat(t, neighbour, "ls\n")
	if n := strings.Count("\n"+out, "\nsnapshot\t"); n != 1 || !strings.Contains(out, mine.Snapshot) {
		t.Errorf("the neighbour's ls lists %d snapshots (%d bytes); want its own snapshot %s only", n, len(out), mine.Snapshot)
	}
}
