package hubtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/broker"
	"github.com/ness-network/ness-sms/internal/testproc"
)

// Mosquitto is a private Mosquitto started with the shipped configuration's rules
// (broker.MosquittoConf: no anonymous clients, password file, per-agent ACL pattern) on a free
// loopback port; the shared Mosquitto on 1883 is never touched.
type Mosquitto struct {
	URL         string // tcp://127.0.0.1:<port>, for agents and hubs
	HubUser     string
	HubPassword string

	dir, pwFile, aclFile string
	d                    *testproc.Daemon
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
	bin := MosquittoBinary(t)
	m := &Mosquitto{dir: t.TempDir(), HubUser: broker.DefaultHubUsername}
	m.pwFile, m.aclFile = filepath.Join(m.dir, "passwd"), filepath.Join(m.dir, "acl")
	pass, err := broker.NewPassword()
	if err != nil {
		t.Fatal(err)
	}
	m.HubPassword = pass
	if err := m.write(nil); err != nil {
		t.Fatal(err)
	}
	port := testproc.FreePort(t)
	opts := broker.MosquittoOptions{
		Listeners:    []broker.MosquittoListener{{Port: port, Bind: "127.0.0.1"}},
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
	confFile := filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	// t.Cleanup stops it (SIGTERM) and logs its output if the test failed.
	m.d = testproc.Start(t, "mosquitto", []int{port}, bin, "-c", confFile)
	m.URL = fmt.Sprintf("tcp://127.0.0.1:%d", port)
	return m
}

// Kill ends Mosquitto with SIGKILL, as a crash or power loss does: without persistence it loses
// every session and subscription.
func (m *Mosquitto) Kill(t testing.TB) {
	t.Helper()
	m.d.Kill()
}

// Stop ends Mosquitto cleanly (SIGTERM; SIGKILL if it is still there after 10 s), as an
// administrator or init system does: with persistence it saves every session (subscriptions,
// queued and in-flight messages) and restores them on Restart.
func (m *Mosquitto) Stop(t testing.TB) {
	t.Helper()
	m.d.Stop()
}

// Restart starts Mosquitto again (after Kill or Stop) on the same port with the same configuration and
// password file, and waits until it listens.
func (m *Mosquitto) Restart(t testing.TB) {
	t.Helper()
	m.d.Restart(t)
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
	if err := m.d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // Mosquitto reloads on its next loop iteration
}

// Output is what Mosquitto logged so far, across restarts.
func (m *Mosquitto) Output() string { return m.d.Output() }
