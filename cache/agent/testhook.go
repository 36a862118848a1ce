package agent

import (
	"log/slog"
	"os"
	"strings"
)

// PauseEnv is a test-only hook, for the crash tests: set to STEP=FILE, it
// makes the agent, when a request reaches STEP, create FILE and stop that
// request there for good, so that a test can SIGKILL the agent exactly at
// that point and check what the next start cleans up. Steps, in order:
//
//	mount: created, staged, injected, unstaged, in-use
//	save:  save-staged, copied
//	after a machine exits: finishing
//
// Production never sets it; the agent logs a warning when it is set.
const PauseEnv = "RIGPLAN_CACHE_TEST_PAUSE"

// pauseFromEnv returns the hook PauseEnv asks for, or one that does
// nothing.
func pauseFromEnv(log *slog.Logger) func(step string) {
	step, file, ok := strings.Cut(os.Getenv(PauseEnv), "=")
	if !ok || step == "" || file == "" {
		return func(string) {}
	}
	log.Warn("test hook set: requests stop for good at a step", "env", PauseEnv, "step", step)
	return func(s string) {
		if s != step {
			return
		}
		if err := os.WriteFile(file, []byte(s+"\n"), 0o644); err != nil {
			log.Error("test hook: writing the pause file failed", "err", err)
		}
		select {} // until the test kills the agent
	}
}
