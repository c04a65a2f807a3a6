package hubtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/broker"
)

// Mosquitto is a private Mosquitto started with the shipped configuration's rules
// (broker.MosquittoConf: no anonymous clients, password file, per-agent ACL pattern) on a free
// loopback port; the shared Mosquitto on 1883 is never touched.
type Mosquitto struct {
	URL         string // tcp://127.0.0.1:<port>, for agents and hubs
	HubUser     string
	HubPassword string

	bin, dir, confFile, pwFile, aclFile string
	port                                int
	out                                 *lockedBuffer

	mu     sync.Mutex // guards cmd and exited, replaced by Restart
	cmd    *exec.Cmd
	exited chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// MosquittoBinary finds mosquitto or fails the test saying how to install it
// (NESS_TEST_NO_MOSQUITTO=1 skips instead).
func MosquittoBinary(t testing.TB) string {
	t.Helper()
	if os.Getenv("NESS_TEST_NO_MOSQUITTO") == "1" {
		t.Skip("NESS_TEST_NO_MOSQUITTO=1: skipping a test that needs Mosquitto")
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "mosquitto"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatalf("mosquitto is not installed: install it with `scripts/setup packages` (or set NESS_TEST_NO_MOSQUITTO=1 to skip)")
	return ""
}

// StartMosquitto starts a private Mosquitto with persistence; t.Cleanup stops it. Call Sync
// after enrolling agents so the password file holds them.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	return StartMosquittoWith(t, MosquittoConfig{})
}

// MosquittoConfig configures StartMosquittoWith.
type MosquittoConfig struct {
	// NoPersistence runs Mosquitto without persistence: after Kill and Restart it has lost
	// every session, subscription and retained message (clients reconnect with
	// session_present=false).
	NoPersistence bool
	// Debug logs every packet (log_type all) into Output.
	Debug bool
}

// StartMosquittoWith starts a private Mosquitto configured by c; t.Cleanup stops it.
func StartMosquittoWith(t testing.TB, c MosquittoConfig) *Mosquitto {
	t.Helper()
	m := &Mosquitto{bin: MosquittoBinary(t), dir: t.TempDir(), HubUser: broker.DefaultHubUsername, out: &lockedBuffer{}}
	m.pwFile, m.aclFile = filepath.Join(m.dir, "passwd"), filepath.Join(m.dir, "acl")
	pass, err := broker.NewPassword()
	if err != nil {
		t.Fatal(err)
	}
	m.HubPassword = pass
	if err := m.write(nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := broker.MosquittoOptions{
		Listeners:    []broker.MosquittoListener{{Port: m.port, Bind: "127.0.0.1"}},
		PasswordFile: m.pwFile, ACLFile: m.aclFile, LogDest: "stderr",
	}
	if !c.NoPersistence {
		opts.PersistenceDir = m.dir + "/"
	}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		opts.User = "root" // the files live in a private temporary directory
	}
	conf, err := broker.MosquittoConf(opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.Debug {
		conf = append(conf, "\nlog_type all\n"...)
	}
	m.confFile = filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(m.confFile, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	m.start(t)
	t.Cleanup(func() {
		m.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", m.out.String())
		}
	})
	m.URL = fmt.Sprintf("tcp://127.0.0.1:%d", m.port)
	return m
}

// start runs Mosquitto with the configuration file and waits until it listens.
func (m *Mosquitto) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(m.bin, "-c", m.confFile)
	cmd.Stdout, cmd.Stderr = m.out, m.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", m.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	m.mu.Lock()
	m.cmd, m.exited = cmd, exited
	m.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("mosquitto exited at start:\n%s", m.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %d after 10s:\n%s", m.port, m.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig to the running Mosquitto (SIGKILL after 5 s) and waits until it has exited.
func (m *Mosquitto) stop(sig syscall.Signal) {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// Kill ends Mosquitto with SIGKILL, as a crash or power loss does: without persistence it loses
// every session and subscription.
func (m *Mosquitto) Kill(t testing.TB) {
	t.Helper()
	m.stop(syscall.SIGKILL)
}

// Stop ends Mosquitto cleanly (SIGTERM), as an administrator or init system does: with
// persistence it saves every session (subscriptions, queued and in-flight messages) and
// restores them on Restart.
func (m *Mosquitto) Stop(t testing.TB) {
	t.Helper()
	m.stop(syscall.SIGTERM)
}

// Restart starts Mosquitto again (after Kill or Stop) on the same port with the same configuration and
// password file.
func (m *Mosquitto) Restart(t testing.TB) {
	t.Helper()
	m.start(t)
}

func (m *Mosquitto) write(agents []hub.Agent) error {
	hash, err := broker.HashPassword(m.HubPassword)
	if err != nil {
		return err
	}
	creds := []broker.Credential{{Username: m.HubUser, PasswordHash: hash}}
	for _, a := range agents {
		if a.MQTTPasswordHash != "" {
			creds = append(creds, broker.Credential{Username: a.ID, PasswordHash: a.MQTTPasswordHash})
		}
	}
	return broker.WriteMosquittoFiles(m.pwFile, m.aclFile, m.HubUser, creds)
}

// Sync writes the password file from the store's agents and makes Mosquitto reload it (SIGHUP),
// as a production deployment does after enrolment.
func (m *Mosquitto) Sync(t testing.TB, s hub.Store) {
	t.Helper()
	agents, err := s.ListAgents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.write(agents); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	cmd := m.cmd
	m.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // Mosquitto reloads on its next loop iteration
}

// Output is what Mosquitto logged so far.
func (m *Mosquitto) Output() string { return m.out.String() }
