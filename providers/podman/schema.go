package podman

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ociimage"
	"github.com/rigplan/rigplan/schema"
)

// typeImage is the resource type this provider implements.
const typeImage = "image"

// Isolation modes of `podman build --isolation`. chroot is the default
// because it is the one that works on hosts without a usable OCI runtime
// setup (hybrid cgroups, restricted rlimits), which are common on CI
// runner hosts.
var isolations = []string{"chroot", "oci", "rootless"}

// nameRE is what an image name may be: it names a directory, a podman tag
// (lowercase only) and, later, machines built from it.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

func imageSchema() *schema.Resource {
	return &schema.Resource{
		Type: typeImage,
		Description: "A root filesystem for machines, from a Containerfile built with podman or an image copied with " +
			"containers/image, unpacked under `/var/lib/rigplan/images/NAME` with its OCI layout beside it.",
		Attributes: []*schema.Attribute{
			{
				Name: "name", Type: cty.String, Required: true, ForceNew: true,
				Description: "Name of the image: its directory under `/var/lib/rigplan/images` and its podman tag " +
					"`localhost/rigplan/NAME`. Lowercase letters, digits, `-`, `_` and `.`.",
				Validators: []schema.Validator{{
					Description: "a lowercase name such as `runner`",
					Check: func(v cty.Value) error {
						if !nameRE.MatchString(v.AsString()) {
							return fmt.Errorf("%q is not a valid image name: use 1 to 63 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit", v.AsString())
						}
						return nil
					},
				}},
			},
			{
				Name: "source", Type: cty.String, Optional: true,
				Description: "An image to copy instead of building one: `docker://REGISTRY/NAME:TAG`, `oci:/PATH[:TAG]`, " +
					"`oci-archive:/PATH` or `docker-archive:/PATH`. Local paths must be absolute (use `${path.module}`). " +
					"Plan resolves its manifest digest; a new digest updates the image.",
				Validators: []schema.Validator{{
					Description: "an image reference such as `docker://docker.io/library/debian:bookworm`",
					Check: func(v cty.Value) error {
						_, err := ociimage.ParseReference(v.AsString())
						return err
					},
				}},
			},
			{Name: "path", Type: cty.String, Computed: true, Description: "The unpacked root filesystem, `/var/lib/rigplan/images/NAME/rootfs`; known at plan time."},
			{Name: "layout", Type: cty.String, Computed: true, Description: "The image as an OCI layout, `/var/lib/rigplan/images/NAME/oci`, for machines that unpack it again with their own user range; known at plan time."},
			{Name: "source_digest", Type: cty.String, Computed: true, Description: "What the image was made from: the source's manifest digest, or for a build a SHA-256 of the Containerfile, the build context (minus what .containerignore excludes), the build arguments and the target."},
			{Name: "digest", Type: cty.String, Computed: true, Description: "Manifest digest of the image unpacked, as stored in `layout`."},
		},
		Blocks: []*schema.Block{{
			Name: "build", Nesting: schema.NestingSingle,
			Description: "Build the image from a Containerfile with `podman build`, instead of copying `source`.",
			Attributes: []*schema.Attribute{
				{
					Name: "context", Type: cty.String, Required: true,
					Description: "The build context directory, as an absolute path: write `\"${path.module}/runner\"`.",
					Validators:  []schema.Validator{absoluteValidator("context")},
				},
				{
					Name: "containerfile", Type: cty.String, Optional: true, Default: cty.StringVal("Containerfile"),
					Description: "The Containerfile (or Dockerfile), relative to the context or absolute.",
				},
				{
					Name: "args", Type: cty.Map(cty.String), Optional: true, Default: cty.MapValEmpty(cty.String),
					Description: "Build arguments (`--build-arg`), e.g. `{ RUNNER_VERSION = \"2.320.0\" }`.",
				},
				{
					Name: "target", Type: cty.String, Optional: true,
					Description: "The stage of a multi-stage Containerfile to build (`--target`).",
				},
				{
					Name: "isolation", Type: cty.String, Optional: true, Default: cty.StringVal("chroot"),
					Description: "`podman build --isolation`: `chroot` (default; works where podman cannot run containers), `oci` or `rootless`. Changing it does not rebuild.",
					Validators: []schema.Validator{{
						Description: "chroot, oci or rootless",
						Check: func(v cty.Value) error {
							for _, i := range isolations {
								if v.AsString() == i {
									return nil
								}
							}
							return fmt.Errorf("isolation %q is not one of chroot, oci, rootless", v.AsString())
						},
					}},
				},
				{
					Name: "timeout", Type: cty.String, Optional: true, Default: cty.StringVal("1h"),
					Description: "How long the build may take, e.g. `\"2h30m\"`. Changing it does not rebuild.",
					Validators: []schema.Validator{{
						Description: "a duration such as `90m`",
						Check: func(v cty.Value) error {
							d, err := time.ParseDuration(v.AsString())
							if err != nil || d <= 0 {
								return fmt.Errorf("timeout %q is not a positive duration such as \"90m\" or \"2h\"", v.AsString())
							}
							return nil
						},
					}},
				},
			},
		}},
		Validate: validateImage,
	}
}

func absoluteValidator(what string) schema.Validator {
	return schema.Validator{
		Description: "an absolute path",
		Check: func(v cty.Value) error {
			if !filepath.IsAbs(v.AsString()) {
				return fmt.Errorf("the %s %q is relative, so it would depend on the directory rigplan runs in: write \"${path.module}/%s\"", what, v.AsString(), v.AsString())
			}
			return nil
		},
	}
}

// validateImage checks that exactly one of source and build is set.
func validateImage(config cty.Value) []*schema.Problem {
	source, build := config.GetAttr("source"), config.GetAttr("build")
	if !source.IsKnown() || !build.IsKnown() {
		return nil
	}
	switch {
	case source.IsNull() && build.IsNull():
		return []*schema.Problem{{
			Summary: "Image without a source",
			Detail:  "Set either source = \"docker://…\" (or oci:, oci-archive:, docker-archive:) to copy an image, or a build { context = … } block to build one with podman.",
		}}
	case !source.IsNull() && !build.IsNull():
		return []*schema.Problem{{
			Path:    cty.GetAttrPath("source"),
			Summary: "Image with two sources",
			Detail:  "An image is either copied from source or built from a build block, not both: remove one of them.",
		}}
	}
	return nil
}

// buildConfig is a decoded, known build block.
type buildConfig struct {
	Context       string
	Containerfile string // absolute
	Args          map[string]string
	Target        string
	Isolation     string
	Timeout       time.Duration
}

// decodeBuild reads a known build block.
func decodeBuild(v cty.Value) (*buildConfig, error) {
	if !v.IsWhollyKnown() {
		return nil, errors.New("the build block is not known yet")
	}
	b := &buildConfig{
		Context:       v.GetAttr("context").AsString(),
		Containerfile: v.GetAttr("containerfile").AsString(),
		Isolation:     v.GetAttr("isolation").AsString(),
		Args:          map[string]string{},
	}
	if !filepath.IsAbs(b.Containerfile) {
		b.Containerfile = filepath.Join(b.Context, b.Containerfile)
	}
	if t := v.GetAttr("target"); !t.IsNull() {
		b.Target = t.AsString()
	}
	for k, a := range v.GetAttr("args").AsValueMap() {
		b.Args[k] = a.AsString()
	}
	d, err := time.ParseDuration(v.GetAttr("timeout").AsString())
	if err != nil {
		return nil, err
	}
	b.Timeout = d
	return b, nil
}
