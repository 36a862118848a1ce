package lvm

import "github.com/rigplan/rigplan/internal/bytesize"

// LVM's size rules, measured with lvm2 2.03.16 on a 6.1 kernel (see
// doc.go). rigplan rounds sizes itself and passes exact byte counts to LVM,
// so that what it plans is what LVM makes.
const (
	// defaultExtentSize is vgcreate's default physical extent size.
	defaultExtentSize = 4 * bytesize.MiB
	// minPoolMetadata is the smallest thin pool metadata LV lvcreate makes.
	minPoolMetadata = 2 * bytesize.MiB
	// maxPoolMetadata is the largest usable thin pool metadata size
	// (255 * (16384-64) * 4 KiB); lvcreate reduces larger requests to it.
	maxPoolMetadata = 16646400 * bytesize.KiB
)

// roundUp rounds n up to a multiple of unit.
func roundUp(n, unit int64) int64 {
	if unit <= 0 {
		return n
	}
	if r := n % unit; r != 0 {
		return n + unit - r
	}
	return n
}

// lvBytes is the size lvcreate -L/-V or lvextend -L gives an LV asked for n
// bytes in a VG with the given extent size: n rounded up to whole extents
// ("Rounding up size to full physical extent").
func lvBytes(n, extent int64) int64 { return roundUp(n, extent) }

// metadataBytes is the size lvcreate/lvextend --poolmetadatasize gives a
// thin pool's metadata LV: at least minPoolMetadata, then whole extents.
func metadataBytes(n, extent int64) int64 {
	return roundUp(max(n, minPoolMetadata), extent)
}
