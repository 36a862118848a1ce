package planner

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

const twoDisks = `
variable "size" {
  type    = number
  default = 2
}
locals {
  prefix = "d"
}
disk "a" {
  name = "${local.prefix}-a"
  size = var.size
}
disk "b" {
  name = "${local.prefix}-b"
}
app "web" {
  disk  = disk.a.id
  label = "x"
}
output "app_serial" {
  value = app.web.serial
}
`

func TestPlanCreateThenConverge(t *testing.T) {
	f := newFixture(t, twoDisks)
	p := f.mustPlan(Options{})
	want := map[string]string{"disk.a": "create", "disk.b": "create", "app.web": "create"}
	if got := actions(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}
	if got := p.Change(schema.Address{Type: "app", Name: "web"}).After.GetAttr("disk"); got != cty.StringVal("mem/d-a") {
		t.Errorf("app.web.disk planned as %#v, want the disk's id known at plan time", got)
	}
	r := f.mustApply(Options{})
	if r.Added != 3 {
		t.Errorf("added %d, want 3", r.Added)
	}
	if len(r.Outputs) != 1 || r.Outputs[0].Value != cty.StringVal("s1") {
		t.Errorf("outputs = %#v, want app_serial = s1 (known only after apply)", r.Outputs)
	}
	// The disk is created before the app that references it.
	if i, j := slices.Index(f.mem.log, "create disk.a"), slices.Index(f.mem.log, "create app.web"); i < 0 || j < i {
		t.Errorf("apply order %v: disk.a must be created before app.web", f.mem.log)
	}
	if p := f.mustPlan(Options{}); p.HasChanges() {
		t.Errorf("second plan has changes: %v", actions(p))
	}
}

func TestPlanUpdateAndReplace(t *testing.T) {
	f := newFixture(t, twoDisks)
	f.mustApply(Options{})

	f.write(strings.Replace(twoDisks, "default = 2", "default = 5", 1))
	p := f.mustPlan(Options{})
	if got := actions(p)["disk.a"]; got != "update" {
		t.Fatalf("disk.a after size change: %s, want update", got)
	}

	f.write(strings.Replace(twoDisks, `"${local.prefix}-b"`, `"other"`, 1))
	if _, diags := f.plan(Options{}); !diags.HasErrors() || !strings.Contains(diags.Error(), "Refusing to replace disk.b") {
		t.Fatalf("renaming disk.b must be refused without AllowDataLoss, got %v", diags)
	}
	p = f.mustPlan(Options{AllowDataLoss: true})
	c := p.Change(schema.Address{Type: "disk", Name: "b"})
	if c.Action != providers.Replace || len(c.ReplacePaths) != 1 || schema.PathString(c.ReplacePaths[0]) != "name" {
		t.Fatalf("disk.b change = %s %v, want replace forced by name", c.Action, c.ReplacePaths)
	}
}

func TestRemovedBlockIsGuarded(t *testing.T) {
	f := newFixture(t, twoDisks)
	f.mustApply(Options{})
	f.write(strings.Replace(twoDisks, "disk \"b\" {\n  name = \"${local.prefix}-b\"\n}\n", "", 1))

	_, diags := f.plan(Options{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "its block is no longer in the configuration") {
		t.Fatalf("deleting the removed disk.b must be refused, got %v", diags)
	}
	if _, ok := f.mem.objects[schema.Address{Type: "disk", Name: "b"}]; !ok {
		t.Fatal("a refused plan deleted disk.b")
	}
	r := f.mustApply(Options{AllowDataLoss: true})
	if r.Destroyed != 1 {
		t.Errorf("destroyed %d, want 1", r.Destroyed)
	}
	if _, ok := f.mem.objects[schema.Address{Type: "disk", Name: "b"}]; ok {
		t.Error("disk.b still exists after apply with AllowDataLoss")
	}
}

func TestPreventDestroyWinsOverAllowDataLoss(t *testing.T) {
	src := `
disk "a" {
  name = "a"
  lifecycle {
    prevent_destroy = true
  }
}`
	f := newFixture(t, src)
	f.mustApply(Options{})
	_, diags := f.plan(Options{Destroy: true, AllowDataLoss: true})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "prevent_destroy") {
		t.Fatalf("destroy of a prevent_destroy disk must fail, got %v", diags)
	}
}

func TestDestroyDeletesDependentsFirst(t *testing.T) {
	f := newFixture(t, twoDisks)
	f.mustApply(Options{})
	f.mem.log = nil
	r := f.mustApply(Options{Destroy: true, AllowDataLoss: true})
	if r.Destroyed != 3 || len(f.mem.objects) != 0 {
		t.Fatalf("destroyed %d, %d objects left", r.Destroyed, len(f.mem.objects))
	}
	if i, j := slices.Index(f.mem.log, "delete app.web"), slices.Index(f.mem.log, "delete disk.a"); j < i {
		t.Errorf("apply order %v: app.web must be deleted before disk.a", f.mem.log)
	}
}

func TestOrphanDeletionFollowsContainment(t *testing.T) {
	f := newFixture(t, `app "x" { disk = "none" }`)
	// Objects left from an earlier configuration: a disk and an app living
	// on it, as a provider reports containment.
	disk := schema.Address{Type: "disk", Name: "old"}
	app := schema.Address{Type: "app", Name: "old"}
	f.mem.objects[disk] = cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("old"), "size": cty.NumberIntVal(1), "id": cty.StringVal("mem/old")})
	f.mem.objects[app] = cty.ObjectVal(map[string]cty.Value{"disk": cty.StringVal("mem/old"), "label": cty.NullVal(cty.String), "serial": cty.StringVal("s0")})
	f.mem.contains[app] = []schema.Address{disk}

	p := f.mustPlan(Options{AllowDataLoss: true})
	for _, a := range []schema.Address{disk, app} {
		if c := p.Change(a); c == nil || c.Action != providers.Delete || c.Reason != ReasonNotInConfig {
			t.Fatalf("%s: %+v, want delete because not in configuration", a, c)
		}
	}
	f.mustApply(Options{AllowDataLoss: true})
	if i, j := slices.Index(f.mem.log, "delete app.old"), slices.Index(f.mem.log, "delete disk.old"); i < 0 || j < i {
		t.Errorf("apply order %v: the app must be deleted before the disk it lives on", f.mem.log)
	}
}

func TestApplyStopsAtFirstFailure(t *testing.T) {
	f := newFixture(t, twoDisks)
	f.mem.failOn[schema.Address{Type: "disk", Name: "a"}] = true
	r, diags := f.apply(Options{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "injected failure") {
		t.Fatalf("want the injected failure, got %v", diags)
	}
	if slices.Contains(f.mem.log, "create app.web") {
		t.Errorf("app.web depends on the failed disk.a but was applied: %v", f.mem.log)
	}
	if !slices.Contains(r.NotApplied, schema.Address{Type: "app", Name: "web"}) {
		t.Errorf("NotApplied = %v, want app.web listed", r.NotApplied)
	}
	// The next plan describes what is left.
	delete(f.mem.failOn, schema.Address{Type: "disk", Name: "a"})
	p := f.mustPlan(Options{})
	if got := actions(p); got["disk.a"] != "create" || got["app.web"] != "create" {
		t.Errorf("plan after failed apply: %v", got)
	}
}

// An interrupt (the first Ctrl-C) lets the running change finish on a
// context that stays live, tells it through Interrupted (a change that
// only waits may give up), and starts nothing after it.
func TestApplyInterrupted(t *testing.T) {
	f := newFixture(t, twoDisks)
	e, p := f.mustEnginePlan(Options{})
	ctx, interrupt := context.WithCancel(context.Background())
	var mu sync.Mutex
	told, live := true, true
	f.mem.onApply = func(ctx context.Context, req *providers.ApplyRequest) {
		if req.Addr.Type != "disk" {
			return
		}
		interrupt()
		ok := true
		select {
		case <-req.Interrupted:
		case <-time.After(10 * time.Second):
			ok = false
		}
		mu.Lock()
		defer mu.Unlock()
		told, live = told && ok, live && ctx.Err() == nil
	}
	r, diags := e.Apply(ctx, p, nopHooks{})
	if !told || !live {
		t.Errorf("the running change: told of the interrupt %v, its context live %v; want both", told, live)
	}
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Apply interrupted") {
		t.Errorf("diagnostics %v, want Apply interrupted", diags)
	}
	if !slices.Contains(f.mem.log, "create disk.a") || slices.Contains(f.mem.log, "create app.web") {
		t.Errorf("applied %v, want disk.a finished and app.web not started", f.mem.log)
	}
	if !slices.Contains(r.NotApplied, schema.Address{Type: "app", Name: "web"}) {
		t.Errorf("NotApplied = %v, want app.web listed", r.NotApplied)
	}
}

// An interrupt during the last change, which then succeeds, leaves
// nothing undone: the apply is complete, not interrupted.
func TestApplyInterruptedDuringTheLastChange(t *testing.T) {
	f := newFixture(t, `disk "a" {
  name = "a"
}`)
	e, p := f.mustEnginePlan(Options{})
	ctx, interrupt := context.WithCancel(context.Background())
	f.mem.onApply = func(context.Context, *providers.ApplyRequest) { interrupt() }
	r, diags := e.Apply(ctx, p, nopHooks{})
	if diags.HasErrors() || r.Added != 1 || len(r.NotApplied) > 0 {
		t.Errorf("apply interrupted during its only change: %+v, %v; want it complete", r, diags)
	}
}

func TestApplyParallelismIsBounded(t *testing.T) {
	src := `
disk "many" {
  for_each = toset([for i in range(12) : "d${i}"])
  name     = each.key
}`
	f := newFixture(t, src)
	e, diags := f.engine()
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e.Parallelism = 3
	p, diags := e.Plan(context.Background(), Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, diags := e.Apply(context.Background(), p, nopHooks{}); diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(f.mem.objects) != 12 {
		t.Fatalf("%d objects, want 12", len(f.mem.objects))
	}
	if m := f.mem.maxRunning.Load(); m > 3 || m < 2 {
		t.Errorf("max concurrent applies = %d, want between 2 and 3", m)
	}
}

func TestCountAndForEachAddresses(t *testing.T) {
	src := `
disk "c" {
  count = 2
  name  = "c${count.index}"
}
disk "e" {
  for_each = { x = 3, y = 4 }
  name     = each.key
  size     = each.value
}
app "a" {
  disk = disk.e["y"].id
}`
	f := newFixture(t, src)
	p := f.mustPlan(Options{})
	var addrs []string
	for _, c := range p.Changes {
		addrs = append(addrs, c.Addr.String())
	}
	want := []string{`app.a`, `disk.c[0]`, `disk.c[1]`, `disk.e["x"]`, `disk.e["y"]`}
	if !reflect.DeepEqual(addrs, want) {
		t.Fatalf("addresses %v, want %v", addrs, want)
	}
	if got := p.Change(schema.Address{Type: "app", Name: "a"}).After.GetAttr("disk"); got != cty.StringVal("mem/y") {
		t.Errorf("app.a.disk = %#v", got)
	}
	f.mustApply(Options{})
	f.write(strings.Replace(src, "count = 2", "count = 1", 1))
	p = f.mustPlan(Options{AllowDataLoss: true})
	if c := p.Change(schema.Address{Type: "disk", Name: "c", Key: schema.IntKey(1)}); c == nil || c.Action != providers.Delete || c.Reason != ReasonCountIndex {
		t.Errorf("disk.c[1] after count=1: %+v", c)
	}
}

func TestTargetIncludesDependencies(t *testing.T) {
	f := newFixture(t, twoDisks)
	target, _ := schema.ParseAddress("app.web")
	p := f.mustPlan(Options{Targets: []schema.Address{target}})
	want := map[string]string{"disk.a": "create", "app.web": "create"}
	if got := actions(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("targeted plan %v, want %v", got, want)
	}
	bad, _ := schema.ParseAddress("disk.nope")
	if _, diags := f.plan(Options{Targets: []schema.Address{bad}}); !diags.HasErrors() {
		t.Error("a target matching nothing must be an error")
	}
}

func TestReplaceRequest(t *testing.T) {
	f := newFixture(t, twoDisks)
	f.mustApply(Options{})
	addr, _ := schema.ParseAddress("app.web")
	p := f.mustPlan(Options{Replace: []schema.Address{addr}})
	c := p.Change(addr)
	if c.Action != providers.Replace || c.Reason != ReasonReplaceRequested {
		t.Fatalf("app.web: %s %s", c.Action, c.Reason)
	}
	if c.After.GetAttr("serial").IsKnown() {
		t.Error("a replaced object's computed serial must be unknown until apply")
	}
	missing, _ := schema.ParseAddress("disk.zzz")
	if _, diags := f.plan(Options{Replace: []schema.Address{missing}}); !diags.HasErrors() {
		t.Error("-replace of a missing object must be an error")
	}
}

func TestIgnoreChanges(t *testing.T) {
	src := `
disk "a" {
  name = "a"
  size = 3
  lifecycle {
    ignore_changes = [size]
  }
}`
	f := newFixture(t, src)
	f.mustApply(Options{})
	f.write(strings.Replace(src, "size = 3", "size = 9", 1))
	if p := f.mustPlan(Options{}); p.HasChanges() {
		t.Errorf("size is ignored but the plan changes it: %v", actions(p))
	}
}

func TestStalePlanIsDetected(t *testing.T) {
	f := newFixture(t, twoDisks)
	e, p := f.mustEnginePlan(Options{})
	path := filepath.Join(t.TempDir(), "plan")
	if err := p.Save(path, "test", f.dir, f.reg); err != nil {
		t.Fatal(err)
	}
	sp, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := e.Plan(context.Background(), Options{})
	if err := sp.CheckFresh(again, f.reg); err != nil {
		t.Fatalf("an unchanged host made the plan stale: %v", err)
	}
	// Someone creates disk.a behind the plan's back.
	f.mem.objects[schema.Address{Type: "disk", Name: "a"}] = cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("d-a"), "size": cty.NumberIntVal(2), "id": cty.StringVal("mem/d-a")})
	now, _ := e.Plan(context.Background(), Options{})
	if err := sp.CheckFresh(now, f.reg); err == nil || !strings.Contains(err.Error(), "disk.a") {
		t.Fatalf("want a stale-plan error naming disk.a, got %v", err)
	}
	shown, err := sp.Plan(f.reg)
	if err != nil || len(shown.Changes) != 3 {
		t.Fatalf("saved plan reloads with %v changes, err %v", shown, err)
	}
}

func TestConfigErrorsPointAtSource(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"cycle", `
locals {
  a = local.b
  b = local.a
}
disk "x" { name = local.a }`, "Cycle: local.a, local.b"},
		{"unknown attribute", `disk "x" {
  name = "x"
  colour = "red"
}`, `An argument named "colour" is not expected here`},
		{"wrong type", `disk "x" {
  name = "x"
  size = "big"
}`, "a number is required"},
		{"validator", `disk "x" {
  name = "x"
  size = 0
}`, "size must be at least 1"},
		{"undeclared reference", `app "x" { disk = disk.nope.id }`, "No disk block named \"nope\""},
		{"duplicate", `disk "x" { name = "a" }
disk "x" { name = "b" }`, `Duplicate disk "x"`},
		{"each outside for_each", `disk "x" { name = each.key }`, `Reference to "each"`},
		{"unknown block", `dsik "x" {}`, `Blocks of type "dsik" are not expected here. Did you mean "disk"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.src)
			_, diags := f.plan(Options{})
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, diags)
			}
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Filename != filepath.Join(f.dir, "main.hcl") {
					t.Errorf("diagnostic %q has no source range in main.hcl", d.Summary)
				}
			}
			if len(f.mem.log) != 0 {
				t.Errorf("a config error changed the host: %v", f.mem.log)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	src := `
variable "size" {
  type = number
  validation {
    condition     = var.size < 10
    error_message = "size must be below 10."
  }
}
disk "a" {
  name = "a"
  size = var.size
}`
	f := newFixture(t, src)
	if _, diags := f.engine(); !diags.HasErrors() || !strings.Contains(diags.Error(), "No value for required variable") {
		t.Fatalf("missing required variable: %v", diags)
	}
	e, diags := f.engine("size=12")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, diags := e.Plan(context.Background(), Options{}); !diags.HasErrors() || !strings.Contains(diags.Error(), "size must be below 10.") {
		t.Fatalf("validation: %v", diags)
	}
	e, _ = f.engine("size=4")
	p, diags := e.Plan(context.Background(), Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := p.Change(schema.Address{Type: "disk", Name: "a"}).After.GetAttr("size"); !got.RawEquals(cty.NumberIntVal(4)) {
		t.Errorf("size = %#v, want 4 from -var", got)
	}
	if _, diags := f.engine("nope=1"); !diags.HasErrors() || !strings.Contains(diags.Error(), "declares no variable") {
		t.Errorf("undeclared -var: %v", diags)
	}
}

func TestValidateNeedsNoInputsOrHost(t *testing.T) {
	src := `
variable "n" { type = number }
disk "a" {
  count = var.n
  name  = "a${count.index}"
  size  = 0
}`
	f := newFixture(t, src)
	cfg, diags := schema.Load(f.dir, f.reg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	vals, diags := cfg.InputValues(nil, nil, true)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e, diags := New(cfg, f.reg, vals)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	diags = e.Validate()
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "size must be at least 1") {
		t.Fatalf("validate with unknown count must still check the body: %v", diags)
	}
	if len(f.mem.log) != 0 {
		t.Error("validate touched the provider")
	}
}

func TestDeletionsArePlannedByProviders(t *testing.T) {
	f := newFixture(t, twoDisks)
	f.mustApply(Options{})
	f.mem.refuseDelete[schema.Address{Type: "disk", Name: "b"}] = true
	_, diags := f.plan(Options{Destroy: true, AllowDataLoss: true})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "cannot delete disk.b: it holds something else") {
		t.Fatalf("the provider's refusal to delete disk.b must fail the plan, got %v", diags)
	}
	if len(f.mem.objects) != 3 {
		t.Error("a refused destroy changed the host")
	}
}

func TestContainedObjectsMustGoToo(t *testing.T) {
	f := newFixture(t, twoDisks)
	f.mustApply(Options{})
	// app.web lives on disk.a, as a provider reports containment.
	f.mem.contains[schema.Address{Type: "app", Name: "web"}] = []schema.Address{{Type: "disk", Name: "a"}}
	target, _ := schema.ParseAddress("disk.a")
	_, diags := f.plan(Options{Destroy: true, AllowDataLoss: true, Targets: []schema.Address{target}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "would also destroy app.web") {
		t.Fatalf("destroying disk.a alone must be refused while app.web lives on it, got %v", diags)
	}
	// Destroying both is fine, the app first.
	f.mem.log = nil
	f.mustApply(Options{Destroy: true, AllowDataLoss: true})
	if i, j := slices.Index(f.mem.log, "delete app.web"), slices.Index(f.mem.log, "delete disk.a"); i < 0 || j < i {
		t.Errorf("apply order %v", f.mem.log)
	}
}
