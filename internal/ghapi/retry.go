package ghapi

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Retry bounds how requests are retried.
type Retry struct {
	// Attempts is how many times a request is sent at most.
	Attempts int
	// Backoff is the first wait after a 5xx; it doubles each time.
	Backoff time.Duration
	// MaxWait is the longest single wait: a rate limit that resets later
	// fails at once, saying when it resets.
	MaxWait time.Duration
	// Sleep waits; nil is a timer honouring the request's context.
	Sleep func(req *http.Request, d time.Duration) error
}

// DefaultRetry: five attempts, 1 s first backoff, waits of up to a minute.
var DefaultRetry = Retry{Attempts: 5, Backoff: time.Second, MaxWait: time.Minute}

// retryTransport retries what GitHub asks to be retried: 5xx answers with
// exponential backoff and jitter, secondary rate limits after Retry-After,
// and primary ones after X-RateLimit-Reset.
type retryTransport struct {
	next  http.RoundTripper
	retry Retry
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := replayable(req)
	if err != nil {
		return nil, err
	}
	backoff := t.retry.Backoff
	for attempt := 1; ; attempt++ {
		r := req
		if body != nil {
			r = req.Clone(req.Context())
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil || attempt >= t.retry.Attempts {
			return resp, err
		}
		wait, ok := t.retryAfter(resp, &backoff)
		if !ok {
			return resp, nil
		}
		if wait > t.retry.MaxWait {
			// Too long to wait here: GitHub's answer goes up, explained.
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := t.sleep(req, wait); err != nil {
			return nil, fmt.Errorf("waiting to retry %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
}

// retryAfter says whether resp asks for a retry, and after how long.
func (t *retryTransport) retryAfter(resp *http.Response, backoff *time.Duration) (time.Duration, bool) {
	h := resp.Header
	switch {
	case resp.StatusCode >= 500:
		d := *backoff + rand.N(*backoff/2+1)
		*backoff *= 2
		return d, true
	case resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests:
		return 0, false
	case h.Get("Retry-After") != "":
		s, err := strconv.Atoi(h.Get("Retry-After"))
		if err != nil || s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	case h.Get("X-RateLimit-Remaining") == "0" && h.Get("X-RateLimit-Reset") != "":
		reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
		if err != nil {
			return 0, false
		}
		d := time.Until(time.Unix(reset, 0)) + time.Second
		return max(d, 0), true
	}
	return 0, false
}

func (t *retryTransport) sleep(req *http.Request, d time.Duration) error {
	if t.retry.Sleep != nil {
		return t.retry.Sleep(req, d)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-req.Context().Done():
		return req.Context().Err()
	case <-timer.C:
		return nil
	}
}

// replayable reads a request's body so that it can be sent again.
func replayable(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	return b, err
}
