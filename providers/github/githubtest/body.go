package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// object is a JSON request body's members, checked against a schema the
// way GitHub checks them, collecting every problem found.
type object struct {
	members  map[string]json.RawMessage
	problems []string
}

// parseObject reads body (valid JSON, or empty for {}) as an object whose
// members must be among permitted.
func parseObject(body []byte, permitted ...string) *object {
	o := &object{members: map[string]json.RawMessage{}}
	if len(body) == 0 {
		return o
	}
	if err := json.Unmarshal(body, &o.members); err != nil || o.members == nil {
		o.members = map[string]json.RawMessage{}
		o.problems = append(o.problems, fmt.Sprintf("Invalid input: %s is not an object.", jsonType(body)))
		return o
	}
	var unknown []string
	for k := range o.members {
		if !slices.Contains(permitted, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		o.problems = append(o.problems, fmt.Sprintf("%q is not a permitted key.", k))
	}
	return o
}

// ok says whether no problem was found.
func (o *object) ok() bool { return len(o.problems) == 0 }

// fail answers 422 with GitHub's "Invalid request" message listing the
// problems.
func (o *object) fail(w http.ResponseWriter, doc string) {
	writeErrorDoc(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+strings.Join(o.problems, "\n"), doc)
}

func (o *object) addf(format string, args ...any) {
	o.problems = append(o.problems, fmt.Sprintf(format, args...))
}

// member returns a member's value if it is there and of type want
// ("string", "integer", "array", "object"); a missing required member or
// one of another type is a problem.
func (o *object) member(name, want string, required bool) (json.RawMessage, bool) {
	raw, ok := o.members[name]
	if !ok {
		if required {
			o.addf("%q wasn't supplied.", name)
		}
		return nil, false
	}
	if got := jsonType(raw); got != want && !(want == "integer" && got == "number" && isInteger(raw)) {
		o.addf("For 'properties/%s', %s is not %s %s.", name, short(raw), article(want), want)
		return nil, false
	}
	return raw, true
}

// str returns a string member; nonEmpty also requires at least one
// character.
func (o *object) str(name string, required, nonEmpty bool) (string, bool) {
	raw, ok := o.member(name, "string", required)
	if !ok {
		return "", false
	}
	var v string
	json.Unmarshal(raw, &v) // the type was checked
	if nonEmpty && v == "" {
		o.addf("For 'properties/%s', \"\" is too short (minimum 1).", name)
		return "", false
	}
	return v, true
}

// integer returns an integer member.
func (o *object) integer(name string, required bool) (int64, bool) {
	raw, ok := o.member(name, "integer", required)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		o.addf("For 'properties/%s', %s is out of range.", name, short(raw))
		return 0, false
	}
	return v, true
}

// stringList returns an array of non-empty strings with between min and max
// items.
func (o *object) stringList(name string, required bool, min, max int) ([]string, bool) {
	raw, ok := o.member(name, "array", required)
	if !ok {
		return nil, false
	}
	var items []json.RawMessage
	json.Unmarshal(raw, &items)
	switch {
	case len(items) < min:
		o.addf("For 'properties/%s', %s has fewer items than %d.", name, short(raw), min)
		return nil, false
	case len(items) > max:
		o.addf("For 'properties/%s', an array of %d items has more items than %d.", name, len(items), max)
		return nil, false
	}
	out := make([]string, 0, len(items))
	bad := false
	for _, it := range items {
		var v string
		if jsonType(it) != "string" {
			o.addf("For 'items', %s is not a string.", short(it))
			bad = true
			continue
		}
		json.Unmarshal(it, &v)
		if v == "" {
			o.addf("For 'items', \"\" is too short (minimum 1).")
			bad = true
			continue
		}
		out = append(out, v)
	}
	return out, !bad
}

// stringMap returns an object member whose values are all strings.
func (o *object) stringMap(name string, required bool) (map[string]string, bool) {
	raw, ok := o.member(name, "object", required)
	if !ok {
		return nil, false
	}
	var out map[string]string
	if err := json.Unmarshal(raw, &out); err != nil {
		o.addf("For 'properties/%s', %s is not an object of strings.", name, short(raw))
		return nil, false
	}
	return out, true
}

// jsonType names the JSON type of a valid JSON value.
func jsonType(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '[':
		return "array"
	case '{':
		return "object"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// isInteger says whether a JSON number is written as an integer.
func isInteger(raw []byte) bool {
	return !bytes.ContainsAny(raw, ".eE")
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// short quotes a JSON value for a message, cut if long.
func short(raw []byte) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
