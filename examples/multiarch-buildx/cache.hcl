# One cache agent per platform: rigplan-cache-buildx-amd64.service and
# rigplan-cache-buildx-arm64.service, each with its own socket, pool,
# default volume and tag namespace, and each serving one machine only.
#
# Why caches of two platforms never share a writer, at three levels:
#
#   - Every mount is a private copy-on-write snapshot (cache/agent/doc.go:
#     "A snapshot's life"). A job writes only its own snapshot; the sealed
#     cache it was copied from is never written again, and a snapshot in
#     use by a live machine is never handed to another job as an origin.
#     Two jobs never write the same volume, whatever they ask for. (The
#     original runner host shared one layer directory between runners and
#     broke when one job finished while another was still reading it.)
#   - Each agent lists only its machine, and refuses every other peer: the
#     arm64 machine cannot even be given an amd64 snapshot, so a workflow
#     that asks for the wrong key gets an empty cache, not the other
#     platform's layers.
#   - Each platform has a pool of its own (main.hcl), so their retention
#     and watermarks never see each other's data.
cache "buildx" {
  for_each = local.platforms

  # Two caches need two sockets, each in a directory of its own inside
  # /run/rigplan-cache (root-only: host users cannot reach them). The
  # machine binds that directory at /run/rigplan-cache (machine_bind in
  # machines.hcl), the path every client in it uses by default, so jobs
  # and the composite action need no socket setting.
  socket = "/run/rigplan-cache/${each.key}/socket"

  # The only machine this agent answers, and where it may mount:
  #   /home/ghrunner/cache  the job's buildx layer cache (the workflow asks
  #                         for it with examples/github-action/cache)
  #   /var/lib/docker       Docker's storage, asked for at each boot by
  #                         runner/docker-root before Docker starts: the
  #                         machine's own root is a tmpfs (RAM), far too
  #                         small for a build, and overlay2 cannot run on it.
  machines = {
    (each.value.machine) = ["/home/ghrunner/cache", "/var/lib/docker"]
  }

  lvm_store {
    default_volume = volume.empty[each.key].id
    # Required, not cosmetic: both pools are in one volume group, and an
    # agent takes every LV of its namespace in the group for its own (it
    # lists, seals, deletes and, after a crash, cleans up by these tags).
    # Two agents with one namespace in one group would delete each other's
    # snapshots.
    tag_namespace = "buildx-${each.key}"
    # Space a job frees (the old cache directory it replaces, layers
    # BuildKit deletes during a build) goes back to the pool at once.
    mount_options = ["discard"]
  }

  # Only what a job saves becomes a cache; everything else a job mounted
  # is deleted when its machine powers off. That is what makes
  # /var/lib/docker a scratch volume (never saved, so never kept), keeps a
  # failed or cancelled 30-hour build from becoming the next build's
  # cache, and lets the workflow save from the default branch only, so
  # that each platform has exactly one annotation set ("buildx
  # linux/arm64 branch:main") for keep_per_set to count.
  commit = "on-save"

  retention {
    # N = 2 per annotation set (main.hcl's arithmetic). Caches are keyed by
    # platform and branch, never by a hash of the Dockerfile: BuildKit's
    # cache is content-addressed already, and a hash in the key would
    # start a new set at every change, each set keeping its own N, which
    # is how a cache that is "retained" still fills a disk.
    keep_per_set = local.keep_per_set
    # Builds are rare (months between dependency changes), and an age
    # limit shorter than that would throw away the only arm64 cache and
    # make the next build start from nothing: 30 hours instead of minutes.
    # Half a year only clears sets no workflow uses any more (a branch that
    # once saved); every build of main renews its set.
    max_age = "4320h"
    # 80% of 120 GiB = 96 GiB = 2V: a runaway job alone stays below it;
    # normal operation peaks at 64 GiB, below the low mark of 72 GiB.
    data_high_percent = local.high_percent
    data_low_percent  = local.low_percent
    # Metadata grows with snapshots and with what they share, which no
    # arithmetic predicts well; the same watermarks make the agent delete
    # old caches before metadata runs out rather than after.
    metadata_high_percent = local.high_percent
    metadata_low_percent  = local.low_percent
  }

  # No limit here bounds how long a mount lives: a snapshot stays mounted
  # until its machine's leader exits, however long the job runs. The
  # request timeouts bound one request (a mount or a save, each well under
  # a second of LVM work), not the job; the defaults stand.
}

output "cache_units" {
  value = { for k, c in cache.buildx : k => c.unit }
}
