package main

import (
	"io"
	"os"
)

// imageProgress is where image builds, copies and unpacks report their
// progress: stderr when it is a terminal, and nowhere in CI or when the
// output is redirected, so that logs hold only the apply's own lines.
func (a *app) imageProgress() io.Writer {
	if a.getenv("CI") != "" {
		return nil
	}
	f, ok := a.stderr.(*os.File)
	if !ok || !isTerminal(f) {
		return nil
	}
	return f
}
