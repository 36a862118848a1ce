package systemdtest

import (
	"os"
	"testing"

	"github.com/rigplan/rigplan/testhost"
)

func TestMain(m *testing.M) { os.Exit(testhost.MainSystemd(m)) }
