package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/inject"
)

// peer is who is at the other end of a connection.
type peer struct {
	// machine is the declared machine asking, or nil for the host's
	// operator.
	machine *inject.Machine
	// admin is set for root on the host, outside every machine: the only
	// peer allowed gc and rm.
	admin bool
	// cred is who connected, in the host's ids (zero if not even
	// SO_PEERCRED could be read): a mount acts with its rights.
	cred inject.Cred
}

func (p peer) String() string {
	switch {
	case p.machine != nil:
		return "machine " + p.machine.Name
	case p.admin:
		return "host root"
	}
	return "unidentified"
}

// identify tells who is asking, before a byte of the request is read.
// Declared machines are identified from their cgroup (inject); anyone
// else is refused unless it is root on the host. The error's message is
// fit for the client.
func (a *Agent) identify(ctx context.Context, conn *net.UnixConn) (peer, error) {
	m, cred, err := a.id.IdentifyConn(ctx, conn)
	if err == nil {
		return peer{machine: &m, cred: cred}, nil
	}
	if !errors.Is(err, inject.ErrRefused) {
		return peer{cred: cred}, err
	}
	if admin, aerr := hostRoot(cred); aerr != nil {
		a.log.Warn("checking whether a peer is the host's root failed", "err", aerr)
	} else if admin {
		return peer{admin: true, cred: cred}, nil
	}
	return peer{cred: cred}, err
}

// hostRoot reports whether the peer is root in the agent's own user and
// pid namespaces and in no machine's cgroup: the host's operator. (Not
// its mount namespace: the agent's unit may well have one of its own.) It
// holds a pidfd of the peer while it reads /proc, and checks it is alive
// afterwards, so that a reused pid is never believed.
func hostRoot(cred inject.Cred) (bool, error) {
	if cred.UID != 0 || cred.PID <= 0 {
		return false, nil
	}
	pidfd, err := unix.PidfdOpen(cred.PID, 0)
	if err != nil {
		return false, nil // gone: not an operator we can answer
	}
	defer unix.Close(pidfd)
	dir := "/proc/" + strconv.Itoa(cred.PID)
	for _, ns := range []string{"pid", "user"} {
		theirs, err1 := os.Readlink(dir + "/ns/" + ns)
		ours, err2 := os.Readlink("/proc/self/ns/" + ns)
		if err1 != nil || err2 != nil || theirs != ours {
			return false, nil
		}
	}
	b, err := os.ReadFile(dir + "/cgroup")
	if err != nil {
		return false, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if cg, ok := strings.CutPrefix(line, "0::"); ok && (cg == "/machine.slice" || strings.HasPrefix(cg, "/machine.slice/")) {
			return false, nil
		}
	}
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		return false, fmt.Errorf("peer pid %d exited while being identified", cred.PID)
	}
	return true, nil
}
