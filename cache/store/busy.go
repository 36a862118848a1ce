package store

import "context"

// BusyChecker is implemented by stores that can tell, better than a scan
// of every mount table can, whether anything on the host still holds a
// snapshot's filesystem. The agent seals a snapshot only once its machine
// is gone and its filesystem is released everywhere: sealing one that a
// lingering process still writes would make a half-written cache an
// origin. LVM answers with the LV's open count, which also counts a
// filesystem that was lazily unmounted but is still held open by a
// process, and a device opened without a mount.
//
// Stores without it are checked by the agent itself: it looks for mounts
// of the snapshot (by device and root, as a host mount of it shows) in
// every mount namespace on the host.
type BusyChecker interface {
	// Busy reports whether snapshot name is mounted or held open
	// anywhere on the host, and if so, where or by what (for logs).
	Busy(ctx context.Context, name string) (busy bool, where string, err error)
}
