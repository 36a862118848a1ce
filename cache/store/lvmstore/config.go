package lvmstore

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// DefaultNamespace is the tag namespace when the configuration names none.
// The LVM provider leaves every "rigplan:" tag other than its own marks
// to the cache agent.
const DefaultNamespace = "rigplan"

// MaxNamespaceLen is the longest namespace: with ":machine:" (the longest
// kind) and a value of at most TermMax bytes, a tag stays within
// lvmtag.MaxTagLen.
const MaxNamespaceLen = 23

// TermMax is the longest encoded annotation term (lvmtag.EncodeTerm's
// max). It is fixed, whatever the namespace, so that a term hashed by one
// release or configuration is hashed the same by the next.
const TermMax = 96

// DefaultCommandTimeout bounds each LVM command when Config sets none.
const DefaultCommandTimeout = 2 * time.Minute

// Config says which LVM objects the store uses.
type Config struct {
	// Default is the default volume as "VG/LV": a thin volume with an
	// xfs or ext4 filesystem. Every snapshot lives in its volume group
	// and thin pool. It is never deleted or changed.
	Default string
	// Namespace prefixes every tag the store writes and reads ("friend"
	// gives friend:snapshot, friend:cache:TERM, …). Empty means
	// DefaultNamespace.
	Namespace string
	// MountOptions are added to the filesystem's own mount options (for
	// example "discard", which the original setup used so that space
	// freed in a snapshot returns to the pool at once). They are
	// filesystem options: mount flags such as suid or noatime are
	// refused (see mountFlagWords); every mount is nosuid,nodev.
	MountOptions []string
	// CommandTimeout bounds each LVM command; 0 means
	// DefaultCommandTimeout.
	CommandTimeout time.Duration
}

// New returns a store over the LVM objects cfg names. It runs nothing:
// a missing volume group or default volume shows in the first List.
func New(run sysexec.Runner, cfg Config) (*Store, error) {
	vg, lv, ok := strings.Cut(cfg.Default, "/")
	if !ok || strings.Contains(lv, "/") {
		return nil, fmt.Errorf("lvm cache store: default volume %q: want VG/LV, e.g. vg0/cache-default", cfg.Default)
	}
	if err := checkLVMName(vg); err != nil {
		return nil, fmt.Errorf("lvm cache store: default volume %q: volume group: %w", cfg.Default, err)
	}
	if err := checkLVMName(lv); err != nil {
		return nil, fmt.Errorf("lvm cache store: default volume %q: %w", cfg.Default, err)
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if err := checkNamespace(ns); err != nil {
		return nil, fmt.Errorf("lvm cache store: %w", err)
	}
	for _, o := range cfg.MountOptions {
		if o == "" || strings.ContainsAny(o, ", \t\n") {
			return nil, fmt.Errorf("lvm cache store: mount option %q: want one option without commas or spaces", o)
		}
		if slices.Contains(mountFlagWords, o) {
			return nil, fmt.Errorf("lvm cache store: mount option %q is a mount flag, not a filesystem option: the store mounts every snapshot nosuid,nodev and passes mount_options to the filesystem, which would refuse it; give filesystem options only (e.g. discard)", o)
		}
	}
	timeout := cfg.CommandTimeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	return &Store{
		run:          run,
		vg:           vg,
		def:          lv,
		tags:         tagScheme{ns: ns},
		mountOptions: append([]string(nil), cfg.MountOptions...),
		timeout:      timeout,
	}, nil
}

// mountFlagWords are the words mount(8) turns into mount(2) flags rather
// than pass to the filesystem. The store passes MountOptions to the
// filesystem as they are, so xfs and ext4 would fail every mount on one
// of these; "suid" and "dev" would also contradict the nosuid,nodev the
// store always sets.
var mountFlagWords = []string{"suid", "nosuid", "dev", "nodev", "exec", "noexec",
	"atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
	"bind", "rbind", "remount", "move", "defaults"}

// checkNamespace allows letters, digits and _ . + - (no ':', which
// separates the namespace from the rest of a tag), starting with a letter.
func checkNamespace(ns string) error {
	if ns == "" || len(ns) > MaxNamespaceLen {
		return fmt.Errorf("tag namespace %q: want 1 to %d characters", ns, MaxNamespaceLen)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '_' || c == '.' || c == '+' || c == '-'):
		default:
			return fmt.Errorf("tag namespace %q: byte %q at %d is not allowed (use letters, digits and _ . + -, starting with a letter)", ns, c, i)
		}
	}
	return nil
}

// lvmReserved are strings LVM refuses inside LV names: it uses them for
// the hidden sub-volumes of pools, mirrors, raids and caches.
var lvmReserved = []string{"_cdata", "_cmeta", "_corig", "_iorig", "_mimage", "_mlog", "_pmspare",
	"_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig"}

// checkLVMName checks a VG or LV name against LVM's rules (lvm(8), "Valid
// names"), so that a bad name is refused with a clear message before any
// command runs.
func checkLVMName(name string) error {
	if name == "" || len(name) > 127 {
		return fmt.Errorf("name %q: want 1 to 127 characters", name)
	}
	if name == "." || name == ".." || name[0] == '-' {
		return fmt.Errorf("name %q is not allowed by LVM", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+_.-", c) >= 0) {
			return fmt.Errorf("name %q: byte %q at %d is not allowed by LVM (letters, digits and + _ . -)", name, c, i)
		}
	}
	for _, p := range []string{"snapshot", "pvmove"} {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("name %q: LVM reserves names starting with %q", name, p)
		}
	}
	for _, r := range lvmReserved {
		if strings.Contains(name, r) {
			return fmt.Errorf("name %q: LVM reserves %q inside names", name, r)
		}
	}
	return nil
}

// checkSnapshotName checks a name for a new snapshot.
func (s *Store) checkSnapshotName(name string) error {
	if err := store.CheckName(name); err != nil {
		return err
	}
	if err := checkLVMName(name); err != nil {
		return fmt.Errorf("snapshot %w", err)
	}
	if name == s.def {
		return fmt.Errorf("snapshot name %q is the default volume's: %w", name, store.ErrDefault)
	}
	return nil
}
