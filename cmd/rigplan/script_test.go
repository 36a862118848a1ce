package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the rigplan command inside the
// scripts: testscript runs the real main, flags and exit codes included.
// The scripts that drive real LVM live in package hosttest.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"rigplan": main})
}

// TestScripts runs the CLI scripts in testdata/script. They need no host
// state: validate, fmt, graph, help and input errors.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		Setup:         scriptEnv,
		Condition:     condition,
		UpdateScripts: os.Getenv("RIGPLAN_UPDATE_SCRIPTS") != "",
	})
}

func scriptEnv(env *testscript.Env) error {
	env.Setenv("RIGPLAN_LOCK_FILE", env.WorkDir+"/lock")
	env.Setenv("NO_COLOR", "1")
	return nil
}

// condition adds [root] to the scripts' conditions.
func condition(cond string) (bool, error) {
	if cond == "root" {
		return os.Geteuid() == 0, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
