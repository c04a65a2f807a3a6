package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/broker"
	"github.com/ness-network/ness-sms/hub/broker/brokertest"
	"github.com/ness-network/ness-sms/hub/storetest"
)

func mustHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := broker.HashPassword(pw)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	return h
}

// mapLookup is a Lookup over a fixed set of agents.
func mapLookup(t *testing.T, agents []brokertest.Agent) broker.Lookup {
	hashes := map[string]string{}
	for _, a := range agents {
		hashes[a.ID] = mustHash(t, a.Password)
	}
	return func(id string) (string, bool) { h, ok := hashes[id]; return h, ok }
}

func startEmbedded(t *testing.T, withTLS bool) brokertest.Target {
	t.Helper()
	agents := brokertest.NewAgents(t, 3)
	hubPass, err := broker.NewPassword()
	if err != nil {
		t.Fatal(err)
	}
	cfg := broker.Config{Listen: "127.0.0.1:0", HubPasswordHash: mustHash(t, hubPass), Lookup: mapLookup(t, agents)}
	tg := brokertest.Target{HubUser: broker.DefaultHubUsername, HubPassword: hubPass, Agents: agents,
		RefusesSubscribe: true}
	if withTLS {
		cfg.CertFile, cfg.KeyFile, tg.TLS = brokertest.NewTLS(t, t.TempDir())
	}
	b, err := broker.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	tg.AgentURL, tg.HubURL = b.URL(), b.URL()
	return tg
}

func TestEmbeddedContract(t *testing.T) {
	brokertest.Run(t, startEmbedded(t, false))
}

func TestEmbeddedContractTLS(t *testing.T) {
	tg := startEmbedded(t, true)
	if !strings.HasPrefix(tg.AgentURL, "ssl://") {
		t.Fatalf("URL with TLS: got %q, want ssl://…", tg.AgentURL)
	}
	brokertest.Run(t, tg)

	// A client that does not speak TLS gets nowhere.
	plain := tg
	plain.TLS = nil
	o := paho.NewClientOptions().AddBroker(strings.Replace(tg.AgentURL, "ssl://", "tcp://", 1)).
		SetClientID(tg.Agents[0].ID).SetUsername(tg.Agents[0].ID).SetPassword(tg.Agents[0].Password).
		SetAutoReconnect(false).SetConnectTimeout(2e9)
	c := paho.NewClient(o)
	if tok := c.Connect(); tok.WaitTimeout(5e9) && tok.Error() == nil {
		c.Disconnect(0)
		t.Errorf("plain MQTT to the TLS listener: connected, want failure")
	}
}

func TestPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = broker.Start(broker.Config{Listen: ln.Addr().String(), HubPasswordHash: mustHash(t, "x"),
		Lookup: func(string) (string, bool) { return "", false }})
	var le *broker.ListenError
	if !errors.As(err, &le) {
		t.Fatalf("Start on a taken port: got %v, want *broker.ListenError", err)
	}
	if !le.InUse {
		t.Errorf("ListenError.InUse: got false, want true")
	}
	for _, want := range []string{"NESS_HUB_MQTT_LISTEN", "NESS_HUB_MQTT_URL", ln.Addr().String(), "already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want it to contain %q", err, want)
		}
	}
}

func TestStartConfigErrors(t *testing.T) {
	good := broker.Config{Listen: "127.0.0.1:0", HubPasswordHash: mustHash(t, "x"),
		Lookup: func(string) (string, bool) { return "", false }}
	cases := []struct {
		name   string
		change func(*broker.Config)
		want   string
	}{
		{"no lookup", func(c *broker.Config) { c.Lookup = nil }, "no agent Lookup"},
		{"bad hub hash", func(c *broker.Config) { c.HubPasswordHash = "plain" }, "hub credential"},
		{"hub user like an agent", func(c *broker.Config) { c.HubUsername = strings.Repeat("ab", 16) }, "hub username"},
		{"cert without key", func(c *broker.Config) { c.CertFile = "x.crt" }, "both a certificate file and a key file"},
		{"missing cert files", func(c *broker.Config) { c.CertFile, c.KeyFile = "/nonexistent.crt", "/nonexistent.key" }, "load TLS key pair"},
		{"bad address", func(c *broker.Config) { c.Listen = "127.0.0.1:99999" }, "NESS_HUB_MQTT_LISTEN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.change(&cfg)
			b, err := broker.Start(cfg)
			if err == nil {
				b.Close()
				t.Fatalf("Start: got success, want error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Start: got %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// fakeAgents is the GetAgent part of a hub.Store.
type fakeAgents map[string]hub.Agent

func (f fakeAgents) GetAgent(_ context.Context, id string) (hub.Agent, error) {
	if id == "broken" {
		return hub.Agent{}, errors.New("database unavailable")
	}
	a, ok := f[id]
	if !ok {
		return hub.Agent{}, fmt.Errorf("agent %s: %w", id, hub.ErrNotFound)
	}
	return a, nil
}

// The embedded broker checks agents against the hub's store: enrolled with a hash, it connects;
// with a wrong password, not enrolled, or enrolled without a hash, it does not.
func TestStoreLookup(t *testing.T) {
	pw, _ := broker.NewPassword()
	a := storetest.Agent("mqtt")
	a.MQTTPasswordHash = mustHash(t, pw)
	noHash := storetest.Agent("no hash")
	noHash.MQTTPasswordHash = ""
	st := fakeAgents{a.ID: a, noHash.ID: noHash}
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", HubPasswordHash: mustHash(t, "hub"),
		Lookup: broker.StoreLookup(st, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, c := range []struct {
		name, user, pass string
		wantOK           bool
	}{
		{"enrolled", a.ID, pw, true},
		{"wrong password", a.ID, pw[1:], false},
		{"not enrolled", storetest.AgentID("not enrolled"), pw, false},
		{"enrolled without a hash", noHash.ID, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(c.user).SetUsername(c.user).
				SetPassword(c.pass).SetAutoReconnect(false)
			cl := paho.NewClient(o)
			tok := cl.Connect()
			tok.WaitTimeout(5e9)
			if ok := tok.Error() == nil; ok != c.wantOK {
				t.Errorf("connect %s: got success=%v (%v), want %v", c.name, ok, tok.Error(), c.wantOK)
			}
			cl.Disconnect(0)
		})
	}
	if h, ok := broker.StoreLookup(st, nil)("broken"); ok || h != "" {
		t.Errorf("StoreLookup when the store fails: got %q, %v; want \"\", false", h, ok)
	}
}

func TestTopicRules(t *testing.T) {
	a := strings.Repeat("a1", 16)
	b := strings.Repeat("b2", 16)
	cases := []struct {
		topic    string
		agentMay bool
		hubMay   bool
	}{
		{"ness/v1/agent/" + a + "/msg", true, true},
		{"ness/v1/agent/" + a + "/#", true, true},
		{"ness/v1/agent/" + a, true, true},
		{"ness/v1/agent/" + a + "/slot/0/status", true, true},
		{"ness/v1/agent/" + b + "/msg", false, true},
		{"ness/v1/agent/" + a + "0/msg", false, true},
		{"ness/v1/agent/+/msg", false, true},
		{"ness/v1/agent/#", false, true},
		{"ness/v1/#", false, true},
		{"$share/g/ness/v1/agent/+/msg", false, true},
		{"$share/g/ness/v1/agent/" + a + "/msg", false, true},
		{"$share/ness/v1", false, false},
		{"#", false, false},
		{"ness/v2/agent/" + a + "/msg", false, false},
		{"$SYS/broker/uptime", false, false},
		{"", false, false},
	}
	for _, c := range cases {
		if got := broker.AgentMayUse(a, c.topic); got != c.agentMay {
			t.Errorf("AgentMayUse(%q): got %v, want %v", c.topic, got, c.agentMay)
		}
		if got := broker.HubMayUse(c.topic); got != c.hubMay {
			t.Errorf("HubMayUse(%q): got %v, want %v", c.topic, got, c.hubMay)
		}
	}
	if broker.AgentMayUse("+", "ness/v1/agent/+/x") {
		t.Errorf("AgentMayUse with a wildcard as agent id: got true, want false")
	}
}

func TestDisconnectAgent(t *testing.T) {
	a := brokertest.NewAgents(t, 1)[0]
	hashes := map[string]string{a.ID: mustHash(t, a.Password)}
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", HubPasswordHash: mustHash(t, "hub"),
		Lookup: func(id string) (string, bool) { h, ok := hashes[id]; return h, ok }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lost := make(chan struct{})
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(a.ID).SetUsername(a.ID).
		SetPassword(a.Password).SetAutoReconnect(false).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) }))
	if tok := c.Connect(); !tok.WaitTimeout(5e9) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	if b.DisconnectAgent(storetest.AgentID("not connected")) {
		t.Errorf("DisconnectAgent of an agent not connected: got true, want false")
	}
	delete(hashes, a.ID) // revoked
	if !b.DisconnectAgent(a.ID) {
		t.Fatalf("DisconnectAgent of a connected agent: got false, want true")
	}
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatalf("agent still connected 5s after DisconnectAgent")
	}
	tok := c.Connect()
	if tok.WaitTimeout(5e9) && tok.Error() == nil {
		t.Errorf("revoked agent reconnect: got success, want refusal")
	}
}
