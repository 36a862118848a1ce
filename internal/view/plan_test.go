package view

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/golden"
	"github.com/rigplan/rigplan/planner"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// pool is a made-up resource type exercising every rendering case:
// primitives, a set, a nested block, computed and sensitive attributes.
var pool = &schema.Resource{
	Type:     "pool",
	Provider: "test",
	Attributes: []*schema.Attribute{
		{Name: "name", Type: cty.String, Required: true, ForceNew: true},
		{Name: "size", Type: cty.String, Required: true},
		{Name: "devices", Type: cty.Set(cty.String), Required: true},
		{Name: "secret", Type: cty.String, Optional: true, Sensitive: true},
		{Name: "id", Type: cty.String, Computed: true},
		{Name: "uuid", Type: cty.String, Computed: true},
	},
	Blocks: []*schema.Block{{
		Name:    "retention",
		Nesting: schema.NestingSingle,
		Attributes: []*schema.Attribute{
			{Name: "keep", Type: cty.Number, Optional: true},
		},
	}},
}

func poolVal(name, size string, devices []string, keep int64, uuid cty.Value) cty.Value {
	devs := make([]cty.Value, len(devices))
	for i, d := range devices {
		devs[i] = cty.StringVal(d)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"name":      cty.StringVal(name),
		"size":      cty.StringVal(size),
		"devices":   cty.SetVal(devs),
		"secret":    cty.StringVal("hunter2"),
		"id":        cty.StringVal("vg/" + name),
		"uuid":      uuid,
		"retention": cty.ObjectVal(map[string]cty.Value{"keep": cty.NumberIntVal(keep)}),
	})
}

func samplePlan() *planner.Plan {
	null := cty.NullVal(pool.ImpliedType())
	addr := func(s string) schema.Address {
		a, err := schema.ParseAddress(s)
		if err != nil {
			panic(err)
		}
		return a
	}
	return &planner.Plan{
		Changes: []*planner.Change{
			{Addr: addr("pool.new"), Action: providers.Create, Before: null,
				After: poolVal("new", "30G", []string{"/dev/sdb"}, 5, cty.UnknownVal(cty.String))},
			{Addr: addr("pool.grown"), Action: providers.Update,
				Before: poolVal("grown", "3G", []string{"/dev/sdb"}, 5, cty.StringVal("u1")),
				After:  poolVal("grown", "4G", []string{"/dev/sdb", "/dev/sdc"}, 7, cty.StringVal("u1"))},
			{Addr: addr(`pool.each["a"]`), Action: providers.Replace, Reason: planner.ReasonReplaceForced,
				ReplacePaths: []cty.Path{cty.GetAttrPath("name")},
				Before:       poolVal("a", "1G", []string{"/dev/sdd"}, 1, cty.StringVal("u2")),
				After:        poolVal("b", "1G", []string{"/dev/sdd"}, 1, cty.UnknownVal(cty.String))},
			{Addr: addr("pool.old"), Action: providers.Delete, Reason: planner.ReasonNotInConfig,
				Before: poolVal("old", "1G", []string{"/dev/sde"}, 1, cty.StringVal("u3")), After: null},
			{Addr: addr("pool.same"), Action: providers.NoOp,
				Before: poolVal("same", "1G", []string{"/dev/sdf"}, 1, cty.StringVal("u4")),
				After:  poolVal("same", "1G", []string{"/dev/sdf"}, 1, cty.StringVal("u4"))},
		},
		Outputs: []*planner.OutputValue{{Name: "pool_id", Value: cty.StringVal("vg/new")}},
	}
}

func schemas(typ string) (*schema.Resource, bool) { return pool, typ == "pool" }

func TestWritePlanGolden(t *testing.T) {
	var buf bytes.Buffer
	WritePlan(&buf, samplePlan(), schemas, false)
	golden.Check(t, "testdata/plan_human.golden", buf.Bytes())
}

func TestWritePlanJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePlanJSON(&buf, samplePlan(), schemas, "test"); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("plan JSON does not parse: %v", err)
	}
	if doc["format_version"] != "1.2" || len(doc["resource_changes"].([]any)) != 5 {
		t.Errorf("unexpected JSON plan shape: format_version=%v", doc["format_version"])
	}
	golden.Check(t, "testdata/plan_json.golden", buf.Bytes())
}

func TestWritePlanNoChanges(t *testing.T) {
	var buf bytes.Buffer
	WritePlan(&buf, &planner.Plan{}, schemas, false)
	if got := buf.String(); got != "No changes. The host matches the configuration.\n" {
		t.Errorf("got %q", got)
	}
}
