package lvmstoretest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/store"
)

// An operator lvremoves a sealed snapshot by hand while the agent still
// holds it as a candidate: Create from it is ErrNotFound (the agent then
// tries its next candidate), says which origin is gone, and leaves no LV.
func TestCreateFromRemovedOrigin(t *testing.T) {
	e := setup(t, "xfs", "4G", 0)
	s := e.store
	if _, err := s.Create(bg, "default", "sealed", "m", []string{"linux"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "sealed", store.Sealed); err != nil {
		t.Fatal(err)
	}
	sh(t, "lvremove", "-q", vg+"/sealed")

	_, err := s.Create(bg, "sealed", "next", "m", []string{"linux"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Create from an origin removed by hand: %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "origin vg0/sealed no longer exists") {
		t.Errorf("the error does not say which origin is gone: %v", err)
	}
	t.Logf("Create from an origin removed by hand (refused as expected): %v", err)
	if got := lvNames(t); !slices.Equal(got, []string{"default", "pool"}) {
		t.Errorf("the refused Create left LVs: %v", got)
	}
}
