package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// app carries what the commands read and write, so that tests run the real
// commands against their own streams and environment.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            []string
	// tty is true when stdout is a terminal: colors and prompts.
	tty bool
}

// exitCode is returned by a command that wants a specific exit status
// without printing another error (e.g. plan -detailed-exitcode).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// reported marks an error whose diagnostics were already printed.
var errReported = errors.New("errors were reported above")

// run executes one command line and returns the process exit status:
// 0 success, 1 error, 2 (plan -detailed-exitcode) changes present.
func (a *app) run(args []string) int {
	return a.execute(a.rootCmd(), args)
}

// execute runs root with args, with interrupts handled as run describes.
func (a *app) execute(root *cobra.Command, args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args = normalizeArgs(args)
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	notice := interruptNotice
	if cmd, _, err := root.Find(args); err == nil && cmd.Annotations[interruptAnnotation] != "" {
		notice = "\n" + cmd.Annotations[interruptAnnotation]
	}
	stop := a.onInterrupt(cancel, notice)
	err := root.ExecuteContext(ctx)
	stop()
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(a.stderr, "Error: %v\n", err)
		return 1
	}
}

// interruptNotice is what rigplan says at the first interrupt. A
// command that does something else with it says so in its annotation
// interruptAnnotation.
const (
	interruptNotice     = "\nInterrupted: rigplan starts nothing new and lets the changes already running finish. Interrupt again to stop at once."
	interruptAnnotation = "rigplan.interrupt"
)

// onInterrupt watches for the first interrupt (or SIGTERM): it says at
// once what an interrupt does and cancels the command's context, so an
// apply starts nothing new; a second one kills the process the usual
// way. The stop it returns ends the watch and returns only once an
// interrupt that arrived before it has been acknowledged: one that
// comes in while the command is finishing is answered too, never lost
// to the race between the watching goroutine and the process's exit.
func (a *app) onInterrupt(cancel context.CancelFunc, notice string) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-sigs:
		case <-finished:
			select {
			case <-sigs:
			default:
				return
			}
		}
		signal.Stop(sigs)
		fmt.Fprintln(a.stderr, notice)
		cancel()
	}()
	return func() {
		// Stop returns once every signal that arrived before it is in
		// sigs: the goroutine then sees it, whichever case it picks.
		signal.Stop(sigs)
		close(finished)
		<-done
	}
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "rigplan",
		Short: "Declarative setup of hosts for ephemeral self-hosted CI runners",
		Long: `rigplan turns a Linux host into clean, ephemeral, self-hosted GitHub Actions
runners with fast persistent caches, described in HCL files kept in git.

Describe LVM volume groups, thin pools and cache volumes, the cache agent,
runner images, the systemd-nspawn machines that boot them and their GitHub
runner registrations in *.hcl files. Then:

  rigplan validate        check the files without touching the host (for CI)
  rigplan plan            show what would change on this host
  rigplan apply           make the host match the files
  rigplan destroy         remove everything rigplan manages

rigplan keeps no state file: everything it creates carries an ownership mark
(LVM tags or a unit file's first line, with the resource address), and the
host itself is read on every plan. Deleting or replacing anything that holds
data is refused unless you pass -allow-data-loss.

Flags may be written with one dash or two: -out and --out are the same.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		a.validateCmd(),
		a.fmtCmd(),
		a.planCmd(),
		a.applyCmd(),
		a.destroyCmd(),
		a.showCmd(),
		a.graphCmd(),
		a.cacheCmd(),
		a.versionCmd(),
		a.docsCmd(),
	)
	return root
}

// normalizeArgs lets flags be written Terraform's way, with a single dash
// (-out FILE, -detailed-exitcode), by doubling the dash of any single-dash
// argument of more than one letter.
func normalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i, arg := range args {
		if arg == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(arg, "-") && !strings.HasPrefix(arg, "--") && len(arg) > 2 && isLetter(arg[1]) {
			// rigplan has no combined short flags, so -name is always a long
			// flag, known or not (an unknown one is then reported by name).
			arg = "-" + arg
		}
		out = append(out, arg)
	}
	return out
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
