package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestBodyDeadline(t *testing.T) {
	srv := httptest.NewUnstartedServer(bodyDeadline(300*time.Millisecond, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "slow body", http.StatusRequestTimeout)
			return
		}
		select { // work after the body: must not be cut off by the body deadline
		case <-time.After(600 * time.Millisecond):
		case <-r.Context().Done():
			t.Errorf("request context ended after the body was read: %v", r.Context().Err())
		}
		w.Write(b)
	})))
	srv.Config.ReadHeaderTimeout = time.Second
	srv.Start()
	defer srv.Close()

	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello" {
		t.Errorf("fast body, slow handler: got %q, want hello", b)
	}

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c) // until the server closes the connection
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow body (3 of 100 bytes): connection held %v, want closed after ~300ms", d)
	}
}
