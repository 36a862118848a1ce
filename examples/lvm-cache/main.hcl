# The storage of the original hand-built runner host, declared: a volume
# group on a spare disk, a 30G thin pool for CI caches, and the 3G xfs
# volume every cache starts from, owned by the runner user inside the
# machine (uid 1000);
# and the cache agent that hands each job a snapshot of it, run by systemd
# as rigplan-cache-friend.service.
#
#   rigplan plan  -var 'devices=["/dev/sdb"]'
#   rigplan apply -var 'devices=["/dev/sdb"]'

variable "devices" {
  description = "Empty block devices for the volume group. rigplan refuses a disk that holds a filesystem or partition table."
  type        = list(string)
}

locals {
  # The runner user is uid 1000 inside the machine. The agent mounts each
  # snapshot idmapped to the machine's private user range, so files on the
  # volume carry the machine's own ids: 1000, not 570097664 + 1000, and
  # nothing is chowned when the range changes.
  runner_uid = 1000
}

volume_group "cache" {
  name    = "banana"
  devices = var.devices
}

thin_pool "cache" {
  volume_group = volume_group.cache.name
  name         = "friend-pool"
  size         = "30G"
  # A full pool fails writes at once instead of queueing them for 60 s.
  error_when_full = true
}

volume "default" {
  thin_pool  = thin_pool.cache.id
  name       = "friend-default"
  size       = "3G"
  filesystem = "xfs"
  uid        = local.runner_uid
  gid        = local.runner_uid
  # The original agent found its default volume by this tag.
  tags = ["friend:default"]
}

# The agent that replaced the original lvm-cache-friend.py. A job in the
# runner machine asks it over /run/rigplan-cache/socket (bind that
# directory into the machine) and gets a private thin snapshot of the best
# matching cache, or of the default volume, mounted at /home/ghrunner/cache.
cache "friend" {
  machines = {
    "github-runner" = ["/home/ghrunner/cache"]
  }
  lvm_store {
    # The reference orders the agent after the volume (and its pool).
    default_volume = volume.default.id
    # The original's tag prefix, and its discard mount option, which
    # returns the space a job frees to the pool.
    tag_namespace = "friend"
    mount_options = ["discard"]
  }
  # Seal what a job leaves when its machine stops, as the original did;
  # "on-save" keeps only what jobs save explicitly.
  commit = "on-exit"
  # What the original never did: delete old caches before the pool fills.
  retention {
    keep_per_set      = 3
    max_age           = "168h"
    data_high_percent = 85
    data_low_percent  = 70
  }
}

output "default_volume" {
  value = volume.default.path
}

output "cache_socket_directory" {
  description = "Bind this directory into the runner machine."
  value       = cache.friend.socket_directory
}
