# The original setup's runner registration (its get-token-and-config.sh
# with `--ephemeral --disableupdate`), without the token written where a
# workflow could read it: the token stays in a root-only file on the host,
# the cache agent reads it, and at each boot the machine's runner-config
# (runner/runner-config) gets a just-in-time config for one job. The
# runners are named github-runner-BOOT and carry the label
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
  # write, or a classic token with the repo scope:
  #   install -m 0600 /dev/stdin /etc/rigplan/github-token
  token_file = "/etc/rigplan/github-token"
}

output "runner_label" {
  description = "rigplan's label on the runners; workflows may select them by it too."
  value       = runner.repository.label
}
