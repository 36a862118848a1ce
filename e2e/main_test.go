package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"testing"

	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/testhost"
)

// What TestMain puts next to the test binary before the kernel boots: the
// host directory the systemd test host shows at the same path.
var (
	rigplan  string // the binary under test
	example  string // a copy of examples/lvm-cache-runner
	ncatRoot string // ncat and the libraries it loads, at their paths
)

func TestMain(m *testing.M) {
	outside := !testhost.Inside()
	var err error
	if rigplan, err = rigplanbin.NextToTest(outside); err == nil {
		dir := filepath.Dir(rigplan)
		example, ncatRoot = filepath.Join(dir, "lvm-cache-runner"), filepath.Join(dir, "ncat-root")
		if outside {
			err = copyTree("../examples/lvm-cache-runner", example)
			if err == nil {
				err = collectNcat(ncatRoot)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	// The example's 30G thin pool needs a larger scratch disk than the
	// default (sparse: it costs what is written).
	os.Exit(testhost.MainSystemd(m, testhost.DiskSize(40<<30)))
}

// copyTree copies a directory of regular files.
func copyTree(from, to string) error {
	if err := os.RemoveAll(to); err != nil {
		return err
	}
	return filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
}

// collectNcat copies this host's ncat and every library ldd says it
// loads into root, each at its own path, for the stand-in runner image:
// the workflow's cache step runs ncat, as in the original setup.
func collectNcat(root string) error {
	bin, err := exec.LookPath("ncat")
	if err != nil {
		return fmt.Errorf("ncat is not installed: apt-get install ncat (%w)", err)
	}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return fmt.Errorf("ldd %s: %w", bin, err)
	}
	files := []string{bin}
	// OpenSSL complains on every start without its legacy provider.
	if legacy, _ := filepath.Glob("/usr/lib/*-linux-gnu/ossl-modules/legacy.so"); len(legacy) > 0 {
		files = append(files, legacy[0])
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// "libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x…)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x…)"; the vDSO has no file.
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			files = append(files, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			files = append(files, f[0])
		}
	}
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		dst := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			return err
		}
	}
	return nil
}
