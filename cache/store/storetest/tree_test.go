package storetest

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteTree writes a small tree twice from one seed: the counts and
// sizes are what the spec asks, every byte is allocated (no holes), the
// text compresses like source code and the binaries do not, and the same
// seed gives the same bytes.
func TestWriteTree(t *testing.T) {
	spec := TreeSpec{Files: 2000, Bytes: 12 << 20, Seed: 7}
	sums := make([][]byte, 2)
	for run := range sums {
		dir := t.TempDir()
		st, err := WriteTree(dir, spec)
		if err != nil {
			t.Fatal(err)
		}
		if st.Files != spec.Files || st.Large != spec.Files/largeEvery {
			t.Errorf("stats %+v: want %d files, %d large", st, spec.Files, spec.Files/largeEvery)
		}
		if d := float64(st.Bytes-spec.Bytes) / float64(spec.Bytes); d < -0.1 || d > 0.1 {
			t.Errorf("wrote %d bytes, %.1f%% off the %d asked", st.Bytes, 100*d, spec.Bytes)
		}
		h := sha256.New()
		var files, dirs int
		var total, allocated int64
		var text, binary bytes.Buffer
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != dir {
					dirs++
				}
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files++
			total += fi.Size()
			allocated += fi.Sys().(*syscall.Stat_t).Blocks * 512
			io.WriteString(h, p[len(dir):]+"\x00")
			h.Write(b)
			switch filepath.Ext(p) {
			case ".node":
				binary.Write(b)
			case ".js":
				text.Write(b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sums[run] = h.Sum(nil)
		if files != st.Files || dirs != st.Dirs || total != st.Bytes {
			t.Errorf("on disk %d files, %d dirs, %d bytes; stats say %+v", files, dirs, total, st)
		}
		// Filesystems allocate whole blocks and may inline tiny files;
		// a sparse tree would be far below its size.
		if allocated < total*9/10 {
			t.Errorf("%d bytes allocated for %d bytes of files: the tree has holes", allocated, total)
		}
		if r := ratio(t, text.Bytes()); r < 2 || r > 8 {
			t.Errorf("text compresses %.1f:1, want something like source code (2:1 to 8:1)", r)
		}
		if binary.Len() == 0 {
			t.Error("no binary files")
		} else if r := ratio(t, binary.Bytes()); r > 1.01 {
			t.Errorf("binaries compress %.2f:1, want incompressible", r)
		}
	}
	if !bytes.Equal(sums[0], sums[1]) {
		t.Error("the same seed wrote different trees")
	}
}

// ratio is how well (the first MiB of) b deflates.
func ratio(t *testing.T, b []byte) float64 {
	t.Helper()
	b = b[:min(len(b), 1<<20)]
	var out bytes.Buffer
	w, err := flate.NewWriter(&out, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return float64(len(b)) / float64(out.Len())
}
