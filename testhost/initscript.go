package testhost

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"
)

// templates holds PID 1 of each boot flavour, and what they share.
//
//go:embed init.sh.tmpl systemd.sh.tmpl lvm.conf.tmpl
var templates embed.FS

// sharedTemplates are parsed along with every flavour's PID 1.
var sharedTemplates = []string{"lvm.conf.tmpl"}

// initData is what a PID 1 template is rendered with.
type initData struct {
	RunDir   string   // the harness's tmpfs directory inside
	Serial   string   // the line the tests' output goes to
	ExitFile string   // where PID 1 writes the tests' exit status (on hostfs)
	Release  string   // kernel release, for the modules tree modprobe expects
	Modules  string   // the release's modules directory
	Load     []string // modules to load
	Dir      string   // the tests' working directory
	Env      []string // the tests' complete environment, KEY=VALUE
	Argv     []string // the test binary and its arguments
	// The systemd flavour only:
	BootMount   string   // where PID 1 mounts the boot directory
	StartedFile string   // what PID 1 writes when it starts the tests
	HostDirs    []string // host directories mounted at the same path inside
}

// renderInit renders the flavour's PID 1 for one run.
func renderInit(cfg bootConfig, d bootDir, spec runSpec, token string) ([]byte, error) {
	if len(spec.argv) == 0 || strings.Contains(spec.argv[0], "=") {
		return nil, fmt.Errorf("test binary path %q is empty or contains '=', which env(1) would take for a variable", spec.argv)
	}
	tmpl, err := template.New(cfg.template).
		Funcs(template.FuncMap{"q": shellQuote, "qs": shellQuoteAll}).
		ParseFS(templates, append([]string{cfg.template}, sharedTemplates...)...)
	if err != nil {
		return nil, fmt.Errorf("parsing the init template %s: %w", cfg.template, err)
	}
	data := initData{
		RunDir:   runDir,
		Serial:   serialDevice,
		ExitFile: cfg.inside(d.exitFile()),
		Release:  cfg.release,
		Modules:  cfg.modules,
		Load:     cfg.load,
		Dir:      spec.dir,
		Env:      innerEnv(spec.env, token, cfg.diskDevices(), spec.deadline()),
		Argv:     spec.argv,
	}
	if cfg.bootMount != "" {
		// The root is not the host's: the boot directory and the tests'
		// own files are seen only where PID 1 mounts them.
		data.BootMount = cfg.bootMount
		data.StartedFile = cfg.inside(d.startedFile())
		if data.HostDirs, err = hostDirs(spec); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("rendering the init template %s: %w", cfg.template, err)
	}
	return b.Bytes(), nil
}

// writeInit renders PID 1 into the boot directory.
func writeInit(cfg bootConfig, d bootDir, spec runSpec, token string) error {
	script, err := renderInit(cfg, d, spec, token)
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.initScript(), script, 0o700); err != nil {
		return fmt.Errorf("writing the test kernel's init script: %w", err)
	}
	return nil
}

// innerEnv is the environment of the test binary inside: the caller's own,
// with the harness's variables set and TMPDIR moved onto the test kernel's
// tmpfs (so t.TempDir, unix sockets and mounts on it never touch the host).
func innerEnv(outer []string, token string, disks []string, deadline time.Time) []string {
	override := map[string]string{
		envBoot:           token,
		envDisks:          strings.Join(disks, ","),
		envDeadline:       "",
		"TMPDIR":          filepath.Join(runDir, "tmp"),
		"DM_DISABLE_UDEV": "1",
		"PATH":            "",
		"HOME":            "/root",
	}
	var env []string
	for _, kv := range outer {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := override[k]; !ok {
			env = append(env, kv)
			continue
		}
		switch k {
		case "PATH":
			override[k] = v
		case "HOME":
			if v != "" {
				override[k] = v
			}
		}
	}
	override["PATH"] = innerPath(override["PATH"])
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "DM_DISABLE_UDEV", envBoot, envDisks} {
		env = append(env, k+"="+override[k])
	}
	if !deadline.IsZero() {
		env = append(env, envDeadline+"="+deadline.UTC().Format(time.RFC3339Nano))
	}
	return env
}

// innerPath puts the modprobe wrapper first and makes sure the system
// directories (sbin for lvm) are searched after the caller's own.
func innerPath(outer string) string {
	dirs := []string{filepath.Join(runDir, "bin")}
	seen := map[string]bool{dirs[0]: true}
	for _, d := range append(filepath.SplitList(outer), systemPath...) {
		if d != "" && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return strings.Join(dirs, string(filepath.ListSeparator))
}

// shellQuote quotes s for a POSIX shell: single quotes keep every byte
// literal except the single quote itself.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellQuoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = shellQuote(s)
	}
	return strings.Join(q, " ")
}

// hostDirs lists the host directories the tests need in a root that is not
// the host's: the test binary's (go test also writes coverage and profiles
// there) and the working directory (testdata). Each is mounted at its host
// path; one inside another is covered by the outer one.
func hostDirs(spec runSpec) ([]string, error) {
	dirs := []string{filepath.Dir(spec.argv[0]), spec.dir}
	slices.SortFunc(dirs, func(a, b string) int { return len(a) - len(b) })
	var keep []string
	for _, d := range dirs {
		d = filepath.Clean(d)
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("the tests' directory %q is not absolute", d)
		}
		if strings.Contains(d, ",") {
			return nil, fmt.Errorf("the tests' directory %q contains ',', which hostfs cannot mount", d)
		}
		for _, own := range []string{"/", "/proc", "/sys", "/dev", "/run"} {
			if d == own || own != "/" && strings.HasPrefix(d, own+"/") {
				return nil, fmt.Errorf("the tests' directory %q cannot be mounted at the same path inside the test host, whose own %s is there: run the tests from elsewhere", d, own)
			}
		}
		covered := slices.ContainsFunc(keep, func(k string) bool {
			return k == d || strings.HasPrefix(d, k+"/")
		})
		if !covered {
			keep = append(keep, d)
		}
	}
	return keep, nil
}
