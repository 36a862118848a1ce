package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/view"
	"github.com/rigplan/rigplan/planner"
)

func (a *app) showCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show [PLANFILE]",
		Short: "Show a saved plan, or what rigplan manages on this host",
		Long: `Show renders a plan saved with rigplan plan -out (as text or, with -json, in
the shape of Terraform's JSON plan).

Without a file, it lists every object on this host that carries rigplan's
ownership mark, with its attributes as read from the host.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return a.showManaged(cmd, asJSON)
			}
			sp, err := planner.LoadPlan(args[0])
			if err != nil {
				return err
			}
			reg := a.newRegistry(sysexec.Refuse{Reason: "rigplan show of a plan file never touches the host"})
			p, err := sp.Plan(reg)
			if err != nil {
				return err
			}
			if asJSON {
				return view.WritePlanJSON(a.stdout, p, schemaFunc(reg), version)
			}
			view.WritePlan(a.stdout, p, schemaFunc(reg), a.tty)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func (a *app) showManaged(cmd *cobra.Command, asJSON bool) error {
	if err := requireRoot("show"); err != nil {
		return err
	}
	lk, err := a.lock(cmd.Context(), false, 0)
	if err != nil {
		return err
	}
	defer lk.Release()
	reg := a.newRegistry(a.host())
	objs, diags := planner.ReadManaged(cmd.Context(), reg)
	a.printDiags(diags, nil)
	if diags.HasErrors() {
		return errReported
	}
	if asJSON {
		return view.WriteObjectsJSON(a.stdout, objs, schemaFunc(reg))
	}
	if len(objs) == 0 {
		fmt.Fprintln(a.stdout, "rigplan manages nothing on this host.")
		return nil
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Addr.Less(objs[j].Addr) })
	view.WriteObjects(a.stdout, objs, schemaFunc(reg))
	return nil
}
