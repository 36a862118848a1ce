package lvm

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/schema"
)

func poolSchema() *schema.Resource {
	return &schema.Resource{
		Type: typePool,
		Description: "An LVM thin pool: the space that thin volumes and the cache's copy-on-write snapshots " +
			"share. Thin volumes may together be larger than the pool; writes fail once the pool itself is full, " +
			"so size it for the data actually written and let the cache agent's retention keep it below its watermarks.",
		HoldsData: true,
		Attributes: []*schema.Attribute{
			{
				Name: "volume_group", Type: cty.String, Required: true, ForceNew: true,
				Description: "Name of the volume group the pool is carved from, usually `volume_group.NAME.id`.",
				Validators:  []schema.Validator{vgNameValidator},
			},
			{
				Name: "name", Type: cty.String, Required: true, ForceNew: true,
				Description: "Name of the pool's logical volume. Letters, digits and `+ _ . -`.",
				Validators:  []schema.Validator{lvNameValidator},
			},
			{
				Name: "size", Type: cty.String, Required: true,
				Description: "Size of the pool's data space, e.g. `30G`; rounded up to whole extents as lvcreate does. " +
					"Growing it extends the pool in place (lvextend). LVM cannot shrink a thin pool, so a smaller size replaces it.",
				Validators: []schema.Validator{bytesize.Validator(0)},
			},
			{
				Name: "metadata_size", Type: cty.String, Optional: true, Computed: true,
				Description: "Size of the pool's metadata volume, from 2M to 15.8G; by default LVM picks it from the " +
					"pool size and chunk size. Growing it extends the metadata in place; shrinking replaces the pool.",
				Validators: []schema.Validator{metadataSizeValidator},
			},
			{
				Name: "chunk_size", Type: cty.String, Optional: true, Computed: true, ForceNew: true,
				Description: "Allocation unit of the pool, a multiple of 64K from 64K to 1G; by default LVM picks it " +
					"(64K for most pools). Smaller chunks share more between snapshots, larger ones need less metadata.",
				Validators: []schema.Validator{chunkSizeValidator},
			},
			{
				Name: "discards", Type: cty.String, Optional: true, Computed: true,
				Description: "What the pool does with discards from its volumes: `passdown` (free the space in the pool " +
					"and pass the discard to the disks, LVM's default), `nopassdown` (free it in the pool only) or `ignore`. " +
					"Switching to or from `ignore` needs the pool inactive, so rigplan refuses it on an active pool.",
				Validators: []schema.Validator{schema.OneOf("ignore", "nopassdown", "passdown")},
			},
			{
				Name: "error_when_full", Type: cty.Bool, Optional: true, Default: cty.True,
				Description: "Fail writes at once when the pool is full (`lvchange --errorwhenfull y`) instead of " +
					"queueing them for up to 60 seconds, so that a CI job filling the pool fails fast rather than hanging.",
			},
			tagsAttribute("thin pool"),
			{Name: "id", Type: cty.String, Computed: true, Description: "`VG/POOL`, the form `lvcreate --thinpool` takes; known at plan time. Use it as a volume's `thin_pool`."},
		},
	}
}
