# The storage of the original hand-built runner host, declared: a volume
# group on a spare disk, a 30G thin pool for CI caches, and the 3G xfs
# volume every cache starts from, owned by the runner user inside the
# machine (uid 1000 in a machine whose user range starts at 570097664).
#
#   rigplan plan  -var 'devices=["/dev/sdb"]'
#   rigplan apply -var 'devices=["/dev/sdb"]'

variable "devices" {
  description = "Empty block devices for the volume group. rigplan refuses a disk that holds a filesystem or partition table."
  type        = list(string)
}

variable "machine_uid_base" {
  description = "First host uid of the runner machine's private user range; root in the machine is this uid on the host."
  type        = number
  default     = 570097664
}

locals {
  # The runner user is uid 1000 inside the machine.
  runner_uid = var.machine_uid_base + 1000
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

output "default_volume" {
  value = volume.default.path
}
