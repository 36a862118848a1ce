package lvm

import (
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/bytesize"
)

// This file turns report rows into resource states. Where the desired
// config spells a value differently but means what the host has ("1024M"
// for 1 GiB, a /dev/disk/by-id link for /dev/sdb), the state keeps the
// config's spelling, so that an applied config never shows a diff.

// attr returns a known, non-null attribute of a config, or a null value.
func attr(cfg cty.Value, name string) cty.Value {
	if cfg == cty.NilVal || cfg.IsNull() || !cfg.IsKnown() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute(name) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	v := cfg.GetAttr(name)
	if !v.IsKnown() {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return v
}

// knownString returns a config attribute's string, if known and set.
func knownString(cfg cty.Value, name string) (string, bool) {
	v := attr(cfg, name)
	if v.IsNull() || !v.Type().Equals(cty.String) {
		return "", false
	}
	return v.AsString(), true
}

// spellSize reports actual bytes in the config's spelling when the config
// asks for a size that round maps to actual, else in canonical form.
func spellSize(actual int64, cfg cty.Value, name string, round func(int64) int64) cty.Value {
	if s, ok := knownString(cfg, name); ok {
		if n, err := bytesize.Parse(s); err == nil && round(n) == actual {
			return cty.StringVal(s)
		}
	}
	return cty.StringVal(bytesize.Format(actual))
}

func exact(n int64) int64 { return n }

// stringSet makes a set of strings; an empty one for none.
func stringSet(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.SetValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.SetVal(vals)
}

func stringList(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

// stringsOf lists the known strings of a set or list value.
func stringsOf(v cty.Value) []string {
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsSetType() || v.Type().IsListType()) {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsKnown() && !e.IsNull() {
			out = append(out, e.AsString())
		}
	}
	return out
}

// vgState is a volume_group's state. devName maps each PV to the name the
// config uses for the same device.
func vgState(vg *vgRow, pvs []*pvRow, cfg cty.Value, devName func(*pvRow) string) cty.Value {
	devs := make([]string, 0, len(pvs))
	for _, pv := range pvs {
		devs = append(devs, devName(pv))
	}
	sort.Strings(devs)
	return cty.ObjectVal(map[string]cty.Value{
		"name":        cty.StringVal(vg.Name),
		"devices":     stringSet(devs),
		"extent_size": spellSize(vg.ExtentSize, cfg, "extent_size", exact),
		"tags":        stringSet(parseMarks(vg.Tags).User),
		"id":          cty.StringVal(vg.Name),
		"uuid":        cty.StringVal(vg.UUID),
		"size":        cty.StringVal(bytesize.Format(vg.Size)),
	})
}

// poolState is a thin_pool's state.
func poolState(lv *lvRow, extent int64, cfg cty.Value) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"volume_group":    cty.StringVal(lv.VG),
		"name":            cty.StringVal(lv.Name),
		"size":            spellSize(lv.Size, cfg, "size", func(n int64) int64 { return lvBytes(n, extent) }),
		"metadata_size":   spellSize(lv.MetadataSize, cfg, "metadata_size", func(n int64) int64 { return metadataBytes(n, extent) }),
		"chunk_size":      spellSize(lv.ChunkSize, cfg, "chunk_size", exact),
		"discards":        cty.StringVal(lv.Discards),
		"error_when_full": cty.BoolVal(lv.WhenFull == "error"),
		"tags":            stringSet(parseMarks(lv.Tags).User),
		"id":              cty.StringVal(lv.ID()),
	})
}

// volumeFacts is what a volume's state needs beyond its lvs row.
type volumeFacts struct {
	extent int64
	// fs is the filesystem read from the superblock; fsKnown is false when
	// it could not be read (inactive LV), and the config's value is used.
	fs      string
	fsKnown bool
}

// volumeState is a volume's state.
func volumeState(lv *lvRow, f volumeFacts, cfg cty.Value) cty.Value {
	m := parseMarks(lv.Tags)
	size := spellSize(lv.Size, cfg, "size", func(n int64) int64 { return lvBytes(n, f.extent) })
	if m.GrowFrom > 0 {
		// A grow did not finish: the filesystem is still this small.
		size = cty.StringVal(bytesize.Format(m.GrowFrom))
	}
	fs := cty.NullVal(cty.String)
	switch {
	case f.fsKnown && f.fs != "":
		fs = cty.StringVal(f.fs)
	case !f.fsKnown:
		if s, ok := knownString(cfg, "filesystem"); ok {
			fs = cty.StringVal(s)
		}
	}
	uid, gid := cty.NullVal(cty.Number), cty.NullVal(cty.Number)
	if m.HasOwner {
		uid, gid = cty.NumberIntVal(m.UID), cty.NumberIntVal(m.GID)
	}
	mode := cty.NullVal(cty.String)
	if m.Mode != "" {
		mode = cty.StringVal(m.Mode)
		if s, ok := knownString(cfg, "mode"); ok {
			if a, err1 := parseMode(s); err1 == nil {
				if b, err2 := parseMode(m.Mode); err2 == nil && a == b {
					mode = cty.StringVal(s)
				}
			}
		}
	}
	return cty.ObjectVal(map[string]cty.Value{
		"thin_pool":    cty.StringVal(lv.VG + "/" + lv.Pool),
		"name":         cty.StringVal(lv.Name),
		"size":         size,
		"filesystem":   fs,
		"mkfs_options": mkfsState(m, cfg),
		"uid":          uid,
		"gid":          gid,
		"mode":         mode,
		"tags":         stringSet(m.User),
		"id":           cty.StringVal(lv.ID()),
		"path":         cty.StringVal("/dev/" + lv.VG + "/" + lv.Name),
		"uuid":         cty.StringVal(lv.UUID),
	})
}

// mkfsState reports the mkfs options recorded in a volume's tag. A hashed
// record matches the config's options or is reported as the hash itself,
// which differs from any config and so plans the replacement.
func mkfsState(m marks, cfg cty.Value) cty.Value {
	if !m.HasMkfs {
		return cty.ListValEmpty(cty.String)
	}
	if opts, ok := decodeMkfs(m.Mkfs); ok {
		return stringList(opts)
	}
	if want := attr(cfg, "mkfs_options"); !want.IsNull() && want.IsWhollyKnown() && encodeMkfs(stringsOf(want)) == m.Mkfs {
		return want
	}
	return stringList([]string{m.Mkfs})
}
