// Package agent is the cache agent: the host daemon behind
// `rigplan cache serve` that hands each CI job a private copy-on-write
// snapshot of the best matching earlier cache, mounted where the job asked
// inside its machine.
//
// New builds an agent from a Config (or a FileConfig, the JSON file a
// cache block renders) and a store; Listen gets its socket (from systemd
// socket activation, or a new one); Serve rebuilds the agent's view of the
// store, tells systemd it is ready (sd_notify READY=1) and serves one
// request per connection (package protocol) until its context ends.
//
// # A connection
//
// The peer is identified first, from the kernel's view of it, before a
// byte is read: a process of a declared machine (package inject), or root
// on the host outside every machine (the operator, who alone may run gc
// and rm). Anyone else gets an error line at once, without a byte of its
// request read or a slot held, and its refusals are logged sparingly.
// A peer over its limits (limits.go: connections, ls and stats, caches in
// use, annotation bytes, one snapshot made at a time) is refused or
// queued behind itself, never before other peers. Then one request is
// read, its first byte within FirstByteTimeout and the whole of it
// within ReadTimeout and a size limit, the command runs, one answer goes
// out (an ls streamed), and the connection is closed. Every failure is answered with an
// error line saying what is wrong and what to do, never with internals
// (those go to the log, under the request's number); a panic in a handler
// is logged and answered the same way, and the agent keeps serving.
//
// # A snapshot's life (the request state machine)
//
//	mount PATH
//	  check PATH against the machine's prefixes, that no snapshot of
//	    this agent is mounted there, and PATH inside the machine with
//	    the requester's rights (no symlink; the requester's directory,
//	    or a missing one it may create, on the machine's root mount;
//	    not a mount point): a bad target is refused before anything is
//	    made
//	  choose the origin (match over sealed snapshots not in use; pinned
//	    so that retention leaves it alone), or the default volume
//	  run retention if the store is over its high watermark; refuse if
//	    it still is
//	  create            → pending  (store.Create)          step "created"
//	  mount on the host staging directory                  step "staged"
//	  mount into the machine (inject.Mount: idmapped, nosuid, nodev,
//	    as the requester)                                  step "injected"
//	  unmount the staging directory                        step "unstaged"
//	  record in use     → in-use   (store.SetState)        step "in-use"
//	  watch the machine's leader (one pidfd per machine boot)
//	  answer ok PATH CRITERION SNAPSHOT
//	A failure at any step undoes the earlier ones in reverse.
//
//	save PATH  (from the machine that has a snapshot in use at PATH)
//	  mount that snapshot on the host staging directory   step "save-staged"
//	  store.Copy        → a new sealed snapshot             step "copied"
//	  unmount the staging directory; answer ok PATH COPY
//
//	the machine's leader exits
//	  wait (bounded, with backoff) until nothing holds the snapshot's
//	  filesystem: the store's BusyChecker if it has one, else no mount of
//	  it in any mount namespace on the host; if it is still held, retry
//	  at every periodic pass                                step "finishing"
//	  commit on-exit: in-use → sealed (a candidate origin from now on)
//	  commit on-save: deleted (only its saved copies survive)
//
//	retention (every RetentionInterval, before a create over the high
//	watermark, and on gc) deletes sealed snapshots by age, by count per
//	annotation set, and oldest first while the store is over its
//	watermarks; never the default volume, a snapshot in use or being
//	made, or one a request is copying. After each batch it deleted for
//	space, and before it reads the store's use again, it waits (at most
//	30 s) for a store whose deletions free space only later
//	(store.Settler: btrfs's cleaner) to count what they gave back;
//	otherwise it would find the store as full as before and delete
//	more than needed.
//
// The steps named above are where the test-only PauseEnv hook can stop
// a request, so that the crash tests can kill the agent exactly there.
//
// # Crash recovery
//
// The store is the database (every snapshot's state, machine, origin and
// annotations are kept on it), so a SIGKILL at any point leaves only what
// the start-up pass repairs:
//
//   - staging mounts left under StateDir/staging are unmounted and their
//     directories removed;
//   - a pending snapshot (a mount or save cut short) is unmounted from its
//     machine if it got that far (the client never got an ok), then
//     deleted; if something still holds it, the periodic pass deletes it
//     later;
//   - an in-use snapshot whose machine still runs (same boot) with the
//     snapshot mounted is watched again;
//   - an in-use snapshot whose machine is gone, or no longer has it
//     mounted, is sealed or deleted per the commit policy once nothing
//     holds it;
//   - sealed snapshots are kept as they are: nothing sealed is ever lost
//     to a crash.
//
// Between starts, the periodic pass re-reads the store, so that a
// snapshot left pending by a failed undo is deleted too.
package agent
