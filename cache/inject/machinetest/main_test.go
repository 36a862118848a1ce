package machinetest

import (
	"os"
	"testing"

	"github.com/rigplan/rigplan/internal/testns"
)

// TestMain runs the tests in a mount namespace of their own (package
// testns), as every package that starts machines does.
func TestMain(m *testing.M) { os.Exit(testns.Main(m)) }
