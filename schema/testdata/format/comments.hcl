# The agent serves every machine on this host.
cache "agent" {
  socket = "/run/rigplan/cache.sock" # world-readable, peers are checked
    retention {
        keep_newest = 3 // per annotation set
      max_age = "168h"
    }
  motd = <<-EOT
    cache: ${var.name}
      indented line stays
    EOT
}
