package githubtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Primary rate limits per hour, as GitHub documents them.
const (
	authenticatedLimit   = 5000
	unauthenticatedLimit = 60
	rateLimitWindow      = time.Hour
	rateLimitDocs        = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
)

// bucket counts one credential's requests in the current window.
type bucket struct {
	limit int
	used  int
	reset time.Time
}

// bucketOf names the rate limit a request counts against, as GitHub
// keeps them: per personal access token, per installation (all its tokens
// together), per App for JWTs, and one for unauthenticated requests
// (GitHub's is per IP address; here all come from 127.0.0.1).
func bucketOf(cred credential) (key, who string, limit int) {
	switch cred.kind {
	case credPAT:
		return "token:" + cred.token, "user ID 1", authenticatedLimit
	case credInstallation:
		id := cred.inst.installation.id
		return fmt.Sprintf("installation:%d", id), fmt.Sprintf("installation ID %d", id), authenticatedLimit
	case credApp:
		return fmt.Sprintf("app:%d", cred.appID), fmt.Sprintf("app ID %d", cred.appID), authenticatedLimit
	}
	return "unauthenticated", "127.0.0.1", unauthenticatedLimit
}

// spend counts a request against its credential's primary rate limit and
// sets the X-RateLimit-* headers. When the limit is used up it answers
// 403 as GitHub does, without counting the request, and returns false.
func (s *Server) spend(w http.ResponseWriter, cred credential) bool {
	k, who, limit := bucketOf(cred)
	now := s.now()
	b := s.buckets[k]
	if b == nil || !now.Before(b.reset) {
		b = &bucket{limit: limit, reset: now.Add(rateLimitWindow)}
		s.buckets[k] = b
	}
	exhausted := b.used >= b.limit
	if !exhausted {
		b.used++
	}
	setRateLimitHeaders(w.Header(), b.limit, b.used, b.reset)
	if exhausted {
		writeErrorDoc(w, http.StatusForbidden, fmt.Sprintf("API rate limit exceeded for %s.", who), rateLimitDocs)
		return false
	}
	return true
}

func setRateLimitHeaders(h http.Header, limit, used int, reset time.Time) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(limit-used))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// Failure is an answer queued with Fail: its status, headers and body.
// Content-Type is application/json unless Header sets it.
type Failure struct {
	Status int
	Header http.Header
	Body   string
}

func (f Failure) write(w http.ResponseWriter) {
	for k, vs := range f.Header {
		w.Header()[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(f.Status)
	fmt.Fprint(w, f.Body)
}

// errorBody is GitHub's error JSON.
func errorBody(message, doc string) string {
	b, err := json.Marshal(map[string]string{"message": message, "documentation_url": doc})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// ServerError is a 5xx answer (500, 502, 503, ...) with a JSON message.
func ServerError(status int) Failure {
	if status < 500 || status > 599 {
		panic(fmt.Sprintf("githubtest.ServerError(%d): want a 5xx status", status))
	}
	return Failure{Status: status, Body: errorBody(http.StatusText(status), docsURL)}
}

// SecondaryRateLimit is GitHub's answer to too many requests in a short
// time: 403 with Retry-After, in whole seconds (rounded up).
func SecondaryRateLimit(retryAfter time.Duration) Failure {
	secs := int64(math.Ceil(retryAfter.Seconds()))
	return Failure{
		Status: http.StatusForbidden,
		Header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}},
		Body: errorBody("You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			rateLimitDocs+"#about-secondary-rate-limits"),
	}
}

// PrimaryRateLimit is GitHub's answer once the hourly limit is used up:
// 403 with X-RateLimit-Remaining: 0 and X-RateLimit-Reset, the time the
// limit resets in Unix seconds.
func PrimaryRateLimit(reset time.Time) Failure {
	h := http.Header{}
	setRateLimitHeaders(h, authenticatedLimit, authenticatedLimit, reset)
	return Failure{
		Status: http.StatusForbidden,
		Header: h,
		Body:   errorBody("API rate limit exceeded for user ID 1.", rateLimitDocs+"#about-primary-rate-limits"),
	}
}
