package systest

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/wire"
)

// hostileRig is one ness-hub (SQLite) behind a private Mosquitto with the shipped rules, a
// provider with two enrolled agents (A and B, one SIM each), and two renters (one per SIM)
// with a message each.
type hostileRig struct {
	hub              *hubProc
	mq               *mosquitto
	hubKey           *wire.Identity
	provider         *apiClient
	renterA, renterB *apiClient
	agentA, agentB   *fakeAgent
	msgA             httpapi.MessageView // renter A's message
	rentalA          httpapi.RentalView
	webhookA         httpapi.WebhookView
}

// fakeAgent is an enrolled agent speaking MQTT with paho and the wire package.
type fakeAgent struct {
	id       *wire.Identity
	cert     *wire.AgentCert
	password string
	iccid    string
	client   mqtt.Client
	leases   chan *wire.Lease
	receipts chan *wire.Receipt
}

func startHostile(t *testing.T) *hostileRig {
	requireSystem(t, "mosquitto")
	dir := t.TempDir()
	r := &hostileRig{mq: startMosquitto(t, dir)}
	keyFile, key := writeHubKey(t, dir)
	r.hubKey = key
	r.hub = startHub(t, dir, "hub", hubEnv(keyFile, "", r.mq))
	r.provider = mustSignIn(t, r.hub.URL)
	r.agentA = r.enrol(t, "8949000000000000011")
	r.agentB = r.enrol(t, "8949000000000000022")
	r.mq.allow(t, map[string]string{r.agentA.id.AgentID(): r.agentA.password, r.agentB.id.AgentID(): r.agentB.password})
	for _, a := range []*fakeAgent{r.agentA, r.agentB} {
		a.connect(t, r.mq.URL, key.Verify)
	}
	r.renterA, r.renterB = mustSignIn(t, r.hub.URL), mustSignIn(t, r.hub.URL)
	for i, x := range []struct {
		a *fakeAgent
		c *apiClient
	}{{r.agentA, r.renterA}, {r.agentB, r.renterB}} {
		number := fmt.Sprintf("+4915550000%03d", i)
		if err := r.provider.call("POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: number, Agent: x.a.id.AgentID(),
			ICCID: x.a.iccid, Country: "DE", Features: []string{"sms"},
			Prices: httpapi.Prices{Day: "0.5", Week: "3", Month: "10", SMS: "0.01"}}, http.StatusCreated, nil); err != nil {
			t.Fatal(err)
		}
		var rv httpapi.RentalView
		if err := x.c.call("POST", "/v1/rentals", httpapi.RentalRequest{Number: number, Duration: "daily", RenterKey: x.c.id.Public.String()},
			http.StatusCreated, &rv); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			r.rentalA = rv
		}
	}
	l := r.agentA.waitLease(t)
	_, payload := r.agentA.sms(t, l, "secret for A")
	r.agentA.publish(t, wire.SMSTopic(r.agentA.id.AgentID()), payload)
	r.agentA.waitReceipt(t)
	var list httpapi.MessageList
	if err := r.renterA.call("GET", "/v1/messages", nil, http.StatusOK, &list); err != nil || len(list.Messages) != 1 {
		t.Fatalf("renter A's messages: %v (%d)", err, len(list.Messages))
	}
	r.msgA = list.Messages[0]
	if err := r.renterA.call("POST", "/v1/webhooks", httpapi.WebhookRequest{URL: "https://example.invalid/hook"}, http.StatusCreated, &r.webhookA); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *hostileRig) enrol(t *testing.T, iccid string) *fakeAgent {
	t.Helper()
	id, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cert, err := wire.NewAgentCert(id.Verify, r.provider.id, "", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cj, _ := cert.MarshalJSON()
	var enr httpapi.EnrollResponse
	if err := r.provider.call("POST", "/v1/provider/agents", map[string]any{"certificate": json.RawMessage(cj)}, http.StatusCreated, &enr); err != nil {
		t.Fatal(err)
	}
	return &fakeAgent{id: id, cert: cert, password: enr.MQTTPassword, iccid: iccid,
		leases: make(chan *wire.Lease, 16), receipts: make(chan *wire.Receipt, 64)}
}

func (a *fakeAgent) connect(t *testing.T, url string, hub wire.VerifyKey) {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(a.id.AgentID()).SetUsername(a.id.AgentID()).
		SetPassword(a.password).SetCleanSession(true).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		tp, err := wire.ParseTopic(m.Topic())
		if err != nil {
			return
		}
		switch tp.Kind {
		case wire.TopicLease:
			if l, err := wire.DecodeLease(m.Payload()); err == nil && l.VerifySignature([]wire.VerifyKey{hub}) == nil {
				a.leases <- l
			}
		case wire.TopicReceipt:
			if rc, err := wire.DecodeReceipt(m.Payload()); err == nil && rc.Verify([]wire.VerifyKey{hub}) == nil {
				a.receipts <- rc
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.client = mqtt.NewClient(o)
		tok := a.client.Connect()
		if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent connect: %v", tok.Error())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() { a.client.Disconnect(100) })
	filters := map[string]byte{}
	for _, f := range wire.AgentSubscriptions(a.id.AgentID()) {
		filters[f] = 1
	}
	if tok := a.client.SubscribeMultiple(filters, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("agent subscribe: %v", tok.Error())
	}
}

func (a *fakeAgent) waitLease(t *testing.T) *wire.Lease {
	t.Helper()
	select {
	case l := <-a.leases:
		return l
	case <-time.After(15 * time.Second):
		t.Fatal("no lease after 15 s")
		return nil
	}
}

func (a *fakeAgent) waitReceipt(t *testing.T) *wire.Receipt {
	t.Helper()
	select {
	case r := <-a.receipts:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("no receipt after 15 s")
		return nil
	}
}

// sms builds a signed SMS sealed under lease l.
func (a *fakeAgent) sms(t *testing.T, l *wire.Lease, text string) (*wire.SMS, []byte) {
	t.Helper()
	now := time.Now()
	m, err := wire.NewSMS(wire.SMSInput{AgentID: a.id.AgentID(), ICCID: a.iccid, Parts: [][]byte{[]byte(fmt.Sprintf("pdu|%s|%d", text, now.UnixNano()))},
		Received: now, LeaseSeq: l.Seq, Recipient: l.Renter,
		Plaintext: &wire.Plaintext{Version: wire.Version, Sender: "+4915112345678", Text: text, SMSCTime: now.Add(-time.Second),
			Parts: 1, PartsExpected: 1, Encoding: wire.EncodingGSM7}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sign(a.id); err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

func (a *fakeAgent) publish(t *testing.T, topic string, payload []byte) {
	t.Helper()
	tok := a.client.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatalf("publish %s: no PUBACK", topic)
	}
}

// alive asserts the hub still serves: health, and renter A can read its message.
func (r *hostileRig) alive(t *testing.T) {
	t.Helper()
	resp, err := http.Get(r.hub.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("hub stopped serving: %v %v", err, resp)
	}
	resp.Body.Close()
	if err := r.renterA.call("GET", "/v1/messages/"+r.msgA.ID, nil, http.StatusOK, nil); err != nil {
		t.Fatalf("hub stopped serving renter A: %v", err)
	}
	if r.hub.exited() {
		t.Fatalf("hub exited:\n%s", r.hub.tail(3000))
	}
}

// raw sends a request with the given headers and returns the status.
func rawStatus(t *testing.T, method, url string, body io.Reader, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestHostile runs hostile clients against a running ness-hub and its Mosquitto; after each
// attack the hub must still serve.
func TestHostile(t *testing.T) {
	r := startHostile(t)

	t.Run("auth bypass", func(t *testing.T) {
		forged, _ := wire.GenerateIdentity()
		cases := []struct {
			name string
			hdr  map[string]string
			path string
		}{
			{"no token", nil, "/v1/messages"},
			{"empty bearer", map[string]string{"Authorization": "Bearer "}, "/v1/messages"},
			{"garbage token", map[string]string{"Authorization": "Bearer ness_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "/v1/messages"},
			{"token with a tail", map[string]string{"Authorization": "Bearer " + r.renterA.token + "x"}, "/v1/messages"},
			{"token prefix", map[string]string{"Authorization": "Bearer " + r.renterA.token[:len(r.renterA.token)-1]}, "/v1/messages"},
			{"basic scheme", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+r.renterA.token))}, "/v1/messages"},
			{"token in query", nil, "/v1/messages?token=" + r.renterA.token},
			{"token in cookie", map[string]string{"Cookie": "token=" + r.renterA.token}, "/v1/messages"},
			{"provider endpoint without token", nil, "/v1/provider/agents"},
			{"whoami without token", nil, "/v1/auth/whoami"},
			{"path traversal", nil, "/v1/../v1/messages"},
			{"encoded path", nil, "/v1/%6Dessages"},
		}
		for _, c := range cases {
			if got := rawStatus(t, "GET", r.hub.URL+c.path, nil, c.hdr); got != http.StatusUnauthorized && got != http.StatusNotFound && got != http.StatusBadRequest && got != http.StatusMovedPermanently {
				t.Errorf("%s: GET %s: got %d, want 401 (or 400/404)", c.name, c.path, got)
			}
		}
		// Sign-in forgeries: another key's signature, a replayed challenge, a wrong origin.
		anon := &apiClient{base: r.hub.URL}
		var ch httpapi.ChallengeResponse
		if err := anon.call("POST", "/v1/auth/challenge", nil, http.StatusCreated, &ch); err != nil {
			t.Fatal(err)
		}
		raw, _ := wire.DecodeBase64("challenge", ch.Challenge)
		sig, _ := wire.SignIn(forged, ch.Origin, raw)
		victim := r.renterA.id.Verify.String()
		if err := anon.call("POST", "/v1/auth/token", httpapi.TokenRequest{Key: victim, Challenge: ch.Challenge, Signature: base64Std(sig)}, http.StatusUnauthorized, nil); err != nil {
			t.Errorf("sign in as renter A with another key's signature: %v", err)
		}
		wrongOrigin, _ := wire.SignIn(forged, "https://evil.example", raw)
		if err := anon.call("POST", "/v1/auth/token", httpapi.TokenRequest{Key: forged.Verify.String(), Challenge: ch.Challenge, Signature: base64Std(wrongOrigin)}, http.StatusUnauthorized, nil); err != nil {
			t.Errorf("signature over another origin: %v", err)
		}
		ok, _ := wire.SignIn(forged, ch.Origin, raw)
		// The challenge was consumed by the failed attempts or is consumed now; a second use must fail.
		anon.call("POST", "/v1/auth/token", httpapi.TokenRequest{Key: forged.Verify.String(), Challenge: ch.Challenge, Signature: base64Std(ok)}, http.StatusCreated, nil)
		if err := anon.call("POST", "/v1/auth/token", httpapi.TokenRequest{Key: forged.Verify.String(), Challenge: ch.Challenge, Signature: base64Std(ok)}, http.StatusUnauthorized, nil); err != nil {
			t.Errorf("replayed challenge: %v", err)
		}
		var fake [32]byte
		rand.Read(fake[:])
		if err := anon.call("POST", "/v1/auth/token", httpapi.TokenRequest{Key: forged.Verify.String(), Challenge: base64Std(fake[:]), Signature: base64Std(ok)}, http.StatusUnauthorized, nil); err != nil {
			t.Errorf("made-up challenge: %v", err)
		}
		// A revoked token is dead.
		c := mustSignIn(t, r.hub.URL)
		if err := c.call("DELETE", "/v1/auth/token", nil, http.StatusNoContent, nil); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if err := c.call("GET", "/v1/auth/whoami", nil, http.StatusUnauthorized, nil); err != nil {
			t.Errorf("revoked token: %v", err)
		}
		r.alive(t)
	})

	t.Run("other renters' ids", func(t *testing.T) {
		b := r.renterB
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/messages/" + r.msgA.ID},
			{"DELETE", "/v1/messages/" + r.msgA.ID},
			{"GET", "/v1/rentals/" + r.rentalA.ID},
			{"POST", "/v1/rentals/" + r.rentalA.ID + "/extend"},
			{"DELETE", "/v1/rentals/" + r.rentalA.ID},
			{"GET", "/v1/webhooks/" + r.webhookA.ID},
			{"GET", "/v1/webhooks/" + r.webhookA.ID + "/deliveries"},
			{"DELETE", "/v1/webhooks/" + r.webhookA.ID},
			{"GET", "/v1/messages?rental=" + r.rentalA.ID},
			{"GET", "/v1/provider/agents/" + r.agentA.id.AgentID()},
		} {
			var body any
			if c.method == "POST" {
				body = httpapi.ExtendRequest{Duration: "daily"}
			}
			err := b.call(c.method, c.path, body, http.StatusNotFound, nil)
			if se, ok := err.(*statusErr); ok && c.path == "/v1/messages?rental="+r.rentalA.ID && (se.status == 400 || se.status == 200 && !strings.Contains(se.body, r.msgA.ID)) {
				err = nil
			}
			if err != nil {
				t.Errorf("renter B: %s %s: %v", c.method, c.path, err)
			}
		}
		var list httpapi.MessageList
		if err := b.call("GET", "/v1/messages?after="+r.msgA.ID, nil, http.StatusOK, &list); err == nil && len(list.Messages) > 0 {
			t.Errorf("renter B listed after A's id: %d messages", len(list.Messages))
		}
		// A's message, rental and webhook are intact.
		if err := r.renterA.call("GET", "/v1/rentals/"+r.rentalA.ID, nil, http.StatusOK, nil); err != nil {
			t.Errorf("renter A's rental after B's attempts: %v", err)
		}
		if err := r.renterA.call("GET", "/v1/webhooks/"+r.webhookA.ID, nil, http.StatusOK, nil); err != nil {
			t.Errorf("renter A's webhook after B's attempts: %v", err)
		}
		r.alive(t)
	})

	t.Run("oversized bodies", func(t *testing.T) {
		big := `{"number":"` + strings.Repeat("9", 1<<20) + `","duration":"daily","renter_key":"x"}`
		hdr := map[string]string{"Authorization": "Bearer " + r.renterB.token, "Content-Type": "application/json"}
		if got := rawStatus(t, "POST", r.hub.URL+"/v1/rentals", strings.NewReader(big), hdr); got != http.StatusRequestEntityTooLarge {
			t.Errorf("1 MiB rental body: got %d, want 413", got)
		}
		// Chunked, no Content-Length: 64 MiB of zeros must be cut off.
		pr, pw := io.Pipe()
		go func() {
			chunk := make([]byte, 1<<16)
			for range 1024 {
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
			pw.Close()
		}()
		start := time.Now()
		if got := rawStatus(t, "POST", r.hub.URL+"/v1/webhooks", pr, hdr); got != http.StatusRequestEntityTooLarge && got != http.StatusBadRequest {
			t.Errorf("64 MiB chunked body: got %d, want 413", got)
		}
		pr.Close()
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("64 MiB chunked body took %v to refuse", d)
		}
		// A huge header block.
		if got := rawStatus(t, "GET", r.hub.URL+"/v1/messages", nil, map[string]string{"X-Junk": strings.Repeat("a", 2<<20)}); got != http.StatusRequestHeaderFieldsTooLarge && got != http.StatusBadRequest {
			t.Errorf("2 MiB header: got %d, want 431", got)
		}
		r.alive(t)
	})

	t.Run("slow headers and bodies", func(t *testing.T) {
		addr := strings.TrimPrefix(r.hub.URL, "http://")
		// Slowloris: many connections trickling headers; each must be cut off, and the hub must
		// keep serving meanwhile.
		type result struct {
			what string
			d    time.Duration
			err  error
		}
		res := make(chan result, 64)
		trickle := func(what, head string, each time.Duration) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				res <- result{what, 0, err}
				return
			}
			defer c.Close()
			start := time.Now()
			if _, err := io.WriteString(c, head); err != nil {
				res <- result{what, time.Since(start), nil}
				return
			}
			for time.Since(start) < 90*time.Second {
				if _, err := c.Write([]byte("a")); err != nil {
					res <- result{what, time.Since(start), nil}
					return
				}
				c.SetReadDeadline(time.Now().Add(each))
				b := make([]byte, 512)
				if _, err := c.Read(b); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						continue
					}
					res <- result{what, time.Since(start), nil} // answered or closed
					return
				}
				res <- result{what, time.Since(start), nil} // the hub answered (e.g. 408/400) and ends it
				return
			}
			res <- result{what, time.Since(start), fmt.Errorf("still open after 90 s")}
		}
		const conns = 20
		for i := range conns {
			if i%2 == 0 {
				go trickle("slow header", "GET /v1/messages HTTP/1.1\r\nHost: x\r\nX-Slow: ", time.Second)
			} else {
				go trickle("slow body", "POST /v1/rentals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+r.renterB.token+
					"\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"number\":\"", time.Second)
			}
		}
		time.Sleep(3 * time.Second)
		r.alive(t)
		for range conns {
			x := <-res
			if x.err != nil {
				t.Errorf("%s: %v (the hub must time out slow clients: ReadHeaderTimeout and a body deadline)", x.what, x.err)
			} else if x.d > 75*time.Second {
				t.Errorf("%s: cut off only after %v", x.what, x.d)
			}
		}
		r.alive(t)
	})

	t.Run("malformed WebSocket frames", func(t *testing.T) {
		addr := strings.TrimPrefix(r.hub.URL, "http://")
		frames := map[string][]byte{
			"unmasked text frame":        {0x81, 0x05, 'h', 'e', 'l', 'l', 'o'},
			"reserved opcode":            {0x83, 0x80, 1, 2, 3, 4},
			"RSV bits set":               {0xF1, 0x80, 1, 2, 3, 4},
			"fragmented control frame":   {0x09, 0x80, 1, 2, 3, 4},
			"oversized control frame":    append([]byte{0x89, 0xFE, 0x01, 0x00, 1, 2, 3, 4}, make([]byte, 256)...),
			"2^63 length":                {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4},
			"continuation without start": {0x80, 0x80, 1, 2, 3, 4},
			"invalid UTF-8 text":         {0x81, 0x82, 0, 0, 0, 0, 0xC3, 0x28},
			"close with bad code":        {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE7},
			"huge text frame":            append([]byte{0x81, 0xFF, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 4096)...),
		}
		for name, frame := range frames {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
			fmt.Fprintf(c, "GET /v1/stream HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n", addr, key, r.renterA.token)
			br := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("%s: upgrade: %v %v", name, err, resp)
			}
			c.Write(frame)
			// The hub first streams renter A's message, then must close on the bad frame.
			start := time.Now()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err = io.Copy(io.Discard, br)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("%s: connection still open 20 s after the frame", name)
			} else if d := time.Since(start); d > 10*time.Second { // a close handshake may wait 5 s for our close frame
				t.Errorf("%s: connection closed only %v after the frame", name, d)
			}
			c.Close()
		}
		r.alive(t)
	})

	t.Run("MQTT topic spoofing and replay", func(t *testing.T) {
		a, b := r.agentA, r.agentB
		lb := b.waitLease(t)
		count := func(c *apiClient) int {
			var list httpapi.MessageList
			if err := c.call("GET", "/v1/messages", nil, http.StatusOK, &list); err != nil {
				t.Fatal(err)
			}
			return len(list.Messages)
		}
		beforeA, beforeB := count(r.renterA), count(r.renterB)
		// B's legitimate SMS, then: A publishes it on B's topic (ACL), on its own topic (agent
		// mismatch), B replays it (stored once), A forges a message in B's name (signature).
		m, payload := b.sms(t, lb, "for B only")
		b.publish(t, wire.SMSTopic(b.id.AgentID()), payload)
		if rc := b.waitReceipt(t); rc.MessageID != m.ID {
			t.Fatalf("receipt for %s, want %s", rc.MessageID, m.ID)
		}
		a.publish(t, wire.SMSTopic(b.id.AgentID()), payload)
		a.publish(t, wire.SMSTopic(a.id.AgentID()), payload)
		b.publish(t, wire.SMSTopic(b.id.AgentID()), payload) // replay
		forged, _ := b.sms(t, lb, "forged")
		forged.AgentID = b.id.AgentID()
		if err := forged.Sign(a.id); err == nil {
			fb, _ := forged.MarshalJSON()
			a.publish(t, wire.SMSTopic(a.id.AgentID()), fb)
		}
		// A tries to hand B a lease and a receipt, and to read B's topics.
		a.publish(t, wire.LeaseTopic(b.id.AgentID(), b.iccid), []byte(`{"junk":true}`))
		a.publish(t, wire.ReceiptTopic(b.id.AgentID()), []byte(`{"junk":true}`))
		got := make(chan string, 1024)
		tok := a.client.Subscribe("ness/v1/agent/"+b.id.AgentID()+"/#", 1, func(_ mqtt.Client, m mqtt.Message) {
			select {
			case got <- m.Topic():
			default:
			}
		})
		tok.WaitTimeout(5 * time.Second)
		if st, ok := tok.(*mqtt.SubscribeToken); ok {
			for topic, q := range st.Result() {
				if q != 0x80 { // Mosquitto grants it and filters each message by the read ACL: checked below
					t.Logf("agent A's subscription to %s granted QoS %d; B's messages must still not reach it", topic, q)
				}
			}
		}
		// Wildcards over every agent.
		tok = a.client.Subscribe("ness/#", 1, func(_ mqtt.Client, m mqtt.Message) {
			select {
			case got <- m.Topic():
			default:
			}
		})
		tok.WaitTimeout(5 * time.Second)
		// A client that is no agent, and an agent with a wrong password, are refused.
		for _, cred := range [][2]string{{"intruder", "x"}, {b.id.AgentID(), "wrong"}, {"ness-hub", "guess"}} {
			o := mqtt.NewClientOptions().AddBroker(r.mq.URL).SetClientID(cred[0]).SetUsername(cred[0]).SetPassword(cred[1]).
				SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
			c := mqtt.NewClient(o)
			if tk := c.Connect(); tk.WaitTimeout(5*time.Second) && tk.Error() == nil {
				t.Errorf("MQTT connect as %q with a wrong password: accepted", cred[0])
				c.Disconnect(0)
			}
		}
		m2, p2 := b.sms(t, lb, "after the attacks")
		b.publish(t, wire.SMSTopic(b.id.AgentID()), p2)
		deadline := time.Now().Add(15 * time.Second)
		for count(r.renterB) < beforeB+2 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(time.Second)
		if n := count(r.renterB); n != beforeB+2 {
			t.Errorf("renter B has %d new messages, want 2 (the SMS once despite spoofing and replay, and %s)", n-beforeB, m2.ID)
		}
		if n := count(r.renterA); n != beforeA {
			t.Errorf("renter A has %d new messages, want 0", n-beforeA)
		}
	drain:
		for {
			select {
			case topic := <-got:
				if strings.Contains(topic, b.id.AgentID()) {
					t.Errorf("agent A received B's %s", topic)
				}
			default:
				break drain
			}
		}
		select {
		case l := <-b.leases:
			t.Errorf("agent B got a lease it should not have: %+v", l)
		default:
		}
		r.alive(t)
	})
	if os.Getenv("NESS_HOSTILE_LOG") == "1" {
		t.Logf("hub log:\n%s", r.hub.tail(8000))
	}
}
