package protocol

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// wireTrip writes resp and reads it back, as agent and client would.
func wireTrip(t *testing.T, resp *Response) *Response {
	t.Helper()
	var b strings.Builder
	if err := WriteResponse(&b, resp); err != nil {
		t.Fatalf("WriteResponse: %v", err)
	}
	got, err := ReadResponse(strings.NewReader(b.String()), 0)
	if err != nil {
		t.Fatalf("ReadResponse(%q): %v", b.String(), err)
	}
	return got
}

func TestMountResult(t *testing.T) {
	tests := []struct {
		name  string
		m     MountResult
		field string
	}{
		{"default volume", MountResult{Path: "/c", Default: true, Snapshot: "s1"}, "default"},
		{"criterion", MountResult{Path: "/c", Criterion: []string{"linux", "feature/ü"}, Snapshot: "s1"}, "> linux feature/ü"},
		// A criterion of the single term "default" must not read as the
		// default volume.
		{"criterion named default", MountResult{Path: "/c", Criterion: []string{"default"}, Snapshot: "s1"}, "> default"},
		{"empty criterion", MountResult{Path: "/c", Criterion: []string{}, Snapshot: "s1"}, ">"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := wireTrip(t, tt.m.Response())
			if resp.Fields[1] != tt.field {
				t.Errorf("criterion field %q, want %q", resp.Fields[1], tt.field)
			}
			got, err := ParseMountResult(resp)
			if err != nil {
				t.Fatalf("ParseMountResult: %v", err)
			}
			if got.Path != tt.m.Path || got.Default != tt.m.Default || got.Snapshot != tt.m.Snapshot || !slices.Equal(got.Criterion, tt.m.Criterion) {
				t.Errorf("got %+v, want %+v", got, tt.m)
			}
		})
	}
}

func TestParseMountResultErrors(t *testing.T) {
	for _, tt := range []struct {
		resp *Response
		want string
	}{
		{Fail("path /etc is outside the allowed prefixes"), "refused the request: path /etc"},
		{OK("/c", "default"), "2 fields"},
		{OK("/c", "linux main", "s1"), `names the criterion "linux main"`},
		{OK("", "default", "s1"), "empty path"},
	} {
		_, err := ParseMountResult(tt.resp)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseMountResult(%+v) = %v, want %q", tt.resp, err, tt.want)
		}
	}
	if _, err := ParseMountResult(Fail("no")); !errors.Is(err, ErrRefused) {
		t.Errorf("an error line gives %v, want ErrRefused", err)
	}
	// Fields a later agent appends are ignored.
	if m, err := ParseMountResult(OK("/c", "default", "s1", "12ms")); err != nil || m.Snapshot != "s1" {
		t.Errorf("extra field: %+v, %v", m, err)
	}
}

func TestSaveResult(t *testing.T) {
	want := SaveResult{Path: "/c", Snapshot: "s2"}
	got, err := ParseSaveResult(wireTrip(t, want.Response()))
	if err != nil || got != want {
		t.Errorf("ParseSaveResult = %+v, %v; want %+v", got, err, want)
	}
	if _, err := ParseSaveResult(OK("/c")); err == nil {
		t.Error("a save answer without snapshot was accepted")
	}
}

func TestSnapshotRecord(t *testing.T) {
	created := time.Date(2024, 5, 1, 14, 0, 7, 999, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		s    Snapshot
		wire string
	}{
		{
			Snapshot{Name: "rigplan-1", Created: created, Sealed: true, Origin: "default", Annotations: []string{"linux", "feature/ünï"}, Machine: "runner-1"},
			"snapshot\trigplan-1\t2024-05-01T12:00:07Z\tsealed\tdefault\tlinux feature/ünï\trunner-1\n",
		},
		{
			Snapshot{Name: "rigplan-2", Created: created, InUse: true},
			"snapshot\trigplan-2\t2024-05-01T12:00:07Z\tin-use\t-\t\t-\n",
		},
		{
			Snapshot{Name: "rigplan-3", Created: created, Sealed: true, InUse: true, Origin: "rigplan-1"},
			"snapshot\trigplan-3\t2024-05-01T12:00:07Z\tsealed,in-use\trigplan-1\t\t-\n",
		},
		{
			Snapshot{Name: "rigplan-4", Created: created, Annotations: []string{"a"}},
			"snapshot\trigplan-4\t2024-05-01T12:00:07Z\t-\t-\ta\t-\n",
		},
	}
	for _, tt := range tests {
		rec, err := tt.s.Record()
		if err != nil {
			t.Fatalf("Record(%+v): %v", tt.s, err)
		}
		resp := &Response{OK: true, Records: []Record{rec}}
		wire, _ := resp.MarshalText()
		if got := strings.TrimSuffix(string(wire), "ok\n"); got != tt.wire {
			t.Errorf("wire %q, want %q", got, tt.wire)
		}
		back, err := ParseSnapshot(wireTrip(t, resp).Records[0])
		if err != nil {
			t.Fatalf("ParseSnapshot: %v", err)
		}
		want := tt.s
		want.Created = created.UTC().Truncate(time.Second)
		if back.Name != want.Name || !back.Created.Equal(want.Created) || back.Created.Location() != time.UTC ||
			back.Sealed != want.Sealed || back.InUse != want.InUse || back.Origin != want.Origin || back.Machine != want.Machine ||
			!slices.Equal(back.Annotations, want.Annotations) {
			t.Errorf("ParseSnapshot = %+v, want %+v", back, want)
		}
	}
}

func TestSnapshotRecordErrors(t *testing.T) {
	for _, s := range []Snapshot{
		{},
		{Name: "n", Origin: "-"},
		{Name: "n", Machine: "-"},
		{Name: "n", Annotations: []string{"a b"}},
		{Name: "n", Annotations: []string{""}},
	} {
		if _, err := s.Record(); err == nil {
			t.Errorf("Record(%+v) accepted", s)
		}
	}
	for _, f := range [][]string{
		{"n", "2024-05-01T12:00:07Z", "sealed", "-"},            // too few fields
		{"", "2024-05-01T12:00:07Z", "sealed", "-", ""},         // no name
		{"n", "yesterday", "sealed", "-", ""},                   // bad time
		{"n", "2024-05-01T12:00:07Z", "frozen", "-", ""},        // unknown state
		{"n", "2024-05-01T12:00:07Z", "sealed,sealed", "-", ""}, // repeated state
		{"n", "2024-05-01T12:00:07Z", "sealed,", "-", ""},       // empty state word
	} {
		if s, err := ParseSnapshot(Record{Tag: TagSnapshot, Fields: f}); err == nil {
			t.Errorf("ParseSnapshot(%q) = %+v, want an error", f, s)
		}
	}
	// A line of an agent from before the machine field reads as no machine.
	if s, err := ParseSnapshot(Record{Tag: TagSnapshot, Fields: []string{"n", "2024-05-01T12:00:07Z", "sealed", "-", "a"}}); err != nil || s.Machine != "" || s.Annotations[0] != "a" {
		t.Errorf("five-field snapshot line = %+v, %v", s, err)
	}
	if _, err := ParseSnapshot(Record{Tag: TagStat, Fields: []string{"n", "2024-05-01T12:00:07Z", "-", "-", ""}}); err == nil {
		t.Error("ParseSnapshot accepted a stat line")
	}
}

func TestStatRecord(t *testing.T) {
	want := Stat{Key: "pool.data_percent", Value: "41.5"}
	got, err := ParseStat(wireTrip(t, &Response{OK: true, Records: []Record{want.Record()}}).Records[0])
	if err != nil || got != want {
		t.Errorf("ParseStat = %+v, %v; want %+v", got, err, want)
	}
	if _, err := ParseStat(Record{Tag: TagStat, Fields: []string{"only-key"}}); err == nil {
		t.Error("ParseStat accepted a line without value")
	}
}
