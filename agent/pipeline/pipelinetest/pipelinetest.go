// Package pipelinetest has the real parts the pipeline's tests run against: a private Mosquitto
// broker on a free port (started, stopped and restarted by the test; the shared broker on
// 127.0.0.1:1883 is never touched), and a small stand-in hub that takes agents' SMS from the
// broker, verifies them with wire, answers with hub-signed receipts and publishes hub-signed
// retained leases. The real hub (hub/) replaces the stand-in later.
package pipelinetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/internal/testproc"
	"github.com/ness-network/ness-sms/wire"
)

// MosquittoPath is the broker binary the tests start.
const MosquittoPath = "/usr/sbin/mosquitto"

// Broker is a private Mosquitto.
type Broker struct {
	t    testing.TB
	Port int
	URL  string // tcp://127.0.0.1:port

	mu sync.Mutex // serialises Start and Stop
	d  *testproc.Daemon
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	return testproc.FreePort(t)
}

// StartBroker starts a private Mosquitto with persistence in a temporary directory and stops it
// at the end of the test, logging its output if the test failed. It fails the test, saying how
// to install it, when the binary is missing.
func StartBroker(t testing.TB) *Broker {
	t.Helper()
	if _, err := os.Stat(MosquittoPath); err != nil {
		t.Fatalf("%s not found (%v): install it with `apt-get install mosquitto`", MosquittoPath, err)
	}
	dir := t.TempDir()
	b := &Broker{t: t, Port: FreePort(t)}
	b.URL = "tcp://127.0.0.1:" + strconv.Itoa(b.Port)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nmax_queued_messages 100000\nlog_dest stderr\nlog_type error\nlog_type warning\n", b.Port, dir)
	confFile := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.d = testproc.Start(t, "mosquitto", []int{b.Port}, MosquittoPath, "-c", confFile)
	return b
}

// Start starts the broker again (after Stop) and waits until it accepts connections; it does
// nothing if the broker is running.
func (b *Broker) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.d.Running() {
		return
	}
	b.d.Restart(b.t)
}

// Stop stops the broker (SIGTERM, so it writes its persistence file; SIGKILL if it is still
// there after 10 s) and waits for it. It does nothing if the broker is stopped, so it may be
// called again, e.g. from t.Cleanup.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.d.Stop()
}

// Output is what the broker logged so far (errors and warnings), across restarts.
func (b *Broker) Output() string { return b.d.Output() }

// Client connects a plain paho client (clean session) to url, failing the test on error.
// onConnect, when set, runs after every (re)connection, e.g. to subscribe again.
func Client(t testing.TB, url, id string, onMsg mqtt.MessageHandler, onConnect func(mqtt.Client)) mqtt.Client {
	return client(t, url, id, true, onMsg, onConnect)
}

// PersistentClient is Client with a persistent session (CleanSession false): the broker
// queues QoS 1 messages for it while it reconnects, e.g. across a broker restart.
func PersistentClient(t testing.TB, url, id string, onMsg mqtt.MessageHandler, onConnect func(mqtt.Client)) mqtt.Client {
	return client(t, url, id, false, onMsg, onConnect)
}

func client(t testing.TB, url, id string, clean bool, onMsg mqtt.MessageHandler, onConnect func(mqtt.Client)) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(time.Second).SetOrderMatters(false)
	if onMsg != nil {
		opts.SetDefaultPublishHandler(onMsg)
	}
	if onConnect != nil {
		opts.SetOnConnectHandler(func(c mqtt.Client) { go onConnect(c) })
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt client %s: connect %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// Hub is the stand-in hub.
type Hub struct {
	t      testing.TB
	Key    *wire.Identity
	client mqtt.Client
	now    func() time.Time

	mu       sync.Mutex
	certs    map[string]*wire.AgentCert
	messages map[string]*wire.SMS // by id, first copy
	copies   map[string]int       // publishes seen per id
	rejected []error
	notify   chan struct{}
}

// StartHub connects the stand-in hub to the broker at url. It accepts SMS only from agents whose
// certificate it is given (AddAgent).
func StartHub(t testing.TB, url string, key *wire.Identity) *Hub {
	t.Helper()
	h := &Hub{t: t, Key: key, now: time.Now, certs: map[string]*wire.AgentCert{},
		messages: map[string]*wire.SMS{}, copies: map[string]int{}, notify: make(chan struct{}, 1)}
	ready := make(chan struct{}, 1)
	h.client = Client(t, url, fmt.Sprintf("testhub-%d-%d", os.Getpid(), time.Now().UnixNano()), nil, func(c mqtt.Client) {
		// A clean session loses its subscription when the broker restarts: subscribe on every
		// connect, and then say ready to the agents, as the real hub does.
		c.Subscribe(smsFilter, 1, h.onSMS).WaitTimeout(10 * time.Second)
		h.sendReady(c)
		select {
		case ready <- struct{}{}:
		default:
		}
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("hub: no subscription after 10 s")
	}
	return h
}

const smsFilter = "ness/v1/agent/+/sms"

// sendReady publishes a ready message (wire.ReadyTopic) to every agent the hub knows.
func (h *Hub) sendReady(c mqtt.Client) {
	h.mu.Lock()
	ids := make([]string, 0, len(h.certs))
	for id := range h.certs {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for _, id := range ids {
		c.Publish(wire.ReadyTopic(id), 0, false, []byte("testhub")).WaitTimeout(10 * time.Second)
	}
}

// Unsubscribe stops taking SMS: the broker acknowledges the agents' SMS and, with no other
// subscriber, routes them to nobody (what Mosquitto does after a restart until the hubs have
// subscribed again).
func (h *Hub) Unsubscribe() {
	h.t.Helper()
	if tok := h.client.Unsubscribe(smsFilter); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		h.t.Fatalf("hub: unsubscribe: %v", tok.Error())
	}
}

// Subscribe takes SMS again; with ready, it then tells its agents (SendReady).
func (h *Hub) Subscribe(ready bool) {
	h.t.Helper()
	if tok := h.client.Subscribe(smsFilter, 1, h.onSMS); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		h.t.Fatalf("hub: subscribe: %v", tok.Error())
	}
	if ready {
		h.SendReady()
	}
}

// SendReady tells every agent the hub knows that it is subscribed.
func (h *Hub) SendReady() { h.sendReady(h.client) }

// AddAgent registers an agent certificate.
func (h *Hub) AddAgent(c *wire.AgentCert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.certs[c.AgentID] = c
}

func (h *Hub) onSMS(_ mqtt.Client, msg mqtt.Message) {
	m, err := wire.DecodeSMS(msg.Payload())
	var cert *wire.AgentCert
	if err == nil {
		h.mu.Lock()
		cert = h.certs[m.AgentID]
		h.mu.Unlock()
		if cert == nil {
			err = fmt.Errorf("sms %s: unknown agent %s", m.ID, m.AgentID)
		}
	}
	if err == nil {
		if t, terr := wire.ParseTopic(msg.Topic()); terr != nil || t.AgentID != m.AgentID {
			err = fmt.Errorf("sms %s: topic %s does not belong to agent %s", m.ID, msg.Topic(), m.AgentID)
		}
	}
	if err == nil {
		err = cert.Verify(h.now())
	}
	if err == nil {
		err = m.Verify(cert.AgentKey)
	}
	h.mu.Lock()
	if err != nil {
		h.rejected = append(h.rejected, err)
		h.mu.Unlock()
		return
	}
	_, dup := h.messages[m.ID]
	if !dup {
		h.messages[m.ID] = m
	}
	h.copies[m.ID]++
	h.mu.Unlock()
	select {
	case h.notify <- struct{}{}:
	default:
	}
	r := &wire.Receipt{MessageID: m.ID, AgentID: m.AgentID, Received: h.now(), Duplicate: dup}
	if err := r.Sign(h.Key); err != nil {
		h.t.Errorf("hub: sign receipt: %v", err)
		return
	}
	b, _ := r.MarshalJSON()
	h.client.Publish(wire.ReceiptTopic(m.AgentID), 1, false, b)
}

// Messages returns the first copy of every message received, by id.
func (h *Hub) Messages() map[string]*wire.SMS {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]*wire.SMS, len(h.messages))
	for k, v := range h.messages {
		out[k] = v
	}
	return out
}

// Count returns how many distinct messages the hub holds.
func (h *Hub) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.messages)
}

// Rejected returns the errors of messages the hub refused.
func (h *Hub) Rejected() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.rejected...)
}

// Notify receives after new messages arrive.
func (h *Hub) Notify() <-chan struct{} { return h.notify }

// Lease builds a lease signed by signer (normally h.Key; another key makes a forgery).
func Lease(t testing.TB, signer *wire.Identity, agentID, iccid string, renter wire.SealKey, seq uint64, from, until time.Time) *wire.Lease {
	t.Helper()
	l := &wire.Lease{ICCID: iccid, AgentID: agentID, Renter: renter, Phone: "+4915123456789", ValidFrom: from, ValidUntil: until, Seq: seq}
	if err := l.Sign(signer); err != nil {
		t.Fatalf("sign lease: %v", err)
	}
	return l
}

// PublishLease publishes a lease retained on its topic and waits for the PUBACK.
func (h *Hub) PublishLease(l *wire.Lease) {
	h.t.Helper()
	b, err := l.MarshalJSON()
	if err != nil {
		h.t.Fatal(err)
	}
	h.Publish(wire.LeaseTopic(l.AgentID, l.ICCID), b, true)
}

// Publish publishes raw bytes (QoS 1) and waits for the PUBACK.
func (h *Hub) Publish(topic string, payload []byte, retained bool) {
	h.t.Helper()
	tok := h.client.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		h.t.Fatalf("hub: publish %s: %v", topic, tok.Error())
	}
}
