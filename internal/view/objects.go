package view

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/rigplan/rigplan/providers"
)

// WriteObjects prints managed objects as read from the host, one block
// each, in the style of `terraform state show`.
func WriteObjects(w io.Writer, objs []providers.Object, schemas SchemaFunc) {
	for i, o := range objs {
		res, ok := schemas(o.Addr.Type)
		if !ok {
			continue
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		label := o.Addr.Name + o.Addr.Key.String()
		fmt.Fprintf(w, "# %s:\n%s %q {\n", o.Addr, o.Addr.Type, label)
		width := 0
		for _, a := range res.Attributes {
			if v := attrOf(o.State, a.Name); !isNull(v) {
				width = max(width, len(a.Name))
			}
		}
		for _, a := range sortedAttrs(res.Attributes) {
			v := attrOf(o.State, a.Name)
			if isNull(v) {
				continue
			}
			text := renderValue(v, "    ")
			if a.Sensitive {
				text = sensitiveValue
			}
			fmt.Fprintf(w, "    %-*s = %s\n", width, a.Name, text)
		}
		for _, b := range res.Blocks {
			if v := attrOf(o.State, b.Name); !isNull(v) {
				fmt.Fprintf(w, "    %s = %s\n", b.Name, renderValue(v, "    "))
			}
		}
		fmt.Fprintln(w, "}")
	}
}

type jsonObject struct {
	Address  string          `json:"address"`
	Type     string          `json:"type"`
	Name     string          `json:"name"`
	ID       string          `json:"id"`
	Provider string          `json:"provider_name"`
	Values   json.RawMessage `json:"values"`
}

// WriteObjectsJSON prints managed objects as a JSON array.
func WriteObjectsJSON(w io.Writer, objs []providers.Object, schemas SchemaFunc) error {
	out := []jsonObject{}
	for _, o := range objs {
		res, ok := schemas(o.Addr.Type)
		if !ok {
			continue
		}
		out = append(out, jsonObject{
			Address:  o.Addr.String(),
			Type:     o.Addr.Type,
			Name:     o.Addr.Name,
			ID:       o.ID,
			Provider: "rigplan/" + res.Provider,
			Values:   valueJSON(o.State),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
