package lvm

import (
	"fmt"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

// Resource type names.
const (
	typeVG     = "volume_group"
	typePool   = "thin_pool"
	typeVolume = "volume"
)

var tagsAttribute = func(what string) *schema.Attribute {
	return &schema.Attribute{
		Name: "tags", Type: cty.Set(cty.String), Optional: true, Default: cty.SetValEmpty(cty.String),
		Description: "Extra LVM tags to put on the " + what + ", for your own tooling (`vgs @tag`, lvm.conf " +
			"activation filters). Changed in place. Tags starting with `rigplan:` are reserved for rigplan's ownership marks.",
		Validators: []schema.Validator{tagsValidator},
	}
}

func vgSchema() *schema.Resource {
	return &schema.Resource{
		Type: typeVG,
		Description: "An LVM volume group made of whole block devices. rigplan initialises each device as a physical " +
			"volume, refusing devices that hold a filesystem, partition table or other signature, and marks the " +
			"group with LVM tags so that it finds it again without a state file.",
		HoldsData: true,
		Attributes: []*schema.Attribute{
			{
				Name: "name", Type: cty.String, Required: true, ForceNew: true,
				Description: "Name of the volume group, as in `/dev/NAME/...`. Letters, digits and `+ _ . -`.",
				Validators:  []schema.Validator{vgNameValidator},
			},
			{
				Name: "devices", Type: cty.Set(cty.String), Required: true,
				Description: "Block devices that make up the group, e.g. `/dev/disk/by-id/nvme-...`; stable `/dev/disk/by-id` " +
					"names are recommended and are compared with LVM's own names after resolving symlinks. Adding a device " +
					"initialises it (pvcreate) and extends the group in place; removing one reduces the group, which is " +
					"refused while the device still holds allocated extents (move them off first with `pvmove`).",
			},
			{
				Name: "extent_size", Type: cty.String, Optional: true, Computed: true, ForceNew: true,
				Description: "Physical extent size, e.g. `4M` (LVM's default). Every logical volume size is rounded up " +
					"to a multiple of it. Must be a power of two of at least 1K or a multiple of 128K.",
				Validators: []schema.Validator{extentSizeValidator},
			},
			tagsAttribute("volume group"),
			{Name: "id", Type: cty.String, Computed: true, Description: "The volume group's name, for references such as `volume_group = volume_group.data.id`."},
			{Name: "uuid", Type: cty.String, Computed: true, Description: "LVM's UUID of the volume group."},
			{Name: "size", Type: cty.String, Computed: true, Description: "Total size of the group's physical volumes, e.g. `3996M`."},
		},
		Validate: validateVG,
	}
}

// validateVG checks the device list: not empty, absolute paths.
func validateVG(config cty.Value) []*schema.Problem {
	devs := config.GetAttr("devices")
	if devs.IsNull() || !devs.IsKnown() {
		return nil
	}
	path := cty.GetAttrPath("devices")
	if devs.LengthInt() == 0 {
		return []*schema.Problem{{Path: path, Summary: "A volume group needs at least one device",
			Detail: "List the block devices to use, e.g. devices = [\"/dev/disk/by-id/nvme-Samsung_SSD_980_S64DNX0R123456\"]."}}
	}
	var out []*schema.Problem
	for it := devs.ElementIterator(); it.Next(); {
		_, d := it.Element()
		if !d.IsKnown() || d.IsNull() {
			continue
		}
		if p := d.AsString(); !filepath.IsAbs(p) || filepath.Clean(p) != p {
			out = append(out, &schema.Problem{Path: path, Summary: "Device must be a clean absolute path",
				Detail: fmt.Sprintf("%q is not a clean absolute path; write the device as /dev/… (a /dev/disk/by-id/… name is best).", p)})
		}
	}
	return out
}
