package lvm

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestDetectFilesystemCaptured(t *testing.T) {
	for file, want := range map[string]string{
		"superblock-xfs.gz":   "xfs",
		"superblock-btrfs.gz": "btrfs",
		"superblock-ext4.gz":  "ext4",
		"superblock-none.gz":  "",
	} {
		got, err := detectFilesystem(bytes.NewReader(gunzipTestdata(t, file)))
		if err != nil {
			t.Errorf("%s: %v", file, err)
		}
		if got != want {
			t.Errorf("%s: detected %q, want %q", file, got, want)
		}
	}
}

func TestDetectFilesystemExtGenerations(t *testing.T) {
	ext4 := gunzipTestdata(t, "superblock-ext4.gz")
	withFeatures := func(compat, incompat uint32) []byte {
		b := bytes.Clone(ext4)
		binary.LittleEndian.PutUint32(b[extSuperOffset+0x5C:], compat)
		binary.LittleEndian.PutUint32(b[extSuperOffset+0x60:], incompat)
		return b
	}
	for _, tt := range []struct {
		compat, incompat uint32
		want             string
	}{
		{extCompatHasJournal, extIncompatExtents, "ext4"},
		{extCompatHasJournal, 0, "ext3"},
		{0, 0, "ext2"},
	} {
		got, err := detectFilesystem(bytes.NewReader(withFeatures(tt.compat, tt.incompat)))
		if err != nil || got != tt.want {
			t.Errorf("features %#x/%#x: %q, %v; want %q", tt.compat, tt.incompat, got, err, tt.want)
		}
	}
}

func TestDetectFilesystemShortDevice(t *testing.T) {
	got, err := detectFilesystem(bytes.NewReader(make([]byte, 2048)))
	if err != nil || got != "" {
		t.Errorf("2 KiB of zeros: %q, %v", got, err)
	}
}
