// Package cache is rigplan's built-in provider of the cache resource type:
// the cache agent (`rigplan cache serve`, package cache/agent) installed
// and run as a systemd service.
//
//	cache "ci" {
//	  machines = { "runner-1" = ["/home/runner/cache"] }
//	  commit   = "on-save"
//	  lvm_store {
//	    default_volume = volume.default.id   # orders the cache after the volume
//	    mount_options  = ["discard"]
//	  }
//	  retention {
//	    keep_per_set = 3
//	    max_age      = "168h"
//	  }
//	}
//
// # Attributes
//
//	executable             optional  the rigplan binary the service runs; default: the rigplan running
//	                                 the apply that creates the service, kept afterwards
//	socket                 optional  the unix socket on the host, default /run/rigplan-cache/machines/socket
//	                                 (agent.DefaultHostSocket); at most 107 bytes, in a directory of its
//	                                 own (machines bind that directory), not overlapping
//	                                 /run/rigplan/cache (the agents' state); the directory above it keeps
//	                                 host users out (made root-only when apply makes it; plan warns
//	                                 when every host user can reach the socket)
//	socket_directory_mode  optional  octal, default "0755"; a mode without o+x is a warning
//	commit                 optional  "on-exit" (default) or "on-save"
//	machines               required  map of machine name => allowed mount path prefixes (absolute, clean,
//	                                 not /); at least one machine, each with at least one prefix
//	lvm_store {            one of    default_volume "VG/LV" (write volume.NAME.id); tag_namespace
//	                                 (default "rigplan"); mount_options (default none)
//	btrfs_store {          the two   directory (on btrfs, holds the snapshots; root's alone, mode 0700:
//	                                 the agent refuses one other host users may enter); default_subvolume;
//	                                 quota (a size: what one job may write into its cache; optional)
//	retention {            optional  keep_per_set (3; 0 keeps all), max_age ("168h"; "off"),
//	                                 data_high_percent/data_low_percent and metadata_high_percent/
//	                                 metadata_low_percent (90/80; low below high, both 0 switches a pair
//	                                 off), interval ("1m"; "off")
//	limits {               optional  max_request_bytes (65536), read_timeout ("10s"),
//	                                 first_byte_timeout ("2s"), write_timeout ("10s"), request_timeout
//	                                 ("2m"), max_concurrent_creates (4), max_connections (512),
//	                                 max_connections_per_peer (8), max_in_use_per_machine (8),
//	                                 max_annotation_bytes (2048), max_listings_per_machine (2),
//	                                 seal_wait ("30s"); see docs/decisions.md, "The cache agent
//	                                 against hostile jobs"
//
// Computed, all known at plan time: name (the block's label, "-KEY" for
// count and for_each instances, which may then only use letters, digits,
// - and _), unit, unit_file, config_file, socket_directory (the socket's
// directory on the host), machine_bind (the bind spec for a machine's
// bind_read_only: that directory at /run/rigplan-cache, where clients
// look; unknown, like socket_directory, until the directory exists),
// unit_sha256 and config_sha256 (of the files apply
// writes), and the service's state as systemd reports it: active_state
// ("active"), unit_file_state ("enabled"), need_daemon_reload (false) and
// restart_pending (false).
//
// Omitted retention and limits blocks plan as blocks of defaults, so the
// plan shows what the agent will do and a later refresh compares equal.
// Unlike the agent's own zero values, the retention defaults delete old
// snapshots and keep the pool under 90%: a cache block alone does not let
// the disks fill up. The validators and the agent's own configuration
// check (FileConfig.Config, run at plan time on the rendered file) refuse
// what the agent would refuse at start, with the attribute's source range.
//
// # Files, and the mark
//
// For a cache named NAME, apply writes, under the provider's filesystem
// root (Options.Root, "/" in production):
//
//	/etc/rigplan/cache/NAME.json                  the agent's configuration (agent.FileConfig)
//	/etc/systemd/system/rigplan-cache-NAME.service the unit
//	/etc/rigplan/cache/NAME.restart-pending       only between writing changed files and restarting
//
// The unit's first line is the ownership mark, `# rigplan:managed ADDR`.
// Refresh finds caches by reading the unit directory for
// rigplan-cache-*.service files with the mark: no state file, one
// directory read, and no command at all on a host without cache units
// (so hosts without caches need no systemd). A unit file without the mark
// is never overwritten or removed; where the configuration wants one, the
// planner refuses with "already exists and is not managed by rigplan".
// JSON has no comments, so the configuration file carries no mark: it is
// rigplan's because the marked unit names it; with no unit, apply
// overwrites it only if it is an agent configuration of the same name (an
// earlier apply stopped between the two writes). Every write is a
// temporary file in the same directory, fsynced and renamed over the old
// one, and the directory fsynced.
//
// # Drift
//
// Refresh reads the files back into the resource's attributes (a field
// missing from the JSON reads as the agent's default, so the state says
// what the agent does), hashes both files, stats the socket's directory
// for its mode, and runs one
//
//	systemctl show --property=Id,LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload,FragmentPath,DropInPaths,InvocationID -- UNIT...
//
// for all cache units. So a hand edit of either file, a stopped or
// disabled service, a unit changed on disk but not reloaded, or a chmod of
// the socket directory all show as attribute changes in the plan, and the
// next apply undoes them. Drop-ins and a unit loaded from another path are
// reported as warnings and left alone. Durations keep the configuration's
// spelling when they mean the same ("120s" and "2m").
//
// # Apply
//
// Create and update are the same convergence (see converge in apply.go):
// check ownership and that the executable exists, write the changed files
// (the restart mark first), create the socket directory with its mode,
// daemon-reload if the unit changed or systemd says so, enable if not
// enabled, then restart if any file changed (or a restart was owed) and
// otherwise start if not running. A running agent whose files change is
// restarted, and the plan says so in a warning: a restart is safe, since
// the agent rebuilds its state from the store's tags and the mount table
// and lets requests under way finish on SIGTERM. Nothing forces
// replacement. A failed start reports systemctl's error and the agent's
// last 20 journal lines. A masked unit is refused at plan time.
//
// Delete stops and disables the service, removes the unit, the
// configuration and the restart mark, and reloads systemd. It keeps the
// snapshots (they are the store's, and the LVM provider or the operator
// decides about those) and the socket's directory (machines may bind it).
// A cache holds no data, so the planner's data guard does not apply.
//
// # The service
//
// The unit is Type=notify (the agent reports READY=1 once it listens),
// ExecStart=EXE cache serve -config /etc/rigplan/cache/NAME.json,
// Restart=on-failure with RestartSec=5s (a store that appears late is
// retried without hitting systemd's start limit), KillMode=mixed with
// TimeoutStopSec=90s (SIGTERM goes to the agent alone, so an lvcreate it
// started is not interrupted; whatever is left at the timeout is killed,
// which the agent's restart recovery handles), After=local-fs.target, and
// WantedBy=multi-user.target. An LVM store adds Wants= and After= on the
// default volume's device unit (/dev/VG/LV, escaped as systemd-escape
// --path does), since LVM activates volumes from udev events that nothing
// else orders; a btrfs store adds RequiresMountsFor= its two paths.
//
// Hardening is limited to settings that keep the service in the host's
// mount namespace, because the agent's work is mounts: its staging mounts
// must be host mounts, it enters machines' mount namespaces with setns,
// rebuilds its state from the host's mount table, and the fallback
// injection relies on mount propagation from the host. So: NoNewPrivileges,
// LockPersonality, RestrictRealtime,
// SystemCallArchitectures=native and RestrictAddressFamilies=AF_UNIX
// AF_NETLINK AF_INET AF_INET6 (the socket, udev for LVM, and GitHub's API
// for the runner-config and registration-token commands). Not used, and why:
// RestrictSUIDSGID (its seccomp filter cannot read openat2's flags, so it
// fails every openat2 with ENOSYS, and the agent resolves a job's mount path
// inside the machine with openat2's RESOLVE_IN_ROOT; found by the e2e
// test's first job under real systemd); any of
// ProtectSystem, ProtectHome, PrivateTmp, PrivateDevices, PrivateMounts,
// ReadOnlyPaths, ProtectKernelModules, ProtectKernelLogs, ProtectProc,
// ProtectControlGroups (each gives the service its own mount namespace;
// PrivateDevices and ProtectClock would also hide device-mapper);
// RestrictNamespaces (the agent calls setns(CLONE_NEWNS)); PrivateNetwork
// (udev's netlink events); a SystemCallFilter or CapabilityBoundingSet
// until a test under real systemd proves the set the agent and LVM need.
//
// # Which binary
//
// executable defaults to the path of the rigplan that runs the apply
// creating the service (os.Executable, passed in by the CLI), and is then
// read back from the unit, so running a later apply from another copy
// changes nothing. Plan warns when that file does not exist, or when it
// is in a temporary directory (go run); apply refuses a missing one.
// Set executable to pin it, e.g. to a packaged /usr/bin/rigplan.
package cache
