package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/btrfsstore"
	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// FileConfig is the agent's configuration file, JSON, as `rigplan apply`
// renders it from a cache block and `rigplan cache serve -config FILE`
// reads it. Unknown fields are refused, so that a misspelt setting is
// an error rather than silently a default. Durations are strings such as
// "90s" or "168h".
//
//	{
//	  "name": "ci",
//	  "socket": "/run/rigplan-cache/socket",
//	  "store": {"type": "lvm", "default": "vg0/cache-default", "namespace": "rigplan"},
//	  "machines": {"runner-1": ["/home/runner/cache"]},
//	  "commit": "on-save",
//	  "retention": {"keep_per_set": 3, "max_age": "168h",
//	                "data_high_percent": 90, "data_low_percent": 80},
//	  "limits": {"read_timeout": "10s", "max_concurrent_creates": 4}
//	}
type FileConfig struct {
	Name string `json:"name,omitempty"`
	// Socket defaults to DefaultHostSocket; SocketDirMode, octal in a string
	// ("0755"), to DefaultSocketDirMode.
	Socket        string              `json:"socket,omitempty"`
	SocketDirMode string              `json:"socket_dir_mode,omitempty"`
	StateDir      string              `json:"state_dir,omitempty"`
	Store         StoreFile           `json:"store"`
	Machines      map[string][]string `json:"machines"`
	Commit        CommitPolicy        `json:"commit,omitempty"`
	Retention     RetentionFile       `json:"retention,omitempty"`
	Limits        LimitsFile          `json:"limits,omitempty"`
}

// StoreFile says which store keeps the snapshots.
type StoreFile struct {
	// Type is "lvm" or "btrfs".
	Type string `json:"type"`
	// Default is the default volume: "VG/LV" for lvm, the default
	// subvolume's path for btrfs.
	Default string `json:"default"`
	// Dir (btrfs) is the directory that holds the snapshots.
	Dir string `json:"dir,omitempty"`
	// Namespace (lvm) prefixes the store's LV tags.
	Namespace string `json:"namespace,omitempty"`
	// MountOptions (lvm) are added to each snapshot's mount (e.g.
	// "discard").
	MountOptions []string `json:"mount_options,omitempty"`
	// Quota (btrfs) limits the bytes each job's snapshot holds of its own
	// (btrfsstore.Config.Quota); 0 is none.
	Quota int64 `json:"quota,omitempty"`
}

// RetentionFile is the retention policy (package retention) in the file,
// plus how often it runs.
type RetentionFile struct {
	KeepPerSet          int      `json:"keep_per_set,omitempty"`
	MaxAge              Duration `json:"max_age,omitempty"`
	DataHighPercent     float64  `json:"data_high_percent,omitempty"`
	DataLowPercent      float64  `json:"data_low_percent,omitempty"`
	MetadataHighPercent float64  `json:"metadata_high_percent,omitempty"`
	MetadataLowPercent  float64  `json:"metadata_low_percent,omitempty"`
	// Interval is how often retention runs on its own; "-1s" disables it.
	Interval Duration `json:"interval,omitempty"`
}

// LimitsFile bounds what the agent accepts and does at once.
type LimitsFile struct {
	MaxRequestBytes       int      `json:"max_request_bytes,omitempty"`
	ReadTimeout           Duration `json:"read_timeout,omitempty"`
	WriteTimeout          Duration `json:"write_timeout,omitempty"`
	RequestTimeout        Duration `json:"request_timeout,omitempty"`
	FirstByteTimeout      Duration `json:"first_byte_timeout,omitempty"`
	MaxConcurrentCreates  int      `json:"max_concurrent_creates,omitempty"`
	MaxConnections        int      `json:"max_connections,omitempty"`
	MaxConnectionsPerPeer int      `json:"max_connections_per_peer,omitempty"`
	MaxInUsePerMachine    int      `json:"max_in_use_per_machine,omitempty"`
	MaxAnnotationBytes    int      `json:"max_annotation_bytes,omitempty"`
	MaxListingsPerMachine int      `json:"max_listings_per_machine,omitempty"`
	SealWait              Duration `json:"seal_wait,omitempty"`
}

// Duration is a time.Duration written as a string ("90s") in JSON.
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"90s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// LoadFile reads a configuration file.
func LoadFile(path string) (FileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return FileConfig{}, fmt.Errorf("cache agent configuration: %w", err)
	}
	var f FileConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return FileConfig{}, fmt.Errorf("cache agent configuration %s: %w", path, err)
	}
	if dec.More() {
		return FileConfig{}, fmt.Errorf("cache agent configuration %s: more than one JSON value", path)
	}
	return f, nil
}

// Config returns the agent configuration the file describes.
func (f FileConfig) Config() (Config, error) {
	c := Config{
		Name:     f.Name,
		Socket:   f.Socket,
		StateDir: f.StateDir,
		Machines: f.Machines,
		Commit:   f.Commit,
		Retention: retention.Policy{
			KeepPerSet:   f.Retention.KeepPerSet,
			MaxAge:       time.Duration(f.Retention.MaxAge),
			DataHigh:     f.Retention.DataHighPercent,
			DataLow:      f.Retention.DataLowPercent,
			MetadataHigh: f.Retention.MetadataHighPercent,
			MetadataLow:  f.Retention.MetadataLowPercent,
		},
		RetentionInterval:     time.Duration(f.Retention.Interval),
		Limits:                protocol.Limits{MaxBytes: f.Limits.MaxRequestBytes},
		ReadTimeout:           time.Duration(f.Limits.ReadTimeout),
		WriteTimeout:          time.Duration(f.Limits.WriteTimeout),
		RequestTimeout:        time.Duration(f.Limits.RequestTimeout),
		FirstByteTimeout:      time.Duration(f.Limits.FirstByteTimeout),
		MaxCreates:            f.Limits.MaxConcurrentCreates,
		MaxConnections:        f.Limits.MaxConnections,
		MaxConnectionsPerPeer: f.Limits.MaxConnectionsPerPeer,
		MaxInUsePerMachine:    f.Limits.MaxInUsePerMachine,
		MaxAnnotationBytes:    f.Limits.MaxAnnotationBytes,
		MaxListingsPerMachine: f.Limits.MaxListingsPerMachine,
		SealWait:              time.Duration(f.Limits.SealWait),
	}
	if f.SocketDirMode != "" {
		m, err := strconv.ParseUint(f.SocketDirMode, 8, 32)
		if err != nil || m > 0o777 {
			return Config{}, fmt.Errorf("cache agent configuration: socket_dir_mode %q: want an octal mode such as \"0755\"", f.SocketDirMode)
		}
		c.SocketDirMode = fs.FileMode(m)
	}
	return c.withDefaults()
}

// OpenStore returns the store the file describes. run runs the LVM
// store's commands.
func (f FileConfig) OpenStore(run sysexec.Runner) (store.Store, error) {
	s := f.Store
	switch s.Type {
	case "lvm":
		if s.Dir != "" || s.Quota != 0 {
			return nil, errors.New("cache agent configuration: store.dir and store.quota are for the btrfs store; the lvm store keeps snapshots in the default volume's thin pool, and a job's snapshot is bounded by the default volume's size")
		}
		return lvmstore.New(run, lvmstore.Config{Default: s.Default, Namespace: s.Namespace, MountOptions: s.MountOptions})
	case "btrfs":
		if s.Namespace != "" || len(s.MountOptions) > 0 {
			return nil, errors.New("cache agent configuration: store.namespace and store.mount_options are for the lvm store")
		}
		return btrfsstore.New(btrfsstore.Config{Dir: s.Dir, Default: s.Default, Quota: s.Quota})
	case "":
		return nil, errors.New("cache agent configuration: store.type is missing: want \"lvm\" or \"btrfs\"")
	}
	return nil, fmt.Errorf("cache agent configuration: store.type %q: want \"lvm\" or \"btrfs\"", s.Type)
}
