package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/internal/memtrim"
)

// cacheCmd groups the cache agent (serve) and its client and admin
// commands.
func (a *app) cacheCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Run the cache agent, or ask it for caches",
		Long: `The cache agent hands each CI job a private copy-on-write snapshot of the best
matching earlier cache, mounted where the job asks inside its machine.

  rigplan cache serve      run the agent in the foreground (systemd runs it as a service)
  rigplan cache mount      ask for a cache (from inside a machine)
  rigplan cache save       seal a copy of the cache now (from inside a machine)
  rigplan cache ls         list the snapshots
  rigplan cache stats      show the agent's counters
  rigplan cache gc         run retention now (root on the host)
  rigplan cache rm         delete one snapshot (root on the host)

Inside a machine, a plain ncat heredoc works as well:

  ncat -U /run/rigplan-cache/socket <<EOF
  mount /home/runner/cache
  > linux main
  < linux main
  EOF`,
	}
	cmd.AddCommand(
		a.cacheServeCmd(),
		a.cacheMountCmd(),
		a.cacheSaveCmd(),
		a.cacheListCmd(),
		a.cacheStatsCmd(),
		a.cacheGCCmd(),
		a.cacheRemoveCmd(),
	)
	return cmd
}

// serveFlags are `cache serve`'s flags: a configuration file, and
// overrides for quick debugging without one.
type serveFlags struct {
	config                            string
	socket, stateDir, commit          string
	storeType, storeDefault, storeDir string
	machines                          []string
	logFormat, logLevel               string
}

// agentGCPercent is the agent's GOGC: the heap may grow half its live
// size before a collection, not all of it.
const agentGCPercent = 50

func (a *app) cacheServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [-config FILE]",
		Short: "Run the cache agent in the foreground",
		Long: `Run the cache agent in the foreground, logging to stderr. rigplan apply installs
it as a systemd service with a configuration file rendered from the cache
block; this command runs the same agent by hand, for debugging.

The file is JSON (see the cache/agent package's FileConfig). Flags override
it, and without a file they are enough on their own:

  rigplan cache serve -store-type btrfs -store-dir /srv/cache/snaps \
      -store-default /srv/cache/default -machine runner-1=/home/runner/cache`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{interruptAnnotation: "Stopping: the cache agent answers the requests under way and exits; caches in use stay in use for its next start."},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireRoot("cache serve"); err != nil {
				return err
			}
			fc, err := f.fileConfig()
			if err != nil {
				return err
			}
			cfg, err := fc.Config()
			if err != nil {
				return err
			}
			st, err := fc.OpenStore(a.host())
			if err != nil {
				return err
			}
			log, err := f.logger(a)
			if err != nil {
				return err
			}
			ag, err := agent.New(cfg, agent.Deps{Store: st, Log: log})
			if err != nil {
				return err
			}
			ln, err := agent.Listen(cfg)
			if err != nil {
				return err
			}
			// The agent runs for months; the CLI's start-up (image
			// libraries) left pages it never needs again.
			if err := memtrim.Release(); err != nil {
				log.Warn("could not release start-up memory", "err", err)
			}
			// A daemon that lives for months and allocates little per
			// request: a smaller heap is worth the GC's extra work (about
			// 2 MiB less resident under twenty concurrent mounts). GOGC
			// in the environment still decides.
			if _, set := os.LookupEnv("GOGC"); !set {
				debug.SetGCPercent(agentGCPercent)
			}
			return ag.Serve(cmd.Context(), ln)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.config, "config", "", "the agent's JSON configuration file")
	fs.StringVar(&f.socket, "socket", "", "listen on this socket (default "+agent.DefaultHostSocket+")")
	fs.StringVar(&f.stateDir, "state-dir", "", "keep staging mounts here (default "+agent.DefaultStateRoot+"/NAME)")
	fs.StringVar(&f.commit, "commit", "", "commit policy: on-exit (seal when the machine exits) or on-save (keep only what the job saved)")
	fs.StringVar(&f.storeType, "store-type", "", "store: lvm or btrfs")
	fs.StringVar(&f.storeDefault, "store-default", "", "default volume: VG/LV (lvm) or the default subvolume's path (btrfs)")
	fs.StringVar(&f.storeDir, "store-dir", "", "directory of the snapshots (btrfs)")
	fs.StringArrayVar(&f.machines, "machine", nil, "declare a machine and the paths it may mount: NAME=PREFIX[,PREFIX...] (repeatable)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// fileConfig reads the file, if any, and applies the flags over it.
func (f *serveFlags) fileConfig() (agent.FileConfig, error) {
	var fc agent.FileConfig
	if f.config != "" {
		var err error
		if fc, err = agent.LoadFile(f.config); err != nil {
			return fc, err
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&fc.Socket, f.socket)
	set(&fc.StateDir, f.stateDir)
	set((*string)(&fc.Commit), f.commit)
	set(&fc.Store.Type, f.storeType)
	set(&fc.Store.Default, f.storeDefault)
	set(&fc.Store.Dir, f.storeDir)
	for _, m := range f.machines {
		name, prefixes, ok := strings.Cut(m, "=")
		if !ok || name == "" || prefixes == "" {
			return fc, fmt.Errorf("-machine %q: want NAME=PREFIX[,PREFIX...], e.g. runner-1=/home/runner/cache", m)
		}
		if fc.Machines == nil {
			fc.Machines = map[string][]string{}
		}
		fc.Machines[name] = strings.Split(prefixes, ",")
	}
	if f.config == "" && fc.Store.Type == "" {
		return fc, fmt.Errorf("no configuration: give -config FILE, or at least -store-type, -store-default and -machine")
	}
	return fc, nil
}

// logger is the agent's structured log on stderr.
func (f *serveFlags) logger(a *app) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(a.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(a.stderr, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", f.logFormat)
}
