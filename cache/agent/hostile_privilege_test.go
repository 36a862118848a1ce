package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/mountinfo"
)

// A cache never carries privilege into a later machine. Machine root in
// job A leaves a setuid-root program in its cache (on disk it belongs to
// uid 0: the mount is idmapped); job B's unprivileged user gets a copy
// of that cache and runs it: its effective uid stays its own. A device
// node in a cache (here, left in the default volume on the host) cannot
// be opened through it. The agent's own short-lived host mounts are
// nosuid and nodev too.
func TestHostileCachesCarryNoPrivilege(t *testing.T) {
	e := newEnv(t, 2)
	if err := unix.Mknod(filepath.Join(e.mnt, "default", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	var stagingOpts []string
	e.serve(e.config(nil), agent.Deps{Pause: func(step string) {
		if step != "staged" {
			return
		}
		entries, err := mountinfo.Read("/proc/self/mountinfo")
		if err != nil {
			t.Error(err)
			return
		}
		for _, m := range entries {
			if strings.HasPrefix(m.Target, e.stateDir+"/") {
				stagingOpts = append(stagingOpts, m.Target+" "+m.Options)
			}
		}
	}})

	a := e.machine(0)
	first := okMount(t, ncat(t, a, "mount "+cacheDir+"\n< linux\n"))
	a.Sh(t, machinetest.Root, "cp /usr/bin/id "+cacheDir+"/id && chmod 4755 "+cacheDir+"/id")
	powerOff(t, a)
	e.waitState(first.Snapshot, store.Sealed)
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(e.mnt, "snaps", first.Snapshot, "id"), &st); err != nil || st.Uid != 0 || st.Mode&unix.S_ISUID == 0 {
		t.Fatalf("the planted program on disk: uid %d mode %o, %v; want a setuid-root file", st.Uid, st.Mode, err)
	}

	b := e.machine(1)
	second := okMount(t, ncat(t, b, "mount "+cacheDir+"\n> linux\n"))
	if second.Default {
		t.Fatalf("job B did not get job A's cache: %+v", second)
	}
	if got := b.Sh(t, machinetest.Runner, cacheDir+"/id -u"); got != "1000" {
		t.Errorf("job B's runner ran job A's setuid-root program with effective uid %s, want 1000", got)
	}
	if out, err := b.Exec(t.Context(), machinetest.Cmd{UID: machinetest.Root, Args: []string{"sh", "-c", "echo x > " + cacheDir + "/null"}}); err == nil {
		t.Errorf("machine root wrote to a device node in its cache: %q", out.Stdout)
	}
	if got := b.Sh(t, machinetest.Runner, "grep ' "+cacheDir+" ' /proc/self/mountinfo"); !hasOptions(got, "nosuid", "nodev") {
		t.Errorf("the cache's mount in the machine: %q, want nosuid,nodev", got)
	}
	if len(stagingOpts) == 0 {
		t.Fatal("no staging mount was seen")
	}
	for _, m := range stagingOpts {
		if !hasOptions(m, "nosuid", "nodev") {
			t.Errorf("the agent's staging mount on the host: %q, want nosuid,nodev", m)
		}
	}
	e.noLeaks()
}

// hasOptions reports whether a mountinfo line's per-mount options (the
// field after the target) include every one of want.
func hasOptions(line string, want ...string) bool {
	f := strings.Fields(line)
	if len(f) < 2 {
		return false
	}
	for _, field := range f {
		opts := strings.Split(field, ",")
		ok := true
		for _, w := range want {
			ok = ok && contains(opts, w)
		}
		if ok {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A request only does what the requesting user could do itself. The
// machine's runner cannot, through the agent, create a directory inside
// a directory only machine root may write, nor inside a host directory
// bound into the machine that it may not write, nor mount a cache over a
// directory machine root owns (here, one whose script machine root
// runs). Each refusal names the rule, costs no snapshot, and leaves
// nothing behind, in the machine or on the host.
func TestHostileRequesterRights(t *testing.T) {
	const shared = "/srv/shared"
	e := newEnv(t, 1)
	e.serve(e.config(func(c *agent.Config) { c.Machines[e.declared[0]] = []string{home, shared} }), depsNone())
	hostDir := t.TempDir() // host root's, 0755: the machine's users may read it, not write it
	os.Chmod(hostDir, 0o755)
	m := machinetest.Start(t, machinetest.Options{
		Name:         e.declared[0],
		BindReadOnly: []machinetest.Bind{{Host: e.sockDir, Machine: filepath.Dir(sockInMachine)}},
		Bind:         []machinetest.Bind{{Host: hostDir, Machine: shared}},
	})
	m.Sh(t, machinetest.Root, "mkdir -p "+home+" && chown 1000:1000 "+home)
	m.Sh(t, machinetest.Root, "mkdir -m 0700 "+home+"/private && mkdir "+home+"/hooks && echo 'echo hook' > "+home+"/hooks/run.sh")

	for _, tt := range []struct{ name, path, want string }{
		{"inside a directory only machine root may write", home + "/private/cache", "uid 1000"},
		{"inside a host directory it may not write", shared + "/cache", "the machine's own tree"},
		{"over a directory machine root owns", home + "/hooks", "uid 1000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			errorLine(t, ncat(t, m, "mount "+tt.path+"\n"), tt.path, tt.want)
			if n := len(names(e.snapshots())); n != 0 {
				t.Errorf("the refused request left %d snapshots", n)
			}
			if mountedIn(t, m, tt.path) {
				t.Errorf("something is mounted at %s", tt.path)
			}
		})
	}
	if got := m.Sh(t, machinetest.Root, "ls -A "+home+"/private; cat "+home+"/hooks/run.sh"); got != "echo hook" {
		t.Errorf("the machine's directories now hold %q", got)
	}
	if ents, err := os.ReadDir(hostDir); err != nil || len(ents) != 0 {
		t.Errorf("the host directory now holds %v (%v)", ents, err)
	}
	// What the runner may do, it still may: a new directory in its home
	// becomes its own.
	okMount(t, ncat(t, m, "mount "+cacheDir+"\n"))
	if got := m.Sh(t, machinetest.Runner, "stat -c %u "+cacheDir+" && touch "+cacheDir+"/mine && echo ok"); got != "1000\nok" {
		t.Errorf("the runner's own cache: %q", got)
	}
	e.noLeaks()
}
