package inject

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
