package httpapi

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters keeps one token bucket per key (client IP or token hash). Buckets idle for ten
// minutes are dropped so the map does not grow without bound.
type limiters struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu    sync.Mutex // guards m and swept
	m     map[string]*bucket
	swept time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

func newLimiters(l rate.Limit, burst int, now func() time.Time) *limiters {
	return &limiters{limit: l, burst: burst, now: now, m: map[string]*bucket{}}
}

// allow takes one token for key; when none is left it returns false and how long to wait.
func (ls *limiters) allow(key string) (bool, time.Duration) {
	if ls.limit < 0 {
		return true, 0
	}
	now := ls.now()
	ls.mu.Lock()
	if now.Sub(ls.swept) > time.Minute {
		for k, b := range ls.m {
			if now.Sub(b.used) > 10*time.Minute {
				delete(ls.m, k)
			}
		}
		ls.swept = now
	}
	b := ls.m[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(ls.limit, ls.burst)}
		ls.m[key] = b
	}
	b.used = now
	ls.mu.Unlock()
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) allowIP(w http.ResponseWriter, r *http.Request) bool {
	if ok, wait := s.ipLim.allow(clientIP(r)); !ok {
		s.writeError(w, r, rateLimited(w, wait))
		return false
	}
	return true
}

// rateLimited sets Retry-After (whole seconds, at least 1) and returns the 429 error.
func rateLimited(w http.ResponseWriter, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return errorf(KindRateLimited, "too many requests; retry in %d s", secs)
}
