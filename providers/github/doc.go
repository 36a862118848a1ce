// Package github implements the runner resource: a GitHub Actions runner
// registration policy.
//
//	runner "ci" {
//	  repository     = "acme/widgets"          # or organization, enterprise
//	  labels         = ["linux", "x64", "cache"]
//	  machines       = [machine.runner.name]
//	  token_file     = "/etc/rigplan/github-token"   # or an app block
//	  min_version    = "2.321.0"
//	}
//
// # What apply does
//
// It writes the policy to /etc/rigplan/runners/NAME.json
// (internal/runnerconf), marked with the block's address and naming the
// credentials' files, never their contents. The cache agent reads it to
// hand each listed machine a just-in-time runner config over its socket;
// the machine never sees the credentials.
//
// # GitHub's side as drift
//
// Every runner rigplan's agent registers carries the label
// rigplan.runner.NAME (the ownership mark on GitHub) and is named
// [PREFIX-]MACHINE-BOOT, BOOT the first eight digits of the machine unit's
// InvocationID. Refresh lists the scope's runners (all pages) and reports
// as computed lists:
//
//   - orphans: offline, not busy, carrying the label, and not the runner
//     of a running machine's current boot (a machine that died before or
//     during its job leaves one behind; GitHub only deletes ephemeral
//     runners that ran a job);
//   - outdated: older than min_version, from the version GitHub reports
//     once a runner has connected.
//
// Plan wants both empty, so they show as an in-place change, with a
// warning naming the runners; apply deletes them, except outdated ones
// running a job (left for the next apply). A runner without rigplan's
// label is never deleted. Removing the block (or destroy) deletes the
// file and every runner of the block without a job, the current boots'
// too (destroy stops their machines next); a runner in a job is left to
// GitHub, which removes an ephemeral runner after its job.
//
// # Checked before anything is written
//
// At validate: one scope, one kind of credentials (a token file or an
// App; Apps cannot manage enterprise runners), OWNER/REPO, runner groups
// only for organizations and enterprises, 1 to 99 labels without commas,
// duplicates or rigplan's prefix, paths not secrets (and a warning for any
// string of the block that looks like a token or key). At plan, for a
// block to create or change: one cheap list call and the runner group's
// lookup, so that bad or expired credentials, a key that is not PEM, an
// App not installed or lacking its permission, a missing group or GitHub
// being down fail the plan with what to fix (internal/ghapi's errors).
package github
