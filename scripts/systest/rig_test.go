package systest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/broker"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/internal/testproc"
	"github.com/ness-network/ness-sms/wire"
)

// EnvE2E turns the system tests on; `make e2e` and `make bench` set it.
const EnvE2E = "NESS_E2E"

// requireSystem skips the test unless NESS_E2E=1. With it set, every part the test needs must be
// present: a missing one fails the test saying how to install it.
func requireSystem(t testing.TB, parts ...string) {
	t.Helper()
	if os.Getenv(EnvE2E) != "1" {
		t.Skipf("system test: set %s=1 (make e2e) to run it", EnvE2E)
	}
	for _, p := range parts {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s=1 but %s is not installed (%v): run scripts/setup (mosquitto, postgresql, util-linux)", EnvE2E, p, err)
		}
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds ness-modemsim, ness-agent and ness-hub once per test binary and returns their
// directory.
func binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ness-systest-bin-")
		if buildErr != nil {
			return
		}
		goTool := "go" // go test puts its own $GOROOT/bin first on PATH
		cmd := exec.Command(goTool, "build", "-o", buildDir+"/",
			"github.com/ness-network/ness-sms/agent/cmd/ness-modemsim",
			"github.com/ness-network/ness-sms/agent/cmd/ness-agent",
			"github.com/ness-network/ness-sms/hub/cmd/ness-hub")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// proc is a child process the test starts, kills and restarts; its output goes to a log file.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func newProc(t testing.TB, dir, name, bin string, env []string, args ...string) *proc {
	p := &proc{name: name, bin: bin, args: args, env: append(os.Environ(), env...), log: filepath.Join(dir, name+".log")}
	t.Cleanup(p.stop)
	return p
}

// start starts the process (again).
func (p *proc) start(t testing.TB) {
	t.Helper()
	if err := p.startErr(); err != nil {
		t.Fatal(err)
	}
}

func (p *proc) startErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "=== %s start %s\n", time.Now().Format(time.RFC3339Nano), p.name)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// signal sends sig and waits up to wait for the exit (then SIGKILL).
func (p *proc) signal(sig syscall.Signal, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(wait):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

func (p *proc) kill() { p.signal(syscall.SIGKILL, 10*time.Second) }
func (p *proc) stop() { p.signal(syscall.SIGTERM, 15*time.Second) }

// pid is the running process's id, 0 when stopped.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// exited says whether the process ended on its own.
func (p *proc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail is the end of the process's log.
func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// rssKiB is the process's resident set (VmRSS) in KiB, 0 when unknown.
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// pgCluster is a private PostgreSQL cluster (initdb as the postgres user into a temporary
// directory, listening on a free loopback port); the shared server on 5432 is never touched.
type pgCluster struct {
	dir  string
	port int
	DSN  string
}

// pgBin finds a PostgreSQL server program: on PATH, else in Debian's /usr/lib/postgresql/*/bin.
func pgBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name); len(m) > 0 {
		return m[len(m)-1]
	}
	return ""
}

func startPostgres(t testing.TB) *pgCluster {
	t.Helper()
	requireSystem(t, "runuser")
	for _, p := range []string{"initdb", "pg_ctl"} {
		if pgBin(p) == "" {
			t.Fatalf("%s=1 but PostgreSQL's %s is not installed: run scripts/setup (postgresql)", EnvE2E, p)
		}
	}
	if u, err := user.Lookup("postgres"); err != nil {
		t.Fatalf("no postgres user (%v): install postgresql (scripts/setup)", err)
	} else {
		_ = u
	}
	dir, err := os.MkdirTemp("", "ness-systest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	pg := &pgCluster{dir: dir, port: testproc.FreePort(t)}
	t.Cleanup(func() {
		pg.ctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("install", "-d", "-o", "postgres", "-g", "postgres", "-m", "0700", data).CombinedOutput(); err != nil {
		t.Fatalf("mkdir %s: %v\n%s", data, err, out)
	}
	exec.Command("chown", "postgres:postgres", dir).Run()
	if out, err := exec.Command("runuser", "-u", "postgres", "--", pgBin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
	if err := pg.ctl("start", "-w", "-t", "60"); err != nil {
		t.Fatal(err)
	}
	return pg
}

func (pg *pgCluster) ctl(args ...string) error {
	data := filepath.Join(pg.dir, "data")
	full := append([]string{"-u", "postgres", "--", pgBin("pg_ctl"), "-D", data, "-l", filepath.Join(pg.dir, "pg.log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", pg.port, pg.dir)}, args...)
	if out, err := exec.Command("runuser", full...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.dir, "pg.log"))
		return fmt.Errorf("pg_ctl %v: %v\n%s\n%s", args, err, out, log)
	}
	return nil
}

// restart stops the cluster hard (no shutdown checkpoint: crash recovery on start) and starts it.
func (pg *pgCluster) restart() error {
	if err := pg.ctl("stop", "-m", "immediate", "-w"); err != nil {
		return err
	}
	return pg.ctl("start", "-w", "-t", "60")
}

// mosquitto is a private Mosquitto with the shipped configuration's rules
// (broker.MosquittoConf: no anonymous clients, password file, per-agent ACL) and persistence.
type mosquitto struct {
	*proc
	URL, HubUser, HubPassword string
	port                      int
	pwFile, aclFile           string
}

func startMosquitto(t testing.TB, dir string) *mosquitto {
	t.Helper()
	requireSystem(t, "mosquitto")
	bin, _ := exec.LookPath("mosquitto")
	m := &mosquitto{port: testproc.FreePort(t), HubUser: broker.DefaultHubUsername,
		pwFile: filepath.Join(dir, "mosquitto.passwd"), aclFile: filepath.Join(dir, "mosquitto.acl")}
	m.URL = fmt.Sprintf("tcp://127.0.0.1:%d", m.port)
	pass, err := broker.NewPassword()
	if err != nil {
		t.Fatal(err)
	}
	m.HubPassword = pass
	if err := m.writeCreds(nil); err != nil {
		t.Fatal(err)
	}
	opts := broker.MosquittoOptions{
		Listeners:    []broker.MosquittoListener{{Port: m.port, Bind: "127.0.0.1"}},
		PasswordFile: m.pwFile, ACLFile: m.aclFile, LogDest: "stderr", PersistenceDir: dir + "/",
	}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		opts.User = "root" // its files live in the test's private directory
	}
	conf, err := broker.MosquittoConf(opts)
	if err != nil {
		t.Fatal(err)
	}
	confFile := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	m.proc = newProc(t, dir, "mosquitto", bin, nil, "-c", confFile)
	if err := m.up(); err != nil {
		t.Fatal(err)
	}
	return m
}

// up starts Mosquitto and waits until it accepts connections.
func (m *mosquitto) up() error {
	if err := m.startErr(); err != nil {
		return err
	}
	return waitTCP(fmt.Sprintf("127.0.0.1:%d", m.port), 15*time.Second, m.proc)
}

func (m *mosquitto) writeCreds(agents []broker.Credential) error {
	hash, err := broker.HashPassword(m.HubPassword)
	if err != nil {
		return err
	}
	return broker.WriteMosquittoFiles(m.pwFile, m.aclFile, m.HubUser, append([]broker.Credential{{Username: m.HubUser, PasswordHash: hash}}, agents...))
}

// allow adds agents (username = agent id, the password the hub issued) to the password file
// and makes Mosquitto reload it, as a deployment does after enrolment.
func (m *mosquitto) allow(t testing.TB, agents map[string]string) {
	t.Helper()
	var creds []broker.Credential
	for id, pass := range agents {
		hash, err := broker.HashPassword(pass)
		if err != nil {
			t.Fatal(err)
		}
		creds = append(creds, broker.Credential{Username: id, PasswordHash: hash})
	}
	if err := m.writeCreds(creds); err != nil {
		t.Fatal(err)
	}
	if pid := m.pid(); pid != 0 {
		syscall.Kill(pid, syscall.SIGHUP)
	}
	time.Sleep(300 * time.Millisecond)
}

func waitTCP(addr string, d time.Duration, p *proc) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited at start:\n%s", p.name, p.tail(4000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %v", addr, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hubProc is one ness-hub instance.
type hubProc struct {
	*proc
	URL string // http://127.0.0.1:port
}

// hubEnv is the environment shared by every hub instance of a deployment.
func hubEnv(keyFile, dsn string, m *mosquitto, extra ...string) []string {
	env := []string{"NESS_HUB_KEY=" + keyFile, "NESS_HUB_MQTT_URL=" + m.URL,
		"NESS_HUB_MQTT_USERNAME=" + m.HubUser, "NESS_HUB_MQTT_PASSWORD=" + m.HubPassword,
		"NESS_HUB_EMERCOIN_NETWORK=off", "NESS_HUB_LOG_LEVEL=" + logLevel(),
		// The renters' webhook receivers listen on loopback, which production hubs refuse (SSRF).
		"NESS_HUB_WEBHOOK_ALLOW_PRIVATE=true"}
	if dsn != "" {
		env = append(env, "NESS_HUB_DB="+dsn)
	}
	return append(env, extra...)
}

func startHub(t testing.TB, dir, name string, env []string) *hubProc {
	t.Helper()
	port := testproc.FreePort(t)
	data := filepath.Join(dir, name)
	os.MkdirAll(data, 0o700)
	h := &hubProc{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	h.proc = newProc(t, dir, name, filepath.Join(binaries(t), "ness-hub"),
		append(env, "NESS_HUB_DATA_DIR="+data, fmt.Sprintf("NESS_HUB_HTTP_ADDR=127.0.0.1:%d", port),
			"NESS_HUB_MQTT_CLIENT_ID=systest-"+name))
	if err := h.up(); err != nil {
		t.Fatal(err)
	}
	return h
}

// up starts the hub and waits until /healthz answers 200 (HTTP up and MQTT connected).
func (h *hubProc) up() error {
	if err := h.startErr(); err != nil {
		return err
	}
	return h.waitHealthy(60 * time.Second)
}

func (h *hubProc) waitHealthy(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(h.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if h.exited() {
			return fmt.Errorf("%s exited:\n%s", h.name, h.tail(4000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy after %v (last: %v)\n%s", h.name, d, err, h.tail(2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeHubKey writes a new hub key file for the deployment.
func writeHubKey(t testing.TB, dir string) (string, *wire.Identity) {
	t.Helper()
	id, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "hub.key")
	if err := wire.WriteKeyFile(path, id, wire.KindHub, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	return path, id
}

// apiClient is a signed-in account of the hub API (renter and provider).
type apiClient struct {
	base  string // hub URL; may be switched between instances
	id    *wire.Identity
	token string
	http  *http.Client
}

// statusErr is an unexpected HTTP status.
type statusErr struct {
	method, path string
	status       int
	body         string
}

func (e *statusErr) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.body)
}

// call sends a JSON request and decodes the answer into out when the status is want. It
// retries 429s and connection errors for up to a minute (hubs restart under the test).
func (c *apiClient) call(method, path string, body any, want int, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var rd io.Reader
		if raw != nil {
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequest(method, c.base+path, rd)
		if err != nil {
			return err
		}
		if raw != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		hc := c.http
		if hc == nil {
			hc = &http.Client{Timeout: 90 * time.Second}
		}
		resp, err := hc.Do(req)
		if err != nil {
			if time.Now().After(deadline) {
				return err
			}
			time.Sleep(500 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) && time.Now().Before(deadline) {
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 0))*time.Second + 200*time.Millisecond)
			continue
		}
		if resp.StatusCode != want {
			return &statusErr{method, path, resp.StatusCode, string(b)}
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
}

// signIn runs challenge → signature → token for id against base.
func signIn(base string, id *wire.Identity) (*apiClient, error) {
	c := &apiClient{base: base, id: id}
	var ch httpapi.ChallengeResponse
	if err := c.call("POST", "/v1/auth/challenge", nil, http.StatusCreated, &ch); err != nil {
		return nil, err
	}
	raw, err := wire.DecodeBase64("challenge", ch.Challenge)
	if err != nil {
		return nil, err
	}
	sig, err := wire.SignIn(id, ch.Origin, raw)
	if err != nil {
		return nil, err
	}
	var tok httpapi.TokenResponse
	if err := c.call("POST", "/v1/auth/token", httpapi.TokenRequest{Key: id.Verify.String(), Challenge: ch.Challenge,
		Signature: base64Std(sig)}, http.StatusCreated, &tok); err != nil {
		return nil, err
	}
	c.token = tok.Token
	return c, nil
}

func mustSignIn(t testing.TB, base string) *apiClient {
	t.Helper()
	id, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	c, err := signIn(base, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// simSlot is a slot as ness-modemsim's control API reports it.
type simSlot struct {
	Slot     int    `json:"slot"`
	State    string `json:"state"`
	Fault    string `json:"fault"`
	ICCID    string `json:"iccid"`
	Number   string `json:"number"`
	Messages []struct {
		Index   int    `json:"index"`
		Storage string `json:"storage"`
	} `json:"messages"`
}

// modemsim is ness-modemsim in its own process, ready line parsed.
type modemsim struct {
	*proc
	control string
	dir     string
}

func startModemsim(t testing.TB, dir string, slots int, extra ...string) *modemsim {
	t.Helper()
	ptys := filepath.Join(dir, "ptys")
	args := append([]string{"--slots", strconv.Itoa(slots), "--dir", ptys, "--control", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(filepath.Join(binaries(t), "ness-modemsim"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "modemsim.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p := &proc{name: "modemsim", log: logf.Name(), cmd: cmd, done: done}
	t.Cleanup(func() { p.stop(); logf.Close() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("ness-modemsim: no ready line: %v\n%s", err, p.tail(2000))
	}
	go io.Copy(io.Discard, out)
	m := &modemsim{proc: p, dir: ptys}
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "control="); ok {
			m.control = v
		}
	}
	if m.control == "" {
		t.Fatalf("ness-modemsim ready line %q: no control=", line)
	}
	return m
}

func (m *modemsim) slots() ([]simSlot, error) {
	resp, err := http.Get(m.control + "/slots")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var s []simSlot
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// post sends a control API request; it returns the status.
func (m *modemsim) post(path string, body any) (int, error) {
	b, _ := json.Marshal(body)
	resp, err := http.Post(m.control+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (m *modemsim) fault(slot int, kind string) error {
	st, err := m.post(fmt.Sprintf("/slots/%d/fault", slot), map[string]string{"kind": kind})
	if err == nil && st != 200 {
		err = fmt.Errorf("fault %s on slot %d: status %d", kind, slot, st)
	}
	return err
}

// TestMain removes the binaries built for the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}
