package testhost

import (
	"strings"
	"testing"
)

func TestOnScratch(t *testing.T) {
	k := &K{disks: []string{"/dev/ubda", "/dev/ubdb"}}
	for dev, want := range map[string]bool{
		"/dev/ubda": true, "/dev/ubdb12": true, "/dev/ubdc": false,
		"/dev/loop0": false, "/dev/mapper/vg-lv": false, "/dev/dm-3": false,
	} {
		if got := k.onScratch(dev); got != want {
			t.Errorf("onScratch(%s) = %v, want %v", dev, got, want)
		}
	}
}

func TestDiskStateString(t *testing.T) {
	st := diskState{
		mounts:     []mountEntry{{major: 254, minor: 4, target: "/mnt", fstype: "xfs", source: "/dev/mapper/vg-lv"}},
		dm:         []string{"dm-4 (vg-lv)"},
		signatures: []string{"ubda LVM2_member 0x218"},
	}
	want := "\n  mount: /dev/mapper/vg-lv (xfs, 254:4) on /mnt\n  device-mapper device: dm-4 (vg-lv)\n  signature: ubda LVM2_member 0x218"
	if got := st.String(); got != want {
		t.Errorf("String() =%s\nwant%s", got, want)
	}
	if st.clean() || !(diskState{}).clean() {
		t.Error("clean() is wrong")
	}
	if !strings.HasPrefix(st.String(), "\n") {
		t.Error("String() must start on a new line")
	}
}
