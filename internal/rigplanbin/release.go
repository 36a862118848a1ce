package rigplanbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ReleaseLDFlags are the linker flags `make build` ships rigplan with:
// stripped (-s -w), version stamped into main.version. Keep them in step
// with the Makefile's build target, which a test checks through them.
func ReleaseLDFlags(version string) string {
	return "-s -w -X main.version=" + version
}

// BuildRelease builds cmd/rigplan into dir/rigplan exactly as `make build`
// does (static, -trimpath, ReleaseLDFlags), so that a test can check what
// operators get, and returns its path. go build's output goes to stderr.
func BuildRelease(dir, version string) (string, error) {
	bin := filepath.Join(dir, "rigplan")
	cmd := exec.Command("go", "build", "-tags=containers_image_openpgp", "-trimpath",
		"-ldflags", ReleaseLDFlags(version), "-o", bin, "github.com/rigplan/rigplan/cmd/rigplan")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build rigplan %s as make build does (needs the go toolchain on PATH): %w", version, err)
	}
	return bin, nil
}
