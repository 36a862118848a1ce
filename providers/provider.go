// Package providers defines the contract between the planner and the code
// that reads and changes one kind of host object (LVM, nspawn machines,
// images, GitHub runners), plus the registry that maps resource types to the
// provider implementing them.
//
// Each call takes one request struct and returns one response struct with
// its diagnostics inside, so that a provider never decides how errors are
// shown. Providers receive everything they touch through their constructor
// (a command runner, a filesystem root, an HTTP client): no package-level
// state, so tests point them at a temp dir, a real kernel or a local server.
package providers

import (
	"context"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

// Provider reads and changes one family of host objects.
type Provider interface {
	// Name is the provider's name, e.g. "lvm".
	Name() string
	// Schemas declares the resource types the provider implements.
	Schemas() []*schema.Resource
	// Refresh reads the actual state of every object the provider manages
	// (those carrying rigplan's ownership mark) and of the objects the
	// desired instances name, in as few host calls as it can.
	Refresh(ctx context.Context, req *RefreshRequest) *RefreshResponse
	// Plan proposes the state an instance will have after apply, given its
	// config and its actual state, and says which changes force replacement.
	// It may look at what Refresh read but must not change the host.
	Plan(ctx context.Context, req *PlanRequest) *PlanResponse
	// Apply creates, updates or deletes one object.
	Apply(ctx context.Context, req *ApplyRequest) *ApplyResponse
}

// Instance is one resource instance the configuration wants.
type Instance struct {
	Addr schema.Address
	// Config is the decoded config; it may hold unknown values that only
	// become known during apply.
	Config cty.Value
}

// RefreshRequest lists what the configuration wants, so that a provider can
// also look up objects that exist but are not (yet) marked as rigplan's.
type RefreshRequest struct {
	Desired []Instance
}

// Object is one object found on the host.
type Object struct {
	Addr schema.Address
	// State conforms to the implied type of the address's resource type.
	State cty.Value
	// Managed is true when the object carries rigplan's ownership mark for
	// Addr. An unmanaged object is reported only when a desired instance
	// names it, and the planner refuses to touch it.
	Managed bool
	// ID is how the operator knows the object, e.g. "banana/friend-pool".
	ID string
	// DependsOn lists the managed objects this one lives in (a volume in its
	// thin pool, a pool in its volume group). It orders the deletion of
	// objects whose blocks were removed from the configuration.
	DependsOn []schema.Address
}

// RefreshResponse is what Refresh found.
type RefreshResponse struct {
	Objects     []Object
	Diagnostics hcl.Diagnostics
}

// PlanRequest asks for the planned state of one instance.
type PlanRequest struct {
	Addr   schema.Address
	Config cty.Value
	// Prior is the actual state, or a null value when the object does not
	// exist yet.
	Prior cty.Value
}

// PlanResponse is the proposed state.
type PlanResponse struct {
	// Planned is the state after apply; values the provider cannot know yet
	// are unknown.
	Planned cty.Value
	// RequiresReplace lists the changed attributes that cannot be changed in
	// place.
	RequiresReplace []cty.Path
	Diagnostics     hcl.Diagnostics
}

// Action is what apply does to one object. The runes follow Terraform's
// plans.Action so that output reads the same.
type Action rune

const (
	NoOp    Action = 0
	Create  Action = '+'
	Update  Action = '~'
	Replace Action = '∓' // delete, then create
	Delete  Action = '-'
)

// String is the action's name as Terraform's JSON plan spells it.
func (a Action) String() string {
	switch a {
	case NoOp:
		return "no-op"
	case Create:
		return "create"
	case Update:
		return "update"
	case Replace:
		return "replace"
	case Delete:
		return "delete"
	default:
		return "unknown"
	}
}

// ApplyRequest asks a provider to carry out one Create, Update or Delete.
// The planner splits a Replace into a Delete and a Create.
type ApplyRequest struct {
	Addr   schema.Address
	Action Action
	// Prior is the actual state before the change (null for Create).
	Prior cty.Value
	// Planned is the state to reach (null for Delete). Unknown values in it
	// are for the provider to fill.
	Planned cty.Value
	// Interrupted is closed when the operator interrupts the apply (the
	// first Ctrl-C). Apply's ctx is not cancelled then: a change under
	// way runs to its end, since a command killed halfway helps nobody.
	// A change that is only waiting (for a machine's job to end) may stop
	// waiting at it, leaving the object as it was. Nil when nothing can
	// interrupt the apply.
	Interrupted <-chan struct{}
}

// ApplyResponse reports the object's new state.
type ApplyResponse struct {
	// New is the state after the change, fully known (null after Delete).
	// When Diagnostics has errors, New is what the provider knows the object
	// to be now, so that a partial change is not lost.
	New         cty.Value
	Diagnostics hcl.Diagnostics
}
