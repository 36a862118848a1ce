package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rigplan/rigplan/internal/view"
	"github.com/rigplan/rigplan/planner"
)

func (a *app) planCmd() *cobra.Command {
	var flags planFlags
	var out string
	var asJSON, detailed, destroy bool
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Show what apply would change on this host",
		Long: `Plan reads the configuration in DIR (default: the current directory), reads
the host's actual state (one lvs, one vgs and one pvs call for all LVM
objects), and prints what apply would create, update, replace or destroy.

Nothing is changed. A plan that would delete or replace a volume group, thin
pool or volume is refused unless -allow-data-loss is given, including when
the object's block was removed from the configuration.

  rigplan plan                          # review changes
  rigplan plan -out host.plan           # save them; apply exactly these later
  rigplan plan -detailed-exitcode       # CI: exit 0 no changes, 1 error, 2 changes
  rigplan plan -json | conftest test -  # Terraform-shaped JSON for policy tools`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireRoot("plan"); err != nil {
				return err
			}
			opts, err := flags.options(destroy)
			if err != nil {
				return err
			}
			lk, err := a.lock(cmd.Context(), false, flags.lockTimeout)
			if err != nil {
				return err
			}
			defer lk.Release()
			l, p, err := a.makePlan(cmd.Context(), configDir(args), &flags, opts)
			if err != nil {
				return err
			}
			if asJSON {
				if err := view.WritePlanJSON(a.stdout, p, schemaFunc(l.reg), version); err != nil {
					return err
				}
			} else {
				view.WritePlan(a.stdout, p, schemaFunc(l.reg), a.tty)
			}
			if out != "" {
				abs, _ := filepath.Abs(l.cfg.Dir)
				if err := p.Save(out, version, abs, l.reg); err != nil {
					return fmt.Errorf("saving the plan to %s: %w", out, err)
				}
				if !asJSON {
					fmt.Fprintf(a.stdout, "\nSaved the plan to %s. To make exactly these changes, run:\n    rigplan apply %s\n", out, out)
				}
			}
			if detailed && p.HasChanges() {
				return exitCode(2)
			}
			return nil
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&out, "out", "", "save the plan to FILE for rigplan apply FILE")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON in the shape of Terraform's JSON plan")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when there are no changes, 1 on error, 2 when there are changes")
	cmd.Flags().BoolVar(&destroy, "destroy", false, "plan the destruction of everything rigplan manages")
	return cmd
}

// makePlan loads the configuration and plans it against the host.
func (a *app) makePlan(ctx context.Context, dir string, flags *planFlags, opts planner.Options) (*loaded, *planner.Plan, error) {
	l, diags := a.load(dir, nil, &flags.inputs, nil, a.host(), false)
	if diags.HasErrors() {
		a.printDiags(diags, l.cfg)
		return nil, nil, errReported
	}
	l.engine.Parallelism = flags.parallelism
	p, d := l.engine.Plan(ctx, opts)
	diags = append(diags, d...)
	a.printDiags(diags, l.cfg)
	if diags.HasErrors() {
		return nil, nil, errReported
	}
	return l, p, nil
}
