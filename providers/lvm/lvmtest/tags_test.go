package lvmtest

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestTagsAndPoolSettingsChangeInPlace(t *testing.T) {
	e := newEnv(t)
	e.one("ext4", "100M")
	e.mustConverge()

	e.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(e.disks[0]), "tags": strs("team:ci", "site=a")})
	e.want("thin_pool.cache", "thin_pool", map[string]cty.Value{
		"volume_group": str(vg), "name": str("cache"), "size": str("2G"), "tags": strs("tier/fast"),
		"discards": str("nopassdown"), "error_when_full": cty.False,
	})
	e.want("volume.data", "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("data"), "size": str("100M"), "filesystem": str("ext4"), "tags": strs("default-origin"),
	})
	for _, addr := range []string{"volume_group.main", "thin_pool.cache", "volume.data"} {
		resp, prior := e.plan(addr)
		if len(resp.RequiresReplace) > 0 || resp.Planned.RawEquals(prior) {
			t.Errorf("%s: replace %v or no change", addr, resp.RequiresReplace)
		}
	}
	uuid := e.refresh()["volume.data"].State.GetAttr("uuid").AsString()
	e.mustConverge()
	e.assertNoDiff()
	if got := e.refresh()["volume.data"].State.GetAttr("uuid").AsString(); got != uuid {
		t.Errorf("volume replaced (uuid %s → %s) instead of retagged", uuid, got)
	}
	if out := e.sh("vgs", "--noheadings", "-o", "vg_tags", vg); !strings.Contains(out, "site=a") || !strings.Contains(out, "team:ci") || !strings.Contains(out, "rigplan:managed") {
		t.Errorf("vg tags %q", out)
	}
	pool := lvsJSON(t, e, "-o", "lv_tags,discards,lv_when_full", vg+"/cache")[0]
	if !strings.Contains(pool["lv_tags"], "tier/fast") || pool["discards"] != "nopassdown" || pool["lv_when_full"] != "queue" {
		t.Errorf("pool %v", pool)
	}

	// Removing the user tags leaves rigplan's marks alone.
	e.want("volume.data", "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("data"), "size": str("100M"), "filesystem": str("ext4"),
	})
	e.mustConverge()
	e.assertNoDiff()
	tags := lvsJSON(t, e, "-o", "lv_tags", vg+"/data")[0]["lv_tags"]
	if strings.Contains(tags, "default-origin") || !strings.Contains(tags, "rigplan:managed") || !strings.Contains(tags, "rigplan:addr:volume.data") {
		t.Errorf("volume tags %q", tags)
	}
}
