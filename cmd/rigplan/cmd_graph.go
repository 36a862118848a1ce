package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rigplan/rigplan/internal/sysexec"
)

func (a *app) graphCmd() *cobra.Command {
	var inputs inputArgs
	cmd := &cobra.Command{
		Use:   "graph [DIR]",
		Short: "Print the configuration's dependency graph in DOT",
		Long: `Graph prints the resources of the configuration in DIR and the dependencies
between them (through references and depends_on) as a Graphviz DOT graph:

  rigplan graph | dot -Tsvg > graph.svg

An arrow from A to B means A needs B: apply creates B first and destroy
deletes A first. Like validate, graph never touches the host.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, diags := a.load(configDir(args), nil, &inputs, nil, sysexec.Refuse{Reason: "rigplan graph never touches the host"}, true)
			a.printDiags(diags, l.cfg)
			if diags.HasErrors() {
				return errReported
			}
			nodes, edges := l.engine.ResourceGraph()
			fmt.Fprintln(a.stdout, "digraph rigplan {")
			fmt.Fprintln(a.stdout, "  rankdir = \"RL\";")
			fmt.Fprintln(a.stdout, "  node [shape = \"box\"];")
			for _, n := range nodes {
				fmt.Fprintf(a.stdout, "  %q;\n", n.String())
			}
			for _, e := range edges {
				fmt.Fprintf(a.stdout, "  %q -> %q;\n", e.From.String(), e.To.String())
			}
			fmt.Fprintln(a.stdout, "}")
			return nil
		},
	}
	inputs.register(cmd.Flags())
	return cmd
}
