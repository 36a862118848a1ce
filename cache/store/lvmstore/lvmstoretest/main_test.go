package lvmstoretest

import (
	"os"
	"testing"

	"github.com/rigplan/rigplan/testhost"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(helperCreate(name)) // a stand-in agent, killed by TestAgentKilledDuringCreate
	}
	os.Exit(testhost.Main(m))
}
