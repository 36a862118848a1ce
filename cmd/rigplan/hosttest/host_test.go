package hosttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/testhost"
)

// binEnv carries the directory of the rigplan binary built on the host
// into the test kernel.
const binEnv = "RIGPLAN_HOSTTEST_BIN"

// TestMain builds rigplan on the host (building inside the emulated kernel
// would be slow), then runs the tests inside the test kernel.
func TestMain(m *testing.M) {
	if !testhost.Inside() && os.Getenv(binEnv) == "" {
		dir, err := os.MkdirTemp("", "rigplan-hosttest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := rigplanbin.Build(dir); err != nil {
			fmt.Fprintf(os.Stderr, "hosttest: %v\n", err)
			os.Exit(1)
		}
		os.Setenv(binEnv, dir)
		code := testhost.Main(m)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(testhost.Main(m))
}

// TestHostScripts runs each script in testdata against real LVM, one at a
// time, each starting from empty scratch disks: $DISK1 … $DISK4.
func TestHostScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no host scripts: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txtar")
		t.Run(name, func(t *testing.T) {
			k := testhost.Kernel(t)
			testscript.Run(t, testscript.Params{
				Files: []string{f},
				Setup: func(env *testscript.Env) error {
					for i, d := range k.Disks() {
						env.Setenv(fmt.Sprintf("DISK%d", i+1), d)
					}
					env.Setenv("PATH", os.Getenv(binEnv)+string(os.PathListSeparator)+env.Getenv("PATH"))
					env.Setenv("RIGPLAN_LOCK_FILE", env.WorkDir+"/lock")
					env.Setenv("NO_COLOR", "1")
					return nil
				},
				Condition: func(cond string) (bool, error) {
					if cond == "root" {
						return os.Geteuid() == 0, nil
					}
					return false, fmt.Errorf("unknown condition %q", cond)
				},
			})
		})
	}
}
