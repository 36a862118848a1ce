package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
)

// One peer cannot starve the others of the agent. An unprivileged host
// user holding hundreds of idle connections (and opening new ones as
// fast as the agent closes them), and a hostile machine holding more
// idle connections than the agent serves at once, must not delay a
// declared machine's mount: under the old code it waited out the read
// timeout of every idle connection ahead of it (minutes here). The bound
// below is a hang bound two orders of magnitude above a mount's cost,
// not a speed goal.
func TestHostileConnectionFlood(t *testing.T) {
	e := newEnv(t, 2)
	// A long read timeout, as a patient operator might configure: idle
	// connections that hold a slot for it would block everyone for
	// minutes.
	p := e.startProcess(e.writeConfig(agent.CommitOnExit, func(fc *agent.FileConfig) {
		fc.Limits.ReadTimeout = agent.Duration(3 * time.Minute)
	}), "")
	defer p.stop()
	hostile, neighbour := e.machine(0), e.machine(1)

	stop := startFlood(t, e.socket, 400, 65534)
	defer stop()
	// The hostile machine's runner opens 100 idle connections.
	res, err := hostile.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"sh", "-c",
		`for i in $(seq 100); do (sleep 600 | ncat -U ` + sockInMachine + `) </dev/null >/dev/null 2>&1 & done; sleep 1; echo started`}})
	if err != nil || !strings.Contains(string(res.Stdout), "started") {
		t.Fatalf("the hostile machine's flood: %q, %v", res.Stdout, err)
	}

	served := make(chan string, 1)
	go func() {
		res, err := neighbour.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner,
			Args: []string{"ncat", "-U", sockInMachine}, Stdin: strings.NewReader(originalRequest), Timeout: 5 * time.Minute})
		served <- fmt.Sprintf("%s%v", res.Stdout, err)
	}()
	select {
	case out := <-served:
		okMount(t, out)
	case <-time.After(time.Minute):
		t.Fatal("the neighbour's mount was not answered within a minute of the flood starting")
	}
	if got := neighbour.Sh(t, machinetest.Runner, "cat "+cacheDir+"/"+defaultFile); got != "default" {
		t.Errorf("the neighbour's cache holds %q", got)
	}
}

// floodEnv makes the test binary a flooder instead of running tests:
// "SOCKET,N,UID" holds N idle connections to SOCKET as host uid UID,
// reconnecting whenever the agent closes one, until its stdin closes.
const floodEnv = "RIGPLAN_TEST_FLOOD"

// startFlood starts the flooder as its own process, so that it can drop
// to uid (which the test binary, in root's build directory, could not
// be executed as), and returns what stops it.
func startFlood(t *testing.T, socket string, n, uid int) func() {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%d", floodEnv, socket, n, uid))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = tlog{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// It says when it holds its first N connections.
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "holding") {
		t.Fatalf("the flooder did not start: %q, %v", line, err)
	}
	t.Logf("flooder: %s", strings.TrimSpace(line))
	var once sync.Once
	return func() {
		once.Do(func() {
			stdin.Close()
			cmd.Wait()
		})
	}
}

// flood is the flooder's main.
func flood(spec string) int {
	f := strings.Split(spec, ",")
	n, _ := strconv.Atoi(f[1])
	uid, _ := strconv.Atoi(f[2])
	if err := syscall.Setgroups(nil); err == nil {
		err = syscall.Setgid(uid)
		if err == nil {
			err = syscall.Setuid(uid)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "flooder: drop to uid", uid, err)
			return 1
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	hold := func() {
		for ctx.Err() == nil {
			conn, err := net.Dial("unix", f[0])
			if err != nil {
				time.Sleep(time.Millisecond)
				continue
			}
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			io.Copy(io.Discard, conn) // until the agent closes it
			stop()
			conn.Close()
		}
	}
	for range n {
		go hold()
	}
	fmt.Println("holding", n, "connections as uid", uid)
	<-ctx.Done()
	return 0
}
