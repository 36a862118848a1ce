package podman

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ociimage/ocitest"
)

func TestPodmanMissingFailsThePlan(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Podman = "rigplan-no-such-podman" })
	ctxDir := t.TempDir()
	os.WriteFile(filepath.Join(ctxDir, "Containerfile"), []byte("FROM scratch\n"), 0o644)
	pr, _ := h.plan(addr("runner"), h.config("runner", "", map[string]cty.Value{"context": cty.StringVal(ctxDir)}))
	msg := diagText(pr.Diagnostics)
	if !pr.Diagnostics.HasErrors() || !strings.Contains(msg, "podman is not installed") || !strings.Contains(msg, "Debian package podman") {
		t.Errorf("plan with podman missing:\n%s", msg)
	}
}

func TestMissingBuildContextFailsThePlan(t *testing.T) {
	h := newHarness(t, nil)
	missing := filepath.Join(t.TempDir(), "no-such-context")
	pr, _ := h.plan(addr("runner"), h.config("runner", "", map[string]cty.Value{"context": cty.StringVal(missing)}))
	if msg := diagText(pr.Diagnostics); !pr.Diagnostics.HasErrors() || !strings.Contains(msg, missing) {
		t.Errorf("plan with a missing context:\n%s", msg)
	}
}

func TestUnreachableOrMissingSourceFailsThePlan(t *testing.T) {
	for _, src := range []string{
		"docker://127.0.0.1:1/rigplan/runner:latest", // nothing listens on port 1
		"oci-archive:" + filepath.Join(t.TempDir(), "missing.tar"),
		"docker-archive:" + filepath.Join(t.TempDir(), "missing.tar"),
	} {
		h := newHarness(t, nil)
		pr, _ := h.plan(addr("runner"), h.config("runner", src, nil))
		msg := diagText(pr.Diagnostics)
		if !pr.Diagnostics.HasErrors() || !strings.Contains(msg, "Cannot read the image source") || !strings.Contains(msg, src) {
			t.Errorf("%s:\n%s", src, msg)
		}
		if got := h.entries(); len(got) != 0 {
			t.Errorf("plan wrote %q", got)
		}
	}
}

func TestMalformedConfigIsRefused(t *testing.T) {
	res := imageSchema()
	check := func(attr string, v cty.Value) error {
		for _, a := range res.Attributes {
			if a.Name == attr {
				for _, val := range a.Validators {
					if err := val.Check(v); err != nil {
						return err
					}
				}
			}
		}
		for _, a := range res.Block("build").Attributes {
			if a.Name == attr {
				for _, val := range a.Validators {
					if err := val.Check(v); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	for _, c := range []struct {
		attr, value, want string
	}{
		{"source", "debian:bookworm", "unknown transport"},
		{"source", "docker:/debian", "two slashes"},
		{"source", "docker://Debian", "not a valid docker reference"},
		{"source", "oci-archive:runner.tar", "must be absolute"},
		{"name", "Runner", "not a valid image name"},
		{"name", "../etc", "not a valid image name"},
		{"name", "", "not a valid image name"},
		{"context", "runner", "${path.module}/runner"},
		{"isolation", "vm", "not one of chroot, oci, rootless"},
		{"timeout", "forever", "not a positive duration"},
	} {
		err := check(c.attr, cty.StringVal(c.value))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %q: %v, want an error containing %q", c.attr, c.value, err, c.want)
		}
	}
	for _, good := range [][2]string{{"source", "docker://docker.io/library/debian:bookworm"}, {"name", "runner-2.x"}, {"context", "/srv/runner"}, {"isolation", "chroot"}, {"timeout", "90m"}} {
		if err := check(good[0], cty.StringVal(good[1])); err != nil {
			t.Errorf("%s = %q refused: %v", good[0], good[1], err)
		}
	}

	h := newHarness(t, nil)
	neither := h.config("runner", "", nil)
	both := h.config("runner", "docker://debian", map[string]cty.Value{"context": cty.StringVal("/srv")})
	for name, cfg := range map[string]cty.Value{"neither": neither, "both": both} {
		if probs := res.Validate(cfg); len(probs) != 1 {
			t.Errorf("%s: %d problems, want 1", name, len(probs))
		}
	}
	if probs := res.Validate(h.config("runner", "docker://debian", nil)); len(probs) != 0 {
		t.Errorf("a valid image has problems: %v", probs[0].Detail)
	}
}

// A directory under the image's name that rigplan did not make is never
// replaced or deleted.
func TestUnownedDirectoryIsRefused(t *testing.T) {
	requireRoot(t)
	h := newHarness(t, nil)
	theirs := filepath.Join(h.dir, "runner")
	os.MkdirAll(filepath.Join(theirs, "rootfs"), 0o755)
	os.WriteFile(filepath.Join(theirs, "rootfs/precious"), []byte("theirs"), 0o644)
	a := addr("runner")
	cfg := h.config("runner", sources(t, "runner-1")["oci"], nil)

	o := h.refresh(a, cfg)
	if o == nil || o.Managed || o.ID != theirs {
		t.Fatalf("refresh reports %#v, want an unmanaged object (the planner refuses those)", o)
	}
	// Even if asked (a stale plan), apply refuses.
	resp, _ := h.tryApply(a, cfg)
	if msg := diagText(resp.Diagnostics); !resp.Diagnostics.HasErrors() || !strings.Contains(msg, "rigplan did not create it") {
		t.Errorf("apply over an unowned directory:\n%s", msg)
	}
	if b, _ := os.ReadFile(filepath.Join(theirs, "rootfs/precious")); string(b) != "theirs" {
		t.Errorf("the unowned directory was changed")
	}

	// Another address's image is not taken over either.
	mine := newHarness(t, nil)
	mine.apply(addr("first"), mine.config("runner", sources(t, "runner-1")["oci"], nil))
	resp, _ = mine.tryApply(addr("second"), mine.config("runner", sources(t, "runner-2")["oci"], nil))
	if msg := diagText(resp.Diagnostics); !resp.Diagnostics.HasErrors() || !strings.Contains(msg, "belongs to rigplan's image.first") {
		t.Errorf("apply over another address's image:\n%s", msg)
	}
}

// An image whose layer tries to write outside its root fails, writes
// nothing outside, and leaves the previous image in place.
func TestEscapingLayerKeepsThePreviousImage(t *testing.T) {
	requireRoot(t)
	h := newHarness(t, nil)
	a := addr("runner")
	good := h.apply(a, h.config("runner", sources(t, "runner-1")["oci"], nil))

	evil := filepath.Join(t.TempDir(), "evil")
	ocitest.WriteLayout(t, evil,
		ocitest.Layer(t, ocitest.File("etc/hostname", "evil\n", 0o644)),
		ocitest.Layer(t, ocitest.File("../../../escaped", "pwned", 0o644)),
	)
	resp, _ := h.tryApply(a, h.config("runner", "oci:"+evil, nil))
	msg := diagText(resp.Diagnostics)
	if !resp.Diagnostics.HasErrors() || !strings.Contains(msg, "'..'") || !strings.Contains(msg, "Unpacking image.runner failed") {
		t.Errorf("apply of an escaping image:\n%s", msg)
	}
	checkRunnerRootfs(t, attr(good, "path"), "runner-1")
	if got := h.entries(); !slices.Equal(got, []string{"runner"}) {
		t.Errorf("image directory holds %q after a failed apply", got)
	}
	for _, p := range []string{filepath.Join(h.dir, "escaped"), filepath.Join(filepath.Dir(h.dir), "escaped"), "/escaped"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s was written", p)
		}
	}
	if o := h.refresh(a, h.config("runner", "oci:"+evil, nil)); o == nil || !o.State.RawEquals(good) {
		t.Errorf("the record changed after a failed apply")
	}
}
