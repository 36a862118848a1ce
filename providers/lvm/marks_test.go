package lvm

import (
	"strings"
	"testing"

	"github.com/rigplan/rigplan/internal/lvmtag"
)

func TestParseMarksCaptured(t *testing.T) {
	lvs, err := parseLVs(readTestdata(t, "lvs.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]marks{}
	for _, r := range lvs {
		got[r.ID()] = parseMarks(r.Tags)
	}
	def := got["vg0/default"]
	if !def.owns() || def.Addr.String() != "volume.default" || !def.HasOwner || def.UID != 1000 || def.GID != 1000 ||
		def.Mode != "0750" || !def.HasMkfs || len(def.User) != 0 {
		t.Errorf("vg0/default marks = %+v", def)
	}
	if opts, ok := decodeMkfs(def.Mkfs); !ok || strings.Join(opts, " ") != "-m reflink=1" {
		t.Errorf("mkfs options = %q, %v", opts, ok)
	}
	node := got["vg0/node"]
	if !node.owns() || node.Addr.String() != `volume.caches["node"]` || node.GrowFrom != 512<<20 {
		t.Errorf("vg0/node marks = %+v", node)
	}
	if h := got["vg0/handmade"]; h.Managed || h.HasAddr {
		t.Errorf("vg0/handmade looks managed: %+v", h)
	}
}

func TestMarksRoundTrip(t *testing.T) {
	addr := mustAddr(t, `volume.caches["feature/ü x"]`)
	tags, err := ownTags(addr)
	if err != nil {
		t.Fatal(err)
	}
	m := parseMarks(append(tags, ownerTag(570098664, 570098664), modeTag(0o2775), "team:ci", "rigplan:cache:linux", mkfsTag([]string{"-b", "size=4096"})))
	if !m.owns() || m.Addr != addr {
		t.Errorf("address %v did not survive its tag: %+v", addr, m)
	}
	if m.UID != 570098664 || m.GID != 570098664 || m.Mode != "2775" && m.Mode != "02775" {
		t.Errorf("owner/mode = %d:%d %s", m.UID, m.GID, m.Mode)
	}
	if strings.Join(m.User, ",") != "team:ci" {
		t.Errorf("user tags = %v (another component's rigplan: tag must not be a user tag)", m.User)
	}
	if opts, ok := decodeMkfs(m.Mkfs); !ok || strings.Join(opts, "|") != "-b|size=4096" {
		t.Errorf("mkfs = %v", opts)
	}
}

func TestAddrTagTooLong(t *testing.T) {
	addr := mustAddr(t, `volume.caches["`+strings.Repeat("x", 200)+`"]`)
	if _, err := addrTag(addr); err == nil || !strings.Contains(err.Error(), "shorter for_each key") {
		t.Errorf("overlong address: %v", err)
	}
}

func TestMkfsTagHashesLongOptions(t *testing.T) {
	long := []string{"-O", strings.Repeat("metadata_csum,", 20)}
	tag := mkfsTag(long)
	if len(tag) > lvmtag.MaxTagLen || !lvmtag.IsHashed(strings.TrimPrefix(tag, tagMkfs)) {
		t.Fatalf("mkfs tag %q (%d bytes)", tag, len(tag))
	}
	if _, ok := decodeMkfs(strings.TrimPrefix(tag, tagMkfs)); ok {
		t.Error("a hashed mkfs record decoded")
	}
}
