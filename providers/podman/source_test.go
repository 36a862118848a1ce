package podman

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ociimage/ocitest"
	"github.com/rigplan/rigplan/providers"
)

// runnerLayers are a small image's layers: a base, then a layer that
// deletes a file and adds a setuid binary, as a runner image would.
func runnerLayers(t *testing.T, hostname string) [][]byte {
	return [][]byte{
		ocitest.Layer(t,
			ocitest.Dir("etc/", 0o755),
			ocitest.File("etc/hostname", hostname+"\n", 0o644),
			ocitest.File("etc/motd", "bye", 0o644),
			ocitest.Symlink("bin", "usr/bin"),
		),
		ocitest.Layer(t,
			ocitest.File("etc/.wh.motd", "", 0o644),
			ocitest.Entry{Name: "usr/bin/newuidmap", Mode: 0o4755, Body: "elf"},
		),
	}
}

// sources writes the same image in every local transport and returns
// source strings for them.
func sources(t *testing.T, hostname string) map[string]string {
	base := t.TempDir()
	layers := runnerLayers(t, hostname)
	layout := filepath.Join(base, "layout")
	ocitest.WriteLayout(t, layout, layers...)
	ocitest.TarDir(t, layout, filepath.Join(base, "oci.tar"))
	ocitest.WriteDockerArchive(t, filepath.Join(base, "docker.tar"), "localhost/runner:latest", layers...)
	return map[string]string{
		"oci":            "oci:" + layout + ":latest",
		"oci-archive":    "oci-archive:" + filepath.Join(base, "oci.tar"),
		"docker-archive": "docker-archive:" + filepath.Join(base, "docker.tar"),
	}
}

func checkRunnerRootfs(t *testing.T, rootfs, hostname string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(rootfs, "etc/hostname")); err != nil || string(b) != hostname+"\n" {
		t.Errorf("etc/hostname = %q, %v; want %q", b, err, hostname)
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "etc/motd")); !os.IsNotExist(err) {
		t.Errorf("etc/motd survived its whiteout (%v)", err)
	}
	if st, err := os.Stat(filepath.Join(rootfs, "bin/newuidmap")); err != nil || st.Mode()&os.ModeSetuid == 0 {
		t.Errorf("bin/newuidmap: %v %v, want setuid", st, err)
	}
}

// The whole lifecycle from each local transport: create, no changes on
// the next plan, an update when the source changes, delete.
func TestImageFromLocalSources(t *testing.T) {
	requireRoot(t)
	for transport, src := range sources(t, "runner-1") {
		t.Run(transport, func(t *testing.T) {
			h := newHarness(t, nil)
			a := addr("runner")
			cfg := h.config("runner", src, nil)

			pr, _ := h.plan(a, cfg)
			noErrors(t, "plan", pr.Diagnostics)
			dest := filepath.Join(h.dir, "runner")
			if got := attr(pr.Planned, "path"); got != filepath.Join(dest, "rootfs") {
				t.Errorf("planned path %q", got)
			}
			if sd := attr(pr.Planned, "source_digest"); !strings.HasPrefix(sd, "sha256:") {
				t.Errorf("planned source_digest %q", sd)
			}
			if pr.Planned.GetAttr("digest").IsKnown() {
				t.Errorf("a new image's digest is known at plan time")
			}

			created := h.apply(a, cfg)
			checkRunnerRootfs(t, attr(created, "path"), "runner-1")
			if !strings.HasPrefix(attr(created, "digest"), "sha256:") {
				t.Errorf("digest %q", attr(created, "digest"))
			}
			if _, err := os.Stat(filepath.Join(attr(created, "layout"), "index.json")); err != nil {
				t.Errorf("no OCI layout kept: %v", err)
			}
			// The marker names the address on its first line.
			b, _ := os.ReadFile(filepath.Join(dest, markerFile))
			if !strings.HasPrefix(string(b), "# rigplan:managed image.runner\n") {
				t.Errorf("marker starts %q", strings.SplitN(string(b), "\n", 2)[0])
			}
			if st, _ := os.Stat(dest); st.Mode().Perm() != 0o700 {
				t.Errorf("image directory mode %v: setuid binaries inside must not be reachable by other users", st.Mode())
			}

			// Refresh reads back exactly what apply returned, and the next
			// plan changes nothing.
			o := h.refresh(a, cfg)
			if o == nil || !o.Managed || !o.State.RawEquals(created) {
				t.Fatalf("refresh = %#v, want the applied state %#v", o, created)
			}
			pr, prior := h.plan(a, cfg)
			noErrors(t, "plan", pr.Diagnostics)
			if !pr.Planned.RawEquals(prior) || len(pr.RequiresReplace) != 0 {
				t.Errorf("plan after apply is not a no-op: %#v", pr.Planned)
			}

			// The source changes: plan shows a new source digest, apply
			// replaces the root filesystem in place.
			cfg2 := h.config("runner", sources(t, "runner-2")[transport], nil)
			pr, _ = h.plan(a, cfg2)
			noErrors(t, "plan", pr.Diagnostics)
			if attr(pr.Planned, "source_digest") == attr(created, "source_digest") || pr.Planned.GetAttr("digest").IsKnown() {
				t.Errorf("changed source not shown: source_digest %s, digest %#v", attr(pr.Planned, "source_digest"), pr.Planned.GetAttr("digest"))
			}
			updated := h.apply(a, cfg2)
			checkRunnerRootfs(t, attr(updated, "path"), "runner-2")
			if got := h.entries(); !slices.Equal(got, []string{"runner"}) {
				t.Errorf("image directory holds %q after the update", got)
			}

			h.destroy(a, cfg2)
			if got := h.entries(); len(got) != 0 {
				t.Errorf("image directory holds %q after delete", got)
			}
		})
	}
}

// A change that does not change what the image is made from (here the
// source's spelling) only rewrites the record.
func TestImageConfigChangeWithoutRefetch(t *testing.T) {
	requireRoot(t)
	src := sources(t, "runner-1")["oci"]
	h := newHarness(t, nil)
	a := addr("runner")
	created := h.apply(a, h.config("runner", src, nil))
	stamp := filepath.Join(attr(created, "path"), "stamp")
	if err := os.WriteFile(stamp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	respelled := strings.TrimSuffix(src, ":latest")
	cfg := h.config("runner", respelled, nil)
	updated := h.apply(a, cfg)
	if attr(updated, "source") != respelled || attr(updated, "digest") != attr(created, "digest") {
		t.Errorf("updated = %#v", updated)
	}
	if _, err := os.Stat(stamp); err != nil {
		t.Errorf("the root filesystem was made again: %v", err)
	}
	if o := h.refresh(a, cfg); o == nil || !o.State.RawEquals(updated) {
		t.Errorf("refresh does not read back the new record")
	}
}

// A root filesystem removed by hand shows as a change and is made again.
func TestImageRemovedByHandIsMadeAgain(t *testing.T) {
	requireRoot(t)
	h := newHarness(t, nil)
	a := addr("runner")
	cfg := h.config("runner", sources(t, "runner-1")["oci-archive"], nil)
	created := h.apply(a, cfg)
	if err := os.RemoveAll(attr(created, "path")); err != nil {
		t.Fatal(err)
	}
	pr, prior := h.plan(a, cfg)
	if attr(prior, "digest") != "" || pr.Planned.GetAttr("digest").IsKnown() {
		t.Fatalf("a missing root filesystem is not shown: prior digest %q, planned %#v", attr(prior, "digest"), pr.Planned.GetAttr("digest"))
	}
	h.apply(a, cfg)
	checkRunnerRootfs(t, attr(created, "path"), "runner-1")
}

func TestImageProgressIsReported(t *testing.T) {
	requireRoot(t)
	h := newHarness(t, nil)
	h.apply(addr("runner"), h.config("runner", sources(t, "runner-1")["oci"], nil))
	out := h.progress.String()
	for _, want := range []string{"image.runner: copying oci:", "image.runner: unpacked 2 layers ("} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	// A buffer is not a terminal: no status lines redrawn in place.
	if strings.Contains(out, "\r") {
		t.Errorf("progress off a terminal has status lines: %q", out)
	}

	quiet := newHarness(t, func(o *Options) { o.Progress = nil })
	quiet.apply(addr("runner"), quiet.config("runner", sources(t, "runner-1")["oci"], nil))
	if quiet.progress.Len() != 0 {
		t.Errorf("no progress writer, yet %q", quiet.progress)
	}
}

// The planned state conforms to the schema's type with every value the
// machine resource needs known at plan time.
func TestPlanKnowsPathsEarly(t *testing.T) {
	h := newHarness(t, nil)
	cfg := h.config("runner", "", nil)
	vals := cfg.AsValueMap()
	vals["source"] = cty.UnknownVal(cty.String)
	pr := h.p.Plan(t.Context(), &providers.PlanRequest{Addr: addr("runner"), Config: cty.ObjectVal(vals), Prior: cty.NullVal(h.p.res.ImpliedType())})
	noErrors(t, "plan", pr.Diagnostics)
	if attr(pr.Planned, "path") != filepath.Join(h.dir, "runner/rootfs") || attr(pr.Planned, "layout") != filepath.Join(h.dir, "runner/oci") {
		t.Errorf("paths not known: %#v", pr.Planned)
	}
	if pr.Planned.GetAttr("source_digest").IsKnown() {
		t.Errorf("source_digest known while the source is not")
	}
}

// Deleting an image also removes what an apply killed while it made a new
// version of it left beside it.
func TestDeleteRemovesInterruptedStage(t *testing.T) {
	requireRoot(t)
	h := newHarness(t, nil)
	a := addr("runner")
	cfg := h.config("runner", sources(t, "runner-1")["oci"], nil)
	h.apply(a, cfg)
	if err := os.MkdirAll(filepath.Join(h.dir, ".runner.rigplan-new-123/rootfs/etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.destroy(a, cfg)
	if got := h.entries(); len(got) > 0 {
		t.Errorf("the image directory after delete holds %v", got)
	}
}
