package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rigplan/rigplan/internal/ociimage/ocitest"
)

// reports is the host directory bound read-write at /jobs in the machine:
// the stand-in runner takes its jobs from there and reports into it.
const reports = "/srv/jobs"

// runnerUID is ghrunner's uid in the machine (runner/Containerfile).
const runnerUID = 1000

// bootScript is the stand-in image's /sbin/init, doing at each boot what
// runner/github-runner.service does: fetch a just-in-time config with the
// example's runner-config, wait for a job, run it, power off. It reports
// each boot in /jobs/boot-B and takes job N when /jobs/job-N.sh appears.
const bootScript = `#!/bin/sh
b=1
while [ -e /jobs/boot-$b ]; do b=$((b+1)); done
mkdir -p /run/github-runner
if /usr/local/bin/runner-config 2>/jobs/boot-$b.err; then runner=configured; else runner=failed; fi
{
	echo "image $(cat /etc/image-version)"
	if [ -e /home/ghrunner/left-by-job ]; then echo "root dirty"; else echo "root clean"; fi
	echo "runner $runner $(wc -c </run/github-runner/jitconfig 2>/dev/null)"
} >/jobs/boot-$b.part
mv /jobs/boot-$b.part /jobs/boot-$b
# systemd-nspawn stops a booted machine with SIGRTMIN+3 (37).
trap 'kill $job 2>/dev/null; exit 0' 37
n=1
while [ -e /jobs/taken-$n ]; do n=$((n+1)); done
while [ ! -e /jobs/job-$n.sh ]; do sleep 0.1; done
echo "boot $b" >/jobs/taken-$n
/usr/local/bin/Runner.Worker $n &
job=$!
wait $job
exec poweroff -f
`

// workerScript runs job N's steps as the runner user, like GitHub's
// Runner.Worker, whose name tells rigplan the machine is busy.
const workerScript = `#!/bin/sh
su -s /bin/sh ghrunner -c "cd /home/ghrunner && sh -e /jobs/job-$1.sh" >/jobs/job-$1.part 2>&1
echo "exit $?" >>/jobs/job-$1.part
mv /jobs/job-$1.part /jobs/job-$1.out
`

// writeImage writes the stand-in runner image as an OCI layout: busybox,
// ncat, the example's runner/runner-config, the scripts above, and
// version in /etc/image-version.
func writeImage(t *testing.T, dir, version string) {
	t.Helper()
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("the test host has no static busybox: %v", err)
	}
	runnerConfig, err := os.ReadFile(filepath.Join(example, "runner", "runner-config"))
	if err != nil {
		t.Fatal(err)
	}
	home := func(e ocitest.Entry) ocitest.Entry { e.UID, e.GID = runnerUID, runnerUID; return e }
	entries := []ocitest.Entry{
		ocitest.Dir("bin", 0o755), ocitest.Dir("sbin", 0o755), ocitest.Dir("etc", 0o755),
		ocitest.Dir("usr", 0o755), ocitest.Dir("usr/local", 0o755), ocitest.Dir("usr/local/bin", 0o755),
		ocitest.Dir("jobs", 0o755), ocitest.Dir("run", 0o755), ocitest.Dir("tmp", 0o1777),
		ocitest.Dir("home", 0o755), home(ocitest.Dir("home/ghrunner", 0o755)), home(ocitest.Dir("home/ghrunner/cache", 0o755)),
		ocitest.File("bin/busybox", string(busybox), 0o755),
		ocitest.File("sbin/init", bootScript, 0o755),
		ocitest.File("usr/local/bin/Runner.Worker", workerScript, 0o755),
		ocitest.File("usr/local/bin/runner-config", string(runnerConfig), 0o755),
		ocitest.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nghrunner:x:1000:1000::/home/ghrunner:/bin/sh\n", 0o644),
		ocitest.File("etc/group", "root:x:0:\nghrunner:x:1000:\n", 0o644),
		// systemd-nspawn --boot refuses a root without os-release.
		ocitest.File("etc/os-release", "ID=e2e\nNAME=\"stand-in runner\"\n", 0o644),
		ocitest.File("etc/image-version", version+"\n", 0o644),
	}
	for _, applet := range []string{"sh", "cat", "cut", "wc", "mkdir", "mv", "sleep", "poweroff", "su", "touch", "printf", "echo"} {
		entries = append(entries, ocitest.Symlink("bin/"+applet, "busybox"))
	}
	entries = append(entries, treeEntries(t, ncatRoot)...)
	ocitest.WriteLayout(t, dir, ocitest.Layer(t, entries...))
}

// treeEntries is a directory's tree as layer entries at the same paths.
func treeEntries(t *testing.T, root string) []ocitest.Entry {
	t.Helper()
	var entries []ocitest.Entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			entries = append(entries, ocitest.Dir(rel, 0o755))
			return nil
		}
		b, err := os.ReadFile(p)
		entries = append(entries, ocitest.File(rel, string(b), 0o755))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}
