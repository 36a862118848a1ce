package lvm

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/schema"
)

// minFilesystemSize is the smallest volume each filesystem works on: below
// 300M mkfs.xfs refuses ("Filesystem must be larger than 300MB"), and btrfs
// cannot be resized below 256M (the resize ioctl fails with EINVAL), so a
// smaller btrfs volume could never grow.
var minFilesystemSize = map[string]int64{
	"xfs":   300 * bytesize.MiB,
	"btrfs": 256 * bytesize.MiB,
}

func volumeSchema() *schema.Resource {
	return &schema.Resource{
		Type: typeVolume,
		Description: "A thin volume with a filesystem, e.g. the default origin of the cache's snapshots. " +
			"Made with lvcreate --thinpool and mkfs; grown online together with its filesystem.",
		HoldsData: true,
		Attributes: []*schema.Attribute{
			{
				Name: "thin_pool", Type: cty.String, Required: true, ForceNew: true,
				Description: "The pool to allocate from, as `VG/POOL`: write `thin_pool = thin_pool.NAME.id`.",
				Validators:  []schema.Validator{poolIDValidator},
			},
			{
				Name: "name", Type: cty.String, Required: true, ForceNew: true,
				Description: "Name of the logical volume; it appears as `/dev/VG/NAME`.",
				Validators:  []schema.Validator{lvNameValidator},
			},
			{
				Name: "size", Type: cty.String, Required: true,
				Description: "Virtual size, e.g. `30G`, rounded up to whole extents. Space is taken from the pool only " +
					"as data is written. Growing it extends the volume and grows the filesystem online (through its " +
					"mount point when mounted). Filesystems cannot shrink safely, so a smaller size replaces the volume.",
				Validators: []schema.Validator{bytesize.Validator(0)},
			},
			{
				Name: "filesystem", Type: cty.String, Required: true, ForceNew: true,
				Description: "Filesystem made on the volume at creation: `xfs` (at least 300M), `ext4` or `btrfs` (at " +
					"least 256M).",
				Validators: []schema.Validator{schema.OneOf("xfs", "ext4", "btrfs")},
			},
			{
				Name: "mkfs_options", Type: cty.List(cty.String), Optional: true, ForceNew: true, Default: cty.ListValEmpty(cty.String),
				Description: "Extra arguments for mkfs, e.g. `[\"-m\", \"reflink=1\"]`. Recorded in a tag, since they cannot " +
					"be read back from the filesystem.",
			},
			{
				Name: "uid", Type: cty.Number, Optional: true, Default: cty.Zero,
				Description: "Owner of the filesystem's root directory, as a number: for a machine with private users, " +
					"the host uid its user maps to (base + uid inside). Changed in place.",
				Validators: []schema.Validator{idValidator},
			},
			{
				Name: "gid", Type: cty.Number, Optional: true, Default: cty.Zero,
				Description: "Group of the filesystem's root directory, as a number. Changed in place.",
				Validators:  []schema.Validator{idValidator},
			},
			{
				Name: "mode", Type: cty.String, Optional: true, Computed: true,
				Description: "Permissions of the filesystem's root directory, in octal such as `\"0755\"`. When unset, " +
					"mkfs's default is kept and recorded. Changed in place.",
				Validators: []schema.Validator{modeValidator},
			},
			tagsAttribute("volume"),
			{Name: "id", Type: cty.String, Computed: true, Description: "`VG/NAME`, as LVM commands name the volume; known at plan time."},
			{Name: "path", Type: cty.String, Computed: true, Description: "Device path, `/dev/VG/NAME`; known at plan time."},
			{Name: "uuid", Type: cty.String, Computed: true, Description: "LVM's UUID of the logical volume."},
		},
		Validate: validateVolume,
	}
}

// validateVolume checks that the size suits the filesystem.
func validateVolume(config cty.Value) []*schema.Problem {
	fs, size := config.GetAttr("filesystem"), config.GetAttr("size")
	if !fs.IsKnown() || fs.IsNull() || !size.IsKnown() || size.IsNull() {
		return nil
	}
	n, err := bytesize.Parse(size.AsString())
	min, ok := minFilesystemSize[fs.AsString()]
	if err != nil || !ok || n >= min {
		return nil
	}
	return []*schema.Problem{{
		Path:    cty.GetAttrPath("size"),
		Summary: fmt.Sprintf("Volume too small for %s", fs.AsString()),
		Detail:  fmt.Sprintf("A %s volume must be at least %s; %s is %s. Make it larger or choose another filesystem.", fs.AsString(), bytesize.Format(min), size.AsString(), bytesize.Human(n)),
	}}
}
