package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rigplan/rigplan/schema"
)

func (a *app) fmtCmd() *cobra.Command {
	var opts schema.FormatOptions
	cmd := &cobra.Command{
		Use:   "fmt [DIR | FILE]",
		Short: "Rewrite configuration files in the canonical layout",
		Long: `Fmt rewrites the *.hcl files in DIR (default: the current directory; not
subdirectories) in the canonical layout: indentation, aligned equals signs,
spacing. It prints the name of each file it changed.

  rigplan fmt -check     # CI: change nothing, exit 3 if a file needs formatting
  rigplan fmt -diff      # show what would change

Files with syntax errors are left untouched and reported.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed, diff, diags := schema.FormatDir(configDir(args), opts)
			a.printDiags(diags, nil)
			for _, f := range changed {
				fmt.Fprintln(a.stdout, f)
			}
			if opts.Diff {
				fmt.Fprint(a.stdout, diff)
			}
			switch {
			case diags.HasErrors():
				return errReported
			case opts.Check && len(changed) > 0:
				return exitCode(3)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Check, "check", false, "change nothing; exit 3 when a file is not formatted")
	cmd.Flags().BoolVar(&opts.Diff, "diff", false, "print a unified diff of the changes")
	return cmd
}
