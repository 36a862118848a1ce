# The root filesystems of ephemeral runner machines, declared: the original
# setup's runner image built on this host from the Containerfile in
# runner/, and a plain Debian root copied from a registry.
#
#   rigplan plan  examples/runner-image
#   rigplan apply examples/runner-image
#
# Each image is unpacked under /var/lib/rigplan/images/NAME, setuid bits
# included (newuidmap inside the machine needs them for nested rootless
# podman). Plan rebuilds the runner image when anything in runner/ or the
# build arguments change, and re-copies debian when the tag moves.

variable "runner_version" {
  description = "Version of GitHub's actions/runner to install in the image."
  type        = string
  default     = "2.321.0"
}

image "runner" {
  name = "github-runner"
  build {
    context = "${path.module}/runner"
    args    = { RUNNER_VERSION = var.runner_version }
    # podman cannot run containers on many runner hosts (hybrid cgroups,
    # rlimits); chroot isolation builds anyway.
    isolation = "chroot"
    timeout   = "45m"
  }
}

image "debian" {
  name   = "debian-bookworm"
  source = "docker://docker.io/library/debian:bookworm"
}

output "runner_rootfs" {
  value = image.runner.path
}

output "runner_digest" {
  value = image.runner.digest
}
