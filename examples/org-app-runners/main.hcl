# Organization runners authenticated as a GitHub App: no personal token
# anywhere. The App needs one permission, Organization → Self-hosted
# runners: read and write, and an installation on the organization. Its
# private key (.pem, from the App's settings) lives on the host, readable
# only by root; rigplan and the cache agent exchange it for installation
# tokens (kept for their hour) and hand machines only just-in-time runner
# configs.
#
#   rigplan validate examples/org-app-runners
#   rigplan plan     examples/org-app-runners   # checks the App and the group with GitHub

variable "organization" {
  type    = string
  default = "acme"
}

variable "app_id" {
  description = "The GitHub App's ID, on its settings page."
  type        = number
  default     = 123456
}

variable "installation_id" {
  description = "The App's installation on the organization: the number at the end of the installation's settings URL."
  type        = number
  default     = 7891011
}

# The organization's runner group for these machines, created in the
# organization's settings (Actions → Runner groups), e.g. limited to the
# repositories that may use the cache.
runner "builders" {
  organization = var.organization
  runner_group = "rigplan-builders"
  labels       = ["linux", "x64", "lvm-cache"]
  name_prefix  = "acme"
  # Machines declared elsewhere on this host (see examples/lvm-cache-runner):
  # each must also be one of the cache's machines, since it asks the
  # cache agent for its config over the agent's socket.
  machines = ["builder-1", "builder-2"]

  app {
    id               = var.app_id
    installation_id  = var.installation_id
    private_key_file = "/etc/rigplan/github-app.pem"
  }
}

output "runner_label" {
  description = "Also a label workflows can select these runners by."
  value       = runner.builders.label
}
