package podman

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// buildContext writes a build context whose image is busybox-static on
// scratch (no registry needed) with a setuid copy of it, as newuidmap is
// in a runner image, made by a RUN step so that the build's own
// filesystem handling is what is tested.
func buildContext(t *testing.T, containerfile string) string {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox is not installed: apt-get install busybox-static")
	}
	dir := t.TempDir()
	b, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"busybox":          string(b),
		"Containerfile":    containerfile,
		"hello":            "hello from the context\n",
		".containerignore": "scratch/\n",
	} {
		mode := os.FileMode(0o644)
		if name == "busybox" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodContainerfile = `FROM scratch
COPY busybox /bin/busybox
COPY hello /etc/hello
ARG GREETING=unset
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /usr/bin && /bin/busybox cp /bin/busybox /usr/bin/newuidmap && /bin/busybox chmod 4755 /usr/bin/newuidmap && echo $GREETING > /etc/greeting"]
`

func TestImageBuiltWithPodman(t *testing.T) {
	requirePodman(t)
	ctxDir := buildContext(t, goodContainerfile)
	h := newHarness(t, nil)
	a := addr("runner")
	cfg := h.config("runner", "", map[string]cty.Value{
		"context": cty.StringVal(ctxDir),
		"args":    cty.MapVal(map[string]cty.Value{"GREETING": cty.StringVal("hi")}),
	})
	created := h.apply(a, cfg)
	rootfs := attr(created, "path")
	st, err := os.Stat(filepath.Join(rootfs, "usr/bin/newuidmap"))
	if err != nil || st.Mode()&os.ModeSetuid == 0 || st.Mode().Perm() != 0o755 {
		t.Errorf("usr/bin/newuidmap: %v %v; the setuid bit must survive the build and the unpack", st, err)
	}
	for p, want := range map[string]string{"etc/hello": "hello from the context\n", "etc/greeting": "hi\n"} {
		if b, err := os.ReadFile(filepath.Join(rootfs, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	if !strings.HasPrefix(attr(created, "digest"), "sha256:") || !strings.HasPrefix(attr(created, "source_digest"), "sha256:") {
		t.Errorf("digests not recorded: %#v", created)
	}
	// The build stays tagged in podman's storage for the next build's cache.
	out, err := exec.Command("podman", append(slices.Clone(podmanStorage), "image", "exists", tag("runner"))...).CombinedOutput()
	if err != nil {
		t.Errorf("podman has no %s: %v %s", tag("runner"), err, out)
	}
	if !strings.Contains(h.progress.String(), "image.runner: building ") {
		t.Errorf("no progress line for the build: %q", h.progress)
	}

	// Nothing changed: nothing to do.
	pr, prior := h.plan(a, cfg)
	noErrors(t, "plan", pr.Diagnostics)
	if !pr.Planned.RawEquals(prior) {
		t.Errorf("plan after a build is not a no-op:\nprior   %#v\nplanned %#v", prior, pr.Planned)
	}
	// A file podman would not send (.containerignore) changes nothing.
	os.MkdirAll(filepath.Join(ctxDir, "scratch"), 0o755)
	os.WriteFile(filepath.Join(ctxDir, "scratch/notes"), []byte("x"), 0o644)
	if pr, prior := h.plan(a, cfg); !pr.Planned.RawEquals(prior) {
		t.Errorf("an ignored file changed the plan")
	}
	// A file of the context changes: the next plan rebuilds.
	os.WriteFile(filepath.Join(ctxDir, "hello"), []byte("changed\n"), 0o644)
	pr, _ = h.plan(a, cfg)
	if attr(pr.Planned, "source_digest") == attr(created, "source_digest") || pr.Planned.GetAttr("digest").IsKnown() {
		t.Errorf("a changed context file does not show: %#v", pr.Planned)
	}
	updated := h.apply(a, cfg)
	if b, _ := os.ReadFile(filepath.Join(attr(updated, "path"), "etc/hello")); string(b) != "changed\n" {
		t.Errorf("rebuilt etc/hello = %q", b)
	}

	h.destroy(a, cfg)
	if err := exec.Command("podman", append(slices.Clone(podmanStorage), "image", "exists", tag("runner"))...).Run(); err == nil {
		t.Errorf("deleting the image left %s in podman's storage", tag("runner"))
	}
}

func TestFailingBuildShowsPodmanOutput(t *testing.T) {
	requirePodman(t)
	ctxDir := buildContext(t, `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "echo apt-get says: unable to locate package rigplan-nonexistent; exit 100"]
`)
	h := newHarness(t, nil)
	resp, _ := h.tryApply(addr("runner"), h.config("runner", "", map[string]cty.Value{"context": cty.StringVal(ctxDir)}))
	if !resp.Diagnostics.HasErrors() {
		t.Fatal("a failing build applied")
	}
	msg := diagText(resp.Diagnostics)
	t.Logf("the operator sees:\n%s", msg)
	for _, want := range []string{
		"Building image.runner failed",
		"unable to locate package rigplan-nonexistent", // the RUN step's output
		"exit status 100",                              // podman's own error
		"Fix the Containerfile",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if got := h.entries(); len(got) != 0 {
		t.Errorf("a failed build left %q in the image directory", got)
	}
}
