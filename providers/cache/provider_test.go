package cache

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/providers"
)

const (
	ciUnitFile   = "/etc/systemd/system/rigplan-cache-ci.service"
	ciConfigFile = "/etc/rigplan/cache/ci.json"
	ciUnit       = "rigplan-cache-ci.service"
)

func TestCreate(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	if a := e.MustConverge(ci, cfg); a != providers.Create {
		t.Fatalf("action %v, want create", a)
	}
	if got, want := e.calls(), []string{
		"systemctl show", // refresh found no unit: this is apply's
		"systemctl daemon-reload",
		"systemctl enable --quiet -- " + ciUnit,
		"systemctl restart -- " + ciUnit,
		"systemctl show",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	unit := e.file(ciUnitFile)
	if !strings.HasPrefix(unit, "# rigplan:managed cache.ci\n") ||
		!strings.Contains(unit, "\nExecStart=/usr/local/bin/rigplan cache serve -config /etc/rigplan/cache/ci.json\n") ||
		!strings.Contains(unit, "\nRequiresMountsFor=/srv/cache/snapshots /srv/cache/default\n") {
		t.Errorf("unit:\n%s", unit)
	}
	fc, err := agent.LoadFile(filepath.Join(e.root, ciConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if fc.Name != "ci" || fc.Store.Dir != "/srv/cache/snapshots" || fc.Retention.KeepPerSet != defaultKeepPerSet {
		t.Errorf("config: %+v", fc)
	}
	for p, mode := range map[string]os.FileMode{ciUnitFile: 0o644, ciConfigFile: 0o644, "/run/rigplan-cache": 0o700 | os.ModeDir, "/run/rigplan-cache/machines": 0o755 | os.ModeDir} {
		fi, err := os.Stat(filepath.Join(e.root, p))
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, %v; want mode %v", p, fi.Mode(), err, mode)
		}
	}
	// No temporary files or restart mark are left behind.
	for _, dir := range []string{"/etc/systemd/system", "/etc/rigplan/cache"} {
		entries, _ := os.ReadDir(filepath.Join(e.root, dir))
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), ".") || strings.HasSuffix(en.Name(), pendingSuffix) {
				t.Errorf("left behind: %s/%s", dir, en.Name())
			}
		}
	}

	// The next plan has nothing to do, and refresh read it all back.
	if a := e.MustConverge(ci, cfg); a != providers.NoOp {
		t.Errorf("second converge: %v", a)
	}
	st := e.Prior(ci, cfg)
	for k, want := range map[string]cty.Value{
		"active_state": cty.StringVal("active"), "unit_file_state": cty.StringVal("enabled"),
		"executable": cty.StringVal(testExecutable), "socket_directory": cty.StringVal("/run/rigplan-cache/machines"),
		"machine_bind": cty.StringVal("/run/rigplan-cache/machines:/run/rigplan-cache"),
		"restart_pending": cty.False, "need_daemon_reload": cty.False,
	} {
		if got := st.GetAttr(k); !got.RawEquals(want) {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
}

// TestDrift changes everything by hand that rigplan owns, and checks that
// each change shows in the state and that one apply undoes them all.
func TestDrift(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, lvmCache)
	e.MustConverge(ci, cfg)
	clean := e.Prior(ci, cfg)
	e.calls()

	unit := e.file(ciUnitFile)
	e.writeFile(ciUnitFile, strings.Replace(unit, "Restart=on-failure", "Restart=always", 1))
	e.writeFile(ciConfigFile, strings.Replace(e.file(ciConfigFile), `"keep_per_set": 2`, `"keep_per_set": 9`, 1))
	if err := os.Chmod(filepath.Join(e.root, "/run/ci-cache"), 0o700); err != nil {
		t.Fatal(err)
	}
	e.fake.SetActive(t, ciUnit, "failed")
	e.fake.SetEnabled(t, ciUnit, false)

	drifted := e.Prior(ci, cfg)
	want := map[string]cty.Value{
		"active_state":          cty.StringVal("failed"),
		"unit_file_state":       cty.StringVal("disabled"),
		"need_daemon_reload":    cty.True,
		"socket_directory_mode": cty.StringVal("0700"),
	}
	for k, w := range want {
		if got := drifted.GetAttr(k); !got.RawEquals(w) {
			t.Errorf("%s = %#v, want %#v", k, got, w)
		}
	}
	if got := drifted.GetAttr("retention").GetAttr("keep_per_set"); !got.RawEquals(cty.NumberIntVal(9)) {
		t.Errorf("retention.keep_per_set = %#v, want 9", got)
	}
	for _, k := range []string{"unit_sha256", "config_sha256"} {
		if drifted.GetAttr(k).RawEquals(clean.GetAttr(k)) {
			t.Errorf("%s did not change with a hand edit", k)
		}
	}

	if a := e.MustConverge(ci, cfg); a != providers.Update {
		t.Fatalf("action %v, want update", a)
	}
	if got := e.calls(); !contains(got, "systemctl restart -- "+ciUnit) || !contains(got, "systemctl daemon-reload") || !contains(got, "systemctl enable --quiet -- "+ciUnit) {
		t.Errorf("calls: %q", got)
	}
	if e.file(ciUnitFile) != unit {
		t.Error("the unit was not restored")
	}
	if after := e.Prior(ci, cfg); !after.RawEquals(clean) {
		t.Errorf("after apply:\n%#v\nwant:\n%#v", after, clean)
	}
}

// TestRestartOnlyForChangedFiles: a stopped agent with unchanged files
// is started, not restarted; changed files restart a running agent, and
// the plan says so.
func TestRestartOnlyForChangedFiles(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	e.MustConverge(ci, cfg)
	e.calls()

	e.fake.SetActive(t, ciUnit, "")
	prior := e.Prior(ci, cfg)
	if resp := e.Plan(ci, cfg, prior); hasDiag(resp.Diagnostics, hcl.DiagWarning, "will restart") {
		t.Errorf("a stopped agent is not restarted: %v", resp.Diagnostics)
	}
	e.calls()
	e.MustConverge(ci, cfg)
	if got, want := e.calls(), []string{"systemctl show", "systemctl show", "systemctl start -- " + ciUnit, "systemctl show"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}

	changed := e.Config(ci, strings.Replace(btrfsCache, "machines", "commit = \"on-save\"\n  machines", 1))
	prior = e.Prior(ci, changed)
	resp := e.Plan(ci, changed, prior)
	if !hasDiag(resp.Diagnostics, hcl.DiagWarning, "The cache agent will restart") || !hasDiag(resp.Diagnostics, hcl.DiagWarning, "rebuilds its view") {
		t.Errorf("no restart notice: %v", resp.Diagnostics)
	}
	e.calls()
	e.MustConverge(ci, changed)
	got := e.calls()
	if !contains(got, "systemctl restart -- "+ciUnit) || contains(got, "systemctl daemon-reload") {
		t.Errorf("a changed configuration restarts without a reload: %q", got)
	}
}

func TestStartFailureIsExplainedAndOwed(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	e.fake.FailStart(t, "level=ERROR msg=\"btrfs cache store: snapshot directory /srv/cache/snapshots: no such file or directory\"")
	_, _, resp := e.Converge(ci, cfg)
	if !resp.Diagnostics.HasErrors() {
		t.Fatal("apply succeeded")
	}
	d := resp.Diagnostics[0]
	if d.Summary != "The cache agent did not start" || !strings.Contains(d.Detail, "Job for "+ciUnit+" failed") ||
		!strings.Contains(d.Detail, "snapshot directory /srv/cache/snapshots: no such file") || !strings.Contains(d.Detail, "journalctl -u "+ciUnit) {
		t.Errorf("diagnostic: %s\n%s", d.Summary, d.Detail)
	}
	st := e.Prior(ci, cfg)
	if !st.GetAttr("restart_pending").True() || st.GetAttr("active_state").AsString() != "failed" {
		t.Errorf("restart_pending %#v, active_state %#v", st.GetAttr("restart_pending"), st.GetAttr("active_state"))
	}

	// Fixed: the owed restart happens, though no file changes.
	e.fake.FailStart(t, "")
	e.calls()
	if a := e.MustConverge(ci, cfg); a != providers.Update {
		t.Fatalf("action %v", a)
	}
	if got := e.calls(); !contains(got, "systemctl restart -- "+ciUnit) {
		t.Errorf("calls %q", got)
	}
	if st := e.Prior(ci, cfg); st.GetAttr("restart_pending").True() {
		t.Error("the restart mark stayed")
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	e.MustConverge(ci, cfg)
	prior := e.Prior(ci, cfg)
	e.calls()

	// A deletion is never refused: the agent holds no data.
	if resp := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: ci, Config: cty.NullVal(e.p.schema.ImpliedType()), Prior: prior}); len(resp.Diagnostics) > 0 || !resp.Planned.IsNull() {
		t.Errorf("planning the deletion: %v", resp.Diagnostics)
	}
	resp := e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: ci, Action: providers.Delete, Prior: prior, Planned: cty.NullVal(e.p.schema.ImpliedType())})
	if resp.Diagnostics.HasErrors() || !resp.New.IsNull() {
		t.Fatalf("delete: %v", resp.Diagnostics)
	}
	if got, want := e.calls(), []string{
		"systemctl show", "systemctl stop -- " + ciUnit, "systemctl disable --quiet -- " + ciUnit, "systemctl daemon-reload",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if e.file(ciUnitFile) != "" || e.file(ciConfigFile) != "" {
		t.Error("files left")
	}
	if _, err := os.Stat(filepath.Join(e.root, "/run/rigplan-cache")); err != nil {
		t.Errorf("the socket directory, which machines may bind, was removed: %v", err)
	}
	if objs, _ := e.Refresh(); len(objs) != 0 {
		t.Errorf("refresh after delete: %v", objs)
	}
}

func TestForeignUnitIsNeverTouched(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	const handmade = "[Service]\nExecStart=/usr/local/bin/lvm-cache-friend.py\n"
	e.writeFile(ciUnitFile, handmade)

	objs, _ := e.Refresh(providers.Instance{Addr: ci, Config: cfg})
	if o, ok := objs[ci]; !ok || o.Managed || o.ID != ciUnitFile {
		t.Errorf("refresh: %+v", objs)
	}
	if got := e.calls(); len(got) != 0 {
		t.Errorf("refresh of an unmanaged unit ran %q", got)
	}
	// Even if the planner were bypassed, apply refuses.
	planned := e.Plan(ci, cfg, cty.NullVal(e.p.schema.ImpliedType())).Planned
	resp := e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: ci, Action: providers.Create, Prior: cty.NullVal(e.p.schema.ImpliedType()), Planned: planned})
	if !hasDiag(resp.Diagnostics, hcl.DiagError, "rigplan will not overwrite it") {
		t.Errorf("apply: %v", resp.Diagnostics)
	}
	resp = e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: ci, Action: providers.Delete, Prior: planned, Planned: cty.NullVal(e.p.schema.ImpliedType())})
	if !hasDiag(resp.Diagnostics, hcl.DiagError, "leaves it alone") {
		t.Errorf("delete: %v", resp.Diagnostics)
	}
	if e.file(ciUnitFile) != handmade || e.file(ciConfigFile) != "" {
		t.Error("the hand-made unit was touched")
	}
}

func TestConfigFileWithoutUnit(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	null := cty.NullVal(e.p.schema.ImpliedType())
	planned := e.Plan(ci, cfg, null).Planned
	create := func() *providers.ApplyResponse {
		return e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: ci, Action: providers.Create, Prior: null, Planned: planned})
	}

	e.writeFile(ciConfigFile, `{"name": "other", "store": {"type": "lvm", "default": "vg/lv"}}`)
	if resp := create(); !hasDiag(resp.Diagnostics, hcl.DiagError, "Configuration file not written by rigplan") {
		t.Errorf("a foreign configuration was overwritten: %v", resp.Diagnostics)
	}
	// One an earlier apply wrote before it stopped is taken over.
	e.writeFile(ciConfigFile, `{"name": "ci", "store": {"type": "lvm", "default": "vg/lv"}}`)
	if resp := create(); resp.Diagnostics.HasErrors() {
		t.Errorf("apply: %v", resp.Diagnostics)
	}
}

func TestMarkOfAnotherAddress(t *testing.T) {
	e := newEnv(t)
	e.writeFile(ciUnitFile, "# rigplan:managed cache.other\n")
	e.writeFile("/etc/systemd/system/rigplan-cache-x.service", "# rigplan:managed volume.x\n")
	objs, diags := e.Refresh()
	if len(objs) != 0 || !hasDiag(diags, hcl.DiagWarning, "whose unit would be rigplan-cache-other.service") || !hasDiag(diags, hcl.DiagWarning, "which is not a cache") {
		t.Errorf("objects %v, diagnostics %v", objs, diags)
	}
}

func TestRefreshWithoutUnitsRunsNothing(t *testing.T) {
	e := newEnv(t)
	e.fake.Down(t)
	objs, diags := e.Refresh(providers.Instance{Addr: ci, Config: e.Config(ci, btrfsCache)})
	if len(objs) != 0 || len(diags) != 0 || len(e.fake.Calls(t)) != 0 {
		t.Errorf("objects %v, diagnostics %v, calls %q", objs, diags, e.fake.Calls(t))
	}
}

func TestRefreshWithoutSystemd(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	e.MustConverge(ci, cfg)
	e.fake.Down(t)
	resp := e.p.Refresh(context.Background(), &providers.RefreshRequest{})
	if !hasDiag(resp.Diagnostics, hcl.DiagError, "need a host booted with systemd") || !hasDiag(resp.Diagnostics, hcl.DiagError, "not been booted with systemd") {
		t.Errorf("diagnostics: %v", resp.Diagnostics)
	}
}

func TestNamesAndSocketsMustBeUnique(t *testing.T) {
	e := newEnv(t)
	keyed := mustAddr(t, `cache.ci["x"]`)
	dashed := mustAddr(t, `cache.ci-x`)
	cfg := e.Config(ci, btrfsCache)
	resp := e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: []providers.Instance{
		{Addr: keyed, Config: cfg}, {Addr: dashed, Config: cfg},
	}})
	if !hasDiag(resp.Diagnostics, hcl.DiagError, `would both be the cache agent "ci-x"`) {
		t.Errorf("same name: %v", resp.Diagnostics)
	}
	resp = e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: []providers.Instance{
		{Addr: ci, Config: cfg}, {Addr: dashed, Config: cfg},
	}})
	if !hasDiag(resp.Diagnostics, hcl.DiagError, "both listen on /run/rigplan-cache/machines/socket") {
		t.Errorf("same socket: %v", resp.Diagnostics)
	}

	// Two agents on one store would take each other's snapshots.
	other := cfg.AsValueMap()
	other["socket"] = cty.StringVal("/run/other-cache/socket")
	resp = e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: []providers.Instance{
		{Addr: ci, Config: cfg}, {Addr: dashed, Config: cty.ObjectVal(other)},
	}})
	if !hasDiag(resp.Diagnostics, hcl.DiagError, "both keep their snapshots in the directory /srv/cache/snapshots") {
		t.Errorf("same store: %v", resp.Diagnostics)
	}
	lvm := e.Config(ci, lvmCache).AsValueMap()
	lvm2 := e.Config(ci, lvmCache).AsValueMap()
	lvm2["socket"] = cty.StringVal("/run/other-cache/socket")
	resp = e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: []providers.Instance{
		{Addr: ci, Config: cty.ObjectVal(lvm)}, {Addr: dashed, Config: cty.ObjectVal(lvm2)},
	}})
	if !hasDiag(resp.Diagnostics, hcl.DiagError, "under the tag namespace") {
		t.Errorf("same volume group and namespace: %v", resp.Diagnostics)
	}
	store := lvm2["lvm_store"].AsValueMap()
	store["tag_namespace"] = cty.StringVal("other")
	lvm2["lvm_store"] = cty.ObjectVal(store)
	resp = e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: []providers.Instance{
		{Addr: ci, Config: cty.ObjectVal(lvm)}, {Addr: dashed, Config: cty.ObjectVal(lvm2)},
	}})
	if hasDiag(resp.Diagnostics, hcl.DiagError, "Two caches on one store") {
		t.Errorf("namespaces apart: %v", resp.Diagnostics)
	}
}

func TestMaskedIsRefused(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	e.MustConverge(ci, cfg)
	prior := e.Prior(ci, cfg)
	m := prior.AsValueMap()
	m["unit_file_state"] = cty.StringVal("masked")
	resp := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: ci, Config: cfg, Prior: cty.ObjectVal(m)})
	if !hasDiag(resp.Diagnostics, hcl.DiagError, "systemctl unmask "+ciUnit) {
		t.Errorf("diagnostics: %v", resp.Diagnostics)
	}
}

func TestExecutable(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, strings.Replace(btrfsCache, "machines", "executable = \"/opt/rigplan/bin/rigplan\"\n  machines", 1))
	null := cty.NullVal(e.p.schema.ImpliedType())
	resp := e.Plan(ci, cfg, null)
	if !hasDiag(resp.Diagnostics, hcl.DiagWarning, "/opt/rigplan/bin/rigplan, which is not an executable file") {
		t.Errorf("plan: %v", resp.Diagnostics)
	}
	ap := e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: ci, Action: providers.Create, Prior: null, Planned: resp.Planned})
	if !hasDiag(ap.Diagnostics, hcl.DiagError, "Install rigplan there") || e.file(ciUnitFile) != "" {
		t.Errorf("apply: %v", ap.Diagnostics)
	}

	// Once made, the service keeps its binary whichever rigplan applies.
	e2 := newEnv(t)
	plain := e2.Config(ci, btrfsCache)
	e2.MustConverge(ci, plain)
	built := filepath.Join(os.TempDir(), "go-build1", "rigplan") // go run's binary
	e2.writeFile(built, "")
	if err := os.Chmod(filepath.Join(e2.root, built), 0o755); err != nil {
		t.Fatal(err)
	}
	moved := New(nil, Options{Root: e2.root, Executable: built, Systemd: e2.fake.Manager(nil)})
	if got := moved.Plan(context.Background(), &providers.PlanRequest{Addr: ci, Config: plain, Prior: e2.Prior(ci, plain)}); got.Planned.GetAttr("executable").AsString() != testExecutable {
		t.Errorf("executable became %#v", got.Planned.GetAttr("executable"))
	}
	// A new one from a build directory is warned about.
	resp = moved.Plan(context.Background(), &providers.PlanRequest{Addr: ci, Config: plain, Prior: null})
	if !hasDiag(resp.Diagnostics, hcl.DiagWarning, "in a temporary directory") || resp.Planned.GetAttr("executable").AsString() != built {
		t.Errorf("plan: %v", resp.Diagnostics)
	}
}

func TestDurationsKeepTheirSpelling(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, strings.Replace(btrfsCache, "machines", "limits { read_timeout = \"120s\" }\n  machines", 1))
	e.MustConverge(ci, cfg)
	if !strings.Contains(e.file(ciConfigFile), `"read_timeout": "2m0s"`) {
		t.Errorf("config:\n%s", e.file(ciConfigFile))
	}
	if got := e.Prior(ci, cfg).GetAttr("limits").GetAttr("read_timeout"); !got.RawEquals(cty.StringVal("120s")) {
		t.Errorf("read_timeout read back as %#v", got)
	}
	if a := e.MustConverge(ci, cfg); a != providers.NoOp {
		t.Errorf("action %v", a)
	}
}

func TestUnknownValuesPlanUnknownHashes(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, lvmCache)
	m := cfg.AsValueMap()
	lvm := m["lvm_store"].AsValueMap()
	lvm["default_volume"] = cty.UnknownVal(cty.String) // volume.x.id of a volume planned in the same run, say
	m["lvm_store"] = cty.ObjectVal(lvm)
	resp := e.Plan(ci, cty.ObjectVal(m), cty.NullVal(e.p.schema.ImpliedType()))
	if resp.Planned.GetAttr("unit_sha256").IsKnown() || !resp.Planned.GetAttr("unit").IsKnown() {
		t.Errorf("planned: %#v", resp.Planned)
	}
}

// A machine binds the socket's directory, which nspawn refuses while it
// is missing: the directory is unknown in plan until it exists, so the
// machine is planned as waiting for the agent's apply.
func TestSocketDirectoryKnownOnceItExists(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, lvmCache)
	none := cty.NullVal(e.p.schema.ImpliedType())
	if dir := e.Plan(ci, cfg, none).Planned.GetAttr("socket_directory"); dir.IsKnown() {
		t.Errorf("socket_directory planned as %#v before the directory exists, want unknown", dir)
	}
	if err := os.MkdirAll(filepath.Join(e.root, "run/ci-cache"), 0o711); err != nil {
		t.Fatal(err)
	}
	if dir := e.Plan(ci, cfg, none).Planned.GetAttr("socket_directory"); !dir.RawEquals(cty.StringVal("/run/ci-cache")) {
		t.Errorf("socket_directory planned as %#v once the directory exists", dir)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestApplyWithoutSystemdWritesNothing(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	e.fake.Down(t)
	_, _, resp := e.Converge(ci, cfg)
	if !hasDiag(resp.Diagnostics, hcl.DiagError, "Nothing was written") {
		t.Errorf("apply: %v", resp.Diagnostics)
	}
	for _, f := range []string{ciUnitFile, ciConfigFile, "/etc/rigplan/cache/ci" + pendingSuffix} {
		if e.file(f) != "" {
			t.Errorf("%s was written", f)
		}
	}
}

func TestDropInsAreReported(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, btrfsCache)
	e.MustConverge(ci, cfg)
	e.writeFile(ciUnitFile+".d/override.conf", "[Service]\nEnvironment=X=1\n")
	_, diags := e.Refresh(providers.Instance{Addr: ci, Config: cfg})
	if !hasDiag(diags, hcl.DiagWarning, "/etc/systemd/system/rigplan-cache-ci.service.d/override.conf, which rigplan does not manage") {
		t.Errorf("diagnostics: %v", diags)
	}
	if a := e.MustConverge(ci, cfg); a != providers.NoOp {
		t.Errorf("a drop-in is not drift of rigplan's files: %v", a)
	}
}

// The socket's directory sits in a directory that keeps the host's users
// out. Apply makes rigplan's own gate root-only even when it was made
// open by an older layout (the socket's directory itself), and plan
// warns about a socket the operator put where every host user can reach
// it, naming the directory to close; a closed one gets no warning.
func TestSocketGate(t *testing.T) {
	e := newEnv(t)
	gate := filepath.Join(e.root, "/run/rigplan-cache")
	if err := os.MkdirAll(gate, 0o755); err != nil {
		t.Fatal(err)
	}
	e.MustConverge(ci, e.Config(ci, btrfsCache))
	if fi, err := os.Stat(gate); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the default gate after apply: %v (%v), want 0700", fi.Mode(), err)
	}

	// The test's own directories open (never the system's temporary
	// directory itself), and a directory above the socket's the operator
	// made 0755.
	tmp := filepath.Clean(os.TempDir())
	if open, _ := agent.OpenToHostUsers(filepath.Join(tmp, "x", "socket")); !open {
		t.Skipf("the temporary directory %s is closed to other users already: the warning cannot show under it", tmp)
	}
	for d := e.root; strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	open := filepath.Join(e.root, "/srv/ci")
	if err := os.MkdirAll(open, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := e.Config(ci, strings.Replace(btrfsCache, "machines", `socket = "/srv/ci/sock/socket"
  machines`, 1))
	resp := e.Plan(ci, cfg, e.Prior(ci, cfg))
	if !hasDiag(resp.Diagnostics, hcl.DiagWarning, "Make /srv/ci root-only (chmod 0700)") {
		t.Errorf("plan with a socket every host user can reach: %v", resp.Diagnostics)
	}
	os.Chmod(open, 0o700)
	if resp := e.Plan(ci, cfg, e.Prior(ci, cfg)); hasDiag(resp.Diagnostics, hcl.DiagWarning, "can reach") {
		t.Errorf("plan with the socket behind a root-only directory: %v", resp.Diagnostics)
	}
}
