# The runner machine of the original setup: its image built on this host
# from runner/Containerfile with podman, unpacked for systemd-nspawn, and
# booted by systemd-nspawn@github-runner.service, clean for every job.

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

# /etc/systemd/nspawn/github-runner.nspawn and a drop-in for its unit,
# with the image unpacked into /var/lib/machines/github-runner, its files
# already shifted into the machine's user range (the original's one-off
# `--private-users-ownership=chown` run, done by rigplan).
#
# After each job the runner in the machine powers it off
# (OnSuccess=poweroff.target in runner/github-runner.service), systemd
# boots it again (restart = "always"), and the volatile overlay has thrown
# away whatever the job wrote outside its cache.
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
  # The cache agent's socket directory, at /run/rigplan-cache in the
  # machine. The reference also orders the machine after the agent, whose
  # socket the runner asks at each boot.
  bind_read_only = [cache.friend.machine_bind]
  resolv_conf    = "replace-host"
  link_journal   = "try-host"

  restart = "always"
  # Without it, something in the machine complains about keyrings.
  unit_environment = { SYSTEMD_SECCOMP = "0" }
}

output "runner_machine_unit" {
  value = machine.runner.unit
}
