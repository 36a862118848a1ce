package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/view"
)

func (a *app) validateCmd() *cobra.Command {
	var inputs inputArgs
	var asJSON bool
	var format string
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a configuration without touching the host",
		Long: `Validate parses every *.hcl file in DIR (default: the current directory),
checks types, references, required attributes and each resource type's
rules, and reports every problem with the source line it comes from.

It never reads or changes the host, so it runs anywhere, e.g. in CI:

  rigplan validate -format=github examples/lvm-cache-runner   # annotations on the PR
  rigplan validate -json .                             # for other tools

Variables without a value are treated as unknown, so validate needs no
secrets or host-specific inputs.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				format = "json"
			}
			df, err := view.ParseDiagFormat(format)
			if err != nil {
				return fmt.Errorf("-format: %w", err)
			}
			// The providers get a runner that refuses to run anything: validate
			// never touches the host, by construction.
			l, diags := a.load(configDir(args), nil, &inputs, nil, sysexec.Refuse{Reason: "rigplan validate never touches the host"}, true)
			if l.engine != nil {
				diags = append(diags, l.engine.Validate()...)
			}
			files := l.cfg.FilesOrNil()
			sortDiags(diags)
			switch df {
			case view.Human:
				view.WriteDiagnostics(a.stderr, diags, files, df, a.tty, 78)
				if !diags.HasErrors() {
					fmt.Fprintln(a.stdout, "Success! The configuration is valid.")
				}
			default:
				view.WriteDiagnostics(a.stdout, diags, files, df, false, 0)
			}
			if diags.HasErrors() {
				return exitCode(1)
			}
			return nil
		},
	}
	inputs.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (like -format=json)")
	cmd.Flags().StringVar(&format, "format", "human", "output format: human, json (terraform validate -json shape) or github (workflow command annotations)")
	return cmd
}
