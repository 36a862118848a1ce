package nspawn

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

// typeMachine is the resource type this provider implements.
const typeMachine = "machine"

// Defaults for an ephemeral runner machine.
const (
	defaultOwnership = "auto"
	defaultVolatile  = "overlay"
	defaultResolv    = "auto"
	defaultJournal   = "auto"
	defaultNetwork   = "veth"
	defaultRestart   = "always"
	defaultJobWait   = "1h"
)

func machineSchema() *schema.Resource {
	str := func(name, def, desc string, allowed ...string) *schema.Attribute {
		return &schema.Attribute{Name: name, Type: cty.String, Optional: true, Default: cty.StringVal(def),
			Description: desc, Validators: []schema.Validator{schema.OneOf(allowed...)}}
	}
	boolean := func(name string, def bool, desc string) *schema.Attribute {
		return &schema.Attribute{Name: name, Type: cty.Bool, Optional: true, Default: cty.BoolVal(def), Description: desc}
	}
	return &schema.Resource{
		Type: typeMachine,
		Description: "A systemd-nspawn machine run by `systemd-nspawn@NAME.service`: its root unpacked from an image into " +
			"`/var/lib/machines/NAME`, its settings in `/etc/systemd/nspawn/NAME.nspawn` and a drop-in for the unit.",
		Attributes: []*schema.Attribute{
			{Name: "name", Type: cty.String, Required: true, ForceNew: true,
				Description: "The machine's name (and hostname): letters, digits, `-`, `_` and dots between labels, at most 64 characters.",
				Validators:  []schema.Validator{nameValidator}},
			{Name: "image", Type: cty.String, Required: true,
				Description: "The image's OCI layout directory: write `image.NAME.layout`. rigplan unpacks it again for the machine, with the machine's ownership.",
				Validators:  []schema.Validator{absPathValidator}},
			{Name: "image_digest", Type: cty.String, Optional: true, Computed: true,
				Description: "Manifest digest the root must be unpacked from: write `image.NAME.digest` so that a new image replaces the root. " +
					"Unset, it is read from the layout at plan time."},
			{Name: "private_users", Type: cty.String, Optional: true, Default: cty.StringVal("pick"),
				Description: "The machine's user namespace: `BASE:RANGE` on the host (e.g. `570097664:131072`), `pick` (nspawn chooses a 65536 range at boot) or `no`.",
				Validators:  []schema.Validator{privateUsersValidator}},
			str("ownership", defaultOwnership, "Who makes the root's files belong to the user range: `off` (rigplan unpacks them shifted to BASE; the original setup's chown, done once), "+
				"`chown` (nspawn chowns at boot), `map` (idmapped mount, files stay 0-based) or `auto` (nspawn decides).", "off", "chown", "map", "auto"),
			boolean("nested_podman", false, "The jobs run rootless podman: the range must hold a second 65536 ids for their user namespaces (131072 or more)."),
			str("volatile", defaultVolatile, "`overlay` (writes go to a tmpfs over the root and vanish at poweroff), `state`, `yes` or `no`.", "no", "yes", "state", "overlay"),
			boolean("read_only", false, "Mount the root read-only (under the volatile overlay, the image stays untouched)."),
			{Name: "bind", Type: cty.List(cty.String), Optional: true, Default: cty.ListValEmpty(cty.String),
				Description: "Read-write bind mounts, nspawn's `SOURCE[:DEST[:OPTIONS]]`.", Validators: []schema.Validator{bindValidator}},
			{Name: "bind_read_only", Type: cty.List(cty.String), Optional: true, Default: cty.ListValEmpty(cty.String),
				Description: "Read-only bind mounts, e.g. `[cache.friend.machine_bind]` for the cache agent's socket.", Validators: []schema.Validator{bindValidator}},
			str("resolv_conf", defaultResolv, "nspawn's ResolvConf=, e.g. `replace-host`.",
				"off", "copy-host", "copy-static", "copy-uplink", "copy-stub", "replace-host", "replace-static", "replace-uplink", "replace-stub",
				"bind-host", "bind-static", "bind-uplink", "bind-stub", "delete", "auto"),
			str("link_journal", defaultJournal, "nspawn's LinkJournal=, e.g. `try-host`.", "no", "host", "try-host", "guest", "try-guest", "auto"),
			str("network", defaultNetwork, "`veth` (a virtual link to the host, the unit's default), `none` (loopback only) or `host` (the host's network).", "none", "veth", "host"),
			{Name: "environment", Type: cty.Map(cty.String), Optional: true, Default: cty.MapValEmpty(cty.String),
				Description: "Environment of the machine's init (or command).", Validators: []schema.Validator{envValidator}},
			{Name: "command", Type: cty.List(cty.String), Optional: true, Default: cty.ListValEmpty(cty.String),
				Description: "Run this command instead of booting the image's init; empty boots."},
			str("restart", defaultRestart, "The unit's Restart=: `always` boots a clean machine again after each job's poweroff.",
				"no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"),
			{Name: "unit_environment", Type: cty.Map(cty.String), Optional: true, Default: cty.MapValEmpty(cty.String),
				Description: "Environment of systemd-nspawn itself, e.g. `{ SYSTEMD_SECCOMP = \"0\" }` as the original setup needed.", Validators: []schema.Validator{envValidator}},
			boolean("enabled", true, "Start the machine at boot (machines.target)."),
			boolean("running", true, "Keep the machine running."),
			{Name: "job_wait", Type: cty.String, Optional: true, Default: cty.StringVal(defaultJobWait),
				Description: "How long apply waits for a running job to end before it replaces the machine's root.", Validators: []schema.Validator{durationValidator}},

			{Name: "unit", Type: cty.String, Computed: true, Description: "`systemd-nspawn@NAME.service`."},
			{Name: "settings_file", Type: cty.String, Computed: true, Description: "`/etc/systemd/nspawn/NAME.nspawn`."},
			{Name: "dropin_file", Type: cty.String, Computed: true, Description: "`/etc/systemd/system/systemd-nspawn@NAME.service.d/rigplan.conf`."},
			{Name: "directory", Type: cty.String, Computed: true, Description: "`/var/lib/machines/NAME`, the machine's root."},
			{Name: "active_state", Type: cty.String, Computed: true, Description: "systemd's ActiveState of the unit."},
			{Name: "unit_file_state", Type: cty.String, Computed: true, Description: "systemd's UnitFileState of the unit."},
			{Name: "busy", Type: cty.Bool, Computed: true, Description: "A job runs in the machine now (a `Runner.Worker` process in its cgroup)."},
		},
		Validate: validateMachine,
	}
}
