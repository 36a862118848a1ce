package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/mountinfo"
)

// mountID is how a snapshot's mounts look in a mountinfo table: the
// filesystem's device and the directory of it that is mounted. A thin
// snapshot is its own device, mounted from "/"; a btrfs subvolume shares
// its filesystem's device and is told apart by its root ("/snaps/NAME").
// Bind mounts of directories inside it (a job may make them) have roots
// below that one.
type mountID struct {
	major, minor uint32
	root         string
}

func (id mountID) known() bool { return id.root != "" }

func (id mountID) String() string { return fmt.Sprintf("%d:%d %s", id.major, id.minor, id.root) }

// matches reports whether mount e shows the snapshot id names.
func (id mountID) matches(e inject.MountEntry) bool {
	if !id.known() || e.Major != id.major || e.Minor != id.minor {
		return false
	}
	return id.root == "/" || e.Root == id.root || strings.HasPrefix(e.Root, id.root+"/")
}

// idOfMount reads the agent's own mount table for the mount at dir.
func idOfMount(dir string) (mountID, error) {
	entries, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		return mountID{}, err
	}
	var id mountID
	for _, e := range entries {
		if e.Target == dir { // the last one is the topmost
			id = mountID{major: e.Major, minor: e.Minor, root: e.Root}
		}
	}
	if !id.known() {
		return mountID{}, fmt.Errorf("no mount at %s in the agent's mount table", dir)
	}
	return id, nil
}

// busy reports whether anything still holds snapshot e's filesystem: the
// store's own answer when it has one (store.BusyChecker), else a mount of
// it in any mount namespace on the host.
func (a *Agent) busy(ctx context.Context, name string, id mountID) (bool, string, error) {
	if bc, ok := a.store.(store.BusyChecker); ok {
		return bc.Busy(ctx, name)
	}
	if !id.known() {
		return false, "", fmt.Errorf("snapshot %s: cannot tell where it is mounted: its mount identity is unknown", name)
	}
	return mountedAnywhere(ctx, id)
}

// mountedAnywhere looks for a mount id names in every mount namespace on
// the host, reading one mountinfo per namespace.
func mountedAnywhere(ctx context.Context, id mountID) (bool, string, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return false, "", err
	}
	seen := map[string]bool{}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return false, "", err
		}
		dir := filepath.Join("/proc", p.Name())
		ns, err := os.Readlink(dir + "/ns/mnt")
		if err != nil || seen[ns] {
			continue // gone, a kernel thread, or a namespace already read
		}
		entries, err := mountinfo.Read(dir + "/mountinfo")
		if err != nil {
			continue // the process exited while we read
		}
		seen[ns] = true
		for _, e := range entries {
			if id.matches(e) {
				return true, fmt.Sprintf("mounted at %s in the mount namespace of pid %s", e.Target, p.Name()), nil
			}
		}
	}
	return false, "", nil
}
