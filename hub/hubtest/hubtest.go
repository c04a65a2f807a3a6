// Package hubtest runs a real hub in a test: a Store (SQLite in a temporary directory unless one
// is given), the embedded broker on 127.0.0.1:0 (or an external broker such as a private
// Mosquitto), the ingester and the lease issuer, connected through paho like in production. It
// also enrols simulated agents (a wire.Identity, a provider-signed certificate, the issued MQTT
// password) that publish signed, sealed SMS and collect the hub's receipts and leases.
package hubtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/broker"
	"github.com/ness-network/ness-sms/hub/ingest"
	"github.com/ness-network/ness-sms/hub/lease"
	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/wire"
)

// Options configure Start; the zero value runs everything embedded.
type Options struct {
	Store hub.Store // nil: a new SQLite store in t.TempDir()
	Key   *wire.Identity
	// BrokerURL is an external broker for the hub (HubUser/HubPassword); "" starts the embedded
	// broker on 127.0.0.1:0.
	BrokerURL            string
	HubUser, HubPassword string
	Share                string // shared subscription group
	ClientID             string // default: a unique id
	Notify               ingest.Notifier
	Now                  func() time.Time
	Log                  *slog.Logger // default: discard
	Workers              int
	Timeout              time.Duration // ingest per-message timeout (0: ingest's default)
}

// Hub is a running hub; t.Cleanup stops it.
type Hub struct {
	Store  hub.Store
	Key    *wire.Identity
	Broker *broker.Broker // nil with an external broker
	URL    string         // broker URL for agents
	// HubUser and HubPassword are the hub's broker credential (another hub instance may use it).
	HubUser, HubPassword string
	Client               mqtt.Client // the hub's own MQTT client
	Ingest               *ingest.Ingester
	Leases               *lease.Issuer
	Metrics              *ingest.Metrics
	DataDir              string // the SQLite store's directory when Start made it
	now                  func() time.Time
}

// UniqueID returns a short random hex string for client ids, agent seeds and prefixes.
func UniqueID(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// Start starts a hub and waits until it is subscribed.
func Start(t testing.TB, o Options) *Hub {
	t.Helper()
	ctx := context.Background()
	h := &Hub{Store: o.Store, Key: o.Key, now: o.Now}
	if h.now == nil {
		h.now = time.Now
	}
	if h.Key == nil {
		k, err := wire.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		h.Key = k
	}
	if h.Store == nil {
		h.DataDir = t.TempDir()
		s, err := sqlite.OpenDir(ctx, h.DataDir)
		if err != nil {
			t.Fatalf("open SQLite store: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		h.Store = s
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	url, user, pass := o.BrokerURL, o.HubUser, o.HubPassword
	if url == "" {
		var err error
		pass, err = broker.NewPassword()
		if err != nil {
			t.Fatal(err)
		}
		hash, err := broker.HashPassword(pass)
		if err != nil {
			t.Fatal(err)
		}
		b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", HubPasswordHash: hash,
			Lookup: broker.StoreLookup(h.Store, log), Logger: log.With("component", "broker")})
		if err != nil {
			t.Fatalf("start embedded broker: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		h.Broker, url, user = b, b.URL(), broker.DefaultHubUsername
	}
	h.URL, h.HubUser, h.HubPassword = url, user, pass
	clientID := o.ClientID
	if clientID == "" {
		clientID = "ness-hub-test-" + UniqueID(t)
	}
	h.Client = mqtt.NewClient(ingest.ClientOptions(ingest.ClientConfig{URL: url, ClientID: clientID,
		Username: user, Password: pass}))
	if tok := h.Client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("hub MQTT connect to %s: %v", url, tok.Error())
	}
	h.Metrics = ingest.NewMetrics(nil)
	pub := ingest.MQTTPublisher{Client: h.Client}
	in, err := ingest.New(ingest.Config{Store: h.Store, Key: h.Key, Receipts: pub, Notify: o.Notify,
		Now: h.now, Log: log.With("component", "ingest"), Metrics: h.Metrics, Workers: o.Workers,
		Share: o.Share, Timeout: o.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	h.Ingest = in
	h.Leases = &lease.Issuer{Store: h.Store, Key: h.Key, MQTT: pub, Now: h.now, Log: log.With("component", "lease")}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(rctx, h.Client) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ingest Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("ingest Run did not return 30s after cancel")
		}
		h.Client.Disconnect(250)
	})
	// Run subscribes asynchronously; a round trip through the broker on a topic the hub
	// subscribes to shows the subscription is in place.
	h.WaitSubscribed(t)
	return h
}

// WaitSubscribed waits until the hub's ingest is subscribed (at start, or again after a broker
// restart): it publishes a status for an unknown agent until the ingester counts it dropped.
func (h *Hub) WaitSubscribed(t testing.TB) {
	t.Helper()
	probe := wire.StatusTopic(fmt.Sprintf("%032x", 0))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		before := h.Metrics.Counts().StatusDropped[ingest.ReasonGarbled]
		h.Client.Publish(probe, 1, false, []byte("probe")).WaitTimeout(time.Second)
		for range 20 {
			if h.Metrics.Counts().StatusDropped[ingest.ReasonGarbled] > before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Fatalf("hub ingest not subscribed on %s after 10s", h.URL)
}

// Agent is a simulated ness-agent: its identity, its provider, the provider-signed
// certificate, the MQTT password the hub issued, and (after Connect) a paho client.
type Agent struct {
	ID       string
	Identity *wire.Identity
	Provider *wire.Identity
	Cert     *wire.AgentCert
	Password string
	Client   mqtt.Client

	hubKeys []wire.VerifyKey

	mu       sync.Mutex // guards the fields below, written by paho's handler goroutine
	receipts []*wire.Receipt
	bad      []error
	leases   map[string][]byte // iccid → last retained lease payload
	readies  int               // hub ready messages (wire.ReadyTopic) received
	notify   chan struct{}
}

// Enroll makes a new agent and provider, signs the certificate (valid from an hour ago for a
// day) and enrols it with ingest.Enroll, as `ness-hub enroll` does.
func (h *Hub) Enroll(t testing.TB) *Agent {
	t.Helper()
	return Enroll(t, h.Store, h.Key, h.now())
}

// Enroll enrols a new simulated agent in s at now; hubKey is the key its receipts must verify
// under.
func Enroll(t testing.TB, s hub.Store, hubKey *wire.Identity, now time.Time) *Agent {
	t.Helper()
	id, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	prov, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	c, err := wire.NewAgentCert(id.Verify, prov, "", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cj, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	_, pass, err := ingest.Enroll(context.Background(), s, cj, now)
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	return &Agent{ID: id.AgentID(), Identity: id, Provider: prov, Cert: c, Password: pass,
		hubKeys: []wire.VerifyKey{hubKey.Verify}, leases: map[string][]byte{}, notify: make(chan struct{}, 1)}
}

// Connect connects the agent to url (client id = username = agent id, persistent session) and
// subscribes to its lease and receipt topics, again on every reconnect (as ness-agent does: a
// broker restarted without persistence has forgotten the subscriptions).
func (a *Agent) Connect(t testing.TB, url string) {
	t.Helper()
	filters := map[string]byte{}
	for _, f := range wire.AgentSubscriptions(a.ID) {
		filters[f] = 1
	}
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(a.ID).SetUsername(a.ID).
		SetPassword(a.Password).SetCleanSession(false).SetProtocolVersion(4).
		SetAutoReconnect(true).SetConnectTimeout(10 * time.Second).
		SetMaxReconnectInterval(2 * time.Second).
		SetOnConnectHandler(func(c mqtt.Client) { c.SubscribeMultiple(filters, a.onMessage).WaitTimeout(10 * time.Second) })
	a.Client = mqtt.NewClient(o)
	// A broker that has just reloaded its password file may refuse the first attempt.
	deadline := time.Now().Add(10 * time.Second)
	for {
		tok := a.Client.Connect()
		ok := tok.WaitTimeout(10 * time.Second)
		if ok && tok.Error() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent %s: connect to %s: %v", a.ID, url, tok.Error())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() { a.Client.Disconnect(100) })
	tok := a.Client.SubscribeMultiple(filters, a.onMessage)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("agent %s: subscribe: %v", a.ID, tok.Error())
	}
}

func (a *Agent) onMessage(_ mqtt.Client, m mqtt.Message) {
	t, err := wire.ParseTopic(m.Topic())
	a.mu.Lock()
	defer a.mu.Unlock()
	defer func() {
		select {
		case a.notify <- struct{}{}:
		default:
		}
	}()
	switch {
	case err != nil:
		a.bad = append(a.bad, err)
	case t.Kind == wire.TopicLease:
		a.leases[t.ICCID] = append([]byte(nil), m.Payload()...)
	case t.Kind == wire.TopicReady:
		a.readies++
	case t.Kind == wire.TopicReceipt:
		r, err := wire.DecodeReceipt(m.Payload())
		if err == nil {
			err = r.Verify(a.hubKeys)
		}
		if err == nil && r.AgentID != a.ID {
			err = fmt.Errorf("receipt for agent %s on agent %s's topic", r.AgentID, a.ID)
		}
		if err != nil {
			a.bad = append(a.bad, err)
			return
		}
		a.receipts = append(a.receipts, r)
	}
}

// Readies returns how many hub ready messages the agent has received.
func (a *Agent) Readies() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.readies
}

// WaitReadies waits until the agent has received at least n hub ready messages.
func (a *Agent) WaitReadies(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for a.Readies() < n {
		if time.Now().After(deadline) {
			t.Fatalf("agent %s: %d hub ready messages after %v, want %d", a.ID, a.Readies(), timeout, n)
		}
		select {
		case <-a.notify:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Receipts returns the verified receipts received so far.
func (a *Agent) Receipts() []*wire.Receipt {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*wire.Receipt(nil), a.receipts...)
}

// BadMessages returns the errors of messages that failed verification (none expected).
func (a *Agent) BadMessages() []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]error(nil), a.bad...)
}

// WaitReceipts waits until n verified receipts have arrived and returns them.
func (a *Agent) WaitReceipts(t testing.TB, n int, timeout time.Duration) []*wire.Receipt {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if rs := a.Receipts(); len(rs) >= n {
			return rs
		}
		select {
		case <-a.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("agent %s: got %d receipts after %v, want %d (bad messages: %v)", a.ID, len(a.Receipts()), timeout, n, a.BadMessages())
		}
	}
}

// WaitLease waits for the retained lease of iccid and returns it verified against the hub key
// (signature only, not the time window). want, when > 0, is the sequence to wait for.
func (a *Agent) WaitLease(t testing.TB, iccid string, want uint64, timeout time.Duration) *wire.Lease {
	t.Helper()
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		p := a.leases[iccid]
		a.mu.Unlock()
		if p != nil {
			l, err := wire.DecodeLease(p)
			if err != nil {
				t.Fatalf("agent %s: lease for %s: %v", a.ID, iccid, err)
			}
			if err := l.VerifySignature(a.hubKeys); err != nil {
				t.Fatalf("agent %s: lease for %s: %v", a.ID, iccid, err)
			}
			if want == 0 || l.Seq == want {
				return l
			}
		}
		select {
		case <-a.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("agent %s: no lease #%d for %s after %v", a.ID, want, iccid, timeout)
		}
	}
}

// SMS is what NewSMS needs; zero fields get defaults.
type SMS struct {
	ICCID    string
	Slot     int
	Lease    *wire.Lease // nil: sealed to the provider (lease sequence 0)
	Sender   string      // default "+4915112345678"
	Text     string      // default "hello"
	PDU      []byte      // raw PDU bytes for the message id; default derived from Sender, Text and Received
	Received time.Time   // default now
}

// NewSMS builds, seals and signs an SMS and returns it with its JSON payload.
func (a *Agent) NewSMS(t testing.TB, s SMS) (*wire.SMS, []byte) {
	t.Helper()
	if s.Sender == "" {
		s.Sender = "+4915112345678"
	}
	if s.Text == "" {
		s.Text = "hello"
	}
	if s.Received.IsZero() {
		s.Received = time.Now()
	}
	if s.PDU == nil {
		s.PDU = []byte(fmt.Sprintf("pdu|%s|%s|%d", s.Sender, s.Text, s.Received.UnixNano()))
	}
	in := wire.SMSInput{AgentID: a.ID, Slot: s.Slot, ICCID: s.ICCID, Parts: [][]byte{s.PDU},
		Received: s.Received, Recipient: a.Provider.Public,
		Plaintext: &wire.Plaintext{Version: wire.Version, Sender: s.Sender, Text: s.Text,
			SMSCTime: s.Received.Add(-2 * time.Second), Parts: 1, PartsExpected: 1, Encoding: wire.EncodingGSM7}}
	if s.Lease != nil {
		in.LeaseSeq, in.Recipient = s.Lease.Seq, s.Lease.Renter
	} else {
		in.Plaintext.Flags |= wire.FlagNoLease
	}
	m, err := wire.NewSMS(in)
	if err != nil {
		t.Fatalf("NewSMS: %v", err)
	}
	if err := m.Sign(a.Identity); err != nil {
		t.Fatalf("sign SMS: %v", err)
	}
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

// Publish publishes payload on the agent's SMS topic (QoS 1) and waits for the broker.
func (a *Agent) Publish(t testing.TB, payload []byte) {
	t.Helper()
	a.PublishTo(t, wire.SMSTopic(a.ID), payload)
}

// PublishTo publishes payload on topic (QoS 1) and waits for the broker.
func (a *Agent) PublishTo(t testing.TB, topic string, payload []byte) {
	t.Helper()
	tok := a.Client.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("agent %s: publish %s: %v", a.ID, topic, tok.Error())
	}
}

// Rent binds a new number on iccid to the agent, and begins a rental of it for renter (valid
// from an hour ago for a day) through the hub's lease issuer; it returns the rental.
func (h *Hub) Rent(t testing.TB, a *Agent, iccid, e164 string, renter *wire.Identity) hub.Rental {
	t.Helper()
	ctx := context.Background()
	now := h.now()
	if err := h.Store.BindNumber(ctx, hub.Number{E164: e164, ICCID: iccid, AgentID: a.ID, Country: "DE",
		UpdatedAt: now}); err != nil {
		t.Fatalf("BindNumber: %v", err)
	}
	r := hub.Rental{ID: "rental-" + UniqueID(t), E164: e164, ICCID: iccid,
		RenterSealKey: renter.Public[:], RenterSignKey: renter.Verify[:],
		From: now.Add(-time.Hour).Truncate(time.Millisecond), Until: now.Add(24 * time.Hour).Truncate(time.Millisecond)}
	r, err := h.Leases.Begin(ctx, r)
	if err != nil {
		t.Fatalf("begin rental: %v", err)
	}
	return r
}

// SQLitePath is the path of the SQLite file of a hub Start made, "" otherwise.
func (h *Hub) SQLitePath() string {
	if h.DataDir == "" {
		return ""
	}
	return filepath.Join(h.DataDir, sqlite.FileName)
}
