package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/protocol"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	socket  string
	timeout time.Duration
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.socket, "socket", agent.DefaultSocket, "the cache agent's socket (on the host, "+agent.DefaultHostSocket+" when that is where it is)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 3*time.Minute, "give up on the agent after this long")
}

// ask sends req to the agent and reads its answer. An error line comes
// back as an error wrapping protocol.ErrRefused, with the agent's reason.
//
// An agent that is restarting (its service restarts it after a crash or
// an upgrade) is asked again, with backoff, until the timeout, saying so
// on note: when the socket is missing or refuses connections, and, for
// the commands safe to repeat, when the connection ends before the
// answer did. A mount or save cut short is undone by the agent's next
// start, so asking again cannot leave two caches; rm and gc are not
// repeated once sent.
func (f *clientFlags) ask(ctx context.Context, note io.Writer, req *protocol.Request) (*protocol.Response, error) {
	// Refused here, the mistake reads the same as the agent's refusal.
	if err := req.Validate(protocol.DefaultLimits()); err != nil {
		return nil, err
	}
	text, err := req.MarshalText()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	repeatable := req.Command != protocol.CommandRemove && req.Command != protocol.CommandGC
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		resp, sent, err := f.askOnce(ctx, text)
		switch {
		case err == nil:
			return resp, resp.Err()
		case !agentRestarting(err) || sent && !repeatable:
			return nil, err
		}
		fmt.Fprintf(note, "rigplan: %v; asking again in %v\n", err, delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, fmt.Errorf("%w; gave up after %v (-timeout)", err, f.timeout)
		}
	}
}

// askOnce sends the request text on a new connection and reads the
// answer; sent reports whether the request went out.
func (f *clientFlags) askOnce(ctx context.Context, text []byte) (resp *protocol.Response, sent bool, err error) {
	socket := f.socketPath()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, false, fmt.Errorf("cannot reach the cache agent at %s: %w (is it running? rigplan cache serve, or the service rigplan apply installs; inside a machine, is the socket's directory bound in?)", socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write(text); err != nil {
		return nil, true, fmt.Errorf("send the request to the cache agent: %w", err)
	}
	// The request ends with an empty line too, so closing the write side
	// is a courtesy; an agent that closed early has answered already.
	_ = conn.(*net.UnixConn).CloseWrite()
	resp, err = protocol.ReadResponse(conn, 0)
	if err != nil {
		return nil, true, fmt.Errorf("read the cache agent's answer: %w", err)
	}
	return resp, true, nil
}

// socketPath is the socket to ask. The default is where clients in a
// machine find it; on the host, where the default socket's directory
// sits in its root-only gate (agent.DefaultHostSocket), the host's path.
func (f *clientFlags) socketPath() string {
	if f.socket != agent.DefaultSocket {
		return f.socket
	}
	if fi, err := os.Stat(filepath.Dir(agent.DefaultHostSocket)); err == nil && fi.IsDir() {
		return agent.DefaultHostSocket
	}
	return f.socket
}

// agentRestarting reports whether err says the agent went away or is
// not back yet, rather than that it answered.
func agentRestarting(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, protocol.ErrTruncated)
}

// splitTerms splits a flag's value into terms, at spaces and tabs only,
// as the protocol does.
func splitTerms(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

func (a *app) cacheMountCmd() *cobra.Command {
	var f clientFlags
	var criteria, annotate []string
	cmd := &cobra.Command{
		Use:   "mount PATH [--criteria \"TERM...\"]... [--annotate \"TERM...\"]",
		Short: "Ask the cache agent for a cache mounted at PATH (inside a machine)",
		Long: `Ask the cache agent for a private snapshot of the best matching cache, mounted
at PATH inside this machine. Each --criteria is one criterion: all its terms
must be on a cache; criteria are tried in the order given, and with no match
the default volume is copied. --annotate terms are put on the new snapshot.

  rigplan cache mount /home/runner/cache --criteria "linux $LOCK_HASH" \
      --criteria "linux $BRANCH" --annotate "linux $BRANCH $LOCK_HASH"

Exits non-zero if the agent refuses; the reason is printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &protocol.Request{Command: protocol.CommandMount, Path: args[0]}
			for _, c := range criteria {
				req.Criteria = append(req.Criteria, splitTerms(c))
			}
			for _, an := range annotate {
				req.Annotations = append(req.Annotations, splitTerms(an)...)
			}
			resp, err := f.ask(cmd.Context(), cmd.ErrOrStderr(), req)
			if err != nil {
				return err
			}
			m, err := protocol.ParseMountResult(resp)
			if err != nil {
				return err
			}
			from := "the default volume (no criterion matched)"
			if !m.Default {
				from = fmt.Sprintf("the newest cache matching %q", protocol.CriterionText(m.Criterion))
			}
			fmt.Fprintf(a.stdout, "Mounted snapshot %s at %s, a copy of %s.\n", m.Snapshot, m.Path, from)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&criteria, "criteria", nil, "a criterion: terms that must all be on the cache, e.g. \"linux main\" (repeatable, tried in order)")
	cmd.Flags().StringArrayVar(&annotate, "annotate", nil, "terms to put on the new snapshot (repeatable)")
	return cmd
}

func (a *app) cacheSaveCmd() *cobra.Command {
	var f clientFlags
	var annotate []string
	cmd := &cobra.Command{
		Use:   "save PATH [--annotate \"TERM...\"]",
		Short: "Seal a copy of the cache mounted at PATH now (inside a machine)",
		Long: `Seal a copy of the cache mounted at PATH, as it is now: later jobs can start from
it at once, and with the commit policy on-save it is what outlives the job.
Without --annotate the copy keeps the terms the mount put on the cache.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &protocol.Request{Command: protocol.CommandSave, Path: args[0]}
			for _, an := range annotate {
				req.Annotations = append(req.Annotations, splitTerms(an)...)
			}
			resp, err := f.ask(cmd.Context(), cmd.ErrOrStderr(), req)
			if err != nil {
				return err
			}
			s, err := protocol.ParseSaveResult(resp)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Saved the cache at %s as snapshot %s.\n", s.Path, s.Snapshot)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&annotate, "annotate", nil, "terms to put on the copy (repeatable)")
	return cmd
}

// snapshotJSON is one snapshot in `cache ls -json`.
type snapshotJSON struct {
	Name        string    `json:"name"`
	Created     time.Time `json:"created"`
	State       string    `json:"state"`
	Origin      string    `json:"origin,omitempty"`
	Machine     string    `json:"machine,omitempty"`
	Annotations []string  `json:"annotations"`
}

func stateWord(s protocol.Snapshot) string {
	switch {
	case s.InUse && s.Sealed:
		return "sealed,in-use"
	case s.InUse:
		return "in-use"
	case s.Sealed:
		return "sealed"
	}
	return "pending"
}

func (a *app) cacheListCmd() *cobra.Command {
	var f clientFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls [-json]",
		Short: "List the cache snapshots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := f.ask(cmd.Context(), cmd.ErrOrStderr(), &protocol.Request{Command: protocol.CommandList})
			if err != nil {
				return err
			}
			var snaps []snapshotJSON
			for _, rec := range resp.Records {
				if rec.Tag != protocol.TagSnapshot {
					continue
				}
				s, err := protocol.ParseSnapshot(rec)
				if err != nil {
					return fmt.Errorf("the cache agent's answer: %w", err)
				}
				snaps = append(snaps, snapshotJSON{Name: s.Name, Created: s.Created, State: stateWord(s), Origin: s.Origin, Machine: s.Machine, Annotations: append([]string{}, s.Annotations...)})
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if snaps == nil {
					snaps = []snapshotJSON{}
				}
				return enc.Encode(snaps)
			}
			if len(snaps) == 0 {
				fmt.Fprintln(a.stdout, "No cache snapshots yet.")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tSTATE\tORIGIN\tMACHINE\tANNOTATIONS")
			for _, s := range snaps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Created.Format(time.RFC3339), s.State, orDash(s.Origin), orDash(s.Machine), strings.Join(s.Annotations, " "))
			}
			return tw.Flush()
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the snapshots as a JSON array")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) cacheStatsCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show the cache agent's counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := f.ask(cmd.Context(), cmd.ErrOrStderr(), &protocol.Request{Command: protocol.CommandStats})
			if err != nil {
				return err
			}
			for _, rec := range resp.Records {
				if s, err := protocol.ParseStat(rec); err == nil {
					fmt.Fprintf(a.stdout, "%s %s\n", s.Key, s.Value)
				}
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func (a *app) cacheGCCmd() *cobra.Command {
	var f clientFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc [--dry-run]",
		Short: "Run the cache's retention now (root on the host)",
		Long: `Run retention now: delete snapshots older than the maximum age, beyond the
newest N per annotation set, and, while the store is over its high watermark,
the oldest ones. With --dry-run, only list what would go, and why.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := f.ask(cmd.Context(), cmd.ErrOrStderr(), &protocol.Request{Command: protocol.CommandGC, DryRun: dryRun})
			if err != nil {
				return err
			}
			g, err := protocol.ParseGCResult(resp)
			if err != nil {
				return err
			}
			verb := "delete"
			if g.DryRun {
				verb = "would delete"
			}
			for _, d := range g.Deleted {
				fmt.Fprintf(a.stdout, "%s %s: %s\n", verb, d.Name, d.Reason)
			}
			for _, d := range g.Kept {
				fmt.Fprintf(a.stdout, "kept %s: %s\n", d.Name, d.Reason)
			}
			if g.DryRun {
				fmt.Fprintf(a.stdout, "Would delete %d snapshots (dry run: nothing was deleted).\n", len(g.Deleted))
			} else {
				fmt.Fprintf(a.stdout, "Deleted %d snapshots.\n", len(g.Deleted))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be deleted, and delete nothing")
	return cmd
}

func (a *app) cacheRemoveCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete one cache snapshot (root on the host)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := f.ask(cmd.Context(), cmd.ErrOrStderr(), &protocol.Request{Command: protocol.CommandRemove, Name: args[0]})
			if err != nil {
				return err
			}
			r, err := protocol.ParseRemoveResult(resp)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Removed snapshot %s.\n", r.Snapshot)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
