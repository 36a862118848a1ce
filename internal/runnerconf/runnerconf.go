// Package runnerconf is the file a runner block becomes on the host,
// /etc/rigplan/runners/NAME.json: the registration policy the cache agent
// follows when a machine asks it for a runner's config. It names the
// credentials' files, never their contents; the files stay on the host,
// where no machine can read them.
package runnerconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rigplan/rigplan/internal/ghapi"
)

// Dir is where the files live.
const Dir = "/etc/rigplan/runners"

// ManagedBy is the mark every file carries.
const ManagedBy = "rigplan"

// Config is one runner block's policy.
type Config struct {
	// ManagedBy and Address are rigplan's mark: whose file this is.
	ManagedBy string `json:"managed_by"`
	Address   string `json:"address"`

	URL   string      `json:"api_url"`
	Scope ghapi.Scope `json:"scope"`
	// Labels are the runner's custom labels, rigplan's mark label (Label)
	// among them.
	Labels        []string `json:"labels"`
	Group         string   `json:"runner_group"`
	NamePrefix    string   `json:"name_prefix,omitempty"`
	Ephemeral     bool     `json:"ephemeral"`
	DisableUpdate bool     `json:"disable_update"`
	MinVersion    string   `json:"min_version,omitempty"`
	// Machines are the machines whose runners this policy registers.
	Machines []string   `json:"machines"`
	Auth     ghapi.Auth `json:"auth"`
}

// Label is the label marking the runners a block registers, e.g.
// "rigplan.runner.ci" for runner "ci".
func Label(name string) string { return "rigplan.runner." + name }

// RunnerName is the name of the runner a machine registers in the boot
// whose systemd InvocationID is invocation: [PREFIX-]MACHINE-XXXXXXXX,
// the first eight digits of the invocation. A runner whose name names
// another boot, or a machine that is not running, is left over.
func RunnerName(prefix, machine, invocation string) string {
	n := machine + "-" + invocation[:min(8, len(invocation))]
	if prefix != "" {
		n = prefix + "-" + n
	}
	return n
}

// Path is the file of runner block name under root.
func Path(root, name string) string { return filepath.Join(root, Dir, name+".json") }

// Marshal renders c, indented, ending in a newline.
func Marshal(c Config) []byte {
	c.ManagedBy = ManagedBy
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return append(b, '\n')
}

// Parse reads a file's contents; a file without rigplan's mark is an
// error.
func Parse(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.ManagedBy != ManagedBy || c.Address == "" {
		return c, fmt.Errorf("not rigplan's (no \"managed_by\": %q and address)", ManagedBy)
	}
	return c, nil
}

// ReadAll reads every file under root's Dir, by file name without
// ".json". Files that cannot be read or parsed are returned in bad, with
// why.
func ReadAll(root string) (map[string]Config, map[string]error, error) {
	entries, err := os.ReadDir(filepath.Join(root, Dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	good, bad := map[string]Config{}, map[string]error{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, Dir, e.Name()))
		if err == nil {
			var c Config
			if c, err = Parse(b); err == nil {
				good[name] = c
				continue
			}
		}
		bad[name] = err
	}
	return good, bad, nil
}

// ForMachine returns the policy whose Machines list machine, if any.
func ForMachine(all map[string]Config, machine string) (Config, bool) {
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, m := range all[n].Machines {
			if m == machine {
				return all[n], true
			}
		}
	}
	return Config{}, false
}
