package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"
)

// Cluster is a private PostgreSQL cluster for tests that stop or restart the server: initdb into
// a temporary directory (as the postgres user when the test runs as root), listening on a free
// loopback port with its socket in that directory. The shared server on 5432 is never touched.
type Cluster struct {
	URL  string // postgres://postgres@127.0.0.1:<port>/postgres?sslmode=disable
	dir  string
	port int
	root bool // running as root: PostgreSQL programs run as the postgres user
}

// PGBin finds a PostgreSQL server program: on PATH, else in Debian's /usr/lib/postgresql/*/bin.
func PGBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name); len(m) > 0 {
		return m[len(m)-1]
	}
	return ""
}

// StartCluster initdb's and starts a private cluster; t.Cleanup stops it (immediate) and removes
// it. NESS_TEST_NO_POSTGRES=1 skips the test instead.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	if os.Getenv("NESS_TEST_NO_POSTGRES") == "1" {
		t.Skip("NESS_TEST_NO_POSTGRES=1: skipping a test that needs PostgreSQL")
	}
	for _, p := range []string{"initdb", "pg_ctl"} {
		if PGBin(p) == "" {
			t.Fatalf("PostgreSQL's %s is not installed: run scripts/setup (postgresql), or set NESS_TEST_NO_POSTGRES=1 to skip", p)
		}
	}
	c := &Cluster{}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		c.root = true
		if _, err := user.Lookup("postgres"); err != nil {
			t.Fatalf("running as root but there is no postgres user (%v): install postgresql (scripts/setup)", err)
		}
	}
	dir, err := os.MkdirTemp("", "ness-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	c.dir = dir
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if c.root {
		for _, p := range []string{dir, data} {
			if out, err := exec.Command("chown", "postgres:postgres", p).CombinedOutput(); err != nil {
				t.Fatalf("chown %s: %v\n%s", p, err, out)
			}
		}
	}
	t.Cleanup(func() {
		c.ctl("stop", "-m", "immediate", "-w")
		os.RemoveAll(dir)
	})
	if out, err := c.cmd(PGBin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	if err := c.ctl("start", "-w", "-t", "60"); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *Cluster) cmd(prog string, args ...string) *exec.Cmd {
	if c.root {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	}
	return exec.Command(prog, args...)
}

func (c *Cluster) ctl(args ...string) error {
	full := append([]string{"-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "pg.log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir)}, args...)
	if out, err := c.cmd(PGBin("pg_ctl"), full...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "pg.log"))
		return fmt.Errorf("pg_ctl %v: %v\n%s\n%s", args, err, out, log)
	}
	return nil
}

// Stop stops the server hard (immediate: every connection is cut, no shutdown checkpoint).
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if err := c.ctl("stop", "-m", "immediate", "-w"); err != nil {
		t.Fatal(err)
	}
}

// Start starts the server again after Stop (crash recovery) and waits until it accepts
// connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if err := c.ctl("start", "-w", "-t", "60"); err != nil {
		t.Fatal(err)
	}
}

// Restart is Stop then Start.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.Stop(t)
	c.Start(t)
}
