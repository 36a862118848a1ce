package protocol

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestGCResult(t *testing.T) {
	for _, want := range []GCResult{
		{},
		{DryRun: true, Deleted: []Deletion{{"cache-1", "older than 168h0m0s"}, {"cache-2", "pool\tover\nwatermark"}}},
		{Deleted: []Deletion{{"cache-3", "newest 3 kept"}}, Kept: []Deletion{{"cache-4", "in use by machine runner-1"}}},
	} {
		resp := wireTrip(t, want.Response())
		got, err := ParseGCResult(resp)
		if err != nil {
			t.Fatalf("ParseGCResult(%+v): %v", resp, err)
		}
		if got.DryRun != want.DryRun || !slices.Equal(got.Deleted, want.Deleted) || !slices.Equal(got.Kept, want.Kept) {
			t.Errorf("ParseGCResult = %+v, want %+v", got, want)
		}
	}
	wire, _ := GCResult{DryRun: true, Deleted: []Deletion{{"a", "old"}}}.Response().MarshalText()
	if string(wire) != "delete\ta\told\nok\tdry-run\t1\n" {
		t.Errorf("gc dry-run answer on the wire: %q", wire)
	}
}

func TestParseGCResultErrors(t *testing.T) {
	for _, tt := range []struct {
		resp *Response
		want string
	}{
		{OK("deleted"), "want a mode and a count"},
		{OK("sometimes", "0"), `mode "sometimes"`},
		{OK("deleted", "2"), `counts "2" deletions but lists 0`},
		{&Response{OK: true, Fields: []string{"deleted", "1"}, Records: []Record{{Tag: TagDelete, Fields: []string{"a"}}}}, "want a name and a reason"},
	} {
		if _, err := ParseGCResult(tt.resp); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseGCResult(%+v) = %v, want %q", tt.resp, err, tt.want)
		}
	}
	if _, err := ParseGCResult(Fail("only root on the host may run gc")); !errors.Is(err, ErrRefused) {
		t.Errorf("an error line gives %v, want ErrRefused", err)
	}
}

func TestRemoveResult(t *testing.T) {
	got, err := ParseRemoveResult(wireTrip(t, RemoveResult{Snapshot: "cache-1"}.Response()))
	if err != nil || got.Snapshot != "cache-1" {
		t.Errorf("ParseRemoveResult = %+v, %v", got, err)
	}
	if _, err := ParseRemoveResult(OK()); err == nil {
		t.Error("an rm answer without a name was accepted")
	}
}
