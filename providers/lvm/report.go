package lvm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rigplan/rigplan/internal/lvmreport"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// The report commands. Fields are listed explicitly so that a new LVM
// release with different defaults cannot change what we parse; sizes come
// in bytes without a suffix. `lvs` without -a: hidden LVs (pool data and
// metadata, the metadata spare) are LVM's business, not the operator's.
var (
	lvFields = []string{"lv_uuid", "lv_name", "vg_name", "lv_attr", "lv_size", "pool_lv", "origin", "lv_tags",
		"lv_kernel_major", "lv_kernel_minor", "lv_metadata_size", "chunk_size", "discards", "lv_when_full", "lv_path", "segtype"}
	vgFields = []string{"vg_name", "vg_uuid", "vg_size", "vg_free", "vg_extent_size", "vg_tags", "lv_count", "pv_count", "vg_attr"}
	pvFields = []string{"pv_name", "pv_uuid", "vg_name", "pv_size", "dev_size", "pv_pe_count", "pv_pe_alloc_count", "pv_major", "pv_minor", "pv_attr"}
	// vgPVFields are what apply reads back after changing a group: vgs
	// reports PV fields too, one row per PV, so the group and its devices
	// come from a single call.
	vgPVFields = append(append([]string(nil), vgFields...), slices.DeleteFunc(slices.Clone(pvFields), func(f string) bool { return f == "vg_name" })...)
)

// reportCmd is one of the report commands, optionally narrowed to one VG
// or LV (apply reads back only what it changed).
func reportCmd(name string, fields []string, args ...string) sysexec.Cmd {
	return lvmCmd(name, append([]string{"--reportformat", "json", "--units", "b", "--nosuffix", "-o", strings.Join(fields, ",")}, args...)...)
}

// lvRow is one line of `lvs`.
type lvRow struct {
	UUID, Name, VG string
	Attr           lvAttr
	Size           int64
	Pool, Origin   string
	Tags           []string
	Major, Minor   int // -1 when not active
	MetadataSize   int64
	ChunkSize      int64
	Discards       string
	WhenFull       string
	Path           string
	Segtype        string
}

// ID is the LV as LVM commands name it: "vg/lv".
func (r *lvRow) ID() string { return r.VG + "/" + r.Name }

// vgRow is one line of `vgs`.
type vgRow struct {
	Name, UUID       string
	Size, Free       int64
	ExtentSize       int64
	Tags             []string
	LVCount, PVCount int
	Attr             string
}

// pvRow is one line of `pvs`.
type pvRow struct {
	Name, UUID, VG string
	Size, DevSize  int64
	PECount        int64
	PEAlloc        int64
	Major, Minor   int
	Attr           string
}

// parseLVs parses `lvs` output.
func parseLVs(out []byte) ([]lvRow, error) {
	raw, err := lvmreport.Rows(out, "lv")
	if err != nil {
		return nil, err
	}
	res := make([]lvRow, 0, len(raw))
	for _, m := range raw {
		f := &lvmreport.Fields{Row: m}
		r := lvRow{
			UUID: f.Str("lv_uuid"), Name: f.Str("lv_name"), VG: f.Str("vg_name"),
			Size: f.Int("lv_size"), Pool: f.Str("pool_lv"), Origin: f.Str("origin"), Tags: f.List("lv_tags"),
			Major: int(f.Int("lv_kernel_major")), Minor: int(f.Int("lv_kernel_minor")),
			MetadataSize: f.Int("lv_metadata_size"), ChunkSize: f.Int("chunk_size"),
			Discards: f.Str("discards"), WhenFull: f.Str("lv_when_full"), Path: f.Str("lv_path"), Segtype: f.Str("segtype"),
		}
		attr := f.Str("lv_attr")
		if f.Err != nil {
			return nil, fmt.Errorf("lvs row %q: %w", r.Name, f.Err)
		}
		if r.Attr, err = parseLVAttr(attr); err != nil {
			return nil, fmt.Errorf("lvs row %s/%s: %w", r.VG, r.Name, err)
		}
		res = append(res, r)
	}
	return res, nil
}

// parseVGs parses `vgs` output.
func parseVGs(out []byte) ([]vgRow, error) {
	raw, err := lvmreport.Rows(out, "vg")
	if err != nil {
		return nil, err
	}
	return vgRows(raw)
}

// parseVGsWithPVs parses `vgs -o <vgPVFields>` output: one row per PV,
// the group's fields repeated on each. It returns each group once and
// every PV.
func parseVGsWithPVs(out []byte) ([]vgRow, []pvRow, error) {
	raw, err := lvmreport.Rows(out, "vg")
	if err != nil {
		return nil, nil, err
	}
	vgs, err := vgRows(raw)
	if err != nil {
		return nil, nil, err
	}
	pvs, err := pvRows(raw)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	vgs = slices.DeleteFunc(vgs, func(r vgRow) bool {
		dup := seen[r.Name]
		seen[r.Name] = true
		return dup
	})
	return vgs, pvs, nil
}

func vgRows(raw []lvmreport.Row) ([]vgRow, error) {
	res := make([]vgRow, 0, len(raw))
	for _, m := range raw {
		f := &lvmreport.Fields{Row: m}
		r := vgRow{
			Name: f.Str("vg_name"), UUID: f.Str("vg_uuid"), Size: f.Int("vg_size"), Free: f.Int("vg_free"),
			ExtentSize: f.Int("vg_extent_size"), Tags: f.List("vg_tags"),
			LVCount: int(f.Int("lv_count")), PVCount: int(f.Int("pv_count")), Attr: f.Str("vg_attr"),
		}
		if f.Err != nil {
			return nil, fmt.Errorf("vgs row %q: %w", r.Name, f.Err)
		}
		res = append(res, r)
	}
	return res, nil
}

// parsePVs parses `pvs` output.
func parsePVs(out []byte) ([]pvRow, error) {
	raw, err := lvmreport.Rows(out, "pv")
	if err != nil {
		return nil, err
	}
	return pvRows(raw)
}

func pvRows(raw []lvmreport.Row) ([]pvRow, error) {
	res := make([]pvRow, 0, len(raw))
	for _, m := range raw {
		f := &lvmreport.Fields{Row: m}
		r := pvRow{
			Name: f.Str("pv_name"), UUID: f.Str("pv_uuid"), VG: f.Str("vg_name"),
			Size: f.Int("pv_size"), DevSize: f.Int("dev_size"), PECount: f.Int("pv_pe_count"), PEAlloc: f.Int("pv_pe_alloc_count"),
			Major: int(f.Int("pv_major")), Minor: int(f.Int("pv_minor")), Attr: f.Str("pv_attr"),
		}
		if f.Err != nil {
			return nil, fmt.Errorf("pvs row %q: %w", r.Name, f.Err)
		}
		res = append(res, r)
	}
	return res, nil
}
