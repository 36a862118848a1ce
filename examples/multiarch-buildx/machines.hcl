# The runner image, the two machines that boot it, and their GitHub runner
# registrations.

# One image for both platforms: Debian, GitHub's runner, Docker Engine and
# the buildx plugin (runner/Containerfile). The platform a machine builds
# is the workflow's choice (buildx --platform), selected by the runner's
# labels; the emulation is the host kernel's (main.hcl's header), so the
# image carries no qemu and both machines run the same x64 root.
image "buildx" {
  name = "buildx-runner"
  build {
    context   = "${path.module}/runner"
    args      = { RUNNER_VERSION = var.runner_version }
    isolation = "chroot"
    timeout   = "45m"
  }
}

# systemd-nspawn@buildx-amd64.service and systemd-nspawn@buildx-arm64.service.
# Each boots the image clean, runs one job, powers off, and is booted
# clean again (restart = "always"); at each boot it asks its agent for
# Docker's storage and a runner config (runner/).
#
# Nothing here limits how long a job runs:
#   - rigplan's drop-in sets only Restart= and Environment=; the unit
#     template (systemd-nspawn@.service) has no RuntimeMaxSec, and its
#     WatchdogSec is fed by nspawn itself, not by the job;
#   - apply never stops a busy machine for new settings: it writes them
#     and the machine picks them up at its next boot, after the job;
#   - a new image or user range needs the machine stopped. Apply then
#     waits up to job_wait for the job to end, and if it has not, fails
#     and changes nothing (the job runs on). See job_wait below.
machine "buildx" {
  for_each = local.platforms

  name         = each.value.machine
  image        = image.buildx.layout
  image_digest = image.buildx.digest

  # Files unpacked already shifted into the range (no chown at boot), which
  # read_only needs.
  private_users = each.value.users
  ownership     = "off"

  # Each boot writes to a fresh tmpfs over the read-only image; the job's
  # big data goes to the agent's snapshots (/var/lib/docker and
  # /home/ghrunner/cache), never to this tmpfs.
  volatile  = "overlay"
  read_only = true

  # The platform's agent socket directory, at the path clients use by
  # default. Apply refuses to start the machine until the agent made it.
  bind_read_only = [cache.buildx[each.key].machine_bind]

  resolv_conf  = "replace-host"
  link_journal = "try-host"
  restart      = "always"
  # nspawn's own system call filter off, as the original host had it:
  # nested containers (Docker, BuildKit's build steps, runc) use calls it
  # refuses, keyctl among them.
  unit_environment = { SYSTEMD_SECCOMP = "0" }

  # How long `rigplan apply` waits for a running job before it gives up
  # replacing this machine's root: not a limit on the job. It cannot be
  # "forever" (it is a duration), and should not be: apply holds the
  # host's lock while it waits, and keeps the machine from booting again
  # after the job. A 30-hour job is not worth waiting for, so apply
  # fails after 15 minutes, changes nothing, and says to apply again
  # once the job is done (`rigplan plan` shows busy = true until then).
  job_wait = "15m"
}

# The registrations: ephemeral just-in-time runners, one job each, named
# buildx-amd64-BOOT and buildx-arm64-BOOT, labelled as local.platforms says
# plus rigplan.runner.buildx-amd64 / -arm64. The token stays on the host;
# each agent hands its machine a fresh config at every boot.
#
# A runner has no job time limit of its own. GitHub's own limits for
# self-hosted runners are 5 days per job and 35 days per workflow run, and
# a job that waits a day in the queue for a runner is cancelled (README.md).
runner "buildx" {
  for_each = local.platforms

  repository     = var.repository
  labels         = each.value.labels
  machines       = [machine.buildx[each.key].name]
  ephemeral      = true
  disable_update = true
  min_version    = var.runner_version
  # A fine-grained token with the repository's Administration: read and
  # write. `install -m 0600`; rigplan and the agents read it, the machines
  # never see it.
  token_file = "/etc/rigplan/github-token"
}

output "runs_on" {
  description = "runs-on for each platform's job."
  value       = { for k, p in local.platforms : p.platform => p.labels }
}

output "machine_units" {
  value = { for k, m in machine.buildx : k => m.unit }
}
