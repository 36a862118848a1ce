package lvm

import (
	"testing"

	"github.com/rigplan/rigplan/internal/bytesize"
)

// Each case is what lvm2 2.03.16 made on the UML kernel in a VG with 4 MiB
// extents (lvs --units b), for the size given on its command line.
func TestRoundingMatchesLVM(t *testing.T) {
	const ext = 4 << 20
	lv := []struct {
		asked string
		got   int64
	}{
		{"1001M", 1052770304},       // lvcreate --type thin-pool -L 1001M
		{"1000000K", 1027604480},    // lvcreate -V 1000000K
		{"1000000000B", 1002438656}, // lvcreate -V 1000000000b
		{"1M", 4194304},             // lvcreate -V 1
		{"1.5G", 1610612736},        // lvcreate -V 1.5G
		{"10M", 12582912},           // lvcreate --type thin-pool -L 10m
		{"100M", 104857600},         // exact multiple
		{"300M", 314572800},         //
		{"296M", 310378496},         //
	}
	for _, c := range lv {
		n, err := bytesize.Parse(c.asked)
		if err != nil {
			t.Fatal(err)
		}
		if got := lvBytes(n, ext); got != c.got {
			t.Errorf("lvBytes(%s) = %d, LVM made %d", c.asked, got, c.got)
		}
	}
	meta := []struct {
		asked string
		got   int64
	}{
		{"3M", 4194304},    // --poolmetadatasize 3M
		{"5000K", 8388608}, // --poolmetadatasize 5000K
		{"1M", 4194304},    // --poolmetadatasize 1M: raised to 2M, then a whole extent
		{"8M", 8388608},    // lvextend --poolmetadatasize 8m
		{"9M", 12582912},   // lvextend --poolmetadatasize 9m
		{"1G", 1073741824}, // --poolmetadatasize 1G
	}
	for _, c := range meta {
		n, err := bytesize.Parse(c.asked)
		if err != nil {
			t.Fatal(err)
		}
		if got := metadataBytes(n, ext); got != c.got {
			t.Errorf("metadataBytes(%s) = %d, LVM made %d", c.asked, got, c.got)
		}
	}
	// The largest usable metadata, as LVM reported after reducing a 16G
	// request: 4065 extents.
	if got := metadataBytes(maxPoolMetadata, ext); got != 17049845760 {
		t.Errorf("metadataBytes(max) = %d, LVM made 17049845760", got)
	}
	if got := metadataBytes(bytesize.MiB, 1024); got != minPoolMetadata {
		t.Errorf("metadata with 1K extents = %d, want the 2M minimum", got)
	}
}
