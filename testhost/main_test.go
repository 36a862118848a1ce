package testhost

import (
	"flag"
	"testing"
	"time"
)

func TestApplyDeadline(t *testing.T) {
	f := flag.Lookup("test.timeout")
	saved := f.Value.String()
	t.Cleanup(func() { flag.Set("test.timeout", saved) })

	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		deadline, want string
	}{
		{"2026-01-02T03:14:47.25Z", "14m47.25s"}, // ten minutes, less the boot
		{"2026-01-02T02:59:00Z", "1s"},           // booting took longer than the timeout
	} {
		if err := applyDeadline(tt.deadline, now); err != nil {
			t.Fatal(err)
		}
		if got := f.Value.String(); got != tt.want {
			t.Errorf("applyDeadline(%s): -test.timeout = %s, want %s", tt.deadline, got, tt.want)
		}
	}
	if err := applyDeadline("", now); err != nil || f.Value.String() != "1s" {
		t.Errorf("applyDeadline without a deadline changed -test.timeout to %s (%v)", f.Value, err)
	}
	if err := applyDeadline("soon", now); err == nil {
		t.Error("applyDeadline accepted a malformed deadline")
	}
}

func TestRunSpecDeadline(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	if dl := (runSpec{start: start, timeout: time.Minute}).deadline(); !dl.Equal(start.Add(time.Minute)) {
		t.Errorf("deadline = %v", dl)
	}
	if dl := (runSpec{start: start}).deadline(); !dl.IsZero() {
		t.Errorf("deadline without a timeout = %v, want none", dl)
	}
}
