// Package systemd is rigplan's narrow seam to the service manager: the few
// systemctl and journalctl calls providers make, behind the Manager
// interface, and the pure helpers they need (parsing `systemctl show`,
// escaping paths into unit names).
//
// Every call goes through internal/sysexec, so it has a timeout, runs in
// the C locale and carries systemctl's stderr in its error. Tests on a
// machine without systemd as PID 1 point Systemctl at a scripted stand-in;
// the same implementation runs unchanged against real systemd. Package
// standin is that stand-in.
package systemd
