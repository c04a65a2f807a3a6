package broker_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub/broker"
	"github.com/ness-network/ness-sms/hub/broker/brokertest"
	"github.com/ness-network/ness-sms/internal/testproc"
)

var update = flag.Bool("update", false, "rewrite scripts/mosquitto/ from hub/broker")

// The shipped files are exactly what the code renders, so the configuration the Mosquitto test
// checks is the one operators install.
func TestShippedMosquittoFiles(t *testing.T) {
	conf, err := broker.MosquittoConf(broker.ProductionMosquitto)
	if err != nil {
		t.Fatal(err)
	}
	acl, err := broker.MosquittoACL(broker.DefaultHubUsername)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		want []byte
	}{
		{"../../scripts/mosquitto/mosquitto.conf", conf},
		{"../../scripts/mosquitto/acl", acl},
	} {
		if *update {
			if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path, f.want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatalf("%v (regenerate with go test ./hub/broker -run TestShippedMosquittoFiles -update)", err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("%s differs from what hub/broker renders; regenerate with "+
				"go test ./hub/broker -run TestShippedMosquittoFiles -update", f.path)
		}
	}
}

func mosquittoBinary(t testing.TB) string {
	t.Helper()
	if os.Getenv("NESS_TEST_NO_MOSQUITTO") == "1" {
		t.Skip("NESS_TEST_NO_MOSQUITTO=1: skipping a test that needs Mosquitto")
	}
	for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatalf("mosquitto is not installed: install it with `scripts/setup packages` " +
		"(or set NESS_TEST_NO_MOSQUITTO=1 to skip)")
	return ""
}

type mosquitto struct {
	d      *testproc.Daemon
	dir    string
	target brokertest.Target
}

// startMosquitto starts a private Mosquitto with the production configuration's shape (a TLS
// listener for agents, a plain loopback listener for hubs) on free ports, and stops it at test end.
func startMosquitto(t testing.TB, agents []brokertest.Agent) *mosquitto {
	t.Helper()
	bin := mosquittoBinary(t)
	dir := t.TempDir()
	hubPass, err := broker.NewPassword()
	if err != nil {
		t.Fatal(err)
	}
	creds := []broker.Credential{{Username: broker.DefaultHubUsername, PasswordHash: mustHash(t, hubPass)}}
	for _, a := range agents {
		creds = append(creds, broker.Credential{Username: a.ID, PasswordHash: mustHash(t, a.Password)})
	}
	pwFile, aclFile := filepath.Join(dir, "passwd"), filepath.Join(dir, "acl")
	if err := broker.WriteMosquittoFiles(pwFile, aclFile, broker.DefaultHubUsername, creds); err != nil {
		t.Fatalf("WriteMosquittoFiles: %v", err)
	}
	cert, key, clientTLS := brokertest.NewTLS(t, dir)
	agentPort, hubPort := testproc.FreePort(t), testproc.FreePort(t)
	opts := broker.ProductionMosquitto
	opts.Listeners = []broker.MosquittoListener{
		{Port: agentPort, Bind: "127.0.0.1", CertFile: cert, KeyFile: key, ForAgents: true},
		{Port: hubPort, Bind: "127.0.0.1"},
	}
	opts.PasswordFile, opts.ACLFile = pwFile, aclFile
	opts.PersistenceDir = dir + "/"
	opts.LogDest = "stderr"
	opts.User = ""
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		opts.User = "root" // the files live in a private temporary directory
	}
	conf, err := broker.MosquittoConf(opts)
	if err != nil {
		t.Fatalf("MosquittoConf: %v", err)
	}
	confFile := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confFile, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	// Registered before testproc.Start's cleanup, this one runs after it (and after a failed
	// start): the configuration goes with Mosquitto's output.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mosquitto configuration:\n%s", conf)
		}
	})
	m := &mosquitto{d: testproc.Start(t, "mosquitto", []int{agentPort, hubPort}, bin, "-c", confFile), dir: dir}
	m.target = brokertest.Target{
		AgentURL:    fmt.Sprintf("ssl://127.0.0.1:%d", agentPort),
		HubURL:      fmt.Sprintf("tcp://127.0.0.1:%d", hubPort),
		TLS:         clientTLS,
		HubUser:     broker.DefaultHubUsername,
		HubPassword: hubPass,
		Agents:      agents,
	}
	return m
}

func TestMosquittoContract(t *testing.T) {
	m := startMosquitto(t, brokertest.NewAgents(t, 3))
	brokertest.Run(t, m.target)
}

// Enrolling and revoking agents: the hub rewrites the password file and Mosquitto reloads it on
// SIGHUP; the new agent gets in, the removed one no longer does.
func TestMosquittoReload(t *testing.T) {
	agents := brokertest.NewAgents(t, 3)
	m := startMosquitto(t, agents[:2])
	newcomer, revoked := agents[2], agents[1]
	connect := func(a brokertest.Agent) error {
		o := paho.NewClientOptions().AddBroker(m.target.AgentURL).SetTLSConfig(m.target.TLS).
			SetClientID(a.ID).SetUsername(a.ID).SetPassword(a.Password).SetAutoReconnect(false).
			SetConnectTimeout(5 * time.Second)
		c := paho.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			return fmt.Errorf("connect: no answer")
		}
		if err := tok.Error(); err != nil {
			return err
		}
		c.Disconnect(0)
		return nil
	}
	if err := connect(newcomer); err == nil {
		t.Fatalf("agent not yet in the password file: connected, want refusal")
	}
	if err := connect(revoked); err != nil {
		t.Fatalf("enrolled agent: %v", err)
	}
	// The revoked agent holds a connection across the reload.
	lost := make(chan struct{})
	held := paho.NewClient(paho.NewClientOptions().AddBroker(m.target.AgentURL).SetTLSConfig(m.target.TLS).
		SetClientID(revoked.ID).SetUsername(revoked.ID).SetPassword(revoked.Password).SetAutoReconnect(false).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) }))
	if tok := held.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("revoked agent's held connection: %v", tok.Error())
	}
	defer held.Disconnect(0)

	creds := []broker.Credential{{Username: broker.DefaultHubUsername, PasswordHash: mustHash(t, m.target.HubPassword)}}
	for _, a := range []brokertest.Agent{agents[0], newcomer} {
		creds = append(creds, broker.Credential{Username: a.ID, PasswordHash: mustHash(t, a.Password)})
	}
	if err := broker.WriteMosquittoFiles(filepath.Join(m.dir, "passwd"), filepath.Join(m.dir, "acl"),
		broker.DefaultHubUsername, creds); err != nil {
		t.Fatal(err)
	}
	if err := m.d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		errNew, errOld := connect(newcomer), connect(revoked)
		if errNew == nil && errOld != nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after rewriting the password file and SIGHUP: newcomer err=%v (want nil), revoked err=%v (want refusal)", errNew, errOld)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Mosquitto re-applies the password file to connected clients on reload.
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Errorf("revoked agent's connection open 5s after the reload, want it closed")
	}
}

// Our hashes and mosquitto_passwd's are interchangeable.
func TestMosquittoPasswdInterop(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		mosquittoBinary(t) // honours NESS_TEST_NO_MOSQUITTO
		t.Fatalf("mosquitto_passwd is not installed: install Mosquitto with `scripts/setup packages`")
	}
	file := filepath.Join(t.TempDir(), "pw")
	pw, _ := broker.NewPassword()
	if out, err := exec.Command(bin, "-c", "-b", file, "someone", pw).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, hash, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
	if !ok || !strings.HasPrefix(hash, "$7$") {
		t.Fatalf("mosquitto_passwd wrote %q, want someone:$7$…", data)
	}
	if !broker.CheckPassword(hash, pw) {
		t.Errorf("CheckPassword(mosquitto_passwd's hash, the password): got false, want true")
	}
	if broker.CheckPassword(hash, pw+"x") {
		t.Errorf("CheckPassword(mosquitto_passwd's hash, a wrong password): got true, want false")
	}
}
