package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rigplan/rigplan/internal/view"
	"github.com/rigplan/rigplan/planner"
)

func (a *app) applyCmd() *cobra.Command {
	var flags planFlags
	var autoApprove bool
	cmd := &cobra.Command{
		Use:   "apply [DIR | PLANFILE]",
		Short: "Make the host match the configuration",
		Long: `Apply plans like rigplan plan, shows the plan, asks for confirmation, then
makes the changes: objects are created after what they depend on and deleted
before what contains them, independent changes run side by side, and the
first failure stops anything new from starting.

Given a file saved with rigplan plan -out, apply makes exactly the changes
that plan showed, from the configuration and inputs saved in it. If the host
changed in the meantime so that the plan would differ, the saved plan is
refused as stale and nothing is changed.

Only one apply runs on a host at a time (a lock under /run/rigplan). An
interrupted apply (Ctrl-C) lets the changes already running finish; run
rigplan plan to see what is left.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireRoot("apply"); err != nil {
				return err
			}
			if len(args) == 1 {
				if st, err := os.Stat(args[0]); err == nil && !st.IsDir() {
					return a.applySaved(cmd.Context(), args[0], &flags)
				}
			}
			return a.applyFresh(cmd.Context(), configDir(args), &flags, autoApprove, false)
		},
	}
	flags.register(cmd)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "apply without asking for confirmation")
	return cmd
}

// applyFresh plans, asks, and applies.
func (a *app) applyFresh(ctx context.Context, dir string, flags *planFlags, autoApprove, destroy bool) error {
	opts, err := flags.options(destroy)
	if err != nil {
		return err
	}
	lk, err := a.lock(ctx, true, flags.lockTimeout)
	if err != nil {
		return err
	}
	defer lk.Release()
	l, p, err := a.makePlan(ctx, dir, flags, opts)
	if err != nil {
		return err
	}
	view.WritePlan(a.stdout, p, schemaFunc(l.reg), a.tty)
	if !p.HasChanges() {
		return nil
	}
	if !autoApprove {
		if err := a.confirm(destroy); err != nil {
			return err
		}
	}
	return a.applyPlan(ctx, l, p)
}

// applySaved applies a plan file after checking it is still what the host
// would get.
func (a *app) applySaved(ctx context.Context, path string, flags *planFlags) error {
	sp, err := planner.LoadPlan(path)
	if err != nil {
		return err
	}
	vars, err := sp.Vars()
	if err != nil {
		return err
	}
	opts, err := sp.Options()
	if err != nil {
		return err
	}
	lk, err := a.lock(ctx, true, flags.lockTimeout)
	if err != nil {
		return err
	}
	defer lk.Release()
	l, diags := a.load(sp.Dir, sp.Config(), nil, vars, a.host(), false)
	if diags.HasErrors() {
		a.printDiags(diags, l.cfg)
		return errReported
	}
	l.engine.Parallelism = flags.parallelism
	p, d := l.engine.Plan(ctx, opts)
	diags = append(diags, d...)
	a.printDiags(diags, l.cfg)
	if diags.HasErrors() {
		return errReported
	}
	if err := sp.CheckFresh(p, l.reg); err != nil {
		return fmt.Errorf("the saved plan %s is stale: %v. Nothing was changed; run rigplan plan again and review the new plan", path, err)
	}
	if !p.HasChanges() {
		fmt.Fprintln(a.stdout, "No changes. The host matches the configuration.")
		return nil
	}
	return a.applyPlan(ctx, l, p)
}

func (a *app) applyPlan(ctx context.Context, l *loaded, p *planner.Plan) error {
	fmt.Fprintln(a.stdout)
	res, diags := l.engine.Apply(ctx, p, newProgress(a.stdout, a.tty))
	a.printDiags(diags, l.cfg)
	if res != nil && len(res.NotApplied) > 0 {
		var names []string
		for _, addr := range res.NotApplied {
			names = append(names, addr.String())
		}
		fmt.Fprintf(a.stderr, "Not applied because of the error above: %s\n", strings.Join(names, ", "))
	}
	if diags.HasErrors() {
		if res != nil {
			fmt.Fprintf(a.stdout, "\nApply stopped. Resources: %d added, %d changed, %d destroyed. Run rigplan plan to see what is left.\n", res.Added, res.Changed, res.Destroyed)
		}
		return errReported
	}
	fmt.Fprintf(a.stdout, "\nApply complete! Resources: %d added, %d changed, %d destroyed.\n", res.Added, res.Changed, res.Destroyed)
	// After a destroy the outputs name what is gone.
	if len(res.Outputs) > 0 && !p.Options.Destroy {
		fmt.Fprintln(a.stdout, "\nOutputs:")
		for _, o := range res.Outputs {
			fmt.Fprintf(a.stdout, "  %s = %s\n", o.Name, view.FormatOutput(o))
		}
	}
	return nil
}

// confirm asks the operator to type yes.
func (a *app) confirm(destroy bool) error {
	if f, ok := a.stdin.(*os.File); !ok || !isTerminal(f) {
		return fmt.Errorf("apply asks for confirmation, but its input is not a terminal; review the plan and pass -auto-approve, or apply a saved plan (rigplan plan -out FILE, then rigplan apply FILE)")
	}
	what := "perform these actions"
	if destroy {
		what = "destroy everything rigplan manages on this host"
	}
	fmt.Fprintf(a.stdout, "\nDo you really want to %s?\n  Only 'yes' will be accepted.\n\n  Enter a value: ", what)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return fmt.Errorf("apply cancelled; nothing was changed")
	}
	return nil
}
