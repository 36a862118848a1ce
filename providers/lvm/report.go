package lvm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

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

// rawReport is LVM's JSON report: {"report":[{"lv":[{field: "value"}]}]}.
// Every value is a string, whatever its type.
type rawReport struct {
	Report []map[string][]map[string]string `json:"report"`
}

// rows returns the rows of the named section of a JSON report.
func rows(out []byte, section string) ([]map[string]string, error) {
	var r rawReport
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("parse LVM %s report: %w", section, err)
	}
	var all []map[string]string
	for _, part := range r.Report {
		all = append(all, part[section]...)
	}
	return all, nil
}

// fieldReader converts a row's string fields, remembering the first error.
type fieldReader struct {
	row map[string]string
	err error
}

func (f *fieldReader) str(name string) string {
	v, ok := f.row[name]
	if !ok && f.err == nil {
		f.err = fmt.Errorf("field %s missing from LVM report", name)
	}
	return v
}

func (f *fieldReader) int(name string) int64 {
	s := f.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("field %s: %q is not a number", name, s)
	}
	return n
}

func (f *fieldReader) tags(name string) []string {
	s := f.str(name)
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// parseLVs parses `lvs` output.
func parseLVs(out []byte) ([]lvRow, error) {
	raw, err := rows(out, "lv")
	if err != nil {
		return nil, err
	}
	res := make([]lvRow, 0, len(raw))
	for _, m := range raw {
		f := &fieldReader{row: m}
		r := lvRow{
			UUID: f.str("lv_uuid"), Name: f.str("lv_name"), VG: f.str("vg_name"),
			Size: f.int("lv_size"), Pool: f.str("pool_lv"), Origin: f.str("origin"), Tags: f.tags("lv_tags"),
			Major: int(f.int("lv_kernel_major")), Minor: int(f.int("lv_kernel_minor")),
			MetadataSize: f.int("lv_metadata_size"), ChunkSize: f.int("chunk_size"),
			Discards: f.str("discards"), WhenFull: f.str("lv_when_full"), Path: f.str("lv_path"), Segtype: f.str("segtype"),
		}
		attr := f.str("lv_attr")
		if f.err != nil {
			return nil, fmt.Errorf("lvs row %q: %w", r.Name, f.err)
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
	raw, err := rows(out, "vg")
	if err != nil {
		return nil, err
	}
	return vgRows(raw)
}

// parseVGsWithPVs parses `vgs -o <vgPVFields>` output: one row per PV,
// the group's fields repeated on each. It returns each group once and
// every PV.
func parseVGsWithPVs(out []byte) ([]vgRow, []pvRow, error) {
	raw, err := rows(out, "vg")
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

func vgRows(raw []map[string]string) ([]vgRow, error) {
	res := make([]vgRow, 0, len(raw))
	for _, m := range raw {
		f := &fieldReader{row: m}
		r := vgRow{
			Name: f.str("vg_name"), UUID: f.str("vg_uuid"), Size: f.int("vg_size"), Free: f.int("vg_free"),
			ExtentSize: f.int("vg_extent_size"), Tags: f.tags("vg_tags"),
			LVCount: int(f.int("lv_count")), PVCount: int(f.int("pv_count")), Attr: f.str("vg_attr"),
		}
		if f.err != nil {
			return nil, fmt.Errorf("vgs row %q: %w", r.Name, f.err)
		}
		res = append(res, r)
	}
	return res, nil
}

// parsePVs parses `pvs` output.
func parsePVs(out []byte) ([]pvRow, error) {
	raw, err := rows(out, "pv")
	if err != nil {
		return nil, err
	}
	return pvRows(raw)
}

func pvRows(raw []map[string]string) ([]pvRow, error) {
	res := make([]pvRow, 0, len(raw))
	for _, m := range raw {
		f := &fieldReader{row: m}
		r := pvRow{
			Name: f.str("pv_name"), UUID: f.str("pv_uuid"), VG: f.str("vg_name"),
			Size: f.int("pv_size"), DevSize: f.int("dev_size"), PECount: f.int("pv_pe_count"), PEAlloc: f.int("pv_pe_alloc_count"),
			Major: int(f.int("pv_major")), Minor: int(f.int("pv_minor")), Attr: f.str("pv_attr"),
		}
		if f.err != nil {
			return nil, fmt.Errorf("pvs row %q: %w", r.Name, f.err)
		}
		res = append(res, r)
	}
	return res, nil
}
