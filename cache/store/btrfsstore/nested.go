package btrfsstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// A job may create subvolumes inside its cache: that needs no privilege,
// nor does making them read-only or snapshotting the cache into itself.
// btrfs refuses to delete a subvolume that holds others (ENOTEMPTY), so
// the store finds them in the kernel's own index (the ROOT_REF items of
// the root tree: one search per subvolume, whatever number of files the
// cache holds) and deletes them deepest first.

// subvol is a subvolume nested in a snapshot, with those nested in it.
type subvol struct {
	id uint64
	// names leads from the snapshot's root to this subvolume's root,
	// a directory per element: opened one at a time, so that no path
	// a job made deep enough can exceed PATH_MAX.
	names    []string
	children []*subvol
}

// path renders the subvolume's place in the snapshot for messages.
func (v *subvol) path() string {
	if len(v.names) == 0 {
		return "."
	}
	return strings.Join(v.names, "/")
}

// each calls fn for v and every subvolume nested in it, parents first.
func (v *subvol) each(fn func(*subvol)) {
	fn(v)
	for _, c := range v.children {
		c.each(fn)
	}
}

// nestedSubvolumes returns the tree of subvolumes nested in subvolume
// id, read through fsDir (any directory of the filesystem).
func nestedSubvolumes(fsDir *os.File, id uint64) (*subvol, error) {
	top := &subvol{id: id}
	queue := []*subvol{top}
	seen := map[uint64]bool{id: true}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		refs, err := childRefs(fsDir, parent.id)
		if err != nil {
			return nil, fmt.Errorf("list the subvolumes inside %s: %w", parent.path(), err)
		}
		for _, r := range refs {
			if seen[r.id] {
				return nil, fmt.Errorf("subvolume %d is listed twice inside %d", r.id, id)
			}
			seen[r.id] = true
			dir, err := dirNames(fsDir, parent.id, r.dirID)
			if err != nil {
				return nil, fmt.Errorf("find subvolume %d inside %s: %w", r.id, parent.path(), err)
			}
			c := &subvol{id: r.id, names: slices.Concat(parent.names, dir, []string{r.name})}
			parent.children = append(parent.children, c)
			queue = append(queue, c)
		}
	}
	return top, nil
}

// rootRef is a ROOT_REF item: subvolume id's root is entry name of
// directory dirID in its parent subvolume.
type rootRef struct {
	id, dirID uint64
	name      string
}

// childRefs lists the subvolumes whose roots are entries of directories
// of subvolume parent.
func childRefs(fsDir *os.File, parent uint64) ([]rootRef, error) {
	key := searchKey{
		treeID:      rootTreeObjectID,
		minObjectID: parent, maxObjectID: parent,
		minType: rootRefKey, maxType: rootRefKey,
		maxOffset: math.MaxUint64, maxTransID: math.MaxUint64,
	}
	var refs []rootRef
	err := treeSearch(fsDir, key, func(objectID uint64, typ uint32, offset uint64, item []byte) error {
		if objectID != parent || typ != rootRefKey {
			return nil
		}
		// struct btrfs_root_ref: dirid, sequence, name_len, then the name.
		if len(item) < 18 {
			return fmt.Errorf("a root ref of %d bytes", len(item))
		}
		n := int(binary.LittleEndian.Uint16(item[16:]))
		if len(item) < 18+n {
			return fmt.Errorf("a root ref cut short")
		}
		refs = append(refs, rootRef{id: offset, dirID: binary.LittleEndian.Uint64(item), name: string(item[18 : 18+n])})
		return nil
	})
	return refs, err
}

// dirNames returns the names leading from the root of subvolume tree to
// its directory dirID, from the directories' INODE_REF items (a
// directory has exactly one).
func dirNames(fsDir *os.File, tree, dirID uint64) ([]string, error) {
	var names []string
	for dirID != firstFreeObjectID {
		key := searchKey{
			treeID:      tree,
			minObjectID: dirID, maxObjectID: dirID,
			minType: inodeRefKey, maxType: inodeRefKey,
			maxOffset: math.MaxUint64, maxTransID: math.MaxUint64,
		}
		var parent uint64
		var name string
		err := treeSearch(fsDir, key, func(objectID uint64, typ uint32, offset uint64, item []byte) error {
			if objectID != dirID || typ != inodeRefKey || name != "" {
				return nil
			}
			// struct btrfs_inode_ref: index, name_len, then the name.
			if len(item) < 10 {
				return fmt.Errorf("an inode ref of %d bytes", len(item))
			}
			n := int(binary.LittleEndian.Uint16(item[8:]))
			if len(item) < 10+n || n == 0 {
				return fmt.Errorf("an inode ref cut short")
			}
			parent, name = offset, string(item[10:10+n])
			return nil
		})
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, fmt.Errorf("directory %d of subvolume %d has no name", dirID, tree)
		}
		names = append(names, name)
		dirID = parent
	}
	slices.Reverse(names)
	return names, nil
}

// openNested opens the root of subvolume v, nested in the snapshot
// whose root is open as top, one directory at a time, following no
// symlink.
func openNested(top *os.File, v *subvol) (*os.File, error) {
	fd := int(top.Fd())
	for i, n := range v.names {
		next, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if i > 0 {
			unix.Close(fd)
		}
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", v.path(), err)
		}
		fd = next
	}
	if len(v.names) == 0 {
		return nil, errors.New("open a nested subvolume: no path")
	}
	return os.NewFile(uintptr(fd), v.path()), nil
}

// destroyNested deletes every subvolume nested in v, deepest first,
// leaving v itself, whose root is open as root; top is the snapshot's
// root. The entries of a read-only subvolume cannot change, so a
// read-only parent is made writable first; should a deletion fail, it is
// made read-only again, so that a sealed snapshot never stays writable.
// It reports whether it made v writable.
func destroyNested(fsDir, top, root *os.File, v *subvol) (writable bool, err error) {
	if len(v.children) == 0 {
		return false, nil
	}
	ro, err := readOnly(root)
	if err != nil {
		return false, fmt.Errorf("subvolume %s: %w", v.path(), err)
	}
	if ro {
		if err := setWritable(root); err != nil {
			return false, fmt.Errorf("subvolume %s: %w", v.path(), err)
		}
		defer func() {
			if err != nil {
				setReadOnly(root)
			}
		}()
	}
	for _, c := range v.children {
		if err := destroyTree(fsDir, top, c); err != nil {
			return false, err
		}
	}
	return ro, nil
}

// destroyTree deletes nested subvolume v and everything in it.
func destroyTree(fsDir, top *os.File, v *subvol) (err error) {
	if len(v.children) > 0 {
		var f *os.File
		if f, err = openNested(top, v); err != nil {
			return err
		}
		defer f.Close()
		var writable bool
		if writable, err = destroyNested(fsDir, top, f, v); err != nil {
			return err
		}
		if writable {
			defer func() {
				if err != nil {
					setReadOnly(f)
				}
			}()
		}
	}
	if err := destroyByID(fsDir, v.id); err != nil {
		return fmt.Errorf("btrfs subvolume delete %s (id %d): %w", v.path(), v.id, err)
	}
	return nil
}
