package main

import (
	"github.com/spf13/cobra"
)

func (a *app) destroyCmd() *cobra.Command {
	var flags planFlags
	var autoApprove bool
	cmd := &cobra.Command{
		Use:   "destroy [DIR]",
		Short: "Remove everything rigplan manages on this host",
		Long: `Destroy plans the deletion of every object on this host that carries
rigplan's ownership mark, shows the plan, asks for confirmation and applies
it, deleting what depends on an object before the object itself.

Objects rigplan did not create are never touched. Volume groups, thin pools
and volumes hold data: destroying them needs -allow-data-loss, and blocks
with lifecycle.prevent_destroy are refused in any case.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireRoot("destroy"); err != nil {
				return err
			}
			return a.applyFresh(cmd.Context(), configDir(args), &flags, autoApprove, true)
		},
	}
	flags.register(cmd)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "destroy without asking for confirmation")
	return cmd
}
