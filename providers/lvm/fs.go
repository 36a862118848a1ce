package lvm

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// fsTimeout bounds mkfs and filesystem grows, which touch the whole device.
const fsTimeout = 30 * time.Minute

// mkfsCmd makes a filesystem on a brand-new volume. No force flag: on a new
// thin volume there is nothing to overwrite, and if there were, mkfs
// stopping is the right outcome.
func mkfsCmd(fs, dev string, opts []string) sysexec.Cmd {
	args := append([]string{"-q"}, opts...)
	return sysexec.Cmd{Name: "mkfs." + fs, Args: append(args, dev), Timeout: fsTimeout}
}

// tempMountScript mounts a volume in the private mount namespace that
// `unshare --mount` gives it, does one thing there and unmounts. Nothing is
// visible to the rest of the host, and if rigplan dies the namespace dies
// with the command, so no mount can leak.
const tempMountScript = `set -eu
dir=$1 dev=$2 opts=$3 action=$4
shift 4
if [ -n "$opts" ]; then mount -o "$opts" "$dev" "$dir"; else mount "$dev" "$dir"; fi
case $action in
grow-xfs) xfs_growfs "$dir" >&2 ;;
grow-ext4) resize2fs "$dev" >&2 ;;
grow-btrfs) btrfs filesystem resize max "$dir" >&2 ;;
own)
	chown "$1:$2" "$dir"
	if [ -n "$3" ]; then chmod "$3" "$dir"; fi
	stat -c %a "$dir"
	;;
*) echo "unknown action $action" >&2; exit 2 ;;
esac
umount "$dir"
`

// mountOptions are the options of a temporary mount. Thin snapshots of an
// xfs volume share its UUID, and xfs refuses to mount a second filesystem
// with a UUID already mounted unless told nouuid.
func mountOptions(fs string) string {
	if fs == "xfs" {
		return "nouuid"
	}
	return ""
}

// inTempMount runs one tempMountScript action on dev and returns its
// standard output.
func (p *Provider) inTempMount(ctx context.Context, fs, dev, action string, args ...string) (string, error) {
	if err := os.MkdirAll(p.opts.TempDir, 0o700); err != nil {
		return "", fmt.Errorf("create directory for temporary mounts: %w", err)
	}
	dir, err := os.MkdirTemp(p.opts.TempDir, "mnt-")
	if err != nil {
		return "", fmt.Errorf("create temporary mount point: %w", err)
	}
	defer os.Remove(dir)
	cmd := sysexec.Cmd{
		Name:    "unshare",
		Args:    append([]string{"--mount", "--propagation", "private", "--", "sh", "-c", tempMountScript, "sh", dir, dev, mountOptions(fs), action}, args...),
		Timeout: fsTimeout,
	}
	res, err := p.run.Run(ctx, cmd)
	return strings.TrimSpace(string(res.Stdout)), err
}

// growFS grows the filesystem on an LV to fill it: through the mount
// point when the LV is mounted on this host, else in a temporary mount.
func (p *Provider) growFS(ctx context.Context, lv *lvRow, fs string) error {
	dev := "/dev/" + lv.VG + "/" + lv.Name
	mp := ""
	if lv.Major >= 0 {
		var err error
		if mp, err = mountPoint(p.opts.MountInfo, devNum{lv.Major, lv.Minor}); err != nil {
			return fmt.Errorf("find where %s is mounted: %w", lv.ID(), err)
		}
	}
	if mp == "" {
		_, err := p.inTempMount(ctx, fs, dev, "grow-"+fs)
		return err
	}
	var cmd sysexec.Cmd
	switch fs {
	case "xfs":
		cmd = sysexec.Cmd{Name: "xfs_growfs", Args: []string{mp}}
	case "ext4":
		cmd = sysexec.Cmd{Name: "resize2fs", Args: []string{dev}}
	case "btrfs":
		cmd = sysexec.Cmd{Name: "btrfs", Args: []string{"filesystem", "resize", "max", mp}}
	default:
		return fmt.Errorf("cannot grow a %q filesystem", fs)
	}
	cmd.Timeout = fsTimeout
	_, err := p.run.Run(ctx, cmd)
	return err
}

// applyOwner sets the owner and, when mode is not "", the mode of a
// filesystem's root directory, and returns the mode it has now (octal).
func (p *Provider) applyOwner(ctx context.Context, lv *lvRow, fs string, uid, gid int64, mode string) (uint32, error) {
	out, err := p.inTempMount(ctx, fs, "/dev/"+lv.VG+"/"+lv.Name, "own", fmt.Sprint(uid), fmt.Sprint(gid), mode)
	if err != nil {
		return 0, err
	}
	lines := strings.Split(out, "\n")
	m, err := strconv.ParseUint(strings.TrimSpace(lines[len(lines)-1]), 8, 32)
	if err != nil {
		return 0, fmt.Errorf("read the mode of %s's root directory from %q: %w", lv.ID(), out, err)
	}
	return uint32(m), nil
}
