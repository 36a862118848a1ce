package store

import (
	"errors"
	"syscall"
	"testing"
)

func TestFullError(t *testing.T) {
	err := error(&FullError{Store: "btrfs filesystem at /srv/cache", Usage: &Usage{DataPercent: 99.96}, Err: syscall.ENOSPC})
	if !errors.Is(err, ErrFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("errors.Is does not see ErrFull and ENOSPC in %v", err)
	}
	if want := "the cache store (btrfs filesystem at /srv/cache) is full (data 100.0% used): no space left on device"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	u := Usage{DataPercent: 50, MetadataPercent: 12.04}
	if got := u.String(); got != "data 50.0% used, metadata 12.0% used" {
		t.Errorf("usage %q", got)
	}
}
