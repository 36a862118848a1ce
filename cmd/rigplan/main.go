// Command rigplan describes a host of ephemeral self-hosted CI runners in
// HCL and converges it: LVM thin pools and cache volumes, systemd-nspawn
// machines, GitHub runner registrations and the cache agent.
//
// This package holds the cobra commands only: they parse flags, call the
// schema, planner and provider packages, and render the results.
package main

import (
	"os"

	"golang.org/x/term"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	a := &app{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		env:    os.Environ(),
		// NO_COLOR (https://no-color.org) turns colors off on a terminal too.
		tty: term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == "",
	}
	os.Exit(a.run(os.Args[1:]))
}
