// Package lvmreport reads LVM's JSON reports (`lvs`, `vgs`, `pvs` with
// `--reportformat json --units b --nosuffix`): the one parser under the
// LVM provider and the cache's LVM store, which each turn rows into their
// own types.
package lvmreport

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Row is one line of a report: field name to value. LVM writes every
// value as a string, whatever its type.
type Row map[string]string

// Rows returns the rows of the named section ("lv", "vg", "pv") of a
// report: {"report":[{"lv":[{field: "value"}]}]}.
func Rows(out []byte, section string) ([]Row, error) {
	var r struct {
		Report []map[string][]Row `json:"report"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("parse LVM %s report: %w", section, err)
	}
	var all []Row
	for _, part := range r.Report {
		all = append(all, part[section]...)
	}
	return all, nil
}

// Fields converts a row's values, keeping the first error: read every
// field, then check Err once.
type Fields struct {
	Row Row
	Err error
}

// Str is the field's value. A field missing from the row is an error: the
// commands name their fields, so a missing one means LVM answered another
// question.
func (f *Fields) Str(name string) string {
	v, ok := f.Row[name]
	if !ok && f.Err == nil {
		f.Err = fmt.Errorf("field %s missing from LVM report", name)
	}
	return v
}

// Int is a whole-number field; empty is 0.
func (f *Fields) Int(name string) int64 {
	s := f.Str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && f.Err == nil {
		f.Err = fmt.Errorf("field %s: %q is not a number", name, s)
	}
	return n
}

// Percent is a percentage field (data_percent); empty is -1.
func (f *Fields) Percent(name string) float64 {
	s := f.Str(name)
	if s == "" {
		return -1
	}
	p, err := strconv.ParseFloat(s, 64)
	if (err != nil || p < 0 || p > 100) && f.Err == nil {
		f.Err = fmt.Errorf("field %s: %q is not a percentage", name, s)
	}
	return p
}

// List is a comma-separated field (lv_tags); empty is nil. Tags cannot
// hold a comma, and LVM separates list items with one by default.
func (f *Fields) List(name string) []string {
	s := f.Str(name)
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
