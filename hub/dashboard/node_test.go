package dashboard_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The dashboard's JavaScript tests and build need Node.js and the pinned npm packages
// (package-lock.json). A missing part fails the test with how to get it; it never skips.

var npmOnce sync.Once
var npmErr error

// needNode returns the path of node after making sure node_modules matches package-lock.json
// (npm ci once per test binary when it does not).
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: the dashboard tests need Node.js 20 and npm (Debian: apt-get install nodejs npm; then `make dashboard`)")
	}
	npmOnce.Do(func() {
		lock, err := os.ReadFile("package-lock.json")
		if err != nil {
			npmErr = err
			return
		}
		// npm ci writes node_modules/.package-lock.json; when its package list matches, skip npm.
		if have, err := os.ReadFile("node_modules/.package-lock.json"); err == nil && sameInstall(lock, have) {
			return
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			npmErr = err
			return
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		out, err := cmd.CombinedOutput()
		if err != nil {
			npmErr = &npmError{err: err, out: string(out)}
		}
	})
	if npmErr != nil {
		t.Fatalf("npm ci in hub/dashboard (installs the pinned packages of package-lock.json; needs the npm registry): %v", npmErr)
	}
	return node
}

type npmError struct {
	err error
	out string
}

func (e *npmError) Error() string { return e.err.Error() + "\n" + e.out }

// sameInstall reports whether every "node_modules/…" entry of the lock file is in the installed
// manifest with the same version line.
func sameInstall(lock, installed []byte) bool {
	for _, line := range bytes.Split(lock, []byte("\n")) {
		l := bytes.TrimSpace(line)
		if bytes.HasPrefix(l, []byte(`"version"`)) || bytes.HasPrefix(l, []byte(`"node_modules/`)) {
			if !bytes.Contains(installed, l) {
				return false
			}
		}
	}
	return true
}

func runNode(t *testing.T, args ...string) string {
	t.Helper()
	node := needNode(t)
	cmd := exec.Command(node, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestCryptoVectors runs web/test/crypto.test.mjs: the browser crypto against
// wire/testdata/vectors.json (Go) and libsodium.json (PyNaCl).
func TestCryptoVectors(t *testing.T) {
	out := runNode(t, "--test", "web/test/crypto.test.mjs")
	if !strings.Contains(out, "# fail 0") || strings.Contains(out, "# pass 0") {
		t.Fatalf("node --test output:\n%s", out)
	}
}

// TestBundleUpToDate rebuilds the dashboard and compares it with the committed dist/ that the
// package embeds, so a change to web/ without `make dashboard` fails here.
func TestBundleUpToDate(t *testing.T) {
	dir := t.TempDir()
	runNode(t, "build.mjs", dir)
	want := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			want[rel], _ = os.ReadFile(p)
		}
		return err
	})
	have := map[string]bool{}
	filepath.WalkDir("dist", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel("dist", p)
			have[rel] = true
			b, _ := os.ReadFile(p)
			if w, ok := want[rel]; !ok {
				t.Errorf("dist/%s is committed but a fresh build does not make it; run `make dashboard` and commit hub/dashboard/dist", rel)
			} else if !bytes.Equal(b, w) {
				t.Errorf("dist/%s differs from a fresh build; run `make dashboard` and commit hub/dashboard/dist", rel)
			}
		}
		return err
	})
	for rel := range want {
		if !have[rel] {
			t.Errorf("a fresh build makes %s, which dist/ lacks; run `make dashboard` and commit hub/dashboard/dist", rel)
		}
	}
	if len(want) < 6 {
		t.Errorf("fresh build made only %d files", len(want))
	}
}
