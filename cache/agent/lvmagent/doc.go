// Package lvmagent tests the cache agent with the LVM store, end to end:
// real thin snapshots in the User-Mode Linux test kernel (package
// testhost), real systemd-nspawn machines inside it (package
// machinetest), the original setup's ncat request from inside them. The
// package holds only tests; it is separate from package agent's tests
// because testhost runs a whole test binary inside the kernel.
//
// Every test builds its world with the helpers of env_test.go: newEnv
// makes the volume group, the thin pool and the default volume (xfs, its
// root owned by the runner) with LVM's own commands, serve runs the agent
// in the test process and waits for its echo (so that a machine's ncat
// request never races the start-up pass: no retries), machine starts a
// declared machine with the socket bound in, and noLeaks checks LVM's
// own tags and the host's mount table, not the store's parser.
//
// TestHostileLVM is package agent's hostile tests of privilege and of a
// full store, on LVM: a setuid-root program planted by machine root is
// inert for a later job's runner (the mount is nosuid,nodev), and a job
// that fills the thin pool (256 MiB under a 2 GiB volume,
// error_when_full) makes the next mount an error naming the pool and its
// use, is sealed on the full pool all the same, is deleted by the
// operator's rm, and the next mount gets a cache again. Its agent has no
// space watermarks, so that the refusal is the store's own (LVM's
// refusal of a new thin volume, a store.FullError) and the pool is still
// full when the job's snapshot is sealed.
//
// TestHostileLVMRetention is the same full pool with the cache block's
// default watermarks (90/80), where space retention runs before every
// mount on a pool over 90%: the LVM store reports what each snapshot in
// use wrote beyond its origin (store.Snapshot.Size; "Sizes" in
// lvmstore's doc), so retention keeps the other jobs' sealed caches,
// even those no waiting mount pins (a job of another annotation set
// asks too), and the refusal says how much the caches in use hold. The
// filling job's cache is sealed once its machine exits, and the
// operator's rm heals the pool. (Retention running after that seal
// would delete oldest first, the other caches before the filler's.)
package lvmagent
