package lvm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// checkDevices checks, before anything is changed, that each device can
// become a physical volume of a volume group: it exists, is a block device,
// is not a PV of another group (allowVG names the group it may already
// belong to) and carries no signature (filesystem, partition table, RAID,
// LUKS…) that pvcreate would have to wipe.
func (pl *planner) checkDevices(ctx context.Context, devs []string, allowVG string) {
	for _, dev := range devs {
		summary, detail := pl.checkDevice(ctx, dev, allowVG)
		if summary != "" {
			pl.errorf(summary, fmt.Sprintf("%s: %s", pl.req.Addr, detail))
		}
	}
}

func (pl *planner) checkDevice(ctx context.Context, dev, allowVG string) (summary, detail string) {
	n, resolved, err := pl.p.host.device(dev)
	switch {
	case missing(err):
		return fmt.Sprintf("Device %s does not exist", dev),
			fmt.Sprintf("%s does not exist on this host. Check the path; the disks present are listed by: ls -l /dev/disk/by-id/", dev)
	case errors.Is(err, errNotBlockDevice):
		return fmt.Sprintf("%s is not a block device", dev),
			fmt.Sprintf("%s (%s) is not a block device; a volume group is made of disks or partitions.", dev, resolved)
	case err != nil:
		return fmt.Sprintf("Cannot read device %s", dev), err.Error()
	}
	if pv := pl.snap.pvByDev(n); pv != nil {
		switch pv.VG {
		case "", allowVG:
			return "", "" // an unused PV, or already ours
		default:
			return fmt.Sprintf("Device %s is already in volume group %s", dev, pv.VG),
				fmt.Sprintf("%s (%s) is a physical volume of volume group %s. rigplan will not take it over. "+
					"Pick another device, or free it yourself if %s does not need it: vgreduce %s %s", dev, pv.Name, pv.VG, pv.VG, pv.VG, pv.Name)
		}
	}
	sig, err := pl.p.signature(ctx, resolved)
	if err != nil {
		return fmt.Sprintf("Cannot check device %s for existing data", dev), err.Error()
	}
	if sig != "" {
		return fmt.Sprintf("Device %s is not empty", dev),
			fmt.Sprintf("%s (%s) holds %s. rigplan never wipes a disk it did not set up. If its data is expendable, wipe it yourself and plan again:\n  wipefs --all %s", dev, resolved, sig, dev)
	}
	return "", ""
}

// probeSignature asks libblkid (blkid -p, a read-only low-level probe)
// what the device holds, e.g. "a filesystem signature (xfs)" or "a
// partition table (gpt)"; "" when it finds nothing.
func probeSignature(ctx context.Context, run sysexec.Runner, dev string) (string, error) {
	res, err := run.Run(ctx, sysexec.Cmd{Name: "blkid", Args: []string{"-p", "-o", "export", dev}})
	var se *sysexec.Error
	if errors.As(err, &se) && se.ExitCode == 2 {
		return "", nil // blkid: nothing found
	}
	if err != nil {
		return "", err
	}
	return describeSignature(res.Stdout), nil
}

// describeSignature reads `blkid -p -o export` output.
func describeSignature(out []byte) string {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	var parts []string
	if t := kv["TYPE"]; t != "" {
		usage := kv["USAGE"]
		if usage == "" {
			usage = "data"
		}
		parts = append(parts, fmt.Sprintf("a %s signature (%s)", usage, t))
	}
	if pt := kv["PTTYPE"]; pt != "" {
		parts = append(parts, fmt.Sprintf("a partition table (%s)", pt))
	}
	if len(parts) == 0 && len(kv) > 0 {
		parts = append(parts, "an unrecognised signature")
	}
	return strings.Join(parts, " and ")
}
