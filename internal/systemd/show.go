package systemd

import (
	"fmt"
	"strings"
)

// ParseShow reads the output of `systemctl show` for one or more units:
// KEY=VALUE lines, one block per unit, blocks separated by an empty line.
// Properties it does not know are ignored.
func ParseShow(out string) ([]UnitStatus, error) {
	var units []UnitStatus
	var cur *UnitStatus
	for n, line := range strings.Split(out, "\n") {
		if line == "" {
			cur = nil
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d of systemctl show's output is not KEY=VALUE: %q", n+1, line)
		}
		if cur == nil {
			units = append(units, UnitStatus{})
			cur = &units[len(units)-1]
		}
		switch key {
		case "Id":
			cur.ID = val
		case "LoadState":
			cur.LoadState = val
		case "ActiveState":
			cur.ActiveState = val
		case "SubState":
			cur.SubState = val
		case "UnitFileState":
			cur.UnitFileState = val
		case "NeedDaemonReload":
			cur.NeedDaemonReload = val == "yes"
		case "FragmentPath":
			cur.FragmentPath = val
		case "InvocationID":
			cur.InvocationID = val
		case "DropInPaths":
			if f := strings.Fields(val); len(f) > 0 {
				cur.DropInPaths = f
			}
		}
	}
	for i, u := range units {
		if u.ID == "" {
			return nil, fmt.Errorf("block %d of systemctl show's output has no Id", i+1)
		}
	}
	return units, nil
}
