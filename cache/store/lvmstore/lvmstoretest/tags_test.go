package lvmstoretest

import (
	"slices"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/storetest"
	"github.com/rigplan/rigplan/internal/lvmtag"
)

// The tags on the LVs are the documented scheme, readable with plain lvs:
// an operator (or the original setup's script) can see which snapshot
// holds what.
func TestTagsAsLVMShowsThem(t *testing.T) {
	e := setup(t, "xfs", "4G", 0)
	s := e.store
	sn, err := s.Create(bg, "default", "c1", "runner-1", []string{"refs/heads/feature/x", "ü", storetest.LongTerm})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Mount(bg, "c1", dir); err != nil {
		t.Fatal(err)
	}
	defer s.Unmount(bg, dir)
	if err := s.SetState(bg, "c1", store.InUse); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Copy(bg, "c1", dir, "c2", "runner-1", []string{"linux"}); err != nil {
		t.Fatal(err)
	}

	got := lvs(t)
	hashed := lvmtag.EncodeTerm(storetest.LongTerm, 96)
	if !strings.HasPrefix(hashed, "0123456789abcdef") || !lvmtag.IsHashed(hashed) || len(hashed) != 96 {
		t.Fatalf("the long term encodes to %q", hashed)
	}
	want := []string{
		"friend:cache:&C3&BC",
		"friend:cache:" + hashed,
		"friend:cache:refs/heads/feature/x",
		"friend:created:" + sn.Created.Format("2006-01-02T15:04:05.999999999Z"),
		"friend:machine:runner-1",
		"friend:snapshot",
		"friend:state:in-use",
		lvmtag.CacheSnapshot, // LVM sorts tags: "r" after "f"
	}
	if tags := strings.Split(got["c1"].Tags, ","); !slices.Equal(tags, want) {
		t.Errorf("c1 tags\n%q\nwant\n%q", tags, want)
	}
	for _, tag := range strings.Split(got["c1"].Tags, ",") {
		if len(tag) > lvmtag.MaxTagLen {
			t.Errorf("tag %q is %d bytes, over %d", tag, len(tag), lvmtag.MaxTagLen)
		}
	}
	// Created active (a) yet with activation skip (k): not activated at boot.
	if a := got["c1"].Attr; a[0] != 'V' || a[4] != 'a' || a[5] != 'o' || a[9] != 'k' {
		t.Errorf("c1 lv_attr %q, want an open active thin volume with activation skip", a)
	}
	// The copy: sealed, inactive, a snapshot of c1.
	c2 := got["c2"]
	if a := c2.Attr; a[4] != '-' || a[9] != 'k' || c2.Origin != "c1" || !strings.Contains(c2.Tags, "friend:state:sealed") {
		t.Errorf("c2 = %+v, want an inactive sealed snapshot of c1 with activation skip", c2)
	}
	if l := byName(t, s)["c1"]; !slices.Contains(l.Annotations, hashed) || !slices.Contains(l.Annotations, "ü") {
		t.Errorf("List gives c1 annotations %q, want the hashed form %q and ü", l.Annotations, hashed)
	}
	if s.Term(storetest.LongTerm) != hashed {
		t.Errorf("Term(long) = %q, want %q", s.Term(storetest.LongTerm), hashed)
	}
}
