# The cache agent that replaced the original lvm-cache-friend.py, run by
# systemd as rigplan-cache-friend.service. A job in the runner machine asks
# it over /run/rigplan-cache/socket in the machine (workflow/build.yml;
# on the host the socket is /run/rigplan-cache/machines/socket, behind a
# directory only root may enter, so host users cannot reach it) and gets, in well
# under a second whatever the cache's size, a private thin snapshot of the
# best matching cache, or of the default volume, mounted where it asked.

cache "friend" {
  # The machines that may ask, and where they may mount a cache.
  machines = {
    "github-runner" = ["/home/ghrunner/cache"]
  }

  lvm_store {
    # The reference orders the agent after the volume (and its pool).
    default_volume = volume.default.id
    # The original's tag prefix (friend:cache:TERM on each snapshot), and
    # its discard mount option, which returns what a job frees to the pool.
    tag_namespace = "friend"
    mount_options = ["discard"]
  }

  # When the machine powers off after its job, what the job left in the
  # cache is sealed and becomes a candidate for the next jobs, as in the
  # original. ("on-save" keeps only what jobs save explicitly.)
  commit = "on-exit"

  # What the original never did: delete old caches before the pool fills.
  retention {
    keep_per_set      = 3      # the newest 3 snapshots of each set of terms
    max_age           = "168h" # nothing older than a week
    data_high_percent = 85     # above 85% of the pool, delete oldest first …
    data_low_percent  = 70     # … down to 70%
  }
}

output "cache_machine_bind" {
  description = "The socket's directory, bound read-only into the runner machine where its clients look."
  value       = cache.friend.machine_bind
}
