package inject_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
)

// agentSocket serves a unix socket the way the agent does: each peer is
// identified and told who it is ("ok NAME LEADER CGROUP ALLOWED CRED")
// or why not ("error … CRED"), CRED being "[uid=U gid=G groups=[…]]" in
// the host's ids.
// It returns the socket's directory, to bind into machines.
func agentSocket(t *testing.T, id *inject.Identifier) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "agent.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	// Jobs run as unprivileged users inside; host root owns the socket.
	if err := os.Chmod(filepath.Join(dir, "agent.sock"), 0o666); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			// Read the request before answering: closing with it unread
			// would reset the connection under the client.
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			bufio.NewReader(conn).ReadString('\n')
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			m, who, err := id.IdentifyConn(ctx, conn)
			cancel()
			kind := ""
			if errors.Is(err, inject.ErrRefused) {
				kind = " (refused)"
			}
			cred := fmt.Sprintf("[uid=%d gid=%d groups=%v]", who.UID, who.GID, who.Groups)
			if err != nil {
				fmt.Fprintf(conn, "error%s %v %s\n", kind, err, cred)
			} else {
				fmt.Fprintf(conn, "ok %s %d %s %s %s\n", m.Name, m.Leader, m.Cgroup, strings.Join(m.Allowed, ","), cred)
			}
			conn.Close()
		}
	}()
	return dir
}

// ask connects from inside machine m as uid with ncat, as a job does,
// through the command wrapper, if any.
func ask(t *testing.T, m *machinetest.Machine, uid int, wrapper ...string) string {
	t.Helper()
	cmd := append(wrapper, "ncat", "-U", "/run/rigplan/agent.sock")
	res, err := m.Exec(context.Background(), machinetest.Cmd{UID: uid, Args: cmd, Stdin: strings.NewReader("mount /home/runner/cache\n")})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(res.Stdout))
}

func TestIdentify(t *testing.T) {
	id := &inject.Identifier{Machines: map[string][]string{}}
	sock := agentSocket(t, id)
	bind := machinetest.Options{BindReadOnly: []machinetest.Bind{{Host: sock, Machine: "/run/rigplan"}}}
	declared := machinetest.Start(t, bind)
	stranger := machinetest.Start(t, bind)
	// Declared after start: the agent reads the map only per request.
	id.Machines[declared.Name()] = []string{"/home/runner"}

	t.Run("declared machine", func(t *testing.T) {
		want := fmt.Sprintf("ok %s %d %s /home/runner", declared.Name(), declared.Leader(), declared.Cgroup())
		base := declared.Base()
		for _, uid := range []int{machinetest.Runner, machinetest.Root} {
			if got := ask(t, declared, uid); !strings.HasPrefix(got, want+" ") {
				t.Errorf("uid %d inside %s is told %q, want %q…", uid, declared.Name(), got, want)
			}
		}
		// The runner's credentials, in the host's ids, with its
		// supplementary groups.
		got := ask(t, declared, machinetest.Root, "setpriv", "--reuid=1000", "--regid=1000", "--groups=27,100")
		if cred := fmt.Sprintf(" [uid=%d gid=%d groups=[%d %d]]", base+1000, base+1000, base+27, base+100); got != want+cred {
			t.Errorf("the runner with groups 27 and 100 is told %q, want %q", got, want+cred)
		}
	})
	t.Run("credentials changed after connecting", func(t *testing.T) {
		// Root connects, then becomes the runner before the agent looks:
		// SO_PEERCRED says root, /proc the runner. Neither is believed.
		script := `use Socket; socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
			connect($s, pack_sockaddr_un("/run/rigplan/agent.sock")) or die "connect: $!";
			$) = "1000 1000"; $( = 1000; $< = $> = 1000; $> == 1000 or die "setuid: $!";
			syswrite($s, "mount /home/runner/cache\n"); print while <$s>;`
		res, err := declared.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Root, Args: []string{"perl", "-e", script}})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.TrimSpace(string(res.Stdout))
		t.Logf("told: %s", got)
		if want := fmt.Sprintf("[uid=%d gid=%d groups=[]]", declared.Base(), declared.Base()); !strings.HasPrefix(got, "error (refused) pid ") || !strings.Contains(got, "changed its user or group since it connected") || !strings.HasSuffix(got, want) {
			t.Errorf("a peer that changed its uid after connecting is told %q", got)
		}
	})
	t.Run("undeclared machine", func(t *testing.T) {
		got := ask(t, stranger, machinetest.Runner)
		t.Logf("told: %s", got)
		want := fmt.Sprintf("is in machine %q, which is not declared (cgroup %s/", stranger.Name(), stranger.Cgroup())
		if !strings.HasPrefix(got, "error (refused) pid ") || !strings.Contains(got, want) {
			t.Errorf("undeclared machine is told %q, want a refusal containing %q", got, want)
		}
	})
	t.Run("nested pid namespace", func(t *testing.T) {
		// A container inside the job: in the machine's cgroup, not in its
		// pid namespace.
		got := ask(t, declared, machinetest.Root, "unshare", "--pid", "--fork", "--mount-proc")
		t.Logf("told: %s", got)
		if !strings.HasPrefix(got, "error (refused) pid ") || !strings.Contains(got, "not in its pid namespace") {
			t.Errorf("a nested pid namespace is told %q", got)
		}
	})
	t.Run("host process", func(t *testing.T) {
		conn, err := net.Dial("unix", filepath.Join(sock, "agent.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("mount /home/runner/cache\n")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 512)
		n, _ := conn.Read(b)
		cg, _ := os.ReadFile("/proc/self/cgroup")
		want := fmt.Sprintf("error (refused) pid %d is not in a declared machine (cgroup ", os.Getpid())
		if got := string(b[:n]); !strings.HasPrefix(got, want) || !strings.Contains(got, fmt.Sprintf("[uid=%d gid=%d ", os.Getuid(), os.Getgid())) {
			t.Errorf("the host process is told %q, want %q… (its cgroups: %s)", got, want, cg)
		}
		_, err = id.Identify(context.Background(), os.Getpid())
		mustErr(t, err, inject.ErrRefused, "is not in a declared machine")
	})
	t.Run("exited process", func(t *testing.T) {
		_, err := id.Identify(context.Background(), 1<<22+1)
		mustErr(t, err, inject.ErrRefused, "has exited")
	})
	t.Run("by pid", func(t *testing.T) {
		m, err := id.Identify(context.Background(), declared.Leader())
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != declared.Name() || m.Leader != declared.Leader() || m.LeaderStart == 0 {
			t.Errorf("Identify(leader) = %+v", m)
		}
	})
	t.Run("processes exiting during the scan", func(t *testing.T) {
		// A job forking short-lived processes, as every build does: the
		// leader's scan of the machine's cgroup meets processes that exit
		// between being listed and being read.
		churn := make(chan error, 1)
		go func() {
			_, err := declared.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Timeout: time.Minute,
				Args: []string{"sh", "-c", "for l in 1 2 3 4; do (i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i + 1)); done) & done; wait"}})
			churn <- err
		}()
		n := 0
		for done := false; !done; {
			select {
			case err := <-churn:
				if err != nil {
					t.Fatal(err)
				}
				done = true
			default:
			}
			m, err := id.Identify(context.Background(), declared.Leader())
			if err != nil || m.Leader != declared.Leader() {
				t.Fatalf("identify %d while processes come and go: %+v, %v", n, m, err)
			}
			n++
		}
		t.Logf("%d identifications while the job forked", n)
	})
	t.Run("lookup", func(t *testing.T) {
		if _, err := id.Lookup(context.Background(), stranger.Name()); err == nil || !strings.Contains(err.Error(), "not declared") {
			t.Errorf("Lookup of an undeclared machine: %v", err)
		}
		id.Machines["rt-not-running"] = nil
		_, err := id.Lookup(context.Background(), "rt-not-running")
		mustErr(t, err, inject.ErrNotRunning, `machine "rt-not-running" is not running`)
	})
}

func TestPeerPID(t *testing.T) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command("ncat", "-U", ln.Addr().String())
	cmd.Stdin = strings.NewReader("hi\n")
	if err := cmd.Start(); err != nil {
		t.Skipf("needs ncat: %v", err)
	}
	defer cmd.Wait()
	conn, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pid, err := inject.PeerPID(conn)
	if err != nil || pid != cmd.Process.Pid {
		t.Errorf("PeerPID = %d, %v; want ncat's pid %d", pid, err, cmd.Process.Pid)
	}
}
