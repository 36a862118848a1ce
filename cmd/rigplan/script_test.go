package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the rigplan command inside the
// scripts: testscript runs the real main, flags and exit codes included.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"rigplan": main})
}

// TestScripts runs the CLI scripts in testdata/script. They need no host
// state: validate, fmt, graph, show of a plan file, help and errors.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("RIGPLAN_LOCK_FILE", env.WorkDir+"/lock")
			return nil
		},
		UpdateScripts: os.Getenv("RIGPLAN_UPDATE_SCRIPTS") != "",
	})
}
