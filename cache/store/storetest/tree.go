package storetest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// TreeSpec describes a cache tree for benchmarks: a node_modules-like
// mix of many small text files and a few large ones (text bundles and
// binaries), in nested package directories.
type TreeSpec struct {
	// Files is the number of regular files.
	Files int
	// Bytes is the total size the files aim at; the result is within a
	// few percent of it.
	Bytes int64
	// Seed makes the tree: the same spec writes the same bytes.
	Seed uint64
}

// TreeStats is what WriteTree wrote.
type TreeStats struct {
	Files, Dirs int
	Bytes       int64
	// Large and LargeBytes count the files of the large class.
	Large      int
	LargeBytes int64
}

// String reads like "100000 files in 4123 directories, 1.00 GiB".
func (s TreeStats) String() string {
	return fmt.Sprintf("%d files in %d directories, %.2f GiB (%d large files, %.0f MiB)",
		s.Files, s.Dirs, float64(s.Bytes)/(1<<30), s.Large, float64(s.LargeBytes)/(1<<20))
}

// Shape of the tree: one file in largeEvery is large, and the large
// files hold largeShare of the bytes (half of them random binaries, half
// text); a package directory holds filesPerPackage files.
const (
	largeEvery      = 1000
	largeShare      = 0.4
	filesPerPackage = 30
	// poolSize bounds the generated text that file contents are cut
	// from: far larger than a compressor's window, so no file is a copy
	// of a recent one.
	poolSize = 16 << 20
)

// WriteTree writes the tree spec describes under dir, which must exist.
// Every byte is really written (no holes, no shared extents), so that
// archiving or copying the tree costs what a real one does; the text is
// drawn from a pseudo-source vocabulary, so it compresses about as well
// as JavaScript does. Building a 1 GiB tree takes seconds, not minutes:
// file contents are windows into one generated pool.
func WriteTree(dir string, spec TreeSpec) (TreeStats, error) {
	if spec.Files < 1 || spec.Bytes < int64(spec.Files) {
		return TreeStats{}, fmt.Errorf("write cache tree: want at least one file and one byte per file, got %d files, %d bytes", spec.Files, spec.Bytes)
	}
	rng := rand.New(rand.NewPCG(spec.Seed, 0x5eed))
	pool := textPool(rng, int(min(poolSize, max(1<<20, spec.Bytes/4))))
	binary := rand.NewChaCha8([32]byte{byte(spec.Seed), byte(spec.Seed >> 8), byte(spec.Seed >> 16), byte(spec.Seed >> 24)})

	large := max(spec.Files/largeEvery, 0)
	if large == 0 && spec.Files >= 10 {
		large = 1
	}
	largeBytes := int64(float64(spec.Bytes) * largeShare)
	if large == 0 {
		largeBytes = 0
	}
	small := spec.Files - large
	smallMean := float64(spec.Bytes-largeBytes) / float64(max(small, 1))
	var largeMean float64
	if large > 0 {
		largeMean = float64(largeBytes) / float64(large)
	}

	var st TreeStats
	dirs := map[string]bool{}
	buf := make([]byte, 0, 1<<20)
	for i := range spec.Files {
		pkg := i / filesPerPackage
		rel := packageDir(pkg)
		isLarge := large > 0 && i%largeEvery == largeEvery-1 && st.Large < large
		var size int
		var name string
		switch {
		case i%filesPerPackage == 0:
			name = "package.json"
			size = 200 + rng.IntN(1800)
		case isLarge:
			size = int(largeMean * (0.5 + rng.Float64()))
			name = fmt.Sprintf("bundle%d.js", i)
			if st.Large%2 == 1 {
				name = fmt.Sprintf("binding%d.node", i)
			}
		default:
			// Exponential sizes: most files small, some tens of KiB.
			size = int(min(rng.ExpFloat64()*smallMean, 64*smallMean)) + 1
			sub := subdirs[rng.IntN(len(subdirs))]
			if sub != "" {
				rel = filepath.Join(rel, sub)
			}
			name = fmt.Sprintf("%s%d.js", stems[rng.IntN(len(stems))], i)
		}
		if !dirs[rel] {
			if err := os.MkdirAll(filepath.Join(dir, rel), 0o755); err != nil {
				return st, fmt.Errorf("write cache tree: %w", err)
			}
			markParents(dirs, rel)
		}
		buf = buf[:0]
		if strings.HasSuffix(name, ".node") {
			buf = append(buf, make([]byte, size)...)
			_, _ = binary.Read(buf) // never fails
		} else {
			for len(buf) < size {
				n := min(size-len(buf), len(pool)/2)
				off := rng.IntN(len(pool) - n)
				buf = append(buf, pool[off:off+n]...)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, rel, name), buf, 0o644); err != nil {
			return st, fmt.Errorf("write cache tree: %w", err)
		}
		st.Files++
		st.Dirs = len(dirs)
		st.Bytes += int64(size)
		if isLarge {
			st.Large++
			st.LargeBytes += int64(size)
		}
	}
	return st, nil
}

var (
	subdirs = []string{"", "lib", "lib", "lib/internal", "dist", "dist/esm", "src", "test", "types"}
	stems   = []string{"index", "util", "parse", "compile", "runtime", "helpers", "types", "main", "core", "plugin"}
)

// packageDir is the directory of package number pkg: one in eight is
// nested in the package before it, as npm does with conflicting
// versions.
func packageDir(pkg int) string {
	name := fmt.Sprintf("pkg-%05d", pkg)
	if pkg%8 == 7 {
		return filepath.Join("node_modules", fmt.Sprintf("pkg-%05d", pkg-1), "node_modules", name)
	}
	return filepath.Join("node_modules", name)
}

func markParents(dirs map[string]bool, rel string) {
	for p := rel; p != "." && p != "/"; p = filepath.Dir(p) {
		dirs[p] = true
	}
}

// textPool returns size bytes of pseudo-source text: identifiers from a
// fixed vocabulary, a few of them far more often than the rest (the
// product of two uniform draws), keywords and punctuation, in indented
// lines.
func textPool(rng *rand.Rand, size int) []byte {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
	vocab := make([]string, 4096)
	for i := range vocab {
		b := make([]byte, 2+rng.IntN(11))
		for j := range b {
			b[j] = letters[rng.IntN(len(letters))]
		}
		vocab[i] = string(b)
	}
	keywords := []string{"const ", "function ", "return ", "if (", "} else {", "require(", "exports.", "this.", "=> ", "await ", "new "}
	punct := []string{"(", ")", "{", "}", ";", " = ", ".", ", ", "[", "]", " + ", " === ", "'", "\""}
	out := make([]byte, 0, size+1024)
	for len(out) < size {
		out = append(out, '\n')
		for range rng.IntN(4) {
			out = append(out, "  "...)
		}
		for range 3 + rng.IntN(8) {
			switch r := rng.IntN(10); {
			case r < 5:
				out = append(out, vocab[rng.IntN(64)*rng.IntN(64)]...)
			case r < 7:
				out = append(out, keywords[rng.IntN(len(keywords))]...)
			default:
				out = append(out, punct[rng.IntN(len(punct))]...)
			}
		}
	}
	return out[:size]
}
