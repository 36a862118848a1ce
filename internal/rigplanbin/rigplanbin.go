// Package rigplanbin builds the rigplan binary for tests that run it as
// its own process: the CLI against real LVM, the agent under systemd, the
// client inside machines.
package rigplanbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build builds cmd/rigplan into dir/rigplan as the Makefile ships it
// (static: no cgo, containers/image's pure-Go OpenPGP), so that it also
// runs inside machines and test hosts whatever their libraries, and
// returns its path. go build's output goes to stderr.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "rigplan")
	cmd := exec.Command("go", "build", "-tags=containers_image_openpgp", "-o", bin, "github.com/rigplan/rigplan/cmd/rigplan")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build rigplan (needs the go toolchain on PATH): %w", err)
	}
	return bin, nil
}
