// Package brokertest is the contract every MQTT broker the hub runs with must pass: the embedded
// broker (hub/broker) and a real Mosquitto started with the shipped configuration run the same
// Run, so "an agent cannot leave its own subtree" is checked on both with real MQTT clients.
package brokertest

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub/broker"
)

// Agent is an agent credential the broker under test knows.
type Agent struct {
	ID       string
	Password string
}

// NewAgents returns n new agent credentials with random ids and passwords.
func NewAgents(t testing.TB, n int) []Agent {
	t.Helper()
	out := make([]Agent, n)
	for i := range out {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		pw, err := broker.NewPassword()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = Agent{ID: hex.EncodeToString(b[:]), Password: pw}
	}
	return out
}

// Target is a running broker to check.
type Target struct {
	AgentURL    string      // where agents connect (tcp://, ssl://)
	HubURL      string      // where the hub connects; may equal AgentURL
	TLS         *tls.Config // client TLS settings for ssl:// URLs
	HubUser     string
	HubPassword string
	Agents      []Agent // at least 2, known to the broker
	// RefusesSubscribe: the broker answers a subscription outside the agent's subtree with SUBACK
	// failure (0x80). Mochi does; Mosquitto 2.0 grants it for MQTT 3.1.1 and drops every message
	// on delivery instead. Either way nothing may be delivered, which Run always checks.
	RefusesSubscribe bool
}

const (
	wait    = 5 * time.Second        // for what must happen
	silence = 700 * time.Millisecond // for what must not
)

// Run checks the broker's rules. Each call uses its own topics, so Run may be called more than
// once against one broker.
func Run(t *testing.T, tg Target) {
	if len(tg.Agents) < 2 {
		t.Fatalf("brokertest.Run needs at least 2 agents, got %d", len(tg.Agents))
	}
	var rb [4]byte
	rand.Read(rb[:])
	r := &run{Target: tg, id: "t" + hex.EncodeToString(rb[:])}
	t.Run("Connect", r.testConnect)
	t.Run("NoSessionTakeover", r.testNoSessionTakeover)
	t.Run("OwnSubtree", r.testOwnSubtree)
	t.Run("Retained", r.testRetained)
	t.Run("PublishOutsideSubtreeDropped", r.testPublishOutside)
	t.Run("SubscribeOutsideSubtreeRefused", r.testSubscribeOutside)
	t.Run("WillOutsideSubtreeNeverPublished", r.testWillOutside)
	t.Run("QoS1PersistentSession", r.testPersistentSession)
}

type run struct {
	Target
	id string // makes this run's topics unique
}

func (r *run) topic(agent, leaf string) string {
	return broker.AgentTopicRoot + agent + "/" + r.id + "/" + leaf
}

// dial connects a paho client (MQTT 3.1.1, no automatic reconnect) and disconnects it at test end.
func (r *run) dial(t *testing.T, url, clientID, user, pass string, clean bool, onMsg paho.MessageHandler) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetUsername(user).
		SetPassword(pass).SetCleanSession(clean).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(wait).SetProtocolVersion(4).SetOrderMatters(false)
	if r.TLS != nil {
		o.SetTLSConfig(r.TLS)
	}
	if onMsg != nil {
		o.SetDefaultPublishHandler(onMsg)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(2 * wait) {
		return nil, errors.New("connect: no answer")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

func (r *run) agent(t *testing.T, a Agent, clean bool, onMsg paho.MessageHandler) paho.Client {
	t.Helper()
	c, err := r.dial(t, r.AgentURL, a.ID, a.ID, a.Password, clean, onMsg)
	if err != nil {
		t.Fatalf("agent %s connect with its own credentials: %v", a.ID, err)
	}
	return c
}

func (r *run) hub(t *testing.T, suffix string) paho.Client {
	t.Helper()
	c, err := r.dial(t, r.HubURL, "ness-hub-"+r.id+"-"+suffix, r.HubUser, r.HubPassword, true, nil)
	if err != nil {
		t.Fatalf("hub connect: %v", err)
	}
	return c
}

// collector gathers messages delivered to a handler.
type collector chan paho.Message

func newCollector() collector { return make(collector, 256) }

func (c collector) handle(_ paho.Client, m paho.Message) {
	select {
	case c <- m:
	default:
	}
}

func (c collector) expect(t *testing.T, what string) paho.Message {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(wait):
		t.Fatalf("%s: nothing arrived within %v", what, wait)
		return nil
	}
}

// none fails when a message arrives within the silence period; keep filters any message whose
// topic it does not care about.
func (c collector) none(t *testing.T, what string, keep func(paho.Message) bool) {
	t.Helper()
	deadline := time.After(silence)
	for {
		select {
		case m := <-c:
			if keep == nil || keep(m) {
				t.Errorf("%s: got message on %q (%q, retained=%v dup=%v id=%d), want none",
					what, m.Topic(), m.Payload(), m.Retained(), m.Duplicate(), m.MessageID())
			}
		case <-deadline:
			return
		}
	}
}

func subscribe(t *testing.T, c paho.Client, filter string, h paho.MessageHandler) (granted bool) {
	t.Helper()
	tok := c.Subscribe(filter, 1, h)
	if !tok.WaitTimeout(wait) {
		t.Fatalf("subscribe %q: no SUBACK within %v", filter, wait)
	}
	if err := tok.Error(); err != nil {
		// A broker may refuse by closing the connection; that is a refusal too.
		return false
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		t.Fatalf("subscribe %q: unexpected token type %T", filter, tok)
	}
	// paho keys the result by the filter without a "$share/<group>/" prefix.
	key := filter
	if strings.HasPrefix(key, "$share/") {
		if parts := strings.SplitN(key, "/", 3); len(parts) == 3 {
			key = parts[2]
		}
	}
	code, ok := st.Result()[key]
	return ok && code < 0x80
}

func publish(t *testing.T, c paho.Client, topic string, qos byte, retained bool, payload string) error {
	t.Helper()
	tok := c.Publish(topic, qos, retained, payload)
	if !tok.WaitTimeout(wait) {
		return fmt.Errorf("publish %q: no PUBACK within %v", topic, wait)
	}
	return tok.Error()
}

func (r *run) testConnect(t *testing.T) {
	a, b := r.Agents[0], r.Agents[1]
	stranger := NewAgents(t, 1)[0]
	cases := []struct {
		name                string
		url, id, user, pass string
		wantOK              bool
	}{
		{"agent with its password", r.AgentURL, a.ID, a.ID, a.Password, true},
		{"agent with another agent's password", r.AgentURL, a.ID, a.ID, b.Password, false},
		{"agent with a wrong password", r.AgentURL, a.ID, a.ID, a.Password + "x", false},
		{"agent with an empty password", r.AgentURL, a.ID, a.ID, "", false},
		{"unknown agent", r.AgentURL, stranger.ID, stranger.ID, stranger.Password, false},
		{"anonymous", r.AgentURL, "anon-" + r.id, "", "", false},
		{"agent id with the hub password", r.AgentURL, a.ID, a.ID, r.HubPassword, false},
		{"hub with its password", r.HubURL, "ness-hub-" + r.id, r.HubUser, r.HubPassword, true},
		{"hub with an agent's password", r.HubURL, "ness-hub-" + r.id, r.HubUser, a.Password, false},
		{"anonymous on the hub address", r.HubURL, "anon-hub-" + r.id, "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := r.dial(t, c.url, c.id, c.user, c.pass, true, nil)
			if c.wantOK && err != nil {
				t.Fatalf("connect %s as %q: got %v, want success", c.url, c.user, err)
			}
			if !c.wantOK && err == nil {
				cl.Disconnect(0)
				t.Fatalf("connect %s as %q: got success, want refusal", c.url, c.user)
			}
		})
	}
}

// An agent connecting with another agent's id as its client id must not disconnect that agent.
func (r *run) testNoSessionTakeover(t *testing.T) {
	a, b := r.Agents[0], r.Agents[1]
	got := newCollector()
	victim := r.agent(t, b, true, nil)
	if !subscribe(t, victim, r.topic(b.ID, "takeover"), got.handle) {
		t.Fatalf("agent subscribe to its own subtree refused")
	}
	if cl, err := r.dial(t, r.AgentURL, b.ID, a.ID, a.Password, true, nil); err == nil {
		defer cl.Disconnect(0)
	}
	time.Sleep(200 * time.Millisecond)
	if !victim.IsConnectionOpen() {
		t.Fatalf("agent %s was disconnected by another agent using its client id", b.ID)
	}
	h := r.hub(t, "takeover")
	if err := publish(t, h, r.topic(b.ID, "takeover"), 1, false, "still here"); err != nil {
		t.Fatalf("hub publish: %v", err)
	}
	if m := got.expect(t, "message to the agent after the takeover attempt"); string(m.Payload()) != "still here" {
		t.Errorf("payload: got %q, want %q", m.Payload(), "still here")
	}
}

func (r *run) testOwnSubtree(t *testing.T) {
	a := r.Agents[0]
	h := r.hub(t, "own")
	fromAgents := newCollector()
	if !subscribe(t, h, broker.AgentTopicRoot+"+/"+r.id+"/msg", fromAgents.handle) {
		t.Fatalf("hub subscribe to every agent's messages refused")
	}
	shared := r.hub(t, "shared")
	viaShare := newCollector()
	if !subscribe(t, shared, "$share/ness/"+broker.AgentTopicRoot+"+/"+r.id+"/msg", viaShare.handle) {
		t.Fatalf("hub shared subscription refused")
	}
	toAgent := newCollector()
	ag := r.agent(t, a, true, nil)
	if !subscribe(t, ag, r.topic(a.ID, "lease"), toAgent.handle) {
		t.Fatalf("agent subscribe to its own lease topic refused")
	}
	if !subscribe(t, ag, broker.AgentTopicRoot+a.ID+"/#", func(paho.Client, paho.Message) {}) {
		t.Errorf("agent subscribe to its whole subtree (%s/#) refused", a.ID)
	}

	if err := publish(t, ag, r.topic(a.ID, "msg"), 1, false, "sealed sms"); err != nil {
		t.Fatalf("agent publish QoS 1 to its own subtree: %v", err)
	}
	for _, c := range []struct {
		name string
		col  collector
	}{{"hub", fromAgents}, {"hub via shared subscription", viaShare}} {
		m := c.col.expect(t, c.name+" receiving the agent's message")
		if string(m.Payload()) != "sealed sms" || m.Qos() != 1 || m.Topic() != r.topic(a.ID, "msg") {
			t.Errorf("%s got %q qos %d on %q, want %q qos 1 on %q", c.name, m.Payload(), m.Qos(), m.Topic(),
				"sealed sms", r.topic(a.ID, "msg"))
		}
	}

	if err := publish(t, h, r.topic(a.ID, "lease"), 1, false, "signed lease"); err != nil {
		t.Fatalf("hub publish into the agent's subtree: %v", err)
	}
	m := toAgent.expect(t, "agent receiving the hub's lease")
	if string(m.Payload()) != "signed lease" || m.Qos() != 1 {
		t.Errorf("agent got %q qos %d, want %q qos 1", m.Payload(), m.Qos(), "signed lease")
	}
}

func (r *run) testRetained(t *testing.T) {
	a := r.Agents[0]
	h := r.hub(t, "retain")
	topic := r.topic(a.ID, "retained-lease")
	if err := publish(t, h, topic, 1, true, "lease v1"); err != nil {
		t.Fatalf("hub publish retained: %v", err)
	}
	if err := publish(t, h, topic, 1, true, "lease v2"); err != nil {
		t.Fatalf("hub publish retained: %v", err)
	}
	t.Cleanup(func() { h.Publish(topic, 1, true, "").WaitTimeout(wait) })

	got := newCollector()
	ag := r.agent(t, a, true, nil)
	if !subscribe(t, ag, topic, got.handle) {
		t.Fatalf("agent subscribe to its own retained topic refused")
	}
	m := got.expect(t, "retained lease for a newly connected agent")
	if string(m.Payload()) != "lease v2" || !m.Retained() {
		t.Errorf("got %q retained=%v, want %q retained=true", m.Payload(), m.Retained(), "lease v2")
	}
	// QoS 1 is at least once: a second copy of the latest lease is allowed (mochi acknowledges a
	// publish before fanning it out, so a subscriber can see it retained and live), the stale one is not.
	got.none(t, "after the retained message", func(m paho.Message) bool { return string(m.Payload()) != "lease v2" })

	// The agent's own retained status works the same way.
	status := r.topic(a.ID, "status")
	if err := publish(t, ag, status, 1, true, "online"); err != nil {
		t.Fatalf("agent publish retained status: %v", err)
	}
	t.Cleanup(func() { h.Publish(status, 1, true, "").WaitTimeout(wait) })
	seen := newCollector()
	if !subscribe(t, h, status, seen.handle) {
		t.Fatalf("hub subscribe to agent status refused")
	}
	if m := seen.expect(t, "agent's retained status"); string(m.Payload()) != "online" || !m.Retained() {
		t.Errorf("got %q retained=%v, want %q retained=true", m.Payload(), m.Retained(), "online")
	}
}

func (r *run) testPublishOutside(t *testing.T) {
	a, b := r.Agents[0], r.Agents[1]
	h := r.hub(t, "outside")
	atHub := newCollector()
	if !subscribe(t, h, "ness/v1/#", atHub.handle) {
		t.Fatalf("hub subscribe ness/v1/# refused")
	}
	atVictim := newCollector()
	victim := r.agent(t, b, true, nil)
	if !subscribe(t, victim, broker.AgentTopicRoot+b.ID+"/#", atVictim.handle) {
		t.Fatalf("agent subscribe to its own subtree refused")
	}
	forbidden := []string{
		r.topic(b.ID, "lease"),                              // another agent's subtree
		broker.AgentTopicRoot + a.ID + "0/" + r.id + "/msg", // a longer id sharing the prefix
		broker.AgentTopicRoot + r.id + "/msg",               // not an agent subtree
		"ness/v1/hub/" + r.id,                               // the hub's space
		broker.AgentTopicRoot + b.ID,                        // the other agent's subtree root
	}
	for _, topic := range forbidden {
		for _, qos := range []byte{0, 1} {
			// A fresh connection each time: a broker may close the connection of a client that
			// publishes where it may not.
			ag, err := r.dial(t, r.AgentURL, a.ID, a.ID, a.Password, true, nil)
			if err != nil {
				t.Fatalf("agent connect: %v", err)
			}
			_ = publish(t, ag, topic, qos, false, "forged "+r.id) // refused or silently dropped
			ag.Disconnect(0)
		}
	}
	// The victim publishes after the forgeries; once its message has reached the hub, the
	// forgeries would have too.
	if err := publish(t, victim, r.topic(b.ID, "msg"), 1, false, "sentinel"); err != nil {
		t.Fatalf("victim publish: %v", err)
	}
	isRun := func(m paho.Message) bool { return string(m.Payload()) == "forged "+r.id }
	for {
		m := atHub.expect(t, "the sentinel at the hub")
		if string(m.Payload()) == "sentinel" {
			break
		}
		if isRun(m) {
			t.Errorf("hub received a forged message on %q", m.Topic())
		}
	}
	atHub.none(t, "hub after forged publishes", isRun)
	atVictim.none(t, "victim agent after forged publishes", func(m paho.Message) bool {
		return string(m.Payload()) != "sentinel"
	})
}

func (r *run) testSubscribeOutside(t *testing.T) {
	a, b := r.Agents[0], r.Agents[1]
	h := r.hub(t, "subout")
	secret := r.topic(b.ID, "secret")
	if err := publish(t, h, secret, 1, true, "retained secret "+r.id); err != nil {
		t.Fatalf("hub publish retained: %v", err)
	}
	t.Cleanup(func() { h.Publish(secret, 1, true, "").WaitTimeout(wait) })
	filters := []string{
		broker.AgentTopicRoot + b.ID + "/#",
		secret,
		broker.AgentTopicRoot + "+/" + r.id + "/secret",
		broker.AgentTopicRoot + "#",
		"ness/v1/#",
		"#",
		"$share/evil/" + broker.AgentTopicRoot + b.ID + "/#",
	}
	for _, f := range filters {
		t.Run(f, func(t *testing.T) {
			got := newCollector()
			ag, err := r.dial(t, r.AgentURL, a.ID, a.ID, a.Password, true, nil)
			if err != nil {
				t.Fatalf("agent connect: %v", err)
			}
			if subscribe(t, ag, f, got.handle) && r.RefusesSubscribe {
				t.Errorf("subscribe %q: granted, want refused (SUBACK 0x80)", f)
			}
			if ag.IsConnectionOpen() {
				_ = publish(t, h, secret, 1, false, "live secret "+r.id)
			}
			got.none(t, "agent subscribed outside its subtree", nil)
			ag.Disconnect(0)
		})
	}
}

func (r *run) testPersistentSession(t *testing.T) {
	a := r.Agents[0]
	topic := r.topic(a.ID, "queued")
	first, err := r.dial(t, r.AgentURL, a.ID, a.ID, a.Password, false, nil)
	if err != nil {
		t.Fatalf("agent connect (persistent session): %v", err)
	}
	if !subscribe(t, first, topic, func(paho.Client, paho.Message) {}) {
		t.Fatalf("agent subscribe refused")
	}
	first.Disconnect(100)

	h := r.hub(t, "queue")
	want := []string{"receipt 1", "receipt 2", "receipt 3"}
	for _, p := range want {
		if err := publish(t, h, topic, 1, false, p); err != nil {
			t.Fatalf("hub publish while the agent is away: %v", err)
		}
	}
	got := newCollector()
	if _, err := r.dial(t, r.AgentURL, a.ID, a.ID, a.Password, false, got.handle); err != nil {
		t.Fatalf("agent reconnect (persistent session): %v", err)
	}
	seen := map[string]bool{}
	for range want {
		m := got.expect(t, "QoS 1 message queued while the agent was away")
		if m.Qos() != 1 {
			t.Errorf("queued %q: got qos %d, want 1", m.Payload(), m.Qos())
		}
		seen[string(m.Payload())] = true
	}
	for _, p := range want {
		if !seen[p] {
			t.Errorf("queued message %q not delivered after reconnect (got %v)", p, seen)
		}
	}
	// Leave no session behind for the next run.
	t.Cleanup(func() {
		if c, err := r.dial(t, r.AgentURL, a.ID, a.ID, a.Password, true, nil); err == nil {
			c.Disconnect(50)
		}
	})
}

// rawWillConnect connects as agent a over a raw MQTT 3.1.1 connection with a retained QoS 1
// last will of payload on willTopic, then drops the connection without DISCONNECT, so a broker
// that accepted the will publishes it. It reports whether the broker accepted the connection.
func (r *run) rawWillConnect(t *testing.T, url string, a Agent, willTopic, payload string) bool {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	var conn net.Conn
	if u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts" {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", u.Host, r.TLS)
	} else {
		conn, err = net.DialTimeout("tcp", u.Host, wait)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer conn.Close()
	str := func(b []byte, s string) []byte { return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...) }
	body := str(nil, "MQTT")
	// level 4; flags: username, password, will retain, will QoS 1, will, clean session
	body = append(body, 4, 0x80|0x40|0x20|0x08|0x04|0x02, 0, 60)
	for _, f := range []string{a.ID, willTopic, payload, a.ID, a.Password} {
		body = str(body, f)
	}
	pkt := []byte{0x10}
	for n := len(body); ; {
		b := byte(n % 128)
		if n /= 128; n > 0 {
			pkt = append(pkt, b|0x80)
			continue
		}
		pkt = append(pkt, b)
		break
	}
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := conn.Write(append(pkt, body...)); err != nil {
		t.Fatalf("write CONNECT: %v", err)
	}
	var ack [4]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return false // closed without CONNACK: refused
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		return false
	}
	// Let the broker finish setting up the session before the connection drops.
	time.Sleep(100 * time.Millisecond)
	return true
}

// An agent must not reach another agent's subtree through its last will: a broker either
// refuses the connection (Mosquitto checks the will topic against the ACL) or never publishes
// the will. A will on the agent's own subtree is published (the check that the drop below
// really fires wills).
func (r *run) testWillOutside(t *testing.T) {
	a, b := r.Agents[0], r.Agents[1]
	h := r.hub(t, "will")
	got := newCollector()
	if !subscribe(t, h, "ness/v1/#", got.handle) {
		t.Fatalf("hub subscribe ness/v1/# refused")
	}
	forged := "forged will " + r.id
	for _, topic := range []string{r.topic(b.ID, "lease"), "ness/v1/hub/" + r.id} {
		t.Cleanup(func() { h.Publish(topic, 1, true, "").WaitTimeout(wait) })
		r.rawWillConnect(t, r.AgentURL, a, topic, forged)
	}
	own := r.topic(a.ID, "status")
	t.Cleanup(func() { h.Publish(own, 1, true, "").WaitTimeout(wait) })
	if !r.rawWillConnect(t, r.AgentURL, a, own, "own will "+r.id) {
		t.Fatalf("agent connect with a will on its own subtree: refused, want accepted")
	}
	for {
		m := got.expect(t, "the agent's own will at the hub")
		if string(m.Payload()) == forged {
			t.Errorf("hub received agent %s's will on %q, outside its subtree", a.ID, m.Topic())
		}
		if string(m.Payload()) == "own will "+r.id {
			break
		}
	}
	got.none(t, "hub after forged wills", func(m paho.Message) bool { return string(m.Payload()) == forged })
	// Nothing retained either, for a subscriber that comes later.
	late := newCollector()
	if !subscribe(t, r.hub(t, "will-late"), "ness/v1/#", late.handle) {
		t.Fatalf("hub subscribe ness/v1/# refused")
	}
	late.none(t, "retained forged wills", func(m paho.Message) bool { return string(m.Payload()) == forged })
}
