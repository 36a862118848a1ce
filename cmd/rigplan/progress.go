package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// progress prints an apply's progress line by line, as Terraform does.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
}

func newProgress(w io.Writer, color bool) *progress { return &progress{w: w, color: color} }

var progressVerbs = map[providers.Action][2]string{
	providers.Create: {"Creating...", "Creation complete"},
	providers.Update: {"Modifying...", "Modifications complete"},
	providers.Delete: {"Destroying...", "Destruction complete"},
}

func (p *progress) PreApply(addr schema.Address, action providers.Action, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	suffix := ""
	if id != "" && action != providers.Create {
		suffix = fmt.Sprintf(" [id=%s]", id)
	}
	fmt.Fprintf(p.w, "%s: %s%s\n", p.bold(addr.String()), progressVerbs[action][0], suffix)
}

func (p *progress) PostApply(addr schema.Address, action providers.Action, err error, elapsed time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		fmt.Fprintf(p.w, "%s: failed after %s\n", p.bold(addr.String()), roundDuration(elapsed))
		return
	}
	fmt.Fprintf(p.w, "%s: %s after %s\n", p.bold(addr.String()), progressVerbs[action][1], roundDuration(elapsed))
}

func (p *progress) bold(s string) string {
	if !p.color {
		return s
	}
	return "\x1b[1m" + s + "\x1b[0m"
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
