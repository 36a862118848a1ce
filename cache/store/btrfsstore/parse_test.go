package btrfsstore

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/mountinfo"
)

// The ioctl argument structs must be exactly the kernel's size, which is
// also encoded in the ioctl numbers.
func TestIoctlArgSizes(t *testing.T) {
	for name, size := range map[string]uintptr{
		"btrfs_ioctl_vol_args":           unsafe.Sizeof(volArgs{}),
		"btrfs_ioctl_vol_args_v2":        unsafe.Sizeof(volArgsV2{}),
		"btrfs_ioctl_ino_lookup_args":    unsafe.Sizeof(inoLookupArgs{}),
		"btrfs_ioctl_vol_args_v2 (name)": unsafe.Offsetof(volArgsV2{}.name) + 4040,
		"btrfs_ioctl_search_args":        unsafe.Sizeof(searchArgs{}),
	} {
		if size != 4096 {
			t.Errorf("%s is %d bytes, want 4096", name, size)
		}
	}
	if n := unsafe.Sizeof(fsInfoArgs{}); n != 1024 || unsafe.Offsetof(fsInfoArgs{}.fsid) != 16 {
		t.Errorf("btrfs_ioctl_fs_info_args is %d bytes with fsid at %d, want 1024 and 16", n, unsafe.Offsetof(fsInfoArgs{}.fsid))
	}
	for name, c := range map[string]struct{ got, want uintptr }{
		"btrfs_ioctl_quota_ctl_args":    {unsafe.Sizeof(quotaCtlArgs{}), 16},
		"btrfs_ioctl_qgroup_limit_args": {unsafe.Sizeof(qgroupLimitArgs{}), 48},
		"btrfs_ioctl_quota_rescan_args": {unsafe.Sizeof(rescanArgs{}), 64},
		"btrfs_ioctl_search_header":     {searchHeaderSize, 32},
	} {
		if c.got != c.want {
			t.Errorf("%s is %d bytes, want %d", name, c.got, c.want)
		}
	}
	if n := unsafe.Sizeof(searchKey{}); n != 104 || unsafe.Offsetof(searchKey{}.nrItems) != 64 {
		t.Errorf("btrfs_ioctl_search_key is %d bytes with nr_items at %d, want 104 and 64", n, unsafe.Offsetof(searchKey{}.nrItems))
	}
	for _, c := range []struct {
		name      string
		req, size uintptr
	}{
		{"SNAP_CREATE_V2", iocSnapCreateV2, 4096},
		{"SNAP_DESTROY", iocSnapDestroy, 4096},
		{"SNAP_DESTROY_V2", iocSnapDestroyV2, 4096},
		{"TREE_SEARCH", iocTreeSearch, 4096},
		{"QUOTA_CTL", iocQuotaCtl, 16},
		{"QGROUP_LIMIT", iocQgroupLimit, 48},
		{"QUOTA_RESCAN_STATUS", iocRescanStatus, 64},
		{"QUOTA_RESCAN_WAIT", iocRescanWait, 0},
		{"INO_LOOKUP", iocInoLookup, 4096},
		{"SUBVOL_GETFLAGS", iocSubvolGetflags, 8},
		{"SUBVOL_SETFLAGS", iocSubvolSetflags, 8},
		{"FS_INFO", iocFsInfo, 1024},
	} {
		if got := (c.req >> 16) & 0x3fff; got != c.size || (c.req>>8)&0xff != 0x94 {
			t.Errorf("%s = %#x: size %d, type %#x; want size %d, type 0x94", c.name, c.req, got, (c.req>>8)&0xff, c.size)
		}
	}
}

func TestParseSidecar(t *testing.T) {
	good, err := newSidecar(store.InUse, "m1", "default", []string{"b", "a", "b", "refs/heads/ü"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(good.Annotations, []string{"a", "b", "refs/heads/ü"}) {
		t.Errorf("annotations %q: want deduplicated and sorted", good.Annotations)
	}
	if _, err := newSidecar(store.Pending, "m", "o", []string{"a", ""}); err == nil {
		t.Error("newSidecar accepted an empty annotation")
	}
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"written by the store", `{"version":1,"state":"sealed","created":"2024-05-01T12:00:00.5Z","machine":"m","origin":"o","annotations":["a"]}`, true},
		{"minimal", `{"version":1,"state":"pending","created":"2024-05-01T12:00:00Z"}`, true},
		{"empty file (lost to a power cut)", ``, false},
		{"cut short", `{"version":1,"state":"sea`, false},
		{"other version", `{"version":2,"state":"sealed","created":"2024-05-01T12:00:00Z"}`, false},
		{"unknown state", `{"version":1,"state":"frozen","created":"2024-05-01T12:00:00Z"}`, false},
		{"no time", `{"version":1,"state":"sealed"}`, false},
		{"empty annotation", `{"version":1,"state":"sealed","created":"2024-05-01T12:00:00Z","annotations":[""]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseSidecar([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("parseSidecar = %+v, %v; want ok=%v", m, err, tt.ok)
			}
		})
	}
	m, _ := parseSidecar([]byte(tests[0].in))
	if want := time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.UTC); !m.Created.Equal(want) || m.Origin != "o" || m.Machine != "m" {
		t.Errorf("parsed %+v", m)
	}
}

func TestWriteSidecarRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m, err := newSidecar(store.Sealed, "m", "o", []string{"x", "日本"})
	if err != nil {
		t.Fatal(err)
	}
	for _, durable := range []bool{false, true} {
		if err := writeSidecar(dir, "snap", m, durable); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(dir + "/snap")
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseSidecar(b)
		if err != nil || !got.Created.Equal(m.Created) || !slices.Equal(got.Annotations, m.Annotations) || got.State != m.State {
			t.Errorf("round trip: %+v, %v; want %+v", got, err, m)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("writeSidecar left %d files, want only the sidecar", len(entries))
	}
}

func TestMountinfo(t *testing.T) {
	lines, err := mountinfo.Read("testdata/mountinfo.txt")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := filesystemDev(lines, "/tmp/bt/mnt/snaps")
	if err != nil || dev != "0:38" {
		t.Fatalf("filesystemDev = %q, %v; want 0:38", dev, err)
	}
	tests := []struct {
		id   uint64
		want []string
	}{
		{257, []string{"/tmp/bt/b 1"}},
		{258, []string{"/tmp/bt/c"}},
		{5, []string{"/tmp/bt/mnt"}},
		{259, nil},
	}
	for _, tt := range tests {
		if got := mountsOf(lines, dev, tt.id); !slices.Equal(got, tt.want) {
			t.Errorf("mountsOf(%d) = %q, want %q", tt.id, got, tt.want)
		}
	}
	if got := mountsOf(lines, "0:99", 257); got != nil {
		t.Errorf("mountsOf on another filesystem = %q", got)
	}
	if _, err := filesystemDev(lines, "/tmp/TestMountLeavesTheAgentAlone309158901/002/mnt/x"); err == nil || !strings.Contains(err.Error(), "not btrfs") {
		t.Errorf("filesystemDev on ext4: %v, want a not-btrfs error", err)
	}
}

func TestUsageOf(t *testing.T) {
	tests := []struct {
		name string
		st   unix.Statfs_t
		want store.Usage
	}{
		{"empty", unix.Statfs_t{Bsize: 4096, Blocks: 100, Bfree: 100, Bavail: 100}, store.Usage{DataPercent: 0, DataBytes: 409600}},
		{"half", unix.Statfs_t{Bsize: 4096, Blocks: 100, Bfree: 50, Bavail: 50}, store.Usage{DataPercent: 50, DataBytes: 409600}},
		// btrfs reserves space: avail < free. df counts used/(used+avail).
		{"reserve", unix.Statfs_t{Bsize: 1024, Blocks: 100, Bfree: 40, Bavail: 20}, store.Usage{DataPercent: 75, DataBytes: 102400}},
		{"no blocks", unix.Statfs_t{Bsize: 4096}, store.Usage{}},
	}
	for _, tt := range tests {
		if got := usageOf(tt.st); got != tt.want {
			t.Errorf("%s: usageOf = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
