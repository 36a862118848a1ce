package inject

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// Machine is a declared machine found running, as the agent sees it.
type Machine struct {
	// Name is the machine's name (systemd-nspawn@NAME.service).
	Name string
	// Leader is the host pid of the machine's init (PID 1 inside); the
	// agent watches it with a pidfd to learn when the job's machine is gone.
	Leader int
	// LeaderStart is when the leader started (clock ticks after boot,
	// /proc/PID/stat field 22). Mount, Unmount, Mounts and WatchLeader
	// check it, so a later process that got the leader's pid is never taken
	// for the machine. Always set by Identify and Lookup; a Machine made by
	// hand without it is refused.
	LeaderStart uint64
	// Cgroup is the machine's unit in the unified hierarchy, e.g.
	// /machine.slice/systemd-nspawn@NAME.service.
	Cgroup string
	// Allowed are the mount path prefixes the machine may ask for.
	Allowed []string
}

// Identifier tells which declared machine a process belongs to.
//
// A process belongs to machine NAME when its unified-hierarchy cgroup lies
// in /machine.slice/systemd-nspawn@NAME.service or
// /machine.slice/machine-NAME.scope (what systemd-nspawn@.service and
// machined create; cgroup namespaces keep a machine's processes from moving
// out of it) and it shares the pid namespace of the machine's leader. The
// leader is the process in that cgroup subtree that is PID 1 of the
// outermost pid namespace there.
type Identifier struct {
	// Machines maps each declared machine's name to the mount path prefixes
	// it may ask for.
	Machines map[string][]string
	// ProcRoot is where procfs is mounted; "" means /proc. Tests of the
	// parsing point it at a fake tree.
	ProcRoot string
	// CgroupRoot is where the unified cgroup hierarchy is mounted; ""
	// means UnifiedCgroupRoot().
	CgroupRoot string
}

func (id *Identifier) procRoot() string {
	if id.ProcRoot == "" {
		return "/proc"
	}
	return id.ProcRoot
}

func (id *Identifier) cgroupRoot() (string, error) {
	if id.CgroupRoot != "" {
		return id.CgroupRoot, nil
	}
	return UnifiedCgroupRoot()
}

// PeerPID returns the pid (in the agent's pid namespace) of the process at
// the other end of conn, as the kernel recorded it when it connected
// (SO_PEERCRED).
func PeerPID(conn *net.UnixConn) (int, error) {
	who, fd, err := peer(conn)
	if fd >= 0 {
		unix.Close(fd)
	}
	return who.PID, err
}

// peer returns the peer's credentials as the kernel recorded them when it
// connected (SO_PEERCRED: pid, effective uid and gid; no groups) and a
// pidfd for it: from SO_PEERPIDFD (Linux 6.5+), which names the very
// process that connected even if its pid was since reused, else from
// pidfd_open on the SO_PEERCRED pid. The credentials are set whenever
// SO_PEERCRED could be read, also with an error.
func peer(conn *net.UnixConn) (who Cred, pidfd int, err error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return Cred{}, -1, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr, fdErr error
	pidfd = -1
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if credErr == nil {
			pidfd, fdErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD)
		}
	}); err != nil {
		return Cred{}, -1, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return Cred{}, -1, fmt.Errorf("peer credentials: getsockopt SO_PEERCRED: %w", credErr)
	}
	who = Cred{PID: int(cred.Pid), UID: cred.Uid, GID: cred.Gid}
	if cred.Pid <= 0 {
		return who, -1, refused("the peer's pid is not visible from the agent's pid namespace")
	}
	switch {
	case fdErr == nil:
		return who, pidfd, nil
	case errors.Is(fdErr, unix.ESRCH):
		return who, -1, refused(fmt.Sprintf("pid %d has exited", who.PID))
	}
	pidfd, err = unix.PidfdOpen(who.PID, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return who, -1, refused(fmt.Sprintf("pid %d has exited", who.PID))
		}
		return who, -1, fmt.Errorf("pidfd_open %d: %w", who.PID, err)
	}
	return who, pidfd, nil
}

// IdentifyConn identifies the process at the other end of conn. It holds a
// pidfd for that process while it reads /proc and checks the process is
// still alive afterwards, so a pid reused meanwhile is never believed.
//
// It returns the peer's Cred whenever SO_PEERCRED could be read, also
// when it refuses the peer (the agent counts connections per host uid).
// A peer whose effective uid or gid is no longer what it connected with
// is refused: see readGroups.
func (id *Identifier) IdentifyConn(ctx context.Context, conn *net.UnixConn) (Machine, Cred, error) {
	who, pidfd, err := peer(conn)
	if err != nil {
		return Machine{}, who, err
	}
	defer unix.Close(pidfd)
	// Read while the pidfd is held; identify checks the process is still
	// alive afterwards, so the groups are the peer's.
	if err := readGroups(id.procRoot(), &who); err != nil {
		if pidfdAlive(pidfd) != nil {
			// What was read was another process's, under a reused pid.
			return Machine{}, who, refused(fmt.Sprintf("pid %d exited while being identified", who.PID))
		}
		return Machine{}, who, err
	}
	m, err := id.identify(ctx, who.PID, func() error { return pidfdAlive(pidfd) })
	return m, who, err
}

// Identify identifies process pid, opening a pidfd for it first and
// checking it is still alive after reading /proc (see IdentifyConn, which
// the agent should prefer: a pid taken from SO_PEERCRED may already be
// reused by the time it is passed here).
func (id *Identifier) Identify(ctx context.Context, pid int) (Machine, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return Machine{}, refused(fmt.Sprintf("pid %d has exited", pid))
		}
		return Machine{}, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	return id.identify(ctx, pid, func() error { return pidfdAlive(pidfd) })
}

func pidfdAlive(pidfd int) error {
	return unix.PidfdSendSignal(pidfd, 0, nil, 0)
}

// identify does the work of Identify; alive, if set, is asked at the end
// whether the process read about is still the one meant.
func (id *Identifier) identify(ctx context.Context, pid int, alive func() error) (Machine, error) {
	if err := ctx.Err(); err != nil {
		return Machine{}, err
	}
	proc := id.procRoot()
	cg, err := unifiedCgroup(proc, pid)
	if exited(err) {
		return Machine{}, refused(fmt.Sprintf("pid %d has exited", pid))
	}
	if err != nil {
		return Machine{}, fmt.Errorf("identify pid %d: %w", pid, err)
	}
	name, unit, ok := machineOfCgroup(cg)
	if !ok {
		return Machine{}, refused(fmt.Sprintf("pid %d is not in a declared machine (cgroup %s)", pid, cg))
	}
	allowed, ok := id.Machines[name]
	if !ok {
		return Machine{}, refused(fmt.Sprintf("pid %d is in machine %q, which is not declared (cgroup %s)", pid, name, cg))
	}
	peerNS, err := pidNamespace(proc, pid)
	if exited(err) {
		return Machine{}, refused(fmt.Sprintf("pid %d has exited", pid))
	}
	if err != nil {
		return Machine{}, fmt.Errorf("identify pid %d: %w", pid, err)
	}
	root, err := id.cgroupRoot()
	if err != nil {
		return Machine{}, err
	}
	m, leaderNS, err := findLeader(proc, root, name, unit)
	if err != nil {
		return Machine{}, err
	}
	if peerNS != leaderNS {
		return Machine{}, refused(fmt.Sprintf("pid %d is in machine %q's cgroup but not in its pid namespace (only the machine's own processes may ask; not its supervisor or containers nested in it)", pid, name))
	}
	if alive != nil {
		if err := alive(); err != nil {
			return Machine{}, refused(fmt.Sprintf("pid %d exited while being identified", pid))
		}
	}
	m.Allowed = slices.Clone(allowed)
	return m, nil
}

// Lookup finds the running declared machine name without a peer, e.g. for
// the agent to re-attach to its machines after a restart. It fails with
// ErrNotRunning when the machine has no cgroup or no leader.
func (id *Identifier) Lookup(ctx context.Context, name string) (Machine, error) {
	if err := ctx.Err(); err != nil {
		return Machine{}, err
	}
	allowed, ok := id.Machines[name]
	if !ok {
		return Machine{}, fmt.Errorf("machine %q is not declared", name)
	}
	root, err := id.cgroupRoot()
	if err != nil {
		return Machine{}, err
	}
	esc := escapeUnitName(name)
	units := slices.Compact([]string{
		"/" + machineSlice + "/systemd-nspawn@" + name + ".service",
		"/" + machineSlice + "/systemd-nspawn@" + esc + ".service",
		"/" + machineSlice + "/machine-" + esc + ".scope",
	})
	for _, unit := range units {
		if _, err := os.Stat(filepath.Join(root, unit)); err != nil {
			continue
		}
		m, _, err := findLeader(id.procRoot(), root, name, unit)
		if err != nil {
			return Machine{}, err
		}
		m.Allowed = slices.Clone(allowed)
		return m, nil
	}
	return Machine{}, notRunning(fmt.Sprintf("machine %q is not running (no cgroup %s)", name, units[0]), nil)
}

// findLeader finds the machine's leader in its unit's cgroup subtree: the
// process that is PID 1 of the outermost pid namespace found there (the
// machine's own; containers nested in the machine are deeper, and the
// nspawn supervisor is in the host's namespace, not PID 1 of it).
func findLeader(procRoot, cgroupRoot, name, unit string) (Machine, string, error) {
	best, depth, ambiguous := 0, 0, false
	err := cgroupProcs(filepath.Join(cgroupRoot, unit), func(pid int) error {
		pids, err := nsPids(procRoot, pid)
		if exited(err) {
			return nil // exited during the scan
		}
		if err != nil {
			return err
		}
		if len(pids) < 2 || pids[len(pids)-1] != 1 {
			return nil
		}
		switch {
		case best == 0 || len(pids) < depth:
			best, depth, ambiguous = pid, len(pids), false
		case len(pids) == depth:
			ambiguous = true
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return Machine{}, "", notRunning(fmt.Sprintf("machine %q is not running (cgroup %s is gone)", name, unit), err)
	}
	if err != nil {
		return Machine{}, "", fmt.Errorf("find the leader of machine %q: %w", name, err)
	}
	if best == 0 {
		return Machine{}, "", notRunning(fmt.Sprintf("machine %q has no leader: no process in cgroup %s is PID 1 of a pid namespace", name, unit), nil)
	}
	if ambiguous {
		return Machine{}, "", fmt.Errorf("machine %q has more than one leader candidate in cgroup %s: refusing to guess", name, unit)
	}
	ns, err := pidNamespace(procRoot, best)
	if err == nil {
		var start uint64
		if start, err = startTime(procRoot, best); err == nil {
			return Machine{Name: name, Leader: best, LeaderStart: start, Cgroup: unit}, ns, nil
		}
	}
	if exited(err) {
		return Machine{}, "", notRunning(fmt.Sprintf("machine %q's leader (pid %d) exited", name, best), err)
	}
	return Machine{}, "", fmt.Errorf("read the leader of machine %q (pid %d): %w", name, best, err)
}

// checkLeader confirms that m.Leader is still the process Identify or
// Lookup found, and alive. Called after opening anything through
// /proc/LEADER, it proves what was opened belongs to the machine; called
// after a step failed, it tells a machine that died meanwhile (the
// client's business: ErrNotRunning) from the agent's own failure.
func checkLeader(m Machine) error {
	if m.Leader <= 0 || m.LeaderStart == 0 {
		return fmt.Errorf("machine %q: leader pid or start time unknown: get the Machine from Identify or Lookup", m.Name)
	}
	state, start, err := procStat("/proc", m.Leader)
	// A zombie is gone too: dead, only not yet reaped, its namespaces
	// already released.
	if exited(err) || (err == nil && start == m.LeaderStart && (state == "Z" || state == "X")) {
		return notRunning(fmt.Sprintf("machine %q is gone: its leader (pid %d) exited", m.Name, m.Leader), err)
	}
	if err == nil && start != m.LeaderStart {
		return notRunning(fmt.Sprintf("machine %q is gone: its leader (pid %d) exited and the pid now names another process", m.Name, m.Leader), nil)
	}
	if err != nil {
		return fmt.Errorf("machine %q: read its leader (pid %d): %w", m.Name, m.Leader, err)
	}
	return nil
}
