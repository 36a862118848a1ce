package inject

import (
	"fmt"

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
