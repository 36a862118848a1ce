package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/schema"
)

// This file converts between a cache's value (config or state) and the
// agent's configuration file, both ways: apply renders the file from the
// planned value, refresh reads the value back from the file.

// withBlockDefaults returns v with each absent retention or limits block
// replaced by one holding the defaults, so that a block left out of the
// configuration plans (and shows) what the agent will do, and compares
// equal to what refresh reads back.
func withBlockDefaults(res *schema.Resource, v cty.Value) cty.Value {
	if v.IsNull() || !v.IsKnown() {
		return v
	}
	m := v.AsValueMap()
	for _, name := range []string{"retention", "limits"} {
		if b := m[name]; b.IsNull() {
			m[name] = blockDefaults(res.Block(name))
		}
	}
	return cty.ObjectVal(m)
}

// blockDefaults is a block with every attribute at its default.
func blockDefaults(b *schema.Block) cty.Value {
	m := make(map[string]cty.Value, len(b.Attributes))
	for _, a := range b.Attributes {
		if a.Default != cty.NilVal {
			m[a.Name] = a.Default
		} else {
			m[a.Name] = cty.NullVal(a.Type)
		}
	}
	return cty.ObjectVal(m)
}

// fileConfig renders the agent's configuration from a wholly known value
// whose blocks carry their defaults (withBlockDefaults).
func fileConfig(name string, v cty.Value) (agent.FileConfig, error) {
	fc := agent.FileConfig{
		Name:          name,
		Socket:        v.GetAttr("socket").AsString(),
		SocketDirMode: v.GetAttr("socket_directory_mode").AsString(),
		Commit:        agent.CommitPolicy(v.GetAttr("commit").AsString()),
		Machines:      map[string][]string{},
	}
	for k, prefixes := range v.GetAttr("machines").AsValueMap() {
		list := []string{}
		for _, p := range prefixes.AsValueSlice() {
			list = append(list, p.AsString())
		}
		fc.Machines[k] = list
	}
	switch lvm, btrfs := v.GetAttr("lvm_store"), v.GetAttr("btrfs_store"); {
	case !lvm.IsNull():
		fc.Store = agent.StoreFile{
			Type:      "lvm",
			Default:   lvm.GetAttr("default_volume").AsString(),
			Namespace: lvm.GetAttr("tag_namespace").AsString(),
		}
		for _, o := range lvm.GetAttr("mount_options").AsValueSlice() {
			fc.Store.MountOptions = append(fc.Store.MountOptions, o.AsString())
		}
	case !btrfs.IsNull():
		fc.Store = agent.StoreFile{
			Type:    "btrfs",
			Dir:     btrfs.GetAttr("directory").AsString(),
			Default: btrfs.GetAttr("default_subvolume").AsString(),
		}
		if q := btrfs.GetAttr("quota"); !q.IsNull() {
			n, err := bytesize.Parse(q.AsString())
			if err != nil {
				return fc, fmt.Errorf("btrfs_store.quota: %w", err)
			}
			fc.Store.Quota = n
		}
	default:
		return fc, fmt.Errorf("no store: add an lvm_store or a btrfs_store block")
	}

	var err error
	r := v.GetAttr("retention")
	fc.Retention.KeepPerSet = intAttr(r, "keep_per_set")
	fc.Retention.DataHighPercent = floatAttr(r, "data_high_percent")
	fc.Retention.DataLowPercent = floatAttr(r, "data_low_percent")
	fc.Retention.MetadataHighPercent = floatAttr(r, "metadata_high_percent")
	fc.Retention.MetadataLowPercent = floatAttr(r, "metadata_low_percent")
	if fc.Retention.MaxAge, err = durationAttr(r, "max_age", true); err != nil {
		return fc, err
	}
	interval, err := durationAttr(r, "interval", true)
	if err != nil {
		return fc, err
	}
	if interval == 0 {
		interval = agent.Duration(-time.Second) // the agent's "off"
	}
	fc.Retention.Interval = interval

	l := v.GetAttr("limits")
	fc.Limits.MaxRequestBytes = intAttr(l, "max_request_bytes")
	fc.Limits.MaxConcurrentCreates = intAttr(l, "max_concurrent_creates")
	fc.Limits.MaxConnections = intAttr(l, "max_connections")
	fc.Limits.MaxConnectionsPerPeer = intAttr(l, "max_connections_per_peer")
	fc.Limits.MaxInUsePerMachine = intAttr(l, "max_in_use_per_machine")
	fc.Limits.MaxAnnotationBytes = intAttr(l, "max_annotation_bytes")
	fc.Limits.MaxListingsPerMachine = intAttr(l, "max_listings_per_machine")
	for _, d := range []struct {
		name string
		into *agent.Duration
	}{
		{"read_timeout", &fc.Limits.ReadTimeout}, {"first_byte_timeout", &fc.Limits.FirstByteTimeout}, {"write_timeout", &fc.Limits.WriteTimeout},
		{"request_timeout", &fc.Limits.RequestTimeout}, {"seal_wait", &fc.Limits.SealWait},
	} {
		if *d.into, err = durationAttr(l, d.name, false); err != nil {
			return fc, err
		}
	}
	return fc, nil
}

func intAttr(obj cty.Value, name string) int {
	n, _ := wholeNumber(obj.GetAttr(name))
	return int(n)
}

func floatAttr(obj cty.Value, name string) float64 {
	f, _ := obj.GetAttr(name).AsBigFloat().Float64()
	return f
}

func durationAttr(obj cty.Value, name string, allowOff bool) (agent.Duration, error) {
	d, err := parseDuration(obj.GetAttr(name).AsString(), allowOff)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return agent.Duration(d), nil
}

// renderConfig is the configuration file's content: indented JSON, keys
// in a fixed order, so that the same value always gives the same bytes.
func renderConfig(fc agent.FileConfig) ([]byte, error) {
	b, err := json.MarshalIndent(fc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// parseConfig reads a configuration file as the agent does: unknown
// fields are an error.
func parseConfig(b []byte) (agent.FileConfig, error) {
	var fc agent.FileConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return fc, err
	}
	if dec.More() {
		return fc, fmt.Errorf("more than one JSON value")
	}
	return fc, nil
}

// configAttrs reads the attributes a configuration file determines, as
// the agent will understand them: a field left out is the agent's
// default, so the value says what the agent does.
func configAttrs(res *schema.Resource, fc agent.FileConfig) (map[string]cty.Value, error) {
	m := map[string]cty.Value{
		"socket":                cty.StringVal(orDefault(fc.Socket, agent.DefaultSocket)),
		"socket_directory_mode": cty.StringVal(orDefault(fc.SocketDirMode, fmt.Sprintf("%04o", agent.DefaultSocketDirMode))),
		"commit":                cty.StringVal(orDefault(string(fc.Commit), string(agent.CommitOnExit))),
		"lvm_store":             cty.NullVal(res.ImpliedType().AttributeType("lvm_store")),
		"btrfs_store":           cty.NullVal(res.ImpliedType().AttributeType("btrfs_store")),
	}
	machines := map[string]cty.Value{}
	names := make([]string, 0, len(fc.Machines))
	for k := range fc.Machines {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		list := make([]cty.Value, 0, len(fc.Machines[k]))
		for _, p := range fc.Machines[k] {
			list = append(list, cty.StringVal(p))
		}
		if len(list) == 0 {
			machines[k] = cty.ListValEmpty(cty.String)
		} else {
			machines[k] = cty.ListVal(list)
		}
	}
	if len(machines) == 0 {
		m["machines"] = cty.MapValEmpty(cty.List(cty.String))
	} else {
		m["machines"] = cty.MapVal(machines)
	}

	switch fc.Store.Type {
	case "lvm":
		opts := cty.ListValEmpty(cty.String)
		if len(fc.Store.MountOptions) > 0 {
			vals := make([]cty.Value, len(fc.Store.MountOptions))
			for i, o := range fc.Store.MountOptions {
				vals[i] = cty.StringVal(o)
			}
			opts = cty.ListVal(vals)
		}
		m["lvm_store"] = cty.ObjectVal(map[string]cty.Value{
			"default_volume": cty.StringVal(fc.Store.Default),
			"tag_namespace":  cty.StringVal(orDefault(fc.Store.Namespace, lvmstore.DefaultNamespace)),
			"mount_options":  opts,
		})
	case "btrfs":
		quota := cty.NullVal(cty.String)
		if fc.Store.Quota > 0 {
			quota = cty.StringVal(bytesize.Format(fc.Store.Quota))
		}
		m["btrfs_store"] = cty.ObjectVal(map[string]cty.Value{
			"directory":         cty.StringVal(fc.Store.Dir),
			"default_subvolume": cty.StringVal(fc.Store.Default),
			"quota":             quota,
		})
	default:
		return nil, fmt.Errorf("store.type %q: want \"lvm\" or \"btrfs\"", fc.Store.Type)
	}

	r := fc.Retention
	interval := time.Duration(r.Interval)
	intervalText := formatDuration(interval)
	switch {
	case interval < 0:
		intervalText = off
	case interval == 0:
		intervalText = formatDuration(agent.DefaultRetentionInterval)
	}
	m["retention"] = cty.ObjectVal(map[string]cty.Value{
		"keep_per_set":          cty.NumberIntVal(int64(r.KeepPerSet)),
		"max_age":               cty.StringVal(offOr(time.Duration(r.MaxAge))),
		"data_high_percent":     number(r.DataHighPercent),
		"data_low_percent":      number(r.DataLowPercent),
		"metadata_high_percent": number(r.MetadataHighPercent),
		"metadata_low_percent":  number(r.MetadataLowPercent),
		"interval":              cty.StringVal(intervalText),
	})

	l := fc.Limits
	m["limits"] = cty.ObjectVal(map[string]cty.Value{
		"max_request_bytes":        cty.NumberIntVal(int64(orDefaultInt(l.MaxRequestBytes, protocol.DefaultMaxBytes))),
		"read_timeout":             cty.StringVal(formatDuration(orDefaultDuration(l.ReadTimeout, agent.DefaultReadTimeout))),
		"write_timeout":            cty.StringVal(formatDuration(orDefaultDuration(l.WriteTimeout, agent.DefaultWriteTimeout))),
		"request_timeout":          cty.StringVal(formatDuration(orDefaultDuration(l.RequestTimeout, agent.DefaultRequestTimeout))),
		"max_concurrent_creates":   cty.NumberIntVal(int64(orDefaultInt(l.MaxConcurrentCreates, agent.DefaultMaxCreates))),
		"max_connections":          cty.NumberIntVal(int64(orDefaultInt(l.MaxConnections, agent.DefaultMaxConnections))),
		"max_connections_per_peer": cty.NumberIntVal(int64(orDefaultInt(l.MaxConnectionsPerPeer, agent.DefaultMaxConnectionsPerPeer))),
		"max_in_use_per_machine":   cty.NumberIntVal(int64(orDefaultInt(l.MaxInUsePerMachine, agent.DefaultMaxInUsePerMachine))),
		"max_annotation_bytes":     cty.NumberIntVal(int64(orDefaultInt(l.MaxAnnotationBytes, agent.DefaultMaxAnnotationBytes))),
		"max_listings_per_machine": cty.NumberIntVal(int64(orDefaultInt(l.MaxListingsPerMachine, agent.DefaultMaxListingsPerMachine))),
		"first_byte_timeout":       cty.StringVal(formatDuration(orDefaultDuration(l.FirstByteTimeout, agent.DefaultFirstByteTimeout))),
		"seal_wait":                cty.StringVal(formatDuration(orDefaultDuration(l.SealWait, agent.DefaultSealWait))),
	})
	return m, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDefaultInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func orDefaultDuration(d agent.Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return time.Duration(d)
}

// offOr writes a duration where 0 means no limit.
func offOr(d time.Duration) string {
	if d <= 0 {
		return off
	}
	return formatDuration(d)
}

// number is a whole percentage as an integer, so that it reads back as
// it was written.
func number(f float64) cty.Value {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return cty.NumberIntVal(int64(f))
	}
	return cty.NumberFloatVal(f)
}
