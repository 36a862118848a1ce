// Package cache is the home of rigplan's cache agent: the host daemon that
// hands every CI job, in well under a second and whatever the cache's size,
// a private copy-on-write snapshot of the best matching earlier cache,
// mounted where the job asked inside its machine.
//
// The pieces, each its own package:
//
//   - protocol: the line protocol on the agent's unix socket (the original
//     setup's `ncat -U` heredoc works unchanged) and its responses.
//   - match: which sealed snapshot a request's ordered criteria select.
//   - store: where snapshots live (LVM thin snapshots, btrfs subvolume
//     snapshots), behind one interface; the store is the database: every
//     snapshot's annotations, state and origin are kept with the snapshot
//     (LVM: tags on the thin volume; btrfs: a JSON sidecar file per
//     snapshot in the store directory's .rigplan, outside the subvolume
//     the job can write), so the agent rebuilds its view after a restart
//     from the store alone.
//   - inject: who is asking (SO_PEERCRED → cgroup → a declared machine and
//     its leader) and putting a mount into that machine's mount namespace,
//     idmapped to its user namespace (open_tree, mount_setattr, setns,
//     move_mount), with the target resolved inside the machine's root
//     without following symlinks.
//   - agent: the daemon: serves the socket with bounded request size and
//     time, creates and injects snapshots, seals them when the machine's
//     leader exits (pidfd) or on `save`, applies retention, and recovers
//     from its own crash.
//
// A snapshot's life: created (pending) from its origin → mounted in one live
// machine (in use) → sealed when the machine exits or on save, or discarded
// when the commit policy is on-save and the job never saved → a candidate
// origin for later jobs → deleted by retention. A snapshot in use is never
// an origin; the default volume is never deleted.
package cache
