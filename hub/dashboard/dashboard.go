// Package dashboard serves the NESS SMS web dashboard (docs/DASHBOARD.md): the files built from
// web/ by build.mjs into dist/ and embedded here, so ness-hub serves them with nothing fetched
// from anywhere else at run time. The browser does all the cryptography: keys are made and kept
// in the browser, messages are verified and opened there.
//
// Every answer carries a strict Content-Security-Policy (scripts, styles, images and connections
// from this origin only, plus ws/wss to this host for the message stream; no inline code), and
// cache headers: content-hashed /assets/ files are immutable, everything else is revalidated
// with an ETag.
package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Files returns the embedded, built dashboard.
func Files() fs.FS {
	f, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return f
}

// Handler serves the embedded dashboard. Mount it at "/"; the API keeps /v1/.
func Handler() http.Handler { return New(Files()) }

type file struct {
	body  []byte
	ctype string
	etag  string
	cache string
}

type handler struct{ files map[string]file }

var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".webmanifest": "application/manifest+json",
	".json":        "application/json",
	".png":         "image/png",
}

// New serves the files of fsys (a built dashboard: index.html at its root); it reads them all
// now and panics on a file type it has no content type for, so a build mistake shows in tests.
func New(fsys fs.FS) http.Handler {
	h := &handler{files: map[string]file{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("dashboard: no content type for %s", p)
		}
		sum := sha256.Sum256(b)
		f := file{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, cache: "no-cache"}
		if strings.HasPrefix(p, "assets/") {
			f.cache = "public, max-age=31536000, immutable"
		}
		h.files["/"+p] = f
		return nil
	})
	if err != nil {
		panic(err)
	}
	if _, ok := h.files["/index.html"]; !ok {
		panic("dashboard: no index.html in the built files")
	}
	h.files["/"] = h.files["/index.html"]
	return h
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// CSP returns the Content-Security-Policy for a page served to host (the request's Host).
func CSP(host string) string {
	connect := "'self'"
	if hostRE.MatchString(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
		"connect-src " + connect + "; manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'self'; " +
		"frame-ancestors 'none'; object-src 'none'"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP(r.Host))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok {
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", f.cache)
	hd.Set("ETag", f.etag)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", fmt.Sprint(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(f.body)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
