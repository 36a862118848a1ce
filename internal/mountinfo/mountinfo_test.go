package mountinfo

import (
	"os"
	"strings"
	"testing"
)

func TestParseCaptured(t *testing.T) {
	f, err := os.Open("testdata/mountinfo-machine.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 35 {
		t.Errorf("%d entries, want 35", len(entries))
	}
	last := entries[len(entries)-1]
	want := Entry{ID: 65, ParentID: 151, Major: 7, Minor: 2, Root: "/", Target: "/home/runner/my cache",
		Options: "rw,relatime,idmapped", FSType: "xfs", Source: "/dev/loop2",
		SuperOptions: "rw,inode64,logbufs=8,logbsize=32k,noquota"}
	if last != want {
		t.Errorf("cache mount:\n%+v\nwant\n%+v", last, want)
	}
	if last.Dev() != "7:2" {
		t.Errorf("Dev() = %q", last.Dev())
	}
	var cg Entry
	for _, e := range entries {
		if e.Target == "/sys/fs/cgroup/unified" {
			cg = e
		}
	}
	if cg.Root != "/machine.slice/systemd-nspawn@rt-5a73185a.service/payload" || cg.Target != "/sys/fs/cgroup/unified" || cg.FSType != "cgroup2" {
		t.Errorf("cgroup2 entry: %+v", cg)
	}
}

func TestParseLines(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Entry
		err  string
	}{
		{
			// proc(5)'s example, with two optional fields.
			line: `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue`,
			want: Entry{ID: 36, ParentID: 35, Major: 98, Minor: 0, Root: "/mnt1", Target: "/mnt2", Options: "rw,noatime", FSType: "ext3", Source: "/dev/root", SuperOptions: "rw,errors=continue"},
		},
		{
			line: `40 1 253:4 /snap\134x /a\011b\012c rw - btrfs /dev/mapper/vg-x\040y rw`,
			want: Entry{ID: 40, ParentID: 1, Major: 253, Minor: 4, Root: `/snap\x`, Target: "/a\tb\nc", Options: "rw", FSType: "btrfs", Source: "/dev/mapper/vg-x y", SuperOptions: "rw"},
		},
		{line: `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1`, err: "malformed"},
		{line: `36 35 98:0 /mnt1 /mnt2 rw - ext3`, err: "malformed"},
		{line: `x 35 98:0 / / rw - ext3 /dev/root rw`, err: "bad mount id"},
		{line: `36 35 98 / / rw - ext3 /dev/root rw`, err: "bad device"},
	} {
		got, err := Parse(strings.NewReader(tc.line + "\n"))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q:\n%+v %v\nwant\n%+v", tc.line, got, err, tc.want)
		}
	}
}

func TestHasSuperOption(t *testing.T) {
	e := Entry{SuperOptions: "rw,subvolid=256,subvol=/snaps/a"}
	if !e.HasSuperOption("subvolid=256") {
		t.Error("subvolid=256 not found")
	}
	if e.HasSuperOption("subvolid=25") || e.HasSuperOption("subvol=/snaps") {
		t.Error("a prefix of an option matched")
	}
}
