package providers

import (
	"fmt"
	"sort"

	"github.com/rigplan/rigplan/schema"
)

// Registry maps resource types to the providers that implement them. The CLI
// builds one per run from the providers it constructed; there is no global
// registry.
type Registry struct {
	providers []Provider
	byType    map[string]Provider
	schemas   map[string]*schema.Resource
}

// NewRegistry indexes the providers' resource types. Two providers declaring
// the same type is a programming error.
func NewRegistry(ps ...Provider) (*Registry, error) {
	r := &Registry{byType: map[string]Provider{}, schemas: map[string]*schema.Resource{}}
	for _, p := range ps {
		r.providers = append(r.providers, p)
		for _, s := range p.Schemas() {
			if other, dup := r.byType[s.Type]; dup {
				return nil, fmt.Errorf("resource type %q is declared by both %q and %q", s.Type, other.Name(), p.Name())
			}
			if s.Provider == "" {
				s.Provider = p.Name()
			}
			r.byType[s.Type] = p
			r.schemas[s.Type] = s
		}
	}
	return r, nil
}

// Providers lists the providers in registration order.
func (r *Registry) Providers() []Provider { return r.providers }

// Provider returns the provider implementing a resource type.
func (r *Registry) Provider(typ string) (Provider, bool) {
	p, ok := r.byType[typ]
	return p, ok
}

// Schema returns a resource type's schema.
func (r *Registry) Schema(typ string) (*schema.Resource, bool) {
	s, ok := r.schemas[typ]
	return s, ok
}

// Types lists every registered resource type, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.byType))
	for t := range r.byType {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
