package nspawn

import (
	"strings"
	"testing"

	"github.com/rigplan/rigplan/providers/providertest"
)

// TestValidation checks each rule, and that its diagnostic points at the
// attribute at fault (the line of the source that names it).
func TestValidation(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, body, summary, attr string
	}{
		{"read-only chown", `private_users = "524288:65536"
  ownership = "chown"
  read_only = true`, "read_only with chown ownership", "ownership"},
		{"chown unaligned", `private_users = "570097664:131072"
  ownership = "chown"`, "chown needs an aligned 65536 range", "ownership"},
		{"chown odd base", `private_users = "570097665:65536"
  ownership = "chown"`, "chown needs an aligned 65536 range", "ownership"},
		{"nested podman small range", `private_users = "570097664:65536"
  ownership = "off"
  nested_podman = true`, "No room for nested podman", "private_users"},
		{"nested podman pick", `nested_podman = true`, "No room for nested podman", "nested_podman"},
		{"off with pick", `ownership = "off"`, "ownership off with a picked range", "ownership"},
		{"bad range", `private_users = "1000:65536"`, "base 1000 would map", "private_users"},
		{"range past the end", `private_users = "4294901760:131072"`, "ends beyond the last uid", "private_users"},
		{"relative bind", `bind = ["srv"]`, "not absolute", "bind"},
		{"bad volatile", `volatile = "tmpfs"`, "not one of", "volatile"},
		{"unquotable command", `command = ["/bin/sh", "-c", "echo 'a' \"b\""]`, "cannot quote", "command"},
		{"quote in env", `environment = { A = "x\"y" }`, "double quote", "environment"},
		{"bad env", `environment = { "A B" = "1" }`, "not an environment variable name", "environment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "machine \"runner\" {\n  name = \"github-runner\"\n  image = \"" + layoutPath + "\"\n  " + tc.body + "\n}\n"
			_, diags := providertest.Decode(e.p, runner, src)
			found := false
			for _, d := range diags {
				if !strings.Contains(d.Summary+" "+d.Detail, tc.summary) {
					continue
				}
				found = true
				if d.Subject == nil {
					t.Fatalf("%q has no source range", d.Summary)
				}
				line := strings.Split(src, "\n")[d.Subject.Start.Line-1]
				if !strings.HasPrefix(strings.TrimSpace(line), tc.attr) {
					t.Errorf("%q points at %q, not at %s", d.Summary, line, tc.attr)
				}
			}
			if !found {
				t.Errorf("no diagnostic %q in %v", tc.summary, diags)
			}
		})
	}
}

func TestValidationAcceptsOriginal(t *testing.T) {
	e := newEnv(t)
	_, diags := providertest.Decode(e.p, runner, `machine "runner" {
  name = "github-runner"
  image = "/var/lib/rigplan/images/runner/oci"
  private_users = "570097664:131072"
  ownership = "off"
  nested_podman = true
  read_only = true
}
`)
	if len(diags) > 0 {
		t.Errorf("the original machine gets diagnostics: %v", diags)
	}
}

func TestMachineNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"github-runner": true, "runner_1": true, "a.b": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, ".hidden": false, "a..b": false, "a.": false,
		"-x": false, "a/b": false, "a b": false, "ünï": false,
	} {
		if err := checkMachineName(name); (err == nil) != ok {
			t.Errorf("checkMachineName(%q) = %v, want ok=%t", name, err, ok)
		}
	}
}

func TestMachineNameDiagnostic(t *testing.T) {
	e := newEnv(t)
	_, diags := providertest.Decode(e.p, runner, "machine \"runner\" {\n  name = \"run/ner\"\n  image = \""+layoutPath+"\"\n}\n")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "machine name") || diags[0].Subject == nil || diags[0].Subject.Start.Line != 2 {
		t.Errorf("a bad machine name gets %v", diags)
	}
}
