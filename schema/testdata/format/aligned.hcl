volume_group "fast" {
physical_volumes = ["/dev/nvme0n1", "/dev/nvme1n1"]
  tags = { team = "ci", "rigplan:owner"="platform" }
}

thin_pool "cache" {
    volume_group = volume_group.fast.name
    size = "800G"
  metadata_size    =   "8G"
    lifecycle {
  prevent_destroy = true
    }
}
