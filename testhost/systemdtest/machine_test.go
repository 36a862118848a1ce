package systemdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rigplan/rigplan/testhost"
)

// The machine's user range: 65536-aligned with exactly 65536 ids, the only
// kind systemd-nspawn chowns a directory to.
const (
	machineUIDBase  = 64 << 16
	machineUIDRange = 1 << 16
)

// machineInit is PID 1 of the tiny machine: it records who it is inside,
// waits for the test to let it go, and powers the machine off.
const machineInit = `#!/bin/sh
cat /proc/self/uid_map >/uid_map
id -u >/uid
while [ ! -e /go ]; do sleep 0.1; done
echo done >/done
exec poweroff -f
`

// makeMachine builds a machine directory of one static busybox in
// /var/lib/machines/NAME, and its settings in /etc/systemd/nspawn.
func makeMachine(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join("/var/lib/machines", name)
	for _, d := range []string{"bin", "sbin", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("the test host has no static busybox: %v", err)
	}
	writeFile(t, filepath.Join(dir, "bin/busybox"), string(busybox), 0o755)
	for _, applet := range []string{"sh", "cat", "id", "sleep", "poweroff"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "sbin/init"), machineInit, 0o755)
	// systemd-nspawn --boot refuses a directory without os-release.
	writeFile(t, filepath.Join(dir, "etc/os-release"), "ID=systemdtest\nNAME=\"systemdtest tiny machine\"\n", 0o644)
	writeFile(t, "/etc/systemd/nspawn/"+name+".nspawn", fmt.Sprintf(`[Exec]
PrivateUsers=%d:%d

[Files]
PrivateUsersOwnership=chown

[Network]
VirtualEthernet=no
`, machineUIDBase, machineUIDRange), 0o644)
	return dir
}

// machinectl start runs systemd-nspawn@NAME.service through machined: the
// machine registers, its processes run in the private user range (the
// directory chowned to match), and it powers itself off, which ends the
// unit cleanly and unregisters the machine.
func TestMachineStartsAndPowersOff(t *testing.T) {
	testhost.SystemdHost(t)
	const name = "tiny"
	unit := "systemd-nspawn@" + name + ".service"
	dir := makeMachine(t, name)
	t.Cleanup(func() {
		if p := show(t, unit, "ActiveState"); p["ActiveState"] == "active" {
			tryRun("machinectl", "terminate", name)
			waitInactive(t, unit)
		}
		tryRun("systemctl", "reset-failed", unit)
	})

	run(t, "machinectl", "start", name)
	state := strings.TrimSpace(run(t, "machinectl", "show", name, "--property", "State", "--value"))
	if state != "running" {
		t.Errorf("machine %s is %q after machinectl start, want running", name, state)
	}
	leader := strings.TrimSpace(run(t, "machinectl", "show", name, "--property", "Leader", "--value"))
	if _, err := strconv.Atoi(leader); err != nil {
		t.Fatalf("machine %s has leader %q, want a pid", name, leader)
	}
	uidMap, err := os.ReadFile("/proc/" + leader + "/uid_map")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(uidMap)); len(f) != 3 || f[0] != "0" || f[1] != strconv.Itoa(machineUIDBase) || f[2] != strconv.Itoa(machineUIDRange) {
		t.Errorf("the machine's leader has uid_map %q, want 0 %d %d", uidMap, machineUIDBase, machineUIDRange)
	}
	if p := show(t, unit, "Type", "ActiveState"); p["Type"] != "notify" || p["ActiveState"] != "active" {
		t.Errorf("%s = %v, want an active Type=notify service", unit, p)
	}

	writeFile(t, filepath.Join(dir, "go"), "", 0o644)
	p := waitInactive(t, unit)
	if p["Result"] != "success" || p["ExecMainStatus"] != "0" {
		t.Errorf("after the machine powered off, %s = %v, want a clean stop (success, status 0)", unit, p)
	}
	if out, err := tryRun("machinectl", "show", name); err == nil {
		t.Errorf("machine %s is still registered after powering off:\n%s", name, out)
	}

	// What the machine's root wrote: as root inside, as the range's first
	// id outside, in a directory chowned to the range.
	done, err := os.Stat(filepath.Join(dir, "done"))
	if err != nil {
		ls, _ := tryRun("ls", "-lan", dir)
		t.Fatalf("the machine never got to power off by itself: %v\n%s\n%s", err, ls, journal(unit))
	}
	if uid := done.Sys().(*syscall.Stat_t).Uid; uid != machineUIDBase {
		t.Errorf("a file the machine's root wrote is owned by %d, want %d", uid, machineUIDBase)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "uid")); strings.TrimSpace(string(b)) != "0" {
		t.Errorf("the machine's init ran as uid %q inside, want 0", b)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "bin/busybox"), &st); err != nil || st.Uid != machineUIDBase {
		t.Errorf("the machine's files were not chowned into its range: bin/busybox owner %d (%v)", st.Uid, err)
	}
}
