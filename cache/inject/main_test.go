package inject_test

import (
	"os"
	"testing"

	"github.com/rigplan/rigplan/internal/testns"
)

// TestMain runs the tests in a mount namespace of their own (package
// testns): the machines they start copy the mounts of this namespace
// only, and other packages' machines never copy theirs.
func TestMain(m *testing.M) { os.Exit(testns.Main(m)) }
