package nspawn

import (
	"github.com/zclconf/go-cty/cty"
)

// settingsFrom reads the file settings out of a wholly known value.
func settingsFrom(v cty.Value) settings {
	s := settings{
		privateUsers: v.GetAttr("private_users").AsString(),
		ownership:    v.GetAttr("ownership").AsString(),
		volatile:     v.GetAttr("volatile").AsString(),
		resolvConf:   v.GetAttr("resolv_conf").AsString(),
		linkJournal:  v.GetAttr("link_journal").AsString(),
		network:      v.GetAttr("network").AsString(),
		readOnly:     v.GetAttr("read_only").True(),
		bind:         stringList(v.GetAttr("bind")),
		bindReadOnly: stringList(v.GetAttr("bind_read_only")),
		command:      stringList(v.GetAttr("command")),
		environment:  stringMap(v.GetAttr("environment")),
		restart:      v.GetAttr("restart").AsString(),

		unitEnvironment: stringMap(v.GetAttr("unit_environment")),
	}
	return s
}

// settingsAttrs is the attributes the files say.
func settingsAttrs(s settings) map[string]cty.Value {
	return map[string]cty.Value{
		"private_users":    cty.StringVal(s.privateUsers),
		"ownership":        cty.StringVal(s.ownership),
		"volatile":         cty.StringVal(s.volatile),
		"resolv_conf":      cty.StringVal(s.resolvConf),
		"link_journal":     cty.StringVal(s.linkJournal),
		"network":          cty.StringVal(s.network),
		"read_only":        cty.BoolVal(s.readOnly),
		"bind":             listVal(s.bind),
		"bind_read_only":   listVal(s.bindReadOnly),
		"command":          listVal(s.command),
		"environment":      mapVal(s.environment),
		"restart":          cty.StringVal(s.restart),
		"unit_environment": mapVal(s.unitEnvironment),
	}
}

func stringList(v cty.Value) []string {
	if v.IsNull() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	return out
}

func stringMap(v cty.Value) map[string]string {
	out := map[string]string{}
	if v.IsNull() {
		return out
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		out[k.AsString()] = e.AsString()
	}
	return out
}

func listVal(xs []string) cty.Value {
	if len(xs) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(xs))
	for i, x := range xs {
		vs[i] = cty.StringVal(x)
	}
	return cty.ListVal(vs)
}

func mapVal(m map[string]string) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.String)
	}
	vs := map[string]cty.Value{}
	for k, x := range m {
		vs[k] = cty.StringVal(x)
	}
	return cty.MapVal(vs)
}

func attrString(v cty.Value, name string) string {
	if v.IsNull() || !v.IsKnown() {
		return ""
	}
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return ""
	}
	return a.AsString()
}

// shiftFor is the uid base rigplan shifts the root's files by: the
// range's base when nspawn is not to change ownership itself (off) or
// would find nothing to do (chown of an already shifted tree); 0 when
// nspawn maps or picks.
func shiftFor(privateUsers, ownership string) uint32 {
	u, err := parsePrivateUsers(privateUsers)
	if err != nil || u.mode != "range" {
		return 0
	}
	if ownership == "off" || ownership == "chown" {
		return u.base
	}
	return 0
}

// rangeOf is the uid range of a private_users value, if explicit.
func rangeOf(privateUsers string) (userRange, bool) {
	u, err := parsePrivateUsers(privateUsers)
	return u, err == nil && u.mode == "range"
}
