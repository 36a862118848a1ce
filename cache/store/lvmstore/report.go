package lvmstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/rigplan/rigplan/internal/lvmreport"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// reportFields is the one field list every lvs call of the store asks for:
// List, Usage and Delete's check all read the same report, so one parser
// (tested on captured output, testdata/README.md) serves them all. Listed
// explicitly so that a new LVM release's defaults cannot change it.
var reportFields = []string{"lv_name", "vg_name", "lv_attr", "lv_size", "pool_lv", "origin",
	"lv_tags", "lv_time", "data_percent", "metadata_percent"}

// reportConfig pins the two report settings an lvm.conf could change under
// us: the separator inside lv_tags (tags cannot hold a comma) and lv_time's
// format (seconds since the epoch).
const reportConfig = `report{list_item_separator="," time_format="%s"}`

// lvmCmd is an LVM command that never prompts: LVM reads answers from
// stdin, which sysexec leaves empty, so any question is answered "no".
// The store never passes --yes or --force.
func (s *Store) lvmCmd(name string, args ...string) sysexec.Cmd {
	return sysexec.Cmd{Name: name, Args: args, Env: []string{"LVM_SUPPRESS_FD_WARNINGS=1"}, Timeout: s.timeout}
}

// reportCmd is the store's lvs call over the given VG or VG/LV, of the
// LVs that match selection (lvmreport(7); all when "").
func (s *Store) reportCmd(target, selection string) sysexec.Cmd {
	args := []string{"--reportformat", "json", "--units", "b", "--nosuffix",
		"--config", reportConfig, "-o", strings.Join(reportFields, ",")}
	if selection != "" {
		args = append(args, "--select", selection)
	}
	return s.lvmCmd("lvs", append(args, target)...)
}

// row is one LV of the report.
type row struct {
	Name, VG     string
	RawAttr      string // lv_attr, decoded by attr
	Size         int64
	Pool, Origin string
	Tags         []string
	Time         time.Time
	// DataPercent and MetadataPercent are set for thin pools (both) and
	// thin volumes (data only); -1 when LVM reports none.
	DataPercent, MetadataPercent float64
}

// parseReport parses the store's lvs output. lv_attr is decoded later, by
// row.attr, and only for the rows the store looks at (its snapshots, the
// default volume and its pool), so that an LV of some kind this parser
// does not know, elsewhere in the volume group, cannot make List fail.
func parseReport(out []byte) ([]row, error) {
	raw, err := lvmreport.Rows(out, "lv")
	if err != nil {
		return nil, err
	}
	rows := make([]row, 0, len(raw))
	for _, m := range raw {
		f := lvmreport.Fields{Row: m}
		x := row{Name: f.Str("lv_name"), VG: f.Str("vg_name"), Tags: f.List("lv_tags"), RawAttr: f.Str("lv_attr")}
		x.Size = f.Int("lv_size")
		x.Pool, x.Origin = f.Str("pool_lv"), f.Str("origin")
		if t := f.Int("lv_time"); t > 0 {
			x.Time = time.Unix(t, 0).UTC()
		}
		x.DataPercent, x.MetadataPercent = f.Percent("data_percent"), f.Percent("metadata_percent")
		if f.Err != nil {
			return nil, fmt.Errorf("lvs report, LV %q: %w", x.Name, f.Err)
		}
		rows = append(rows, x)
	}
	return rows, nil
}

// attr decodes the row's lv_attr.
func (x *row) attr() (lvAttr, error) {
	a, err := parseLVAttr(x.RawAttr)
	if err != nil {
		return lvAttr{}, fmt.Errorf("LV %s/%s: %w", x.VG, x.Name, err)
	}
	return a, nil
}

// lvAttr is the part of lv_attr (lvs(8), "lv_attr bits") the store reads.
type lvAttr struct {
	raw   string
	typ   byte // position 1: 'V' thin volume, 't' thin pool, …
	state byte // position 5: 'a' active, '-' inactive, …
	open  bool // position 6: open (mounted or otherwise in use)
	// health is position 9, read only for the thin pool: 'D' out of
	// data space, 'M' metadata read-only, 'F' failed. It is not
	// checked against a table: LVM adds letters here for other LV
	// types, and an unknown one must not hide a snapshot from List.
	health byte
}

// lvAttrPositions are the positions the store reads, with the values LVM
// documents for them. Anything else is an error rather than a guess.
var lvAttrPositions = []struct {
	pos     int
	name    string
	allowed string
}{
	{0, "volume type", "CmMoOgrRsSpviIlcVtTdDe-"},
	{4, "state", "ahsISmMdicCX-"},
	{5, "device open", "oX-"},
}

func parseLVAttr(s string) (lvAttr, error) {
	if len(s) != 10 {
		return lvAttr{}, fmt.Errorf("lv_attr %q: want 10 characters", s)
	}
	for _, p := range lvAttrPositions {
		if strings.IndexByte(p.allowed, s[p.pos]) < 0 {
			return lvAttr{}, fmt.Errorf("lv_attr %q: unknown %s %q at position %d", s, p.name, s[p.pos], p.pos+1)
		}
	}
	return lvAttr{raw: s, typ: s[0], state: s[4], open: s[5] == 'o', health: s[8]}, nil
}

func (a lvAttr) thinVolume() bool { return a.typ == 'V' }
func (a lvAttr) thinPool() bool   { return a.typ == 't' }
func (a lvAttr) active() bool     { return a.state == 'a' }

// needsCheck reports a thin pool whose metadata dm-thin flagged for a
// check (lvs(8): "thin-pool (c)heck needed", suspended or not).
func (a lvAttr) needsCheck() bool { return a.state == 'c' || a.state == 'C' }
