package testhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// Time limits for cleaning the disks after a test: LVM inside a one-CPU
// test kernel is slow, but a hung command must not hang the test binary.
const (
	cleanupTimeout = 3 * time.Minute
	commandTimeout = time.Minute
)

// diskState is what a test may have left on the scratch disks.
type diskState struct {
	mounts     []mountEntry // mounts of scratch, dm or loop devices, deepest first
	dm         []string     // device-mapper devices
	loops      []string     // attached loop devices
	partitions []string     // partitions of the scratch disks
	signatures []string     // wipefs's findings on disks and partitions
}

func (s diskState) clean() bool {
	return len(s.mounts)+len(s.dm)+len(s.loops)+len(s.partitions)+len(s.signatures) == 0
}

// String lists what is left, one thing per line, each line starting with a
// newline (so it reads after a sentence ending in a colon).
func (s diskState) String() string {
	var b strings.Builder
	for _, m := range s.mounts {
		fmt.Fprintf(&b, "\n  mount: %s", m)
	}
	for _, d := range s.dm {
		fmt.Fprintf(&b, "\n  device-mapper device: %s", d)
	}
	for _, l := range s.loops {
		fmt.Fprintf(&b, "\n  loop device: %s", l)
	}
	for _, p := range s.partitions {
		fmt.Fprintf(&b, "\n  partition: %s", p)
	}
	for _, sig := range s.signatures {
		fmt.Fprintf(&b, "\n  signature: %s", sig)
	}
	return b.String()
}

func (k *K) scratchNames() map[string]bool {
	names := map[string]bool{}
	for _, d := range k.disks {
		names[filepath.Base(d)] = true
	}
	return names
}

// survey reads the state of the disks from sysfs and mountinfo and, when
// signatures is set, with one wipefs call (the only costly part).
func (k *K) survey(ctx context.Context, signatures bool) (diskState, error) {
	var st diskState
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return st, err
	}
	mounts, err := parseMountInfo(info)
	if err != nil {
		return st, err
	}
	st.mounts = mountedTestDevices(k.sys, mounts, k.scratchNames())
	st.dm = dmDevices(k.sys)
	st.loops = attachedLoops(k.sys)
	for _, d := range k.disks {
		st.partitions = append(st.partitions, partitions(k.sys, filepath.Base(d))...)
	}
	if !signatures {
		return st, nil
	}
	devs := append(append([]string(nil), st.partitions...), k.disks...)
	res, err := k.run.Run(ctx, sysexec.Cmd{
		Name:    "wipefs",
		Args:    append([]string{"--no-act", "--noheadings", "--output", "DEVICE,TYPE,OFFSET"}, devs...),
		Timeout: commandTimeout,
	})
	if err != nil {
		return st, err
	}
	for _, l := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			st.signatures = append(st.signatures, l)
		}
	}
	return st, nil
}

// reset returns the scratch disks to a clean state. It returns what the
// test leaked (mounts, device-mapper devices that removing every volume
// group did not remove, loop devices), which the harness also cleans up,
// and an error when the disks could not be made clean. Volume groups,
// physical volumes, filesystems and partition tables are not leaks: they are
// what tests are for. Every step is one command for all disks: each costs
// a good fraction of a second in the test kernel.
func (k *K) reset(ctx context.Context) (leaks []string, err error) {
	st, err := k.survey(ctx, false)
	if err != nil {
		return nil, err
	}
	if st.clean() {
		// Nothing in use: at most signatures to wipe.
		if st, err = k.survey(ctx, true); err == nil && st.clean() {
			return nil, markClean()
		}
	}
	var errs []error
	for _, m := range st.mounts {
		leaks = append(leaks, "mount: "+m.String())
		if err := unmount(m.target); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, k.removeLVM(ctx)...)
	if dm := dmDevices(k.sys); len(dm) > 0 {
		for _, d := range dm {
			leaks = append(leaks, "device-mapper device outside LVM: "+d)
		}
		errs = append(errs, k.cmd(ctx, "dmsetup", "remove_all", "--force"))
	}
	if loops := attachedLoops(k.sys); len(loops) > 0 {
		for _, l := range loops {
			leaks = append(leaks, "loop device: "+l)
		}
		errs = append(errs, k.cmd(ctx, "losetup", "--detach-all"))
	}
	errs = append(errs, k.wipe(ctx)...)

	after, err := k.survey(ctx, true)
	switch {
	case err != nil:
		errs = append(errs, err)
	case !after.clean():
		errs = append(errs, fmt.Errorf("still not clean:%s", after))
	default:
		errs = append(errs, markClean())
	}
	return leaks, errors.Join(errs...)
}

// removeLVM removes every volume group, with its logical volumes active or
// not; everything LVM sees inside the test kernel was made by a test. The
// labels of physical volumes on the scratch disks go with the wipe that
// follows; pvremove is only needed for those elsewhere (a loop device).
func (k *K) removeLVM(ctx context.Context) []error {
	res, err := k.run.Run(ctx, sysexec.Cmd{
		Name:    "pvs",
		Args:    []string{"--noheadings", "--separator", "\t", "--options", "pv_name,vg_name"},
		Timeout: commandTimeout,
	})
	if err != nil {
		return []error{err}
	}
	var pvs, vgs []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		pv, vg, _ := strings.Cut(strings.TrimSpace(line), "\t")
		if pv != "" && !k.onScratch(pv) {
			pvs = append(pvs, pv)
		}
		if vg != "" && !seen[vg] {
			seen[vg] = true
			vgs = append(vgs, vg)
		}
	}
	var errs []error
	if len(vgs) > 0 {
		errs = append(errs, k.cmd(ctx, "vgremove", append([]string{"--force", "--force", "--yes"}, vgs...)...))
	}
	if len(pvs) > 0 {
		errs = append(errs, k.cmd(ctx, "pvremove", append([]string{"--force", "--force", "--yes"}, pvs...)...))
	}
	return errs
}

// onScratch reports whether dev is a scratch disk or one of its partitions
// (/dev/ubda, /dev/ubda1).
func (k *K) onScratch(dev string) bool {
	name := filepath.Base(dev)
	scratch := k.scratchNames()
	return scratch[name] || scratch[strings.TrimRight(name, "0123456789")]
}

// wipe erases every signature on the partitions, then on the disks (with
// their partition tables), and makes the kernel forget the partitions.
func (k *K) wipe(ctx context.Context) []error {
	var devs, partitioned []string
	for _, d := range k.disks {
		if parts := partitions(k.sys, filepath.Base(d)); len(parts) > 0 {
			devs = append(devs, parts...)
			partitioned = append(partitioned, d)
		}
	}
	devs = append(devs, k.disks...)
	errs := []error{k.cmd(ctx, "wipefs", append([]string{"--all", "--force", "--quiet"}, devs...)...)}
	for _, d := range partitioned {
		if len(partitions(k.sys, filepath.Base(d))) > 0 {
			errs = append(errs, k.cmd(ctx, "blockdev", "--rereadpt", d))
		}
	}
	return errs
}

// cmd runs a cleanup command; a nil error means it succeeded.
func (k *K) cmd(ctx context.Context, name string, args ...string) error {
	_, err := k.run.Run(ctx, sysexec.Cmd{Name: name, Args: args, Timeout: commandTimeout})
	return err
}

// cleanMark records that the last cleanup left the disks verified clean, so
// the next test need not check again.
func cleanMark() string { return filepath.Join(runDir, "disks-clean") }

func markClean() error {
	if err := os.WriteFile(cleanMark(), nil, 0o600); err != nil {
		return fmt.Errorf("recording that the disks are clean: %w", err)
	}
	return nil
}

// takeCleanMark reports whether the disks were verified clean since the last
// test took them, and takes the mark.
func takeCleanMark() bool {
	return os.Remove(cleanMark()) == nil
}

// unmount unmounts target, lazily if it is busy (a leaked process may hold
// it; the detached mount then goes away with the process).
func unmount(target string) error {
	err := syscall.Unmount(target, 0)
	if err == nil {
		return nil
	}
	if lerr := syscall.Unmount(target, syscall.MNT_DETACH); lerr != nil {
		return fmt.Errorf("unmounting %s: %v; lazily: %v", target, err, lerr)
	}
	return nil
}
