package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/notify"
	"github.com/ness-network/ness-sms/hub/postgres"
	"github.com/ness-network/ness-sms/hub/postgres/pgtest"
	"github.com/ness-network/ness-sms/wire"
)

// env is a running hub (store, embedded broker, ingest, leases) with the API on a real
// loopback listener.
type env struct {
	t      testing.TB
	hub    *hubtest.Hub
	api    *httpapi.Server
	url    string
	origin string
}

type backend struct {
	name string
	open func(t testing.TB) (hub.Store, notifier)
}

type notifier interface {
	httpapi.Notifier
	Publish(ctx context.Context, m hub.Message) error
}

// backends are the stores the API suite runs against.
var backends = []backend{
	{"sqlite", func(t testing.TB) (hub.Store, notifier) { return nil, notify.NewLocal() }},
	{"postgres", func(t testing.TB) (hub.Store, notifier) {
		url := pgtest.NewDatabase(t)
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatalf("open PostgreSQL store: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		n := notify.NewPostgres(s.Pool(), url, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case <-n.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("PostgreSQL notifier not listening after 10s")
		}
		return s, n
	}},
}

func startEnv(t testing.TB, b backend, mod func(*httpapi.Config)) *env {
	t.Helper()
	store, n := b.open(t)
	h := hubtest.Start(t, hubtest.Options{Store: store, Notify: n})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	cfg := httpapi.Config{Store: h.Store, Leases: h.Leases, Notify: n, Origin: origin,
		AllowHTTPWebhooks: true, AllowPrivateWebhooks: true, WebhookBackoff: 20 * time.Millisecond, WebhookPollEvery: 10 * time.Millisecond,
		WebhookAttempts: 3, IPRate: -1, TokenRate: -1}
	if mod != nil {
		mod(&cfg)
	}
	api, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(api.Handler())
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { api.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{t: t, hub: h, api: api, url: ts.URL, origin: origin}
}

// client is a signed-in API user.
type client struct {
	e     *env
	id    *wire.Identity
	token string
}

func (e *env) anon() *client { return &client{e: e} }

// signIn runs the challenge → signature → token flow with a new identity.
func (e *env) signIn(t testing.TB) *client {
	t.Helper()
	id, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return e.signInAs(t, id)
}

func (e *env) signInAs(t testing.TB, id *wire.Identity) *client {
	t.Helper()
	c := &client{e: e, id: id}
	var ch httpapi.ChallengeResponse
	c.do(t, "POST", "/v1/auth/challenge", nil, http.StatusCreated, &ch)
	if ch.Origin != e.origin {
		t.Fatalf("challenge origin: got %q, want %q", ch.Origin, e.origin)
	}
	raw, _ := wire.DecodeBase64("challenge", ch.Challenge)
	sig, err := wire.SignIn(id, ch.Origin, raw)
	if err != nil {
		t.Fatal(err)
	}
	var tok httpapi.TokenResponse
	c.do(t, "POST", "/v1/auth/token", httpapi.TokenRequest{Key: id.Verify.String(), Challenge: ch.Challenge,
		Signature: b64(sig)}, http.StatusCreated, &tok)
	c.token = tok.Token
	return c
}

// req sends a request and returns the status and body.
func (c *client) req(t testing.TB, method, path string, body any) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	r, err := http.NewRequest(method, c.e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// do sends a request, fails unless the status is want, and decodes the body into out.
func (c *client) do(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	got, b, _ := c.req(t, method, path, body)
	if got != want {
		t.Fatalf("%s %s: got status %d, want %d; body %s", method, path, got, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %T: %v; body %s", method, path, out, err, b)
		}
	}
}

// stream opens GET /v1/stream.
func (c *client) stream(t testing.TB, after string) (*websocket.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(c.e.url, "http") + "/v1/stream"
	if after != "" {
		u += "?after=" + after
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + c.token}}})
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && err != nil {
		return nil, &statusError{resp.StatusCode}
	}
	return conn, err
}

type statusError struct{ status int }

func (e *statusError) Error() string { return http.StatusText(e.status) }

// next reads one stream event within timeout.
func next(t testing.TB, c *websocket.Conn, timeout time.Duration) (httpapi.StreamEvent, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		return httpapi.StreamEvent{}, err
	}
	var ev httpapi.StreamEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("stream frame %s: %v", b, err)
	}
	return ev, nil
}

// provider is a provider with one agent enrolled through the API and connected to the broker.
type provider struct {
	*client
	agent  *hubtest.Agent
	mqtt   mqtt.Client
	leases chan *wire.Lease
}

// enrol signs a certificate for a new agent with the provider's key, uploads it and connects
// the agent to the broker with the password the API returned.
func (e *env) enrol(t testing.TB, c *client) *provider {
	t.Helper()
	ag, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cert, err := wire.NewAgentCert(ag.Verify, c.id, "", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cj, _ := cert.MarshalJSON()
	var res httpapi.EnrollResponse
	c.do(t, "POST", "/v1/provider/agents", map[string]any{"certificate": json.RawMessage(cj)}, http.StatusCreated, &res)
	if res.Agent.ID != ag.AgentID() || res.MQTTUsername != ag.AgentID() || res.MQTTPassword == "" {
		t.Fatalf("enrol: got agent %q user %q password %d bytes, want %s, %s and a password", res.Agent.ID, res.MQTTUsername, len(res.MQTTPassword), ag.AgentID(), ag.AgentID())
	}
	p := &provider{client: c, agent: &hubtest.Agent{ID: ag.AgentID(), Identity: ag, Provider: c.id, Cert: cert, Password: res.MQTTPassword},
		leases: make(chan *wire.Lease, 16)}
	o := mqtt.NewClientOptions().AddBroker(e.hub.URL).SetClientID(p.agent.ID).SetUsername(p.agent.ID).
		SetPassword(res.MQTTPassword).SetCleanSession(true).SetConnectTimeout(10 * time.Second)
	p.mqtt = mqtt.NewClient(o)
	if tok := p.mqtt.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("agent connect with the API-issued password: %v", tok.Error())
	}
	t.Cleanup(func() { p.mqtt.Disconnect(100) })
	tok := p.mqtt.Subscribe(wire.LeaseTopic(p.agent.ID, "+"), 1, func(_ mqtt.Client, m mqtt.Message) {
		l, err := wire.DecodeLease(m.Payload())
		if err == nil {
			err = l.VerifySignature([]wire.VerifyKey{e.hub.Key.Verify})
		}
		if err != nil {
			t.Errorf("agent got a bad lease: %v", err)
			return
		}
		p.leases <- l
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("agent subscribe: %v", tok.Error())
	}
	return p
}

// waitLease waits for the agent to receive a lease for iccid with sequence seq.
func (p *provider) waitLease(t testing.TB, iccid string, seq uint64) *wire.Lease {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l := <-p.leases:
			if l.ICCID == iccid && l.Seq == seq {
				return l
			}
		case <-deadline:
			t.Fatalf("agent %s: no lease %s#%d after 10s", p.agent.ID, iccid, seq)
		}
	}
}

// sms publishes an SMS sealed under the lease, as the agent does, and returns its id.
func (p *provider) sms(t testing.TB, l *wire.Lease, text string) string {
	t.Helper()
	m, payload := p.agent.NewSMS(t, hubtest.SMS{ICCID: l.ICCID, Lease: l, Text: text})
	if tok := p.mqtt.Publish(wire.SMSTopic(p.agent.ID), 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish SMS: %v", tok.Error())
	}
	return m.ID
}

// bind binds a number on a new SIM of the provider's agent.
func (p *provider) bind(t testing.TB, number, iccid string) {
	t.Helper()
	p.do(t, "POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: number, Agent: p.agent.ID, ICCID: iccid,
		Country: "DE", Features: []string{"sms"}, Prices: httpapi.Prices{Day: "0.5", Week: "3", Month: "10", SMS: "0.01"}},
		http.StatusCreated, nil)
}

// rent rents number daily for the client's X25519 key.
func (c *client) rent(t testing.TB, number string) httpapi.RentalView {
	t.Helper()
	var r httpapi.RentalView
	c.do(t, "POST", "/v1/rentals", httpapi.RentalRequest{Number: number, Duration: "daily", RenterKey: c.id.Public.String()},
		http.StatusCreated, &r)
	return r
}

// open verifies a message as a client must (certificate, provider, signature) and opens it.
func open(t testing.TB, m httpapi.MessageView, renter *wire.Identity, providerKey wire.VerifyKey) *wire.Plaintext {
	t.Helper()
	signed, err := wire.DecodeBase64("signed", m.Signed)
	if err != nil {
		t.Fatal(err)
	}
	certJSON, err := wire.DecodeBase64("certificate", m.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := wire.DecodeAgentCert(certJSON)
	if err != nil {
		t.Fatalf("message %s: certificate: %v", m.ID, err)
	}
	if cert.ProviderVerify != providerKey {
		t.Fatalf("message %s: certificate by provider %s, want %s", m.ID, cert.ProviderVerify, providerKey)
	}
	sms, err := wire.DecodeSMS(signed)
	if err != nil {
		t.Fatalf("message %s: %v", m.ID, err)
	}
	if err := sms.VerifyWithCert(cert, time.Now()); err != nil {
		t.Fatalf("message %s: verify: %v", m.ID, err)
	}
	if sms.ID != m.ID {
		t.Fatalf("signed message id %s, listed as %s", sms.ID, m.ID)
	}
	pt, err := sms.Open(renter)
	if err != nil {
		t.Fatalf("message %s: open: %v", m.ID, err)
	}
	return pt
}

func b64(b []byte) string { return base64Std(b) }

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
