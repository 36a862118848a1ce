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
	id     uint64
	parent *subvol // nil for the snapshot itself
	// rel leads from the parent's root to this subvolume's root, a
	// directory per element: opened one at a time from the parent's, so
	// that no path a job made deep enough can exceed PATH_MAX, and no
	// depth of nesting costs more than one walk.
	rel      []string
	children []*subvol
}

// path renders the subvolume's place in the snapshot for messages.
func (v *subvol) path() string {
	var parts []string
	for ; v.parent != nil; v = v.parent {
		parts = append(slices.Clone(v.rel), parts...)
	}
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
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
	dirs := &dirIndex{fsDir: fsDir, refs: map[[2]uint64]dirRef{}}
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
			dir, err := dirs.names(parent.id, r.dirID)
			if err != nil {
				return nil, fmt.Errorf("find subvolume %d inside %s: %w", r.id, parent.path(), err)
			}
			c := &subvol{id: r.id, parent: parent, rel: append(dir, r.name)}
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
		r, err := parseRootRef(offset, item)
		if err != nil {
			return err
		}
		refs = append(refs, r)
		return nil
	})
	return refs, err
}

// allChildRefs lists the subvolumes of the whole filesystem by the
// subvolume holding each: every ROOT_REF item of the root tree, in one
// search. The search returns the other items of the root tree too (a
// ROOT_ITEM and a ROOT_BACKREF per subvolume, a few more per tree):
// a range of keys cannot pick one type across objectids.
func allChildRefs(fsDir *os.File) (map[uint64][]rootRef, error) {
	key := searchKey{
		treeID:      rootTreeObjectID,
		maxObjectID: math.MaxUint64,
		minType:     rootRefKey, maxType: rootRefKey,
		maxOffset: math.MaxUint64, maxTransID: math.MaxUint64,
	}
	out := map[uint64][]rootRef{}
	err := treeSearch(fsDir, key, func(objectID uint64, typ uint32, offset uint64, item []byte) error {
		if typ != rootRefKey {
			return nil
		}
		r, err := parseRootRef(offset, item)
		if err != nil {
			return err
		}
		out[objectID] = append(out[objectID], r)
		return nil
	})
	return out, err
}

// parseRootRef reads the ROOT_REF item of child subvolume id.
func parseRootRef(id uint64, item []byte) (rootRef, error) {
	// struct btrfs_root_ref: dirid, sequence, name_len, then the name.
	if len(item) < 18 {
		return rootRef{}, fmt.Errorf("a root ref of %d bytes", len(item))
	}
	n := int(binary.LittleEndian.Uint16(item[16:]))
	if len(item) < 18+n {
		return rootRef{}, fmt.Errorf("a root ref cut short")
	}
	return rootRef{id: id, dirID: binary.LittleEndian.Uint64(item), name: string(item[18 : 18+n])}, nil
}

// dirRef is a directory's entry in its parent directory.
type dirRef struct {
	parent uint64
	name   string
}

// dirIndex finds the names leading from a subvolume's root to one of its
// directories, from the directories' INODE_REF items (a directory has
// exactly one). It remembers every directory it looked up, so that many
// subvolumes in one deep directory cost one walk up, not one each.
type dirIndex struct {
	fsDir *os.File
	refs  map[[2]uint64]dirRef // by subvolume id and inode number
}

// names returns the names leading from the root of subvolume tree to its
// directory dirID.
func (x *dirIndex) names(tree, dirID uint64) ([]string, error) {
	var names []string
	for steps := 0; dirID != firstFreeObjectID; steps++ {
		if steps > 1<<20 {
			return nil, fmt.Errorf("directory %d of subvolume %d is deeper than a million directories", dirID, tree)
		}
		r, ok := x.refs[[2]uint64{tree, dirID}]
		if !ok {
			var err error
			if r, err = inodeRef(x.fsDir, tree, dirID); err != nil {
				return nil, err
			}
			x.refs[[2]uint64{tree, dirID}] = r
		}
		names = append(names, r.name)
		dirID = r.parent
	}
	slices.Reverse(names)
	return names, nil
}

// inodeRef reads directory dirID's INODE_REF item in subvolume tree.
func inodeRef(fsDir *os.File, tree, dirID uint64) (dirRef, error) {
	key := searchKey{
		treeID:      tree,
		minObjectID: dirID, maxObjectID: dirID,
		minType: inodeRefKey, maxType: inodeRefKey,
		maxOffset: math.MaxUint64, maxTransID: math.MaxUint64,
	}
	var r dirRef
	err := treeSearch(fsDir, key, func(objectID uint64, typ uint32, offset uint64, item []byte) error {
		if objectID != dirID || typ != inodeRefKey || r.name != "" {
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
		r = dirRef{parent: offset, name: string(item[10 : 10+n])}
		return nil
	})
	if err != nil {
		return dirRef{}, err
	}
	if r.name == "" {
		return dirRef{}, fmt.Errorf("directory %d of subvolume %d has no name", dirID, tree)
	}
	return r, nil
}

// openNested opens the root of subvolume v from its parent's root, open
// as parent, one directory at a time, following no symlink.
func openNested(parent *os.File, v *subvol) (*os.File, error) {
	if len(v.rel) == 0 {
		return nil, errors.New("open a nested subvolume: no path")
	}
	fd := int(parent.Fd())
	for i, n := range v.rel {
		next, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if i > 0 {
			unix.Close(fd)
		}
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", v.path(), err)
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), v.path()), nil
}

// destroyNested deletes every subvolume nested in v, deepest first,
// leaving v itself, whose root is open as root. The entries of a
// read-only subvolume cannot change, so a read-only parent is made
// writable first; should a deletion fail, it is made read-only again, so
// that a sealed snapshot never stays writable. It reports whether it
// made v writable, and calls gone with the id of each subvolume it
// deleted.
func destroyNested(fsDir, root *os.File, v *subvol, gone func(id uint64)) (writable bool, err error) {
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
		if err := destroyTree(fsDir, root, c, gone); err != nil {
			return false, err
		}
	}
	return ro, nil
}

// destroyTree deletes nested subvolume v and everything in it, calling
// gone with each id deleted; its parent's root is open as parent.
func destroyTree(fsDir, parent *os.File, v *subvol, gone func(id uint64)) (err error) {
	if len(v.children) > 0 {
		var f *os.File
		if f, err = openNested(parent, v); err != nil {
			return err
		}
		defer f.Close()
		var writable bool
		if writable, err = destroyNested(fsDir, f, v, gone); err != nil {
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
	gone(v.id)
	return nil
}
