package lvmstoretest

import (
	"testing"

	"github.com/rigplan/rigplan/cache/store/storetest"
)

// The LVM store keeps every promise of store.Store on a real thin pool
// with an xfs default volume.
func TestConformance(t *testing.T) {
	e := setup(t, "xfs", "4G", 0)
	storetest.Run(t, storetest.Env{Store: e.store, Default: "default"})
}
