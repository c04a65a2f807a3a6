package main

import (
	"io"
	"net/http"
	"time"
)

// Limits on slow clients (slowloris). Headers are bounded by http.Server.ReadHeaderTimeout and
// idle keep-alive connections by IdleTimeout. http.Server.ReadTimeout cannot bound bodies here:
// it would also cut long polls (GET /v1/messages?wait=60s) and WebSocket streams, which send no
// body, so bodyDeadline bounds the body alone.
const (
	headerTimeout = 10 * time.Second
	bodyTimeout   = 30 * time.Second
	idleTimeout   = 2 * time.Minute
)

// newHTTPServer is the hub's HTTP server with the slow-client limits.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: bodyDeadline(bodyTimeout, h), ReadHeaderTimeout: headerTimeout, IdleTimeout: idleTimeout}
}

// bodyDeadline gives a request with a body d to send all of it: the connection's read deadline
// is set when the handler starts and cleared once the body has been read to its end, so a
// handler that takes longer afterwards is not cut off.
func bodyDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(d)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		h.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
