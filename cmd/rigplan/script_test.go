package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rigplan/rigplan/internal/systemd/standin"
)

// TestMain lets the test binary act as the rigplan command inside the
// scripts: testscript runs the real main, flags and exit codes included.
// The scripts that drive real LVM live in package hosttest.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"rigplan": main})
}

// TestScripts runs the CLI scripts in testdata/script. They need no host
// state: validate, fmt, graph, help and input errors, and the cache
// agent's service planned and applied under a temporary root with a
// scripted systemctl.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		Setup:         scriptEnv,
		Condition:     condition,
		Cmds:          map[string]func(*testscript.TestScript, bool, []string){"systemd-standin": systemdStandIn},
		UpdateScripts: os.Getenv("RIGPLAN_UPDATE_SCRIPTS") != "",
	})
}

func scriptEnv(env *testscript.Env) error {
	env.Setenv("RIGPLAN_LOCK_FILE", env.WorkDir+"/lock")
	env.Setenv("NO_COLOR", "1")
	return nil
}

// systemdStandIn writes the scripted systemctl and journalctl of package
// standin: `systemd-standin ROOT DIR` puts them in DIR/bin, their
// state in DIR/state, and has them read unit files under ROOT.
func systemdStandIn(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: systemd-standin ROOT DIR")
	}
	_, err := standin.Write(ts.MkAbs(args[1]), ts.MkAbs(args[0]))
	ts.Check(err)
}

// condition adds [root] to the scripts' conditions.
func condition(cond string) (bool, error) {
	if cond == "root" {
		return os.Geteuid() == 0, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
