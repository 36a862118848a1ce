package inject

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Cred is who sent a request, in the host's ids: the peer's SO_PEERCRED
// pid, uid and gid, and its supplementary groups (the Groups: line of
// /proc/PID/status, read while the peer's pidfd is held).
//
// Mount and CheckTarget act with exactly these rights inside the
// machine, so that a request can do no more than its sender could do
// itself.
type Cred struct {
	PID      int
	UID, GID uint32
	Groups   []uint32
}

// readGroups fills in who.Groups from /proc/PID/status, whose ids are
// the reader's (the host's). The peer's effective uid and gid there must
// still be the ones SO_PEERCRED recorded when it connected: a process
// that changed them since (root that became the runner, or the other
// way round, with setuid or a setuid program) is refused, since neither
// set would then describe who asks.
func readGroups(procRoot string, who *Cred) error {
	b, err := os.ReadFile(procPath(procRoot, who.PID, "status"))
	if exited(err) {
		return refused(fmt.Sprintf("pid %d has exited", who.PID))
	}
	if err != nil {
		return fmt.Errorf("read the credentials of pid %d: %w", who.PID, err)
	}
	uids, gids, groups, err := parseStatusIDs(b)
	if err != nil {
		return fmt.Errorf("/proc/%d/status: %w", who.PID, err)
	}
	if uids[1] != who.UID || gids[1] != who.GID {
		return refused(fmt.Sprintf("pid %d changed its user or group since it connected (host uid %d, gid %d then; %d, %d now): connect again as the user that asks", who.PID, who.UID, who.GID, uids[1], gids[1]))
	}
	who.Groups = groups
	return nil
}

// parseStatusIDs reads the Uid: and Gid: lines (real, effective, saved
// and filesystem ids) and the Groups: line of a /proc/PID/status file.
func parseStatusIDs(status []byte) (uids, gids [4]uint32, groups []uint32, err error) {
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "Uid" && key != "Gid" && key != "Groups") {
			continue
		}
		var ids []uint32
		for _, f := range strings.Fields(rest) {
			n, perr := strconv.ParseUint(f, 10, 32)
			if perr != nil {
				return uids, gids, nil, fmt.Errorf("bad %s line %q", key, sc.Text())
			}
			ids = append(ids, uint32(n))
		}
		switch key {
		case "Uid", "Gid":
			if len(ids) != 4 {
				return uids, gids, nil, fmt.Errorf("bad %s line %q", key, sc.Text())
			}
			if key == "Uid" {
				copy(uids[:], ids)
			} else {
				copy(gids[:], ids)
			}
			seen++
		case "Groups":
			groups = ids
			seen++
		}
	}
	if seen != 3 {
		return uids, gids, nil, errors.New("no Uid, Gid or Groups line")
	}
	return uids, gids, groups, nil
}

// becomeRequester makes the calling OS thread act on files as who does,
// and nothing more: its supplementary groups, filesystem gid and uid set
// to who's (host ids), and every capability dropped (effective and
// permitted, so none can come back). It must run on a locked thread
// that dies afterwards. The calls are golang.org/x/sys/unix's raw
// syscalls, which change this thread only; the standard library's
// syscall.Setgroups would change every thread of the agent.
//
// With the filesystem ids set and no capabilities, every permission
// check the kernel makes for this thread (search permission during
// openat2, write permission for mkdirat, faccessat2 with AT_EACCESS) is
// the one it makes for the requester, and what mkdirat makes belongs to
// the requester.
func becomeRequester(who Cred) error {
	groups := make([]int, len(who.Groups))
	for i, g := range who.Groups {
		groups[i] = int(g)
	}
	if err := unix.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	// setfsgid and setfsuid report no failure; what they return is the
	// id before the call, and an invalid id (-1) changes nothing, which
	// makes asking back possible.
	unix.Setfsgid(int(who.GID))
	unix.Setfsuid(int(who.UID))
	if gid, _ := unix.SetfsgidRetGid(-1); gid != int(who.GID) {
		return fmt.Errorf("setfsgid %d: the thread's filesystem gid is still %d", who.GID, gid)
	}
	if uid, _ := unix.SetfsuidRetUid(-1); uid != int(who.UID) {
		return fmt.Errorf("setfsuid %d: the thread's filesystem uid is still %d", who.UID, uid)
	}
	// Pid 0: this thread.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var none [2]unix.CapUserData
	if err := unix.Capset(&hdr, &none[0]); err != nil {
		return fmt.Errorf("capset: drop all capabilities: %w", err)
	}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	if caps != none {
		return fmt.Errorf("capset: the thread still has capabilities %+v", caps)
	}
	return nil
}
