package planner

import (
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Reason says why a change was planned when the diff alone does not.
type Reason string

const (
	// ReasonNone is an ordinary diff between config and host.
	ReasonNone Reason = ""
	// ReasonNotInConfig is a managed object whose block is gone.
	ReasonNotInConfig Reason = "delete_because_no_resource_config"
	// ReasonReplaceRequested is -replace ADDR.
	ReasonReplaceRequested Reason = "replace_by_request"
	// ReasonReplaceForced is a change of an attribute that cannot change
	// in place.
	ReasonReplaceForced Reason = "replace_because_cannot_update"
	// ReasonDestroy is `rigplan destroy`.
	ReasonDestroy Reason = "delete_because_destroy"
	// ReasonCountIndex is an instance whose key no longer exists in its
	// block's count or for_each.
	ReasonCountIndex Reason = "delete_because_each_key"
)

// Change is what the plan does to one resource instance.
type Change struct {
	Addr   schema.Address
	Action providers.Action
	// Before is the actual state (null when the object does not exist).
	Before cty.Value
	// After is the planned state (null for Delete); unknown values become
	// known during apply.
	After cty.Value
	// ReplacePaths are the attributes that forced a replacement.
	ReplacePaths []cty.Path
	Reason       Reason
	// SensitivePaths are attributes that must not be printed.
	SensitivePaths []cty.Path
	// ID is the object's name on the host, for messages.
	ID string
	// Deps are the resources this one must be created after and deleted
	// before: config references for configured instances, containment for
	// objects whose block is gone. Block addresses match every instance.
	Deps []schema.Address
}

// Plan is the full set of changes, in address order. It holds no-op
// entries too, so that machine-readable output lists every instance.
type Plan struct {
	Changes []*Change
	// Outputs are the output values as planned.
	Outputs []*OutputValue
	Options Options
	// Warnings found while planning, to be shown with the plan.
	Sources map[string][]byte
	Vars    map[string]cty.Value
}

// OutputValue is one output block's value.
type OutputValue struct {
	Name      string
	Value     cty.Value
	Sensitive bool
}

// Options shape a plan.
type Options struct {
	// Targets restrict the plan to these resources (and what they need).
	Targets []schema.Address
	// Replace forces these instances to be replaced.
	Replace []schema.Address
	// AllowDataLoss lets the plan delete or replace objects that hold data.
	AllowDataLoss bool
	// Destroy plans the deletion of everything rigplan manages.
	Destroy bool
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != providers.NoOp {
			return true
		}
	}
	return false
}

// Counts returns how many objects the plan adds, changes and destroys, a
// replacement counting as one added and one destroyed as Terraform does.
func (p *Plan) Counts() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case providers.Create:
			add++
		case providers.Update:
			change++
		case providers.Delete:
			destroy++
		case providers.Replace:
			add++
			destroy++
		}
	}
	return add, change, destroy
}

// Change returns the change planned for addr, or nil.
func (p *Plan) Change(addr schema.Address) *Change {
	for _, c := range p.Changes {
		if c.Addr == addr {
			return c
		}
	}
	return nil
}

func (p *Plan) sort() {
	sort.SliceStable(p.Changes, func(i, j int) bool { return p.Changes[i].Addr.Less(p.Changes[j].Addr) })
	sort.Slice(p.Outputs, func(i, j int) bool { return p.Outputs[i].Name < p.Outputs[j].Name })
}
