package lvm

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
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

// readFilesystem reads through the file descriptor itself; a file works
// the same as a block device.
func TestReadFilesystemFromFile(t *testing.T) {
	dir := t.TempDir()
	for name, want := range map[string]string{"superblock-xfs.gz": "xfs", "superblock-btrfs.gz": "btrfs", "superblock-ext4.gz": "ext4", "superblock-none.gz": ""} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, gunzipTestdata(t, name), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := readFilesystem(path); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("XFS"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readFilesystem(short); err != nil || got != "" {
		t.Errorf("3-byte file: %q, %v; want no filesystem", got, err)
	}
	if _, err := readFilesystem(filepath.Join(dir, "gone")); !missing(err) {
		t.Errorf("missing device: %v, want a not-exist error", err)
	}
}
