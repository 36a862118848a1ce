package nspawn

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/internal/golden"
)

// original is the original setup's machine, as settings.
func original() settings {
	return settings{
		privateUsers: "570097664:131072", ownership: "off", volatile: "overlay", resolvConf: "replace-host", linkJournal: "try-host",
		network: "veth", readOnly: true, bindReadOnly: []string{"/run/rigplan-cache"},
		environment: map[string]string{}, restart: "always", unitEnvironment: map[string]string{"SYSTEMD_SECCOMP": "0"},
	}
}

func TestRenderOriginal(t *testing.T) {
	s := original()
	golden.Check(t, "testdata/github-runner.nspawn", renderSettings(runner, s))
	golden.Check(t, "testdata/rigplan.conf", renderDropIn(runner, s))
}

func TestRenderCommand(t *testing.T) {
	s := original()
	s.command = []string{"/bin/sh", "-c", `echo "hi there" \ ok`}
	s.network, s.privateUsers, s.ownership = "none", "pick", "map"
	s.environment = map[string]string{"B": "2", "A": "1 2"}
	golden.Check(t, "testdata/command.nspawn", renderSettings(runner, s))
}

func TestSettingsRoundTrip(t *testing.T) {
	for _, mod := range []func(*settings){
		func(*settings) {},
		func(s *settings) { s.command = []string{"/bin/sh", "-c", `echo "a b" \d`, "it's"}; s.network = "host" },
		func(s *settings) {
			s.network = "none"
			s.bind = []string{"/srv:/srv:norbind"}
			s.environment = map[string]string{"X": "y=z"}
		},
		func(s *settings) {
			s.privateUsers = "no"
			s.readOnly = false
			s.volatile = "state"
			s.restart = "on-failure"
		},
	} {
		s := original()
		mod(&s)
		if s.privateUsers == "no" {
			s.ownership = "auto" // not written without private users
		}
		got := parseSettings(renderSettings(runner, s), renderDropIn(runner, s))
		if !reflect.DeepEqual(norm(got), norm(s)) {
			t.Errorf("round trip changed the settings\n got %+v\nwant %+v", got, s)
		}
	}
}

func norm(s settings) settings {
	if len(s.bind) == 0 {
		s.bind = nil
	}
	if len(s.command) == 0 {
		s.command = nil
	}
	return s
}

func TestParseHandEdits(t *testing.T) {
	s := parseSettings([]byte("[Exec]\nPrivateUsers=570097664:65536\n[Files]\nVolatile=no\nReadOnly=false\n"), []byte("[Service]\nRestart=no\n"))
	if s.privateUsers != "570097664:65536" || s.volatile != "no" || s.readOnly || s.restart != "no" || s.network != "veth" {
		t.Errorf("hand-edited files read as %+v", s)
	}
}

// TestDropInVerifies runs systemd-analyze verify on the drop-in applied
// to the real systemd-nspawn@.service, as systemd would load them.
func TestDropInVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd)")
	}
	tmpl := "/lib/systemd/system/systemd-nspawn@.service"
	b, err := os.ReadFile(tmpl)
	if err != nil {
		t.Skipf("%s is missing (Debian package systemd-container)", tmpl)
	}
	dir := t.TempDir()
	unit := filepath.Join(dir, "systemd-nspawn@github-runner.service")
	if err := os.WriteFile(unit, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(unit+".d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(unit+".d", dropInName), renderDropIn(runner, original()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", "--man=no", unit)
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	out, err := cmd.CombinedOutput()
	// Lines about other units (machines.target, modprobe@) are the host's.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "rigplan.conf") || strings.Contains(line, "Unknown key") || strings.Contains(line, "Invalid") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil && strings.Contains(string(out), "rigplan.conf") {
		t.Errorf("systemd-analyze verify failed: %v\n%s", err, out)
	}
}

func TestWordsRoundTrip(t *testing.T) {
	for _, words := range [][]string{{"a"}, {"a b", `c"d`, `e\f`, "", "it's"}, {"SYSTEMD_SECCOMP=0"}, {"X=with space"}} {
		if got := splitWords(quoteWords(words)); !reflect.DeepEqual(got, words) {
			t.Errorf("%q → %q → %q", words, quoteWords(words), got)
		}
	}
}
