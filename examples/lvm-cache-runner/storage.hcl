# The storage of the original hand-built runner host: a volume group on a
# spare disk, a 30G thin pool for CI caches, and the 3G xfs volume every
# cache starts from.

variable "devices" {
  description = "Empty block devices for the volume group, e.g. [\"/dev/sdb\"]. rigplan refuses a disk that holds a filesystem or partition table."
  type        = list(string)
}

locals {
  # The runner user, ghrunner, is uid 1000 inside the machine
  # (runner/Containerfile). The agent mounts each snapshot idmapped to
  # the machine's user range, so the volume's files carry the machine's
  # own ids: 1000, not 570097664 + 1000, and nothing is ever chowned when
  # the range changes.
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
  size       = "3G" # grow it later: lvextend and xfs_growfs, online
  filesystem = "xfs"
  uid        = local.runner_uid
  gid        = local.runner_uid
  # The original agent found its default volume by this tag.
  tags = ["friend:default"]
}
