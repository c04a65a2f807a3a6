package dashboard_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ness-network/ness-sms/hub/dashboard"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, "http://hub.example:8443"+path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestServesBuiltFiles(t *testing.T) {
	h := dashboard.Handler()
	index := get(t, h, "GET", "/", nil)
	body, _ := io.ReadAll(index.Body)
	if index.StatusCode != 200 || !strings.Contains(string(body), "<title>NESS SMS</title>") {
		t.Fatalf("GET /: status %d, body %.200q", index.StatusCode, body)
	}
	// Every file index.html refers to is served, with the content type and caching its kind needs.
	refs := regexp.MustCompile(`(?:src|href)="(/[^"#]*)"`).FindAllStringSubmatch(string(body), -1)
	if len(refs) < 4 {
		t.Fatalf("index.html refers to %d files, want the script, stylesheet, manifest and icon", len(refs))
	}
	for _, m := range refs {
		p := m[1]
		r := get(t, h, "GET", p, nil)
		if r.StatusCode != 200 {
			t.Errorf("GET %s (from index.html): status %d", p, r.StatusCode)
		}
	}
	tests := []struct {
		path, ctype, cache string
	}{
		{"/", "text/html; charset=utf-8", "no-cache"},
		{"/index.html", "text/html; charset=utf-8", "no-cache"},
		{"/manifest.webmanifest", "application/manifest+json", "no-cache"},
		{"/icon.svg", "image/svg+xml", "no-cache"},
		{"/sw.js", "text/javascript; charset=utf-8", "no-cache"},
	}
	fs.WalkDir(dashboard.Files(), "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			ct := "text/javascript; charset=utf-8"
			if strings.HasSuffix(p, ".css") {
				ct = "text/css; charset=utf-8"
			}
			tests = append(tests, struct{ path, ctype, cache string }{"/" + p, ct, "public, max-age=31536000, immutable"})
		}
		return err
	})
	if len(tests) < 7 {
		t.Fatalf("no hashed assets in the build")
	}
	for _, tc := range tests {
		r := get(t, h, "GET", tc.path, nil)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != tc.ctype || r.Header.Get("Cache-Control") != tc.cache {
			t.Errorf("GET %s: status %d, type %q, cache %q; want 200, %q, %q", tc.path, r.StatusCode,
				r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"), tc.ctype, tc.cache)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
		etag := r.Header.Get("ETag")
		if r2 := get(t, h, "GET", tc.path, map[string]string{"If-None-Match": etag}); etag == "" || r2.StatusCode != 304 {
			t.Errorf("GET %s with If-None-Match %s: status %d, want 304", tc.path, etag, r2.StatusCode)
		}
	}
}

func TestHeadersAndErrors(t *testing.T) {
	h := dashboard.Handler()
	r := get(t, h, "GET", "/", nil)
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';",
		"connect-src 'self' ws://hub.example:8443 wss://hub.example:8443;", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q allows unsafe or wildcard sources", csp)
	}
	if got := dashboard.CSP(`evil.example; script-src *`); strings.Contains(got, "evil") {
		t.Errorf("CSP for a hostile Host header: %q", got)
	}
	if r := get(t, h, "GET", "/nope.js", nil); r.StatusCode != 404 {
		t.Errorf("GET /nope.js: status %d, want 404", r.StatusCode)
	}
	if r := get(t, h, "POST", "/", nil); r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d Allow %q, want 405 GET, HEAD", r.StatusCode, r.Header.Get("Allow"))
	}
	if r := get(t, h, "HEAD", "/", nil); r.StatusCode != 200 {
		t.Errorf("HEAD /: status %d", r.StatusCode)
	}
}

// TestNothingFromOutside: the built files load nothing from another origin (no CDN, fonts or
// analytics) and hold no inline script or style the CSP would have to allow.
func TestNothingFromOutside(t *testing.T) {
	abs := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|importScripts\(\s*["']https?:`)
	fs.WalkDir(dashboard.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(dashboard.Files(), p)
		if m := abs.Find(b); m != nil {
			t.Errorf("%s refers to another origin: %q", p, m)
		}
		if strings.HasSuffix(p, ".html") {
			s := string(b)
			if regexp.MustCompile(`(?s)<script[^>]*>[^<]*\S[^<]*</script>`).MatchString(s) || strings.Contains(s, "<style") ||
				strings.Contains(s, " style=") || regexp.MustCompile(`\son[a-z]+=`).MatchString(s) {
				t.Errorf("%s has inline script, style or event handler attributes", p)
			}
		}
		return nil
	})
}
