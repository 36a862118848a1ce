package systemd

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// Timeouts of the calls Systemctl makes when it sets none.
const (
	// DefaultJobTimeout bounds start, restart and stop, which wait for the
	// unit: longer than systemd's own default start and stop timeouts (90
	// s), so that systemd, not rigplan, decides a unit took too long and
	// says why.
	DefaultJobTimeout = 3 * time.Minute
	// DefaultCallTimeout bounds the calls that only talk to systemd.
	DefaultCallTimeout = 30 * time.Second
)

// Systemctl is the Manager that runs systemctl and journalctl.
type Systemctl struct {
	Run sysexec.Runner
	// Command is the systemctl program ("systemctl", looked up in PATH);
	// Journalctl is journalctl's. Tests name a stand-in.
	Command, Journalctl string
	// JobTimeout bounds start, restart and stop; CallTimeout the others.
	JobTimeout, CallTimeout time.Duration
}

var _ Manager = Systemctl{}

// showProperties are the properties Show asks for.
var showProperties = []string{"Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "NeedDaemonReload", "FragmentPath", "DropInPaths", "InvocationID"}

// Show runs one `systemctl show` for all units.
func (s Systemctl) Show(ctx context.Context, units ...string) ([]UnitStatus, error) {
	if len(units) == 0 {
		return nil, nil
	}
	args := append([]string{"show", "--property=" + strings.Join(showProperties, ","), "--"}, units...)
	res, err := s.systemctl(ctx, s.callTimeout(), args...)
	if err != nil {
		return nil, err
	}
	st, err := ParseShow(string(res.Stdout))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.cmd(args).String(), err)
	}
	if len(st) != len(units) {
		return nil, fmt.Errorf("%s: systemctl described %d units, asked for %d", s.cmd(args).String(), len(st), len(units))
	}
	return st, nil
}

// DaemonReload runs `systemctl daemon-reload`.
func (s Systemctl) DaemonReload(ctx context.Context) error {
	_, err := s.systemctl(ctx, s.jobTimeout(), "daemon-reload")
	return err
}

// Enable runs `systemctl enable`.
func (s Systemctl) Enable(ctx context.Context, unit string) error {
	_, err := s.systemctl(ctx, s.callTimeout(), "enable", "--quiet", "--", unit)
	return err
}

// Disable runs `systemctl disable`.
func (s Systemctl) Disable(ctx context.Context, unit string) error {
	_, err := s.systemctl(ctx, s.callTimeout(), "disable", "--quiet", "--", unit)
	return err
}

// Start runs `systemctl start` and waits for the unit.
func (s Systemctl) Start(ctx context.Context, unit string) error {
	_, err := s.systemctl(ctx, s.jobTimeout(), "start", "--", unit)
	return err
}

// Restart runs `systemctl restart` (which starts a stopped unit).
func (s Systemctl) Restart(ctx context.Context, unit string) error {
	_, err := s.systemctl(ctx, s.jobTimeout(), "restart", "--", unit)
	return err
}

// Stop runs `systemctl stop`.
func (s Systemctl) Stop(ctx context.Context, unit string) error {
	_, err := s.systemctl(ctx, s.jobTimeout(), "stop", "--", unit)
	return err
}

// Journal runs journalctl for the unit's last lines.
func (s Systemctl) Journal(ctx context.Context, unit string, lines int) (string, error) {
	name := s.Journalctl
	if name == "" {
		name = "journalctl"
	}
	res, err := s.Run.Run(ctx, sysexec.Cmd{
		Name:    name,
		Args:    []string{"--unit=" + unit, "--lines=" + strconv.Itoa(lines), "--no-pager", "--quiet", "--output=short-iso"},
		Timeout: s.callTimeout(),
	})
	return strings.TrimRight(string(res.Stdout), "\n"), err
}

func (s Systemctl) cmd(args []string) sysexec.Cmd {
	name := s.Command
	if name == "" {
		name = "systemctl"
	}
	return sysexec.Cmd{Name: name, Args: args}
}

func (s Systemctl) systemctl(ctx context.Context, timeout time.Duration, args ...string) (sysexec.Result, error) {
	c := s.cmd(args)
	c.Timeout = timeout
	return s.Run.Run(ctx, c)
}

func (s Systemctl) jobTimeout() time.Duration {
	if s.JobTimeout > 0 {
		return s.JobTimeout
	}
	return DefaultJobTimeout
}

func (s Systemctl) callTimeout() time.Duration {
	if s.CallTimeout > 0 {
		return s.CallTimeout
	}
	return DefaultCallTimeout
}
