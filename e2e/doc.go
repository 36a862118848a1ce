// Package e2e runs the whole runner host of examples/lvm-cache-runner, as
// an operator would, inside the systemd test host (package testhost): real
// LVM thin pools on a scratch disk, the cache agent under systemd, the
// runner machine booted by systemd-nspawn@.service again after every job,
// and its runner registered on a strict local GitHub.
//
// The test is also rigplan's demo: with RIGPLAN_DEMO=1 (`make demo`) it
// prints what an operator should look at, the plans and applies and, for
// each job, which criterion found its cache and how long the restore took.
//
// The runner image is a stand-in for runner/Containerfile's (the test host
// has no network to fetch GitHub's runner): a static busybox whose init
// runs the example's own runner-config at each boot, then one job that
// runs the cache step of the example's workflow/build.yml verbatim, with
// ncat, as the runner user, and powers the machine off.
package e2e
