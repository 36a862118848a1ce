package inject

import "testing"

func TestMachineOfCgroup(t *testing.T) {
	for _, tc := range []struct {
		cg, name, unit string
	}{
		{"/machine.slice/systemd-nspawn@ci.service/payload", "ci", "/machine.slice/systemd-nspawn@ci.service"},
		{"/machine.slice/systemd-nspawn@ci.service", "ci", "/machine.slice/systemd-nspawn@ci.service"},
		{"/machine.slice/systemd-nspawn@ci-runner-1.service/payload/system.slice/runner.service", "ci-runner-1", "/machine.slice/systemd-nspawn@ci-runner-1.service"},
		{`/machine.slice/machine-ci\x2drunner.scope/payload`, "ci-runner", `/machine.slice/machine-ci\x2drunner.scope`},
		{`/machine.slice/systemd-nspawn@a\x2eb.service/payload`, "a.b", `/machine.slice/systemd-nspawn@a\x2eb.service`},
		// A machine a job started inside its machine does not decide.
		{"/machine.slice/systemd-nspawn@outer.service/payload/machine.slice/systemd-nspawn@inner.service/payload", "outer", "/machine.slice/systemd-nspawn@outer.service"},
		// Not machines.
		{"/", "", ""},
		{"/user.slice/user-1000.slice/session-3.scope", "", ""},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/systemd-nspawn@ci.service", "", ""},
		{"/system.slice/systemd-nspawn@ci.service", "", ""},
		{"/machine.slice", "", ""},
		{"/machine.slice/systemd-nspawn@.service/payload", "", ""},
		{"/machine.slice/systemd-nspawn@ci.scope/payload", "", ""},
		{"/machine.slice/machine-ci.service/payload", "", ""},
		{"/machine.slice/libvirtd.service", "", ""},
		{`/machine.slice/systemd-nspawn@a\x2fb.service`, "", ""},
		{`/machine.slice/systemd-nspawn@a\x2.service`, "", ""},
		{`/machine.slice/systemd-nspawn@\x2e\x2e.service`, "", ""},
	} {
		name, unit, ok := machineOfCgroup(tc.cg)
		if name != tc.name || unit != tc.unit || ok != (tc.name != "") {
			t.Errorf("machineOfCgroup(%q) = %q, %q, %v; want %q, %q", tc.cg, name, unit, ok, tc.name, tc.unit)
		}
	}
}

func TestUnitNameEscapes(t *testing.T) {
	for _, tc := range []struct{ name, esc string }{
		{"ci", "ci"},
		{"ci-runner", `ci\x2drunner`},
		{"a.b_c:d", "a.b_c:d"},
		{".hidden", `\x2ehidden`},
		{"ü", `\xc3\xbc`},
	} {
		if got := escapeUnitName(tc.name); got != tc.esc {
			t.Errorf("escapeUnitName(%q) = %q, want %q", tc.name, got, tc.esc)
		}
		if got, err := unescapeUnitName(tc.esc); err != nil || got != tc.name {
			t.Errorf("unescapeUnitName(%q) = %q, %v; want %q", tc.esc, got, err, tc.name)
		}
	}
	for _, bad := range []string{`\`, `\x`, `\x4`, `\y41`, `a\xzz`} {
		if got, err := unescapeUnitName(bad); err == nil {
			t.Errorf("unescapeUnitName(%q) = %q, want an error", bad, got)
		}
	}
}
