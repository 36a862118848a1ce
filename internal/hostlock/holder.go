package hostlock

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Holder is what an exclusive holder records in the lock file, so that a
// second apply can say who it is waiting for. The file is JSON, readable
// with cat by an operator wondering why rigplan waits.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// currentHolder describes this process.
func currentHolder() Holder {
	return Holder{PID: os.Getpid(), Command: commandLine(os.Args), Since: time.Now().UTC().Truncate(time.Second)}
}

// commandLine renders argv as a user would have typed it: the program's
// base name (rigplan, not /usr/local/bin/rigplan) and the arguments,
// quoted where a shell would need it.
func commandLine(args []string) string {
	if len(args) == 0 {
		return "rigplan"
	}
	parts := []string{filepath.Base(args[0])}
	for _, a := range args[1:] {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?;&|<>()") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// writeHolder replaces the file's contents with h. The lock is held, so
// no other writer races; a reader may see the file empty for a moment,
// which readHolder treats as "unknown".
func writeHolder(f *os.File, h Holder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(append(b, '\n'), 0)
	return err
}

// readHolder returns the recorded holder if there is one and its process
// still exists. A record can outlive its process when an exclusive holder
// is killed (the kernel drops the lock, but nobody clears the file) and a
// shared holder follows: naming the dead pid would send the user after
// the wrong process.
func readHolder(path string) (Holder, bool) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return Holder{}, false
	}
	var h Holder
	if err := json.Unmarshal(b, &h); err != nil || h.PID <= 0 || h.Command == "" {
		return Holder{}, false
	}
	if err := unix.Kill(h.PID, 0); errors.Is(err, unix.ESRCH) {
		return Holder{}, false
	}
	return h, true
}
