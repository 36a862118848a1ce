# A multi-architecture image build host: two runner machines, one per
# platform, for jobs that build a container image with docker buildx and
# may run for days (an emulated arm64 build of a large image takes ~30 h).
#
#   linux/amd64  machine buildx-amd64, runner labels [linux, x64, buildx-amd64]
#                builds natively
#   linux/arm64  machine buildx-arm64, runner labels [linux, x64, buildx-arm64, qemu]
#                builds under qemu-user emulation (the machine itself is x64)
#
# Each platform has a thin pool, an empty default volume, a cache agent and
# a machine of its own; the two machines share one image. The files:
#
#   main.hcl      inputs, the two platforms, the sizing arithmetic, storage
#   cache.hcl     one cache agent per platform: the layer cache and Docker's storage
#   machines.hcl  the runner image, the two machines, the two runner registrations
#   runner/       the image's Containerfile and the units it boots
#   workflow/     the GitHub Actions workflow that uses the two runners
#   README.md     the host explained for an operator
#
#   rigplan validate examples/multiarch-buildx
#   rigplan plan  -var 'devices=["/dev/sdb"]' examples/multiarch-buildx
#   rigplan apply -var 'devices=["/dev/sdb"]' examples/multiarch-buildx
#
# The host, before the first apply (see README.md): Debian 12 (Linux 6.1:
# Docker in the machines runs overlay2 inside a user namespace, on the
# agent's idmapped mounts, which older kernels refuse), lvm2,
# thin-provisioning-tools, xfsprogs, systemd-container, podman, and
# qemu-user-static, whose binfmt_misc entries must carry the F flag:
#
#   grep flags /proc/sys/fs/binfmt_misc/qemu-aarch64    # the letters must include F
#
# binfmt_misc is the kernel's, shared by every machine; with F the kernel
# opens the qemu binary when the entry is registered, so arm64 programs run
# inside the machine (and inside Docker there) although qemu is not in its
# image. Without F, every arm64 RUN step of a build fails with "exec format
# error" or "no such file". The machines cannot register entries
# themselves (docker/setup-qemu-action does not work in them; the
# workflow does not use it).

variable "devices" {
  description = "Empty block devices for the volume group, at least 256 GiB in all (two 120G pools, their metadata and LVM's spare metadata). rigplan refuses a disk that holds a filesystem or partition table."
  type        = list(string)
}

variable "repository" {
  description = "The repository whose image workflow runs on these runners, OWNER/REPO."
  type        = string
  default     = "acme/images"
}

variable "runner_version" {
  description = "Version of GitHub's actions/runner installed in the image."
  type        = string
  default     = "2.321.0"
}

locals {
  # The two platforms. Everything per platform is a for_each over this map:
  # a pool, a default volume, a cache agent, a machine and a runner.
  #
  # The labels say what a job gets: the runner itself is x64 on both
  # machines. There is deliberately no label "arm64": GitHub compares
  # labels without case, and ARM64 is the architecture label of native
  # arm64 runners, so a workflow elsewhere asking for [self-hosted, ARM64]
  # must not land on a machine that only emulates arm64.
  #
  # users is the machine's private user range on the host (BASE:RANGE):
  # 65536 ids at a multiple of 65536, disjoint from each other and from
  # examples/lvm-cache-runner's 570097664:131072, so the examples can share a
  # host. Docker in the machine runs as the machine's root and needs no
  # second range (nested_podman is for rootless podman).
  platforms = {
    amd64 = {
      platform = "linux/amd64"
      machine  = "buildx-amd64"
      labels   = ["linux", "x64", "buildx-amd64"]
      users    = "570228736:65536"
    }
    arm64 = {
      platform = "linux/arm64"
      machine  = "buildx-arm64"
      labels   = ["linux", "x64", "buildx-arm64", "qemu"]
      users    = "570294272:65536"
    }
  }

  # The runner user is uid 1000 inside the machines. The agent mounts
  # every snapshot idmapped to the machine's user range, so files on the
  # volumes carry the machine's own ids, whatever range the machine has.
  runner_uid = 1000

  # Sizing, per platform (each platform has a pool of its own, so one
  # platform's builds can never take the other's space). In GiB:
  #
  #   C = cache_gib   8   one platform's buildx layer cache (type=local,
  #                       mode=max). A full build of the image this host
  #                       was first made for exported 1.8 GB; 8 leaves
  #                       room to grow.
  #   S = docker_gib  40  Docker's storage during one build: BuildKit's
  #                       state, the image, the compressed cache before it
  #                       is exported. A build's scratch, never kept.
  #   N = keep_per_set 2  sealed caches kept per platform: the newest, and
  #                       the one before it in case the newest is bad.
  #   V = volume_gib  48  the default volume's virtual size: the size of the
  #                       filesystem every mount sees. The cache mount holds
  #                       the old and the new cache during a build (2C = 16)
  #                       and Docker's storage needs S = 40: V >= max(2C, S).
  #   P = pool_gib   120  the thin pool.
  #
  # What the pool holds at most, in normal operation: N sealed caches, the
  # running job's new cache (its sealed copy after `save` shares those
  # blocks until retention drops the oldest), and its Docker storage:
  #
  #   (N + 1) * C + S = 3 * 8 + 40 = 64 GiB   (53% of P)
  #
  # which is below the low watermark (60% = 72 GiB), so retention deletes
  # by count only (keep_per_set) and the space rule never has to.
  #
  # The bound that keeps the pool from ever filling, even if every
  # estimate above is wrong and retention deletes nothing: a job writes
  # only into its two snapshots, each a filesystem of V, so it can add at
  # most 2V to the pool before its own writes fail with "no space left on
  # device" (a clean error in that job, not a thin pool error):
  #
  #   2V + N * C = 96 + 16 = 112 GiB <= P = 120 GiB
  #
  # and 2V = 96 GiB is exactly the high watermark (80% of P): a runaway job
  # alone never pushes the pool over it; if it and the sealed caches do,
  # the agent deletes sealed caches, oldest first, to get back under it
  # (down to 60% if it can).
  #
  # To change a figure, keep both inequalities: (N + 1) * C + S below
  # low% * P, and 2V + N * C at most P. Growing V or P later is in place
  # (lvextend, online); shrinking either replaces it, which rigplan refuses
  # without -allow-data-loss. A snapshot has its origin's size, so a larger
  # V reaches Docker's storage (always a copy of the default volume) at the
  # next boot, but the layer cache only once a build starts from the
  # default volume again (`rigplan cache rm` the platform's sealed caches).
  cache_gib    = 8
  docker_gib   = 40
  keep_per_set = 2
  volume_gib   = 48
  pool_gib     = 120
  high_percent = 80
  low_percent  = 60
}

volume_group "buildx" {
  name    = "buildx"
  devices = var.devices
}

# One pool per platform. A pool shared by both would let a runaway arm64
# build evict the amd64 caches (the watermarks are the pool's, and each
# agent deletes only its own snapshots), and fill the amd64 job's pool
# too.
thin_pool "buildx" {
  for_each = local.platforms

  volume_group = volume_group.buildx.name
  name         = "buildx-${each.key}-pool"
  size         = "${local.pool_gib}G"
  # A full pool fails writes at once instead of queueing them for 60 s:
  # a job that somehow fills it fails fast. The arithmetic above says it
  # never happens; this is what happens if it does.
  error_when_full = true
}

# The volume every snapshot of a platform starts from: empty xfs, owned by
# the runner user. Thin, so its 48G cost nothing until written; nothing
# ever writes to it (jobs write to snapshots of it).
volume "empty" {
  for_each = local.platforms

  thin_pool  = thin_pool.buildx[each.key].id
  name       = "buildx-${each.key}-empty"
  size       = "${local.volume_gib}G"
  filesystem = "xfs" # ftype=1 by default, which Docker's overlay2 needs
  uid        = local.runner_uid
  gid        = local.runner_uid
  mode       = "0755"
}

output "pools" {
  description = "Watch these: lvs -o lv_name,data_percent,metadata_percent VG/POOL."
  value       = { for k, p in thin_pool.buildx : k => p.id }
}
