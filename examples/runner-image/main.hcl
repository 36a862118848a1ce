# Ephemeral runner machines, declared: the original setup's runner image
# built on this host from the Containerfile in runner/, a plain Debian
# root copied from a registry, and the original's systemd-nspawn machine
# running the runner image (at the end).
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

# The original setup's runner machine, systemd-nspawn@github-runner.service:
# /etc/systemd/nspawn/github-runner.nspawn and a drop-in for the unit,
# with the runner image unpacked into /var/lib/machines/github-runner,
# its files already shifted into the machine's user range (the original's
# one-off `--private-users-ownership=chown` run, done by rigplan).
#
# After each job the runner in the machine powers it off
# (OnSuccess=poweroff.target in runner/github-runner.service), systemd
# boots it again (restart = "always"), and the volatile overlay has thrown
# away whatever the job wrote.
machine "runner" {
  name = "github-runner"
  # A new image replaces the root between jobs: plan says when a job is
  # running, and apply waits for it (job_wait) before swapping.
  image        = image.runner.layout
  image_digest = image.runner.digest

  # Root in the machine is uid 570097664 on the host. The range is twice
  # 65536: jobs give the second half to rootless podman.
  private_users = "570097664:131072"
  ownership     = "off"
  nested_podman = true

  # Each boot writes to a fresh tmpfs over the read-only root. (nspawn
  # makes that layer's top as host root: jobs cannot create entries in
  # `/` itself, so the image makes the top-level directories they need.)
  volatile  = "overlay"
  read_only = true
  # The cache agent's socket directory (examples/lvm-cache's
  # cache.friend.socket_directory); apply refuses to start the machine
  # until it exists.
  bind_read_only = ["/run/rigplan-cache"]
  resolv_conf    = "replace-host"
  link_journal   = "try-host"

  restart = "always"
  # Without it, something in the machine complains about keyrings.
  unit_environment = { SYSTEMD_SECCOMP = "0" }
}

output "runner_machine_unit" {
  value = machine.runner.unit
}

# The original setup's runner registration (its get-token-and-config.sh
# with `--ephemeral --disableupdate`), without the token written into a
# script the workflows could read: the token stays in a root-only file on
# the host, the cache agent reads it, and the machine's runner-config
# (runner/runner-config) gets an ephemeral just-in-time config at each
# boot. The runners are named github-runner-BOOT and carry the label
# rigplan.runner.repository besides these.
variable "repository" {
  description = "The repository the runners take jobs for, OWNER/REPO."
  type        = string
  default     = "acme/widgets"
}

runner "repository" {
  repository     = var.repository
  labels         = ["linux", "x64", "lvm-cache"]
  machines       = [machine.runner.name]
  ephemeral      = true
  disable_update = true
  # A runner older than the image's shows up in plan, and apply removes it.
  min_version = var.runner_version
  # A fine-grained token with the repository's Administration: read and
  # write, or a classic token with the repo scope. `install -m 0600`.
  token_file = "/etc/rigplan/github-token"
}
