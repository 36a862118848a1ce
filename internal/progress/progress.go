// Package progress reports what a long step (an image pull, a build, an
// unpack) is doing: on a terminal as one status line rewritten in place,
// elsewhere as plain lines for the milestones only, and not at all when
// there is nowhere to write (CI: the CLI passes no writer when its output
// is not a terminal).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// interval is how often a terminal's status line is redrawn at most.
const interval = 200 * time.Millisecond

// Reporter writes progress for one object. A nil *Reporter reports
// nothing, so callers need not check.
type Reporter struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	prefix string
	// shown is true while a status line is on the terminal.
	shown bool
	last  time.Time
}

// New reports to w with every line starting with prefix (the resource
// address). A nil w gives a nil Reporter.
func New(w io.Writer, prefix string) *Reporter {
	if w == nil {
		return nil
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &Reporter{w: w, tty: tty, prefix: prefix}
}

// Terminal reports whether status lines are drawn in place.
func (r *Reporter) Terminal() bool { return r != nil && r.tty }

// Writer is where a tool that reports its own progress (containers/image,
// podman's build output) may write, or nil when nothing is reported.
func (r *Reporter) Writer() io.Writer {
	if r == nil {
		return nil
	}
	return r.w
}

// Printf writes a milestone line, kept on every kind of output.
func (r *Reporter) Printf(format string, args ...any) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
	fmt.Fprintf(r.w, "%s: %s\n", r.prefix, fmt.Sprintf(format, args...))
}

// Statusf redraws the status line on a terminal, at most every 200 ms;
// elsewhere it writes nothing, so that logs hold milestones only.
func (r *Reporter) Statusf(format string, args ...any) {
	if r == nil || !r.tty {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.last) >= interval {
		r.last = now
		fmt.Fprintf(r.w, "\r\x1b[K%s: %s", r.prefix, fmt.Sprintf(format, args...))
		r.shown = true
	}
}

// Done removes the status line.
func (r *Reporter) Done() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
}

func (r *Reporter) clear() {
	if r.shown {
		fmt.Fprint(r.w, "\r\x1b[K")
		r.shown = false
	}
}

// Bytes formats a byte count for a person, e.g. "12.3 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
