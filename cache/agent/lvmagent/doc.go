// Package lvmagent tests the cache agent with the LVM store, end to end:
// real thin snapshots in the User-Mode Linux test kernel (package
// testhost), real systemd-nspawn machines inside it (package
// machinetest), the original setup's ncat request from inside them. The
// package holds only tests; it is separate from package agent's tests
// because testhost runs a whole test binary inside the kernel.
package lvmagent
