package cache

import (
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/schema"
)

// typeCache is the resource type this provider implements.
const typeCache = "cache"

// Retention defaults: unlike the agent's zero values (which keep
// everything), a cache block without a retention block already keeps the
// disk from filling up. The seven days are GitHub's own cache eviction.
const (
	defaultKeepPerSet   = 3
	defaultMaxAge       = "168h"
	defaultHighPercent  = 90
	defaultLowPercent   = 80
	defaultGCInterval   = "1m"
	defaultSocketDirMod = "0755"
)

func cacheSchema() *schema.Resource {
	return &schema.Resource{
		Type: typeCache,
		Description: "The cache agent (`rigplan cache serve`) as a systemd service: rigplan renders its JSON configuration " +
			"and a unit it owns, then enables and starts it. The agent holds no data of its own; its snapshots live in the store.",
		Attributes: []*schema.Attribute{
			{
				Name: "executable", Type: cty.String, Optional: true, Computed: true,
				Description: "The rigplan binary the service runs (`EXE cache serve -config FILE`). By default the binary " +
					"running `rigplan apply` when the service is first created, kept afterwards (see docs/decisions.md).",
				Validators: []schema.Validator{executableValidator},
			},
			{
				Name: "socket", Type: cty.String, Optional: true, Default: cty.StringVal(agent.DefaultHostSocket),
				Description: "The unix socket the agent listens on, on the host. Its directory is what machines bind in (`machine_bind`), so it must not " +
					"hold anything else of the agent's; two caches need two sockets. The directory above it keeps the host's users out: " +
					"apply makes it root-only when it makes it, and plan warns when every host user can reach the socket.",
				Validators: []schema.Validator{socketValidator},
			},
			{
				Name: "socket_directory_mode", Type: cty.String, Optional: true, Default: cty.StringVal(defaultSocketDirMod),
				Description: "Mode of the socket's directory, octal. The machines' users must be able to search it (o+x).",
				Validators:  []schema.Validator{modeValidator},
			},
			{
				Name: "commit", Type: cty.String, Optional: true, Default: cty.StringVal(string(agent.CommitOnExit)),
				Description: "When a job's snapshot becomes a cache later jobs may copy: `on-exit` (when its machine stops, " +
					"as the original setup did) or `on-save` (only what the job saved with `rigplan cache save`).",
				Validators: []schema.Validator{schema.OneOf(string(agent.CommitOnExit), string(agent.CommitOnSave))},
			},
			{
				Name: "machines", Type: cty.Map(cty.List(cty.String)), Required: true,
				Description: "The machines that may ask for caches, each with the absolute path prefixes it may mount at, " +
					"e.g. `{ \"runner-1\" = [\"/home/runner/cache\"] }`. Every other peer is refused.",
				Validators: []schema.Validator{machinesValidator},
			},
			{Name: "name", Type: cty.String, Computed: true, Description: "The agent instance's name: the block's label, with `-KEY` for count and for_each instances."},
			{Name: "unit", Type: cty.String, Computed: true, Description: "The systemd unit, `rigplan-cache-NAME.service`."},
			{Name: "unit_file", Type: cty.String, Computed: true, Description: "Where the unit file is written."},
			{Name: "config_file", Type: cty.String, Computed: true, Description: "Where the agent's JSON configuration is written."},
			{Name: "socket_directory", Type: cty.String, Computed: true, Description: "The socket's directory on the host, the one machines bind."},
			{Name: "machine_bind", Type: cty.String, Computed: true, Description: "The read-only bind that puts the socket where clients in a machine look by default (`" + agent.DefaultSocket + "`): write `bind_read_only = [cache.NAME.machine_bind]` in the machine block."},
			{Name: "unit_sha256", Type: cty.String, Computed: true, Description: "SHA-256 of the unit file; a hand edit shows as a change."},
			{Name: "config_sha256", Type: cty.String, Computed: true, Description: "SHA-256 of the configuration file; a hand edit shows as a change."},
			{Name: "active_state", Type: cty.String, Computed: true, Description: "systemd's ActiveState of the unit; apply makes it `active`."},
			{Name: "unit_file_state", Type: cty.String, Computed: true, Description: "systemd's UnitFileState of the unit; apply makes it `enabled`."},
			{Name: "need_daemon_reload", Type: cty.Bool, Computed: true, Description: "The unit file changed since systemd loaded it."},
			{Name: "restart_pending", Type: cty.Bool, Computed: true, Description: "An apply changed the files but did not finish restarting the agent."},
		},
		Blocks: []*schema.Block{
			{
				Name: "lvm_store", Nesting: schema.NestingSingle,
				Description: "Keep snapshots as LVM thin snapshots, in the default volume's thin pool.",
				Attributes: []*schema.Attribute{
					{
						Name: "default_volume", Type: cty.String, Required: true,
						Description: "The volume every cache starts from, as `VG/LV`: write `volume.NAME.id`. Snapshots live " +
							"in its thin pool, which the retention watermarks watch.",
						Validators: []schema.Validator{defaultVolumeValidator},
					},
					{
						Name: "tag_namespace", Type: cty.String, Optional: true, Default: cty.StringVal(lvmstore.DefaultNamespace),
						Description: "Prefix of the LVM tags the agent puts on snapshots (`NS:snapshot`, `NS:cache:TERM`…).",
						Validators:  []schema.Validator{namespaceValidator},
					},
					{
						Name: "mount_options", Type: cty.List(cty.String), Optional: true, Default: cty.ListValEmpty(cty.String),
						Description: "Extra mount options for snapshots, e.g. `[\"discard\"]` so space freed in a cache returns to the pool.",
						Validators:  []schema.Validator{mountOptionsValidator},
					},
				},
			},
			{
				Name: "btrfs_store", Nesting: schema.NestingSingle,
				Description: "Keep snapshots as btrfs subvolume snapshots in a directory.",
				Attributes: []*schema.Attribute{
					{
						Name: "directory", Type: cty.String, Required: true,
						Description: "The directory on btrfs that holds the snapshots. It must be root's alone (mode 0700): the snapshots hold what jobs wrote, setuid binaries among them, and the agent refuses a directory other host users may enter.",
						Validators:  []schema.Validator{absPathValidator},
					},
					{
						Name: "default_subvolume", Type: cty.String, Required: true,
						Description: "The subvolume every cache starts from, on the same filesystem; its base name is its name in the cache.",
						Validators:  []schema.Validator{defaultSubvolumeValidator},
					},
					{
						Name: "quota", Type: cty.String, Optional: true,
						Description: "The most a job may write into its cache, e.g. `\"20G\"`: each new snapshot's own bytes are limited with a btrfs quota group " +
							"(the agent enables quotas on the filesystem), so that one job cannot fill the store, and retention knows what the caches in use hold. " +
							"Subvolumes a job makes inside its cache (podman's btrfs driver does) escape the limit, but are counted. Without it, quotas are used only if already enabled.",
						Validators: []schema.Validator{bytesize.Validator(1 << 20)},
					},
				},
			},
			{
				Name: "retention", Nesting: schema.NestingSingle,
				Description: "Which sealed snapshots the agent deletes, and when the store is too full for new ones. " +
					"Without the block, the defaults below apply.",
				Attributes: []*schema.Attribute{
					{Name: "keep_per_set", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(defaultKeepPerSet),
						Description: "Keep the newest N sealed snapshots of each annotation set; 0 keeps all.",
						Validators:  []schema.Validator{countValidator(0, 1<<20)}},
					{Name: "max_age", Type: cty.String, Optional: true, Default: cty.StringVal(defaultMaxAge),
						Description: "Delete sealed snapshots older than this (`168h`); `off` keeps them whatever their age.",
						Validators:  []schema.Validator{durationValidator(true)}},
					percentAttr("data_high_percent", defaultHighPercent, "Above this use of the pool's data space (percent) the agent deletes oldest first, and refuses new snapshots while it cannot get below; 0 with its low mark switches it off."),
					percentAttr("data_low_percent", defaultLowPercent, "Once deleting for space, the agent goes on down to this use (percent)."),
					percentAttr("metadata_high_percent", defaultHighPercent, "The same as data_high_percent for the thin pool's metadata (the btrfs store has no separate figure)."),
					percentAttr("metadata_low_percent", defaultLowPercent, "The same as data_low_percent for the thin pool's metadata."),
					{Name: "interval", Type: cty.String, Optional: true, Default: cty.StringVal(defaultGCInterval),
						Description: "How often retention runs on its own; `off` runs it only when a new snapshot finds the store over a high mark.",
						Validators:  []schema.Validator{durationValidator(true)}},
				},
			},
			{
				Name: "limits", Nesting: schema.NestingSingle,
				Description: "Bounds on what the agent accepts and does at once. Without the block, the agent's defaults apply.",
				Attributes: []*schema.Attribute{
					{Name: "max_request_bytes", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(protocol.DefaultMaxBytes),
						Description: "Largest request accepted, in bytes.", Validators: []schema.Validator{countValidator(256, 1<<24)}},
					durationAttribute("read_timeout", agent.DefaultReadTimeout, "Time a client has to send its request."),
					durationAttribute("first_byte_timeout", agent.DefaultFirstByteTimeout, "Time from connecting to the request's first byte: an idle connection is closed after it."),
					durationAttribute("write_timeout", agent.DefaultWriteTimeout, "Time the answer may take to go out."),
					durationAttribute("request_timeout", agent.DefaultRequestTimeout, "Time the agent may spend on one request."),
					{Name: "max_concurrent_creates", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(agent.DefaultMaxCreates),
						Description: "Snapshots created (or saved) at once; further requests wait.", Validators: []schema.Validator{countValidator(1, 1024)}},
					{Name: "max_connections", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(agent.DefaultMaxConnections),
						Description: "Connections open at once over all peers; one more is refused at once.", Validators: []schema.Validator{countValidator(1, 65536)}},
					{Name: "max_connections_per_peer", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(agent.DefaultMaxConnectionsPerPeer),
						Description: "Connections one machine (or the host's root) has open at once; one more is refused at once, so a machine holding idle connections delays only itself.", Validators: []schema.Validator{countValidator(1, 4096)}},
					{Name: "max_in_use_per_machine", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(agent.DefaultMaxInUsePerMachine),
						Description: "Caches one machine has mounted at once.", Validators: []schema.Validator{countValidator(1, 4096)}},
					{Name: "max_annotation_bytes", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(agent.DefaultMaxAnnotationBytes),
						Description: "Bytes of one snapshot's annotations, its terms added up.", Validators: []schema.Validator{countValidator(64, 1<<20)}},
					{Name: "max_listings_per_machine", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(agent.DefaultMaxListingsPerMachine),
						Description: "`ls` and `stats` requests one machine has answered at once; one more is refused at once.", Validators: []schema.Validator{countValidator(1, 1024)}},
					durationAttribute("seal_wait", agent.DefaultSealWait, "How long, after a machine stopped, the agent waits for its mounts of a snapshot to go before sealing it."),
				},
			},
		},
		Validate: validateCache,
	}
}

func percentAttr(name string, def int64, desc string) *schema.Attribute {
	return &schema.Attribute{Name: name, Type: cty.Number, Optional: true, Default: cty.NumberIntVal(def),
		Description: desc, Validators: []schema.Validator{percentValidator}}
}

func durationAttribute(name string, def time.Duration, desc string) *schema.Attribute {
	return &schema.Attribute{Name: name, Type: cty.String, Optional: true, Default: cty.StringVal(formatDuration(def)),
		Description: desc, Validators: []schema.Validator{durationValidator(false)}}
}
