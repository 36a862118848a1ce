package podman

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	digest "github.com/opencontainers/go-digest"

	"github.com/rigplan/rigplan/internal/progress"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// outputTail is how many lines of a failed build's output the error shows:
// enough for the failing step and its command's complaint.
const outputTail = 40

// Timeouts of the podman steps around a build.
const (
	pushTimeout   = 30 * time.Minute
	removeTimeout = 2 * time.Minute
)

// tag is the name a build's image carries in podman's storage, so that
// `podman images` shows what it is and a rebuild reuses its cached layers.
func tag(name string) string { return "localhost/rigplan/" + name + ":latest" }

// build runs podman build and returns the new image's ID. work is a
// directory for podman's ID file. On a terminal podman's output is shown
// as it comes; when the build fails, the error carries its last lines.
func (p *Provider) build(ctx context.Context, name string, b *buildConfig, work string, rep *progress.Reporter) (string, error) {
	iidFile := filepath.Join(work, ".podman-image-id")
	defer os.Remove(iidFile)
	args := []string{"build", "--isolation", b.Isolation, "--iidfile", iidFile, "--tag", tag(name), "--file", b.Containerfile}
	if b.Target != "" {
		args = append(args, "--target", b.Target)
	}
	keys := make([]string, 0, len(b.Args))
	for k := range b.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--build-arg", k+"="+b.Args[k])
	}
	args = append(args, b.Context)
	cmd := p.podman(args...)
	cmd.Timeout = b.Timeout
	if rep.Terminal() {
		cmd.Stream = rep.Writer()
	}
	rep.Printf("building %s with podman (isolation %s)", b.Containerfile, b.Isolation)
	start := time.Now()
	res, err := p.run.Run(ctx, cmd)
	if err != nil {
		return "", buildError(b, res.Stdout, err)
	}
	id, err := os.ReadFile(iidFile)
	if err != nil {
		return "", fmt.Errorf("podman build succeeded but wrote no image ID: %w", err)
	}
	rep.Printf("built in %s", time.Since(start).Round(100*time.Millisecond))
	return strings.TrimSpace(string(id)), nil
}

// buildError explains a failed build with the tail of what podman printed
// (the steps and their commands' output go to stdout, podman's own error
// to stderr, which the command error carries).
func buildError(b *buildConfig, stdout []byte, err error) error {
	var msg strings.Builder
	fmt.Fprintf(&msg, "podman build of %s (context %s) failed.", b.Containerfile, b.Context)
	if sysexec.NotInstalled(err) {
		fmt.Fprintf(&msg, " podman is not installed: install the Debian package podman.\n%v", err)
		return fmt.Errorf("%s", msg.String())
	}
	if lines := tail(stdout, outputTail); lines != "" {
		fmt.Fprintf(&msg, " Its output ended with:\n%s\n", lines)
	}
	fmt.Fprintf(&msg, "\n%v\n\nFix the Containerfile or the build context, then apply again; the previous image, if any, is unchanged.", err)
	return fmt.Errorf("%s", msg.String())
}

// tail returns the last n lines of out, indented.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(bytes.ToValidUTF8(out, []byte("?"))), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d earlier lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return "  " + strings.Join(lines, "\n  ")
}

// push writes a built image into an OCI layout, keeping every file's
// mode and owner (unlike `podman build --output type=tar`, which loses
// setuid bits), for the same unpacker that copied images go through.
func (p *Provider) push(ctx context.Context, id, layout string) error {
	cmd := p.podman("push", "--quiet", id, "oci:"+layout+":latest")
	cmd.Timeout = pushTimeout
	_, err := p.run.Run(ctx, cmd)
	return err
}

// removePodmanImage removes a build's image from podman's storage. It
// only warns when that fails (a container may use it): the image
// directory is what rigplan manages.
func (p *Provider) removePodmanImage(ctx context.Context, id string) hcl.Diagnostics {
	cmd := p.podman("rmi", "--ignore", id)
	cmd.Timeout = removeTimeout
	if _, err := p.run.Run(ctx, cmd); err != nil && !sysexec.NotInstalled(err) {
		return hcl.Diagnostics{warnDiag("Old podman image not removed",
			fmt.Sprintf("Removing the superseded build %s from podman's storage failed; remove it with podman rmi when it is no longer used.\n%v", id, err))}
	}
	return nil
}

// digestOf turns a recorded digest into a containers/image one.
func digestOf(s string) digest.Digest { return digest.Digest(s) }
