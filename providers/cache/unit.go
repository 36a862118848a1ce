package cache

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/schema"
)

// markPrefix starts the first line of every unit file rigplan writes; the
// resource address follows. A unit file without it is never overwritten
// or removed.
const markPrefix = "# rigplan:managed "

// Where things live on the host, and what they are called.
const (
	unitPrefix       = "rigplan-cache-"
	unitSuffix       = ".service"
	defaultUnitDir   = "/etc/systemd/system"
	defaultConfigDir = "/etc/rigplan/cache"
	pendingSuffix    = ".restart-pending"
	maxInstanceName  = 64
	stopTimeout      = "90s"
	restartDelay     = "5s"
	serviceWantedBy  = "multi-user.target"
	allowedFamilies  = "AF_UNIX AF_NETLINK AF_INET AF_INET6"
	serveSubcommand  = "cache serve -config"
	unitDescription  = "rigplan cache agent"
)

// instanceName is the agent instance's name for an address: the block's
// label, with "-KEY" for an instance of count or for_each. It names the
// unit, the configuration file and the agent's state directory.
func instanceName(addr schema.Address) (string, error) {
	name := addr.Name
	switch {
	case !addr.Key.IsSet:
	case addr.Key.IsStr:
		name += "-" + addr.Key.Str
	default:
		name += "-" + strconv.Itoa(addr.Key.Int)
	}
	if len(name) > maxInstanceName {
		return "", fmt.Errorf("the name %q derived from %s is longer than %d characters; use a shorter label or key", name, addr, maxInstanceName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", fmt.Errorf("%s would be named %q, which holds %q: the name becomes a systemd unit and file names, so for_each keys of caches may only use letters, digits, - and _", addr, name, c)
		}
	}
	return name, nil
}

// paths are where one instance's files live, as host paths.
type paths struct {
	name       string
	unit       string // the unit's name
	unitFile   string
	configFile string
	pending    string // present while a restart is owed (see apply.go)
}

func (p *Provider) pathsFor(name string) paths {
	unit := unitPrefix + name + unitSuffix
	return paths{
		name:       name,
		unit:       unit,
		unitFile:   path.Join(p.opts.UnitDir, unit),
		configFile: path.Join(p.opts.ConfigDir, name+".json"),
		pending:    path.Join(p.opts.ConfigDir, name+pendingSuffix),
	}
}

// nameFromUnit returns NAME for "rigplan-cache-NAME.service".
func nameFromUnit(file string) (string, bool) {
	if !strings.HasPrefix(file, unitPrefix) || !strings.HasSuffix(file, unitSuffix) {
		return "", false
	}
	name := strings.TrimSuffix(strings.TrimPrefix(file, unitPrefix), unitSuffix)
	return name, name != ""
}

// unitSpec is what the unit file is rendered from.
type unitSpec struct {
	addr       schema.Address
	executable string
	configFile string
	// after are the units the agent waits for, wants the ones it also
	// pulls in, mountsFor the paths whose mounts it needs.
	after, wants, mountsFor []string
}

// storeOrdering says what the service waits for at boot: the default
// volume's device for an LVM store (activated by LVM's own event-driven
// services, which nothing else orders), the mounts for a btrfs store.
func storeOrdering(spec *unitSpec, st agent.StoreFile) {
	switch st.Type {
	case "lvm":
		dev := systemd.DeviceUnit("/dev/" + st.Default)
		spec.wants = append(spec.wants, dev)
		spec.after = append(spec.after, dev)
	case "btrfs":
		spec.mountsFor = append(spec.mountsFor, st.Dir, st.Default)
	}
}

// renderUnit writes the unit file. Its settings are explained in doc.go
// ("The service").
func renderUnit(s unitSpec) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("%s%s", markPrefix, s.addr)
	w("# Written by rigplan apply from the configuration; rigplan plan shows edits")
	w("# here as drift and the next apply replaces them. Change the configuration.")
	w("[Unit]")
	w("Description=%s (%s)", unitDescription, s.addr)
	w("After=local-fs.target")
	for _, u := range s.wants {
		w("Wants=%s", u)
	}
	for _, u := range s.after {
		w("After=%s", u)
	}
	if len(s.mountsFor) > 0 {
		w("RequiresMountsFor=%s", strings.Join(s.mountsFor, " "))
	}
	w("")
	w("[Service]")
	w("Type=notify")
	w("ExecStart=%s %s %s", s.executable, serveSubcommand, s.configFile)
	w("Restart=on-failure")
	w("RestartSec=%s", restartDelay)
	w("KillMode=mixed")
	w("TimeoutStopSec=%s", stopTimeout)
	w("NoNewPrivileges=yes")
	w("LockPersonality=yes")
	w("RestrictRealtime=yes")
	w("SystemCallArchitectures=native")
	w("RestrictAddressFamilies=%s", allowedFamilies)
	w("")
	w("[Install]")
	w("WantedBy=%s", serviceWantedBy)
	return b.Bytes()
}

// unitFile is what refresh reads back from a unit file.
type unitFile struct {
	// marked is true when the first line is rigplan's mark; addr is the
	// address in it, addrErr why it could not be read.
	marked  bool
	addr    schema.Address
	addrErr error
	// executable is the program in ExecStart=, "" when there is none.
	executable string
}

// parseUnit reads the mark and ExecStart= of a unit file.
func parseUnit(b []byte) unitFile {
	var u unitFile
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if rest, ok := strings.CutPrefix(line, markPrefix); ok {
				u.marked = true
				u.addr, u.addrErr = schema.ParseAddress(strings.TrimSpace(rest))
			}
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart="); ok {
			if f := strings.Fields(v); len(f) > 0 {
				u.executable = f[0]
			}
		}
	}
	return u
}
