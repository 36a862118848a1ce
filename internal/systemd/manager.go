package systemd

import (
	"context"
	"fmt"
	"strings"
)

// Manager is what rigplan asks of the service manager. Each method is one
// systemctl (or journalctl) call.
type Manager interface {
	// Show reads the status of units, in one call. The result has one
	// entry per unit, in the order asked; a unit systemd does not know is
	// reported with LoadState "not-found", not as an error.
	Show(ctx context.Context, units ...string) ([]UnitStatus, error)
	// DaemonReload makes systemd read unit files again.
	DaemonReload(ctx context.Context) error
	// Enable and Disable add and remove a unit's [Install] links.
	Enable(ctx context.Context, unit string) error
	Disable(ctx context.Context, unit string) error
	// Start, Restart and Stop wait for the job to finish: for a
	// Type=notify service, Start returns once it reported READY=1, and
	// fails when it exits first.
	Start(ctx context.Context, unit string) error
	Restart(ctx context.Context, unit string) error
	Stop(ctx context.Context, unit string) error
	// Journal returns the unit's last log lines, to explain a failure.
	Journal(ctx context.Context, unit string, lines int) (string, error)
}

// UnitStatus is what `systemctl show` says about one unit. The fields are
// systemd's property values, verbatim.
type UnitStatus struct {
	// ID is the unit's name.
	ID string
	// LoadState is "loaded", "not-found", "masked", "error"…
	LoadState string
	// ActiveState is "active", "inactive", "failed", "activating",
	// "deactivating" or "reloading".
	ActiveState string
	SubState    string
	// UnitFileState is "enabled", "disabled", "static", "masked"…, or ""
	// when there is no unit file.
	UnitFileState string
	// NeedDaemonReload is true when the unit file on disk changed since
	// systemd loaded it.
	NeedDaemonReload bool
	// FragmentPath is the unit file systemd loaded.
	FragmentPath string
	// DropInPaths are the drop-in files applied on top of it.
	DropInPaths []string
	// InvocationID identifies the unit's current run (32 hex digits), ""
	// when it does not run: a machine's boot.
	InvocationID string
}

// Loaded reports whether systemd has the unit loaded (it knows a unit
// file for it and could parse it).
func (s UnitStatus) Loaded() bool { return s.LoadState == "loaded" }

// Active reports whether the unit runs (or is reloading).
func (s UnitStatus) Active() bool { return s.ActiveState == "active" || s.ActiveState == "reloading" }

// ShowOne reads the status of one unit.
func ShowOne(ctx context.Context, m Manager, unit string) (UnitStatus, error) {
	st, err := m.Show(ctx, unit)
	if err != nil {
		return UnitStatus{}, err
	}
	return st[0], nil
}

// FailureDetail describes a failed `systemctl VERB unit` for an error
// message, with the unit's last log lines when the journal has any.
func FailureDetail(ctx context.Context, m Manager, verb, unit string, err error) string {
	detail := fmt.Sprintf("systemctl %s %s failed: %v", verb, unit, err)
	if log, jerr := m.Journal(ctx, unit, journalLines); jerr == nil && strings.TrimSpace(log) != "" {
		detail += "\n\nIts last log lines:\n" + log
	}
	return detail
}

// journalLines is how much of a unit's log FailureDetail shows.
const journalLines = 20
