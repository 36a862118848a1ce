package systemdtest

import (
	"os"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/testhost"
)

// A unit written by the test is loaded and started, a change to it is
// picked up by daemon-reload, and for Type=notify systemctl (re)start
// returns only once the service said READY=1: the file it writes just before is there, and its
// status text is what it sent. A unit that exits without notifying fails
// to start.
func TestNotifyUnit(t *testing.T) {
	testhost.SystemdHost(t)
	const (
		unit   = "systemdtest-notify.service"
		broken = "systemdtest-broken.service"
		marker = "/run/systemdtest-notify-ready"
	)
	path := "/etc/systemd/system/" + unit
	// First a unit that stays active, so that systemd keeps it loaded
	// (it forgets inactive units nobody refers to, and reads them afresh).
	writeFile(t, path, `[Unit]
Description=systemdtest before daemon-reload
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
`, 0o644)
	writeFile(t, "/etc/systemd/system/"+broken, `[Service]
Type=notify
ExecStart=/bin/sh -c 'exit 3'
`, 0o644)
	t.Cleanup(func() {
		tryRun("systemctl", "stop", unit)
		os.Remove(marker)
		tryRun("systemctl", "reset-failed", broken)
	})
	run(t, "systemctl", "start", unit)

	// The daemon works a second before it is ready, so a start that did
	// not wait would return before the marker exists. systemd-notify
	// speaks for its parent, the main process, so NotifyAccess=main holds.
	writeFile(t, path, `[Unit]
Description=systemdtest notify
[Service]
Type=notify
NotifyAccess=main
ExecStart=/bin/sh -c 'sleep 1; echo ready >`+marker+`; systemd-notify --ready --status="serving the test"; exec sleep infinity'
`, 0o644)
	if p := show(t, unit, "NeedDaemonReload", "Description"); p["NeedDaemonReload"] != "yes" || p["Description"] != "systemdtest before daemon-reload" {
		t.Errorf("after the unit changed on disk, %s = %v, want the old unit, needing daemon-reload", unit, p)
	}
	run(t, "systemctl", "daemon-reload")
	if p := show(t, unit, "NeedDaemonReload", "Description"); p["NeedDaemonReload"] != "no" || p["Description"] != "systemdtest notify" {
		t.Fatalf("after daemon-reload, %s = %v, want the new unit", unit, p)
	}

	run(t, "systemctl", "restart", unit)
	if b, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(b)) != "ready" {
		t.Errorf("systemctl restart returned before the service was ready: %s: %q, %v", marker, b, err)
	}
	p := show(t, unit, "Type", "ActiveState", "SubState", "StatusText", "MainPID")
	want := map[string]string{"Type": "notify", "ActiveState": "active", "SubState": "running", "StatusText": "serving the test"}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s %s = %q, want %q", unit, k, p[k], v)
		}
	}
	if p["MainPID"] == "" || p["MainPID"] == "0" {
		t.Errorf("%s has no main process", unit)
	}

	if _, err := tryRun("systemctl", "start", broken); err == nil {
		t.Errorf("systemctl start %s succeeded for a service that exits before it is ready", broken)
	}
	if p := show(t, broken, "ActiveState", "Result", "ExecMainStatus"); p["ActiveState"] != "failed" || p["Result"] != "exit-code" || p["ExecMainStatus"] != "3" {
		t.Errorf("%s = %v, want failed with exit-code 3", broken, p)
	}
}
