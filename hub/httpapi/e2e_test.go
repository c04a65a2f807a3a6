package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/wire"
)

// receiver is a webhook endpoint that records deliveries and answers with status.
type receiver struct {
	srv    *httptest.Server
	status int

	mu   sync.Mutex
	got  []delivery
	note chan struct{}
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	r := &receiver{status: status, note: make(chan struct{}, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), b})
		r.mu.Unlock()
		w.WriteHeader(r.status)
		r.note <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, n int) []delivery {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		got := append([]delivery(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.note:
		case <-deadline:
			t.Fatalf("webhook receiver: %d deliveries after 10s, want %d", len(got), n)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testEndToEnd(t, b) })
	}
}

func testEndToEnd(t *testing.T, b backend) {
	e := startEnv(t, b, nil)
	const number, iccid = "+4915100000001", "8949000000000000001"

	// Provider: sign in, enrol an agent, bind a number.
	prov := e.enrol(t, e.signIn(t))
	prov.bind(t, number, iccid)
	var agents httpapi.AgentList
	prov.do(t, "GET", "/v1/provider/agents", nil, http.StatusOK, &agents)
	if len(agents.Agents) != 1 || agents.Agents[0].ID != prov.agent.ID || len(agents.Agents[0].Numbers) != 1 {
		t.Fatalf("GET /v1/provider/agents: got %+v, want agent %s with number %s", agents, prov.agent.ID, number)
	}

	// Renter: browse, rent; the lease reaches the agent.
	alice := e.signIn(t)
	var nums httpapi.NumberList
	alice.do(t, "GET", "/v1/numbers?country=DE&feature=sms&max_price=1", nil, http.StatusOK, &nums)
	if len(nums.Numbers) != 1 || nums.Numbers[0].Number != number || nums.Numbers[0].Prices.Day != "0.500000" {
		t.Fatalf("GET /v1/numbers: got %+v, want %s at 0.500000/day", nums, number)
	}
	rental := alice.rent(t, number)
	if rental.Status != "active" || rental.Paid != "0.500000" || rental.LeaseSeq == 0 {
		t.Fatalf("POST /v1/rentals: got %+v, want active, paid 0.500000, a lease", rental)
	}
	lease := prov.waitLease(t, iccid, rental.LeaseSeq)
	if lease.Renter != alice.id.Public {
		t.Fatalf("lease renter %s, want alice's key %s", lease.Renter, alice.id.Public)
	}
	alice.do(t, "GET", "/v1/numbers", nil, http.StatusOK, &nums)
	if len(nums.Numbers) != 0 {
		t.Errorf("GET /v1/numbers after renting the only number: got %d numbers, want 0", len(nums.Numbers))
	}

	// Webhooks: one that answers 204, one that always fails.
	good, bad := newReceiver(t, http.StatusNoContent), newReceiver(t, http.StatusInternalServerError)
	var hookGood, hookBad httpapi.WebhookView
	alice.do(t, "POST", "/v1/webhooks", httpapi.WebhookRequest{URL: good.srv.URL, Rental: rental.ID}, http.StatusCreated, &hookGood)
	alice.do(t, "POST", "/v1/webhooks", httpapi.WebhookRequest{URL: bad.srv.URL}, http.StatusCreated, &hookBad)
	if hookGood.Secret == "" {
		t.Fatal("POST /v1/webhooks: no secret in the answer")
	}

	// Live: the stream is open before the SMS arrives.
	ws, err := alice.stream(t, "")
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	id1 := prov.sms(t, lease, "code 111111")
	ev, err := next(t, ws, 10*time.Second)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if ev.Type != "message" || ev.Message.ID != id1 {
		t.Fatalf("stream event: got %+v, want message %s", ev, id1)
	}
	if pt := open(t, *ev.Message, alice.id, prov.id.Verify); pt.Text != "code 111111" {
		t.Errorf("opened text: got %q, want %q", pt.Text, "code 111111")
	}

	// List, and a long-poll that the next SMS answers.
	var list httpapi.MessageList
	alice.do(t, "GET", "/v1/messages", nil, http.StatusOK, &list)
	if len(list.Messages) != 1 || list.Messages[0].ID != id1 || list.Next != id1 {
		t.Fatalf("GET /v1/messages: got %+v, want just %s", list, id1)
	}
	polled := make(chan httpapi.MessageList, 1)
	go func() {
		var l httpapi.MessageList
		alice.do(t, "GET", "/v1/messages?wait=10s&after="+id1, nil, http.StatusOK, &l)
		polled <- l
	}()
	time.Sleep(200 * time.Millisecond) // the poll is waiting
	id2 := prov.sms(t, lease, "code 222222")
	select {
	case l := <-polled:
		if len(l.Messages) != 1 || l.Messages[0].ID != id2 {
			t.Fatalf("long-poll: got %+v, want just %s", l, id2)
		}
		if pt := open(t, l.Messages[0], alice.id, prov.id.Verify); pt.Text != "code 222222" {
			t.Errorf("long-poll text: got %q", pt.Text)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long-poll did not return 10s after the SMS")
	}
	if ev, err := next(t, ws, 10*time.Second); err != nil || ev.Message.ID != id2 {
		t.Fatalf("stream second event: got %+v, %v; want %s", ev, err, id2)
	}

	// Reconnect: a message stored while the stream is closed arrives on resume.
	ws.CloseNow()
	id3 := prov.sms(t, lease, "code 333333")
	waitListed(t, alice, id3)
	ws, err = alice.stream(t, id2)
	if err != nil {
		t.Fatalf("reopen stream: %v", err)
	}
	defer ws.CloseNow()
	if ev, err := next(t, ws, 10*time.Second); err != nil || ev.Message.ID != id3 {
		t.Fatalf("resumed stream: got %+v, %v; want %s", ev, err, id3)
	}

	// The good webhook got each message once, signed; the idempotency key is the message id.
	got := good.wait(t, 3)
	for i, d := range got {
		if err := httpapi.VerifyWebhook(hookGood.Secret, d.header.Get(httpapi.SignatureHeader), d.body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("delivery %d: %v", i, err)
		}
		if err := httpapi.VerifyWebhook(hookBad.Secret, d.header.Get(httpapi.SignatureHeader), d.body, time.Now(), 5*time.Minute); err == nil {
			t.Errorf("delivery %d verifies under another webhook's secret", i)
		}
		var p httpapi.WebhookPayload
		if err := json.Unmarshal(d.body, &p); err != nil {
			t.Fatal(err)
		}
		if d.header.Get(httpapi.IdempotencyHeader) != p.Message.ID {
			t.Errorf("delivery %d: Idempotency-Key %q, want message id %s", i, d.header.Get(httpapi.IdempotencyHeader), p.Message.ID)
		}
		open(t, p.Message, alice.id, prov.id.Verify)
	}
	// The failing one: 3 attempts per message with the same key, then dead-lettered.
	var dead httpapi.DeliveryList
	deadline := time.Now().Add(10 * time.Second)
	for len(dead.Deliveries) < 3 && time.Now().Before(deadline) {
		alice.do(t, "GET", "/v1/webhooks/"+hookBad.ID+"/deliveries?state=dead", nil, http.StatusOK, &dead)
		time.Sleep(20 * time.Millisecond)
	}
	if len(dead.Deliveries) != 3 {
		t.Fatalf("dead deliveries: got %d, want 3", len(dead.Deliveries))
	}
	for _, d := range dead.Deliveries {
		if d.Attempts != 3 || d.LastStatus != 500 {
			t.Errorf("dead delivery %s: %d attempts, last status %d; want 3, 500", d.Message, d.Attempts, d.LastStatus)
		}
	}
	perKey := map[string]int{}
	for _, d := range bad.wait(t, 9) {
		perKey[d.header.Get(httpapi.IdempotencyHeader)]++
	}
	for _, id := range []string{id1, id2, id3} {
		if perKey[id] != 3 {
			t.Errorf("failing receiver: %d attempts for %s, want 3 (all keys %v)", perKey[id], id, perKey)
		}
	}

	// Delete one message.
	alice.do(t, "DELETE", "/v1/messages/"+id1, nil, http.StatusNoContent, nil)
	alice.do(t, "GET", "/v1/messages/"+id1, nil, http.StatusNotFound, nil)
	alice.do(t, "GET", "/v1/messages", nil, http.StatusOK, &list)
	if len(list.Messages) != 2 || list.Messages[0].ID != id2 {
		t.Errorf("GET /v1/messages after delete: got %d messages, want %s and %s", len(list.Messages), id2, id3)
	}

	// Extend, then cancel: the agent gets the ended lease.
	var ext httpapi.RentalView
	alice.do(t, "POST", "/v1/rentals/"+rental.ID+"/extend", httpapi.ExtendRequest{Duration: "weekly"}, http.StatusOK, &ext)
	if want := rental.Until.Add(7 * 24 * time.Hour); !ext.Until.Equal(want) || ext.LeaseSeq <= rental.LeaseSeq {
		t.Errorf("extend: until %s seq %d, want %s and a seq above %d", ext.Until, ext.LeaseSeq, want, rental.LeaseSeq)
	}
	prov.waitLease(t, iccid, ext.LeaseSeq)
	var ended httpapi.RentalView
	alice.do(t, "DELETE", "/v1/rentals/"+rental.ID, nil, http.StatusOK, &ended)
	if ended.Status != "ended" {
		t.Errorf("cancel: status %q, want ended", ended.Status)
	}
	if l := prov.waitLease(t, iccid, ended.LeaseSeq); !l.ValidUntil.Before(ext.Until) {
		t.Errorf("ended lease valid until %s, want before %s", l.ValidUntil, ext.Until)
	}
	alice.do(t, "DELETE", "/v1/rentals/"+rental.ID, nil, http.StatusConflict, nil)

	// Earnings: the day and the week.
	var earn httpapi.Earnings
	prov.do(t, "GET", "/v1/provider/earnings", nil, http.StatusOK, &earn)
	if earn.Total != "3.500000" || len(earn.Payments) != 2 {
		t.Errorf("earnings: got %+v, want 3.500000 in 2 payments", earn)
	}

	// Revoke the token.
	alice.do(t, "DELETE", "/v1/auth/token", nil, http.StatusNoContent, nil)
	alice.do(t, "GET", "/v1/rentals", nil, http.StatusUnauthorized, nil)
}

func waitListed(t *testing.T, c *client, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, _, _ := c.req(t, "GET", "/v1/messages/"+id, nil); code == http.StatusOK {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("message %s not stored after 10s", id)
}

// TestSignIn checks the sign-in rules: signatures over this hub's origin only, single-use and
// expiring challenges.
func TestSignIn(t *testing.T) {
	// The server's webhook retry loop reads the clock from its own goroutine, so the test moves
	// it through an atomic.
	var nowNanos atomic.Int64
	nowNanos.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, nowNanos.Load()) }
	advance := func(d time.Duration) { nowNanos.Add(int64(d)) }
	e := startEnv(t, backends[0], func(c *httpapi.Config) { c.Now = clock; c.ChallengeTTL = time.Minute })
	id, _ := wire.GenerateIdentity()
	challenge := func() (string, []byte) {
		var ch httpapi.ChallengeResponse
		e.anon().do(t, "POST", "/v1/auth/challenge", nil, http.StatusCreated, &ch)
		raw, _ := wire.DecodeBase64("challenge", ch.Challenge)
		return ch.Challenge, raw
	}
	sign := func(origin string, raw []byte) string {
		s, err := wire.SignIn(id, origin, raw)
		if err != nil {
			t.Fatal(err)
		}
		return b64(s)
	}
	other, _ := wire.GenerateIdentity()

	ch, raw := challenge()
	tests := []struct {
		name      string
		key, chal string
		sig       string
		advance   time.Duration
		want      int
		wantField string
	}{
		{"other hub's origin", id.Verify.String(), ch, sign("https://evil.example", raw), 0, 401, "signature"},
		{"another key's signature", other.Verify.String(), ch, sign(e.origin, raw), 0, 401, "signature"},
		{"unknown challenge", id.Verify.String(), b64(make([]byte, 32)), sign(e.origin, make([]byte, 32)), 0, 401, "challenge"},
		{"ok", id.Verify.String(), ch, sign(e.origin, raw), 0, 201, ""},
		{"replayed challenge", id.Verify.String(), ch, sign(e.origin, raw), 0, 401, "challenge"},
		{"bad key", "AAAA", ch, sign(e.origin, raw), 0, 400, "key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := e.anon().req(t, "POST", "/v1/auth/token", httpapi.TokenRequest{Key: tc.key, Challenge: tc.chal, Signature: tc.sig})
			if code != tc.want {
				t.Fatalf("got %d, want %d; body %s", code, tc.want, body)
			}
			if tc.wantField != "" {
				var eb httpapi.ErrorBody
				json.Unmarshal(body, &eb)
				if eb.Error == nil || eb.Error.Field != tc.wantField {
					t.Errorf("error body %s: want field %q", body, tc.wantField)
				}
			}
		})
	}
	t.Run("expired challenge", func(t *testing.T) {
		ch, raw := challenge()
		advance(time.Minute)
		code, body, _ := e.anon().req(t, "POST", "/v1/auth/token", httpapi.TokenRequest{Key: id.Verify.String(), Challenge: ch, Signature: sign(e.origin, raw)})
		if code != 401 {
			t.Fatalf("got %d, want 401; body %s", code, body)
		}
	})
	t.Run("token expires", func(t *testing.T) {
		c := e.signInAs(t, id)
		c.do(t, "GET", "/v1/auth/whoami", nil, http.StatusOK, nil)
		advance(24 * time.Hour)
		c.do(t, "GET", "/v1/auth/whoami", nil, http.StatusUnauthorized, nil)
	})
	t.Run("emercoin not configured", func(t *testing.T) {
		e.anon().do(t, "POST", "/v1/auth/emercoin", `{"address":"E","challenge":"x","signature":"y"}`, http.StatusNotImplemented, nil)
	})
}
