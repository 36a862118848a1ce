package lvmtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/lvmtag"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/planner"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/providers/lvm"
	"github.com/rigplan/rigplan/schema"
)

// A benchmark host is real LVM in the test kernel: a group, a thin pool
// and `managed` thin volumes carrying rigplan's marks for the config's
// `volume "v"` instances, plus `unmanaged` thin volumes rigplan does not
// manage, all active, each holding the same xfs filesystem.
//
// Making 1,000 thin volumes one lvcreate at a time costs 0.5–1 s each in
// the test kernel (every LVM command starts, scans and commits). Instead
// rigplan itself applies a config with one volume, and the others are
// written in two steps that cost seconds whatever their number:
//
//   - the pool's kernel metadata: thin_dump, one <device> per new volume
//     mapping the first volume's blocks (so each holds its filesystem),
//     the transaction id raised by one, thin_restore;
//   - the group's LVM metadata: vgcfgbackup, one LV block per new volume
//     (thin, in the pool, with its device id), the pool's transaction id
//     raised by one to match, vgcfgrestore --force.
//
// vgchange -ay then activates everything, as after a reboot. Measured in
// the test kernel: about 45 s for 1,000 LVs, of which vgchange -ay is
// 15 s; lvcreate would take 10–15 minutes.
const (
	benchVG   = "rigbench"
	benchPool = "cache"
)

// benchConfig is the configuration planned: one group, one pool, and a
// volume per key.
func benchConfig(disk string, keys []string) []byte {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = strconv.Quote(k)
	}
	return fmt.Appendf(nil, `
locals {
  keys = [%s]
}

volume_group "bench" {
  name    = %q
  devices = [%q]
}

thin_pool "cache" {
  volume_group  = volume_group.bench.name
  name          = %q
  size          = "4G"
  # Room for the mappings of a thousand volumes that share no btree
  # (thin_restore writes each device's mappings out in full).
  metadata_size = "256M"
}

volume "v" {
  for_each   = toset(local.keys)
  thin_pool  = thin_pool.cache.id
  name       = "v-${each.key}"
  size       = "1G"
  filesystem = "xfs"
  uid        = 1000
  gid        = 1000
}
`, strings.Join(quoted, ", "), benchVG, disk, benchPool)
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%04d", i)
	}
	return keys
}

// loadBench parses a bench configuration against a fresh registry around
// run, as one CLI run does.
func loadBench(tb testing.TB, src []byte, run sysexec.Runner) *planner.Engine {
	tb.Helper()
	reg, err := providers.NewRegistry(lvm.New(run, lvm.Options{TempDir: tb.TempDir()}))
	if err != nil {
		tb.Fatal(err)
	}
	cfg, diags := schema.LoadSources(".", map[string][]byte{"main.hcl": src}, reg)
	if diags.HasErrors() {
		tb.Fatal(errs(diags))
	}
	vars, diags := cfg.InputValues(nil, nil, false)
	if diags.HasErrors() {
		tb.Fatal(errs(diags))
	}
	e, diags := planner.New(cfg, reg, vars)
	if diags.HasErrors() {
		tb.Fatal(errs(diags))
	}
	return e
}

type quietHooks struct{}

func (quietHooks) PreApply(schema.Address, providers.Action, string)                {}
func (quietHooks) PostApply(schema.Address, providers.Action, error, time.Duration) {}

// buildBenchHost makes the host described above on disk.
func buildBenchHost(tb testing.TB, disk string, managed, unmanaged int) {
	tb.Helper()
	ctx := context.Background()
	sh := func(name string, args ...string) string {
		tb.Helper()
		res, err := sysexec.Host{}.Run(ctx, sysexec.Cmd{Name: name, Args: args, Env: []string{"LVM_SUPPRESS_FD_WARNINGS=1"}})
		if err != nil {
			tb.Fatal(err)
		}
		return string(res.Stdout)
	}
	// LVM's default metadata area (1 MiB) is too small for the text of
	// a thousand LVs; the group is made on a PV with room (rigplan takes
	// an unused PV as it is).
	sh("pvcreate", "-q", "--metadatasize", "32m", disk)
	e := loadBench(tb, benchConfig(disk, benchKeys(1)), sysexec.Host{})
	plan, diags := e.Plan(ctx, planner.Options{})
	if diags.HasErrors() {
		tb.Fatal(errs(diags))
	}
	if _, diags := e.Apply(ctx, plan, quietHooks{}); diags.HasErrors() {
		tb.Fatal(errs(diags))
	}
	if managed+unmanaged <= 1 {
		return
	}

	dir := tb.TempDir()
	meta := benchVG + "-" + benchPool + "_tmeta"
	table := strings.TrimSpace(sh("dmsetup", "table", meta))
	sh("vgchange", "-q", "-an", benchVG)
	const copyDev = "rigbench-meta-copy"
	sh("dmsetup", "create", copyDev, "--table", table)
	dump := sh("thin_dump", "/dev/mapper/"+copyDev)
	xml, tid, first, err := addThinDevices(dump, managed+unmanaged-1)
	if err != nil {
		tb.Fatal(err)
	}
	xmlFile := filepath.Join(dir, "thin.xml")
	if err := os.WriteFile(xmlFile, []byte(xml), 0o600); err != nil {
		tb.Fatal(err)
	}
	sh("thin_restore", "-q", "-i", xmlFile, "-o", "/dev/mapper/"+copyDev)
	sh("dmsetup", "remove", copyDev)

	backup := filepath.Join(dir, "vg.txt")
	sh("vgcfgbackup", "-q", "-f", backup, benchVG)
	text, err := os.ReadFile(backup)
	if err != nil {
		tb.Fatal(err)
	}
	var lvs []benchLV
	for i := 1; i < managed; i++ {
		addr := fmt.Sprintf(`volume.v[%q]`, benchKeys(managed)[i])
		lvs = append(lvs, benchLV{name: "v-" + benchKeys(managed)[i], addrTag: "rigplan:addr:" + lvmtag.Encode(addr)})
	}
	for i := 0; i < unmanaged; i++ {
		lvs = append(lvs, benchLV{name: fmt.Sprintf("job-%04d", i)})
	}
	for i := range lvs {
		lvs[i].deviceID = first + i
	}
	edited, err := addLVs(string(text), "v-"+benchKeys(1)[0], lvs, tid)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(backup, []byte(edited), 0o600); err != nil {
		tb.Fatal(err)
	}
	sh("vgcfgrestore", "-q", "--force", "-f", backup, benchVG)
	sh("vgchange", "-q", "-ay", benchVG)
	// Inactive, a thousand thin LVs go with the harness's vgremove in a
	// second; active, deactivating them one by one outlasts its time
	// limit. (Cleanups run last registered first: before the harness's.)
	tb.Cleanup(func() {
		if _, err := (sysexec.Host{}).Run(ctx, sysexec.Cmd{Name: "vgchange", Args: []string{"-q", "-an", benchVG}, Env: []string{"LVM_SUPPRESS_FD_WARNINGS=1"}}); err != nil {
			tb.Error(err)
		}
	})
}

// benchLV is one LV added to the group's metadata.
type benchLV struct {
	name     string
	addrTag  string // "" for a volume rigplan does not manage
	deviceID int
}

var (
	deviceRE      = regexp.MustCompile(`(?s)<device dev_id="(\d+)"([^>]*)>(.*?)</device>\n`)
	transactionRE = regexp.MustCompile(`(<superblock [^>]*transaction=")(\d+)(")`)
)

// addThinDevices adds n devices to a thin_dump of a pool holding one,
// each mapping the same blocks as that one, and raises the pool's
// transaction id. It returns the new dump, the new transaction id and the
// first new device id.
func addThinDevices(dump string, n int) (xml string, tid, first int, err error) {
	devs := deviceRE.FindAllStringSubmatch(dump, -1)
	tm := transactionRE.FindStringSubmatch(dump)
	if len(devs) != 1 || tm == nil {
		return "", 0, 0, fmt.Errorf("thin_dump holds %d devices, want the one volume rigplan made:\n%s", len(devs), dump)
	}
	id, _ := strconv.Atoi(devs[0][1])
	tid, _ = strconv.Atoi(tm[2])
	tid++
	var b strings.Builder
	b.WriteString(devs[0][0])
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "<device dev_id=\"%d\"%s>%s</device>\n", id+i, devs[0][2], devs[0][3])
	}
	xml = strings.Replace(dump, devs[0][0], b.String(), 1)
	xml = transactionRE.ReplaceAllString(xml, "${1}"+strconv.Itoa(tid)+"${3}")
	return xml, tid, id + 1, nil
}

var (
	poolTIDRE = regexp.MustCompile(`(type = "thin-pool"[^}]*?transaction_id = )(\d+)`)
	tagsRE    = regexp.MustCompile(`tags = \[([^\]]*)\]`)
)

// addLVs adds thin LVs to a group's metadata text, modelled on the LV
// template (rigplan's first volume): same size, pool and tags except the
// address. The pool's transaction id becomes tid.
func addLVs(text, template string, lvs []benchLV, tid int) (string, error) {
	start := strings.Index(text, "\t\t"+template+" {\n")
	if start < 0 {
		return "", fmt.Errorf("no LV %s in the metadata:\n%s", template, text)
	}
	end := strings.Index(text[start:], "\n\t\t}\n")
	if end < 0 {
		return "", fmt.Errorf("LV %s does not end in the metadata", template)
	}
	block := text[start : start+end+len("\n\t\t}\n")]
	tags := tagsRE.FindStringSubmatch(block)
	if tags == nil || !strings.Contains(block, "device_id = ") {
		return "", fmt.Errorf("LV %s has no tags or no device id:\n%s", template, block)
	}
	var keep []string
	for _, t := range strings.Split(tags[1], ", ") {
		if !strings.HasPrefix(t, `"rigplan:addr:`) {
			keep = append(keep, t)
		}
	}
	idRE := regexp.MustCompile(`id = "[^"]*"`)
	devRE := regexp.MustCompile(`device_id = \d+`)
	var b strings.Builder
	for i, lv := range lvs {
		t := "tags = []"
		if lv.addrTag != "" {
			t = "tags = [" + strings.Join(append([]string{strconv.Quote(lv.addrTag)}, keep...), ", ") + "]"
		}
		nb := strings.Replace(block, "\t\t"+template+" {", "\t\t"+lv.name+" {", 1)
		nb = idRE.ReplaceAllString(nb, `id = "`+lvmID(i)+`"`)
		nb = tagsRE.ReplaceAllLiteralString(nb, t)
		nb = devRE.ReplaceAllString(nb, "device_id = "+strconv.Itoa(lv.deviceID))
		b.WriteString("\n" + nb)
	}
	text = text[:start+end+len("\n\t\t}\n")] + b.String() + text[start+end+len("\n\t\t}\n"):]
	if !poolTIDRE.MatchString(text) {
		return "", fmt.Errorf("no thin pool transaction id in the metadata")
	}
	return poolTIDRE.ReplaceAllString(text, "${1}"+strconv.Itoa(tid)), nil
}

// lvmID is a distinct LVM identifier (32 characters in LVM's 6-4-4-4-4-4-6
// grouping).
func lvmID(i int) string {
	s := fmt.Sprintf("rigbench%024d", i)
	return s[0:6] + "-" + s[6:10] + "-" + s[10:14] + "-" + s[14:18] + "-" + s[18:22] + "-" + s[22:26] + "-" + s[26:32]
}

// countLVs is the number of LVs lvs lists (hidden ones are not listed).
func countLVs(tb testing.TB) int {
	tb.Helper()
	res, err := sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: "lvs", Args: []string{"--noheadings", "-o", "lv_name"}})
	if err != nil {
		tb.Fatal(err)
	}
	return len(strings.Fields(string(res.Stdout)))
}
