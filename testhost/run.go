package testhost

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Sandbox is a command to run in the test kernel outside of go test: the
// demo, or an operator trying rigplan without touching a real disk.
type Sandbox struct {
	// Argv is the command and its arguments; the command must be visible
	// at the same path inside (the kernel's root is the host's /).
	Argv []string
	// Dir is the working directory.
	Dir string
	// Env is the environment, KEY=VALUE.
	Env []string
	// Timeout bounds the whole run, boot included; 0 means 30 minutes.
	Timeout time.Duration
	// DiskSize is each scratch disk's apparent size; 0 means the tests'
	// 8 GiB. The images are sparse: only what is written takes space.
	DiskSize int64
}

// Run boots the test kernel with its scratch disks (/dev/ubda … /dev/ubdd,
// sparse, removed afterwards) and runs the sandbox's command as root
// inside, copying its output to out. It returns the command's exit status.
// Nothing the command does to the disks, device-mapper or /etc/lvm reaches
// the host.
func Run(ctx context.Context, s Sandbox, out io.Writer) (int, error) {
	cfg, missing := checkHost(realHostFacts(ctx))
	if len(missing) > 0 {
		return 1, fmt.Errorf("the sandbox kernel cannot run here: %s", strings.Join(missing, "; "))
	}
	if s.DiskSize > 0 {
		cfg.diskSize = s.DiskSize
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	return boot(ctx, cfg, runSpec{argv: s.Argv, dir: s.Dir, env: s.Env, timeout: timeout, start: time.Now()}, out)
}

// ScratchDisks names the scratch disks as the sandbox kernel sees them.
func ScratchDisks() []string { return hostRootConfig().diskDevices() }
