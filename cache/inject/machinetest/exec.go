package machinetest

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// Cmd is a command to run inside a machine.
type Cmd struct {
	// UID and GID to run as inside the machine (default root). GID
	// defaults to UID.
	UID, GID int
	Args     []string
	Stdin    io.Reader
	// Env is added to a clean environment that has PATH, HOME=/ and
	// LC_ALL=C.
	Env []string
	// Timeout defaults to one minute.
	Timeout time.Duration
}

// Exec runs c inside the machine: in its leader's cgroup and all its
// namespaces, as c.UID, with a clean environment.
func (m *Machine) Exec(ctx context.Context, c Cmd) (sysexec.Result, error) {
	gid := c.GID
	if gid == 0 {
		gid = c.UID
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	// Join the leader's cgroup first (nsenter joins namespaces, not
	// cgroups): the agent identifies peers by cgroup.
	args := []string{"-c", `echo $$ >"$0" || exit 125; exec "$@"`, m.leaderProcs,
		"nsenter", "--target", strconv.Itoa(m.leader), "--all"}
	if c.UID != 0 || gid != 0 {
		args = append(args, "--setuid", strconv.Itoa(c.UID), "--setgid", strconv.Itoa(gid))
	}
	args = append(args, "--", "/usr/bin/env", "-i",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "LC_ALL=C")
	args = append(append(args, c.Env...), c.Args...)
	return sysexec.Host{}.Run(ctx, sysexec.Cmd{Name: "sh", Args: args, Stdin: c.Stdin, Timeout: timeout})
}

// Run runs args inside the machine as uid (Root, Runner, …) and returns
// its standard output, failing t if it fails.
func (m *Machine) Run(t testing.TB, uid int, args ...string) string {
	t.Helper()
	res, err := m.Exec(context.Background(), Cmd{UID: uid, Args: args})
	if err != nil {
		t.Fatalf("machine %s: uid %d: %v", m.name, uid, err)
	}
	return string(res.Stdout)
}

// Sh runs a shell script inside the machine as uid, returning its standard
// output with surrounding space trimmed; it fails t if the script fails.
func (m *Machine) Sh(t testing.TB, uid int, script string) string {
	t.Helper()
	return strings.TrimSpace(m.Run(t, uid, "sh", "-c", script))
}
