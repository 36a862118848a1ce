package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/hostlock"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/view"
	"github.com/rigplan/rigplan/planner"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/providers/cache"
	"github.com/rigplan/rigplan/providers/github"
	"github.com/rigplan/rigplan/providers/lvm"
	"github.com/rigplan/rigplan/providers/nspawn"
	"github.com/rigplan/rigplan/providers/podman"
	"github.com/rigplan/rigplan/schema"
)

// lockEnv overrides where the host-wide lock lives (tests run several
// hosts' worth of applies side by side).
const lockEnv = "RIGPLAN_LOCK_FILE"

// host is the runner for commands that read or change the host; with
// RIGPLAN_LOG=debug it logs every command it runs to stderr.
func (a *app) host() sysexec.Runner {
	for _, kv := range a.env {
		if kv == "RIGPLAN_LOG=debug" {
			return sysexec.Host{Log: a.stderr}
		}
	}
	return sysexec.Host{}
}

// rootEnv moves the filesystem root under which providers read and write
// files (the cache agent's unit and configuration), for tests: commands
// such as systemctl still act on this host.
const rootEnv = "RIGPLAN_ROOT"

// allProviders constructs every provider around one command runner.
func (a *app) allProviders(run sysexec.Runner) []providers.Provider {
	// The cache agent's service runs the rigplan that created it, unless
	// the configuration names another (docs/decisions.md).
	exe, _ := os.Executable()
	return []providers.Provider{
		lvm.New(run, lvm.Options{}),
		cache.New(run, cache.Options{Root: a.getenv(rootEnv), Executable: exe}),
		podman.New(run, podman.Options{Root: a.getenv(rootEnv), Progress: a.imageProgress()}),
		nspawn.New(run, nspawn.Options{Root: a.getenv(rootEnv), Progress: a.imageProgress()}),
		github.New(run, github.Options{Root: a.getenv(rootEnv)}),
	}
}

func (a *app) newRegistry(run sysexec.Runner) *providers.Registry {
	reg, err := providers.NewRegistry(a.allProviders(run)...)
	if err != nil {
		panic(err) // two providers declaring one type is a programming error
	}
	return reg
}

// getenv reads the app's environment.
func (a *app) getenv(key string) string {
	for _, kv := range a.env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// inputArgs collects -var and -var-file in command-line order: a later flag
// overrides an earlier one, whichever kind it is.
type inputArgs struct{ list []schema.InputArg }

type inputFlag struct {
	into *inputArgs
	file bool
}

func (f inputFlag) String() string { return "" }
func (f inputFlag) Type() string {
	if f.file {
		return "file"
	}
	return "name=value"
}
func (f inputFlag) Set(s string) error {
	if f.file {
		f.into.list = append(f.into.list, schema.InputArg{File: s})
	} else {
		f.into.list = append(f.into.list, schema.InputArg{Var: s})
	}
	return nil
}

func (in *inputArgs) register(fs *pflag.FlagSet) {
	fs.Var(inputFlag{into: in}, "var", "set an input variable, e.g. -var pool_size=30G (repeatable)")
	fs.Var(inputFlag{into: in, file: true}, "var-file", "read input variables from an HCL or JSON file (repeatable)")
}

// configDir returns the directory argument, or the working directory.
func configDir(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return "."
}

// loaded is a configuration ready to plan.
type loaded struct {
	cfg    *schema.Config
	reg    *providers.Registry
	engine *planner.Engine
}

// load parses and prepares the configuration in dir. With allowUnset
// (validate), required variables may stay unknown.
func (a *app) load(dir string, sources map[string][]byte, in *inputArgs, savedVars map[string]cty.Value, run sysexec.Runner, allowUnset bool) (*loaded, hcl.Diagnostics) {
	reg := a.newRegistry(run)
	var cfg *schema.Config
	var diags hcl.Diagnostics
	if sources != nil {
		cfg, diags = schema.LoadSources(dir, sources, reg)
	} else {
		cfg, diags = schema.Load(dir, reg)
	}
	if diags.HasErrors() {
		return &loaded{cfg: cfg, reg: reg}, diags
	}
	vars := savedVars
	if vars == nil {
		var d hcl.Diagnostics
		vars, d = cfg.InputValues(a.env, in.list, allowUnset)
		diags = append(diags, d...)
		if d.HasErrors() {
			return &loaded{cfg: cfg, reg: reg}, diags
		}
	}
	e, d := planner.New(cfg, reg, vars)
	diags = append(diags, d...)
	return &loaded{cfg: cfg, reg: reg, engine: e}, diags
}

// printDiags writes diagnostics for a person, with source snippets.
func (a *app) printDiags(diags hcl.Diagnostics, cfg *schema.Config) {
	if len(diags) == 0 {
		return
	}
	sortDiags(diags)
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	view.WriteDiagnostics(a.stderr, diags, files, view.Human, a.tty, 78)
}

// requireRoot refuses commands that read or change host state when not
// run as root, before any LVM command fails with a less helpful message.
func requireRoot(command string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("rigplan %s reads and changes LVM and systemd state, which needs root; run it as root (e.g. sudo rigplan %s)", command, command)
	}
	return nil
}

// lock takes the host-wide lock that keeps two applies apart.
func (a *app) lock(ctx context.Context, exclusive bool, timeout time.Duration) (*hostlock.Lock, error) {
	path := hostlock.DefaultPath
	for _, kv := range a.env {
		if v, ok := strings.CutPrefix(kv, lockEnv+"="); ok && v != "" {
			path = v
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return hostlock.Acquire(ctx, path, exclusive)
}

// planFlags are the flags shared by plan, apply and destroy.
type planFlags struct {
	inputs        inputArgs
	targets       []string
	replace       []string
	allowDataLoss bool
	lockTimeout   time.Duration
	parallelism   int
}

func (f *planFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	f.inputs.register(fs)
	fs.StringArrayVar(&f.targets, "target", nil, "limit the plan to this resource and what it depends on, e.g. -target volume.default (repeatable)")
	fs.StringArrayVar(&f.replace, "replace", nil, "plan to replace this object even if it has not changed (repeatable)")
	fs.BoolVar(&f.allowDataLoss, "allow-data-loss", false, "allow deleting or replacing volume groups, thin pools and volumes, and the data on them")
	fs.DurationVar(&f.lockTimeout, "lock-timeout", 0, "how long to wait for another rigplan run to release the host lock")
	fs.IntVar(&f.parallelism, "parallelism", planner.DefaultParallelism, "how many objects to change at once")
}

func (f *planFlags) options(destroy bool) (planner.Options, error) {
	opts := planner.Options{AllowDataLoss: f.allowDataLoss, Destroy: destroy}
	for _, t := range f.targets {
		addr, err := schema.ParseAddress(t)
		if err != nil {
			return opts, fmt.Errorf("-target: %w", err)
		}
		opts.Targets = append(opts.Targets, addr)
	}
	for _, r := range f.replace {
		addr, err := schema.ParseAddress(r)
		if err != nil {
			return opts, fmt.Errorf("-replace: %w", err)
		}
		opts.Replace = append(opts.Replace, addr)
	}
	return opts, nil
}

func schemaFunc(reg *providers.Registry) view.SchemaFunc { return reg.Schema }

// sortDiags orders diagnostics by where they point, so that an operator
// reads them top to bottom through each file; those without a location
// keep their order, first.
func sortDiags(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}
