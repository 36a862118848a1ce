package machinetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMachine(t *testing.T) {
	Require(t)
	var cgroup string
	shared := t.TempDir()
	if err := os.WriteFile(shared+"/hello", []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("running", func(t *testing.T) {
		m := Start(t, Options{BindReadOnly: []Bind{{Host: shared, Machine: "/run/shared"}}})
		cgroup = m.cgroupRoot + m.Cgroup()

		if got, want := m.Sh(t, Root, "cat /proc/self/uid_map"), fmt.Sprintf("0 %d 65536", m.Base()); strings.Join(strings.Fields(got), " ") != want {
			t.Errorf("uid_map inside is %q, want %q", got, want)
		}
		if got := m.Sh(t, Runner, "id -u; id -g"); got != "1000\n1000" {
			t.Errorf("id as Runner: %q", got)
		}
		if got := m.Sh(t, Root, "cat /run/shared/hello"); got != "from the host" {
			t.Errorf("bind mount: %q", got)
		}
		if err := os.WriteFile(shared+"/x", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Exec(context.Background(), Cmd{Args: []string{"touch", "/run/shared/y"}}); err == nil {
			t.Error("a read-only bind mount was writable inside")
		}
		// Commands run in the machine's cgroup namespace, at its root.
		if got := m.Sh(t, Runner, "grep ^0:: /proc/self/cgroup"); got != "0::/" {
			t.Errorf("cgroup inside: %q", got)
		}
		// ... and, seen from the host, in the machine's cgroup, as host
		// uid BASE+1000.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go m.Exec(ctx, Cmd{UID: Runner, Args: []string{"sleep", "7.25"}})
		var found string
		for deadline := time.Now().Add(10 * time.Second); found == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			procs(cgroup, func(pid int) {
				if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(b) == "sleep\x007.25\x00" {
					found, _ = unifiedCgroup(pid)
					st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
					if !strings.Contains(string(st), fmt.Sprintf("Uid:\t%d\t", m.Base()+1000)) {
						t.Errorf("sleep inside runs as host %s, want uid %d", st, m.Base()+1000)
					}
				}
			})
		}
		if want, _ := unifiedCgroup(m.Leader()); found != want || !strings.HasPrefix(found, m.Cgroup()+"/") {
			t.Errorf("a command run inside is in cgroup %q, want %q", found, want)
		}
		cancel()
		if _, err := os.Stat(cgroup); err != nil {
			t.Fatalf("machine cgroup: %v", err)
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.Leader()))
		if err != nil || !strings.Contains(string(st), fmt.Sprintf("Uid:\t%d\t", m.Base())) {
			t.Errorf("leader is not root of the private range (%d): %s", m.Base(), st)
		}
	})
	if _, err := os.Stat(cgroup); !os.IsNotExist(err) {
		t.Errorf("cgroup %s left after cleanup: %v", cgroup, err)
	}
}

func TestPowerOff(t *testing.T) {
	m := Start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.PowerOff(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", m.Leader())); !os.IsNotExist(err) {
		t.Errorf("leader %d still exists after power-off", m.Leader())
	}
}

func TestKill(t *testing.T) {
	m := Start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	default:
		t.Fatal("Kill returned before systemd-nspawn exited")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", m.Leader())); !os.IsNotExist(err) {
		t.Errorf("leader %d still exists after Kill", m.Leader())
	}
}
