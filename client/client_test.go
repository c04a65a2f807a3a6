package client_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/client"
	"github.com/ness-network/ness-sms/client/clienttest"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/wire"
)

// jsonShape lists a type's JSON fields recursively as "path type,options" lines.
func jsonShape(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		prefix += "[]"
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(time.Time{}) {
		*out = append(*out, prefix+" "+t.Kind().String()+" "+t.Name())
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		*out = append(*out, prefix+"."+name+" ,"+opts)
		jsonShape(f.Type, prefix+"."+name, out)
	}
}

// TestTypesMatchHub keeps the client's copies of the API types (declared here so the ness
// binary does not link the hub) identical in JSON shape to hub/httpapi's.
func TestTypesMatchHub(t *testing.T) {
	for _, c := range []struct{ ours, hubs any }{
		{client.Account{}, httpapi.Account{}},
		{client.ChallengeResponse{}, httpapi.ChallengeResponse{}},
		{client.TokenRequest{}, httpapi.TokenRequest{}},
		{client.TokenResponse{}, httpapi.TokenResponse{}},
		{client.NumberList{}, httpapi.NumberList{}},
		{client.RentalRequest{}, httpapi.RentalRequest{}},
		{client.ExtendRequest{}, httpapi.ExtendRequest{}},
		{client.RentalList{}, httpapi.RentalList{}},
		{client.MessageList{}, httpapi.MessageList{}},
		{client.StreamEvent{}, httpapi.StreamEvent{}},
		{client.AgentRequest{}, httpapi.AgentRequest{}},
		{client.EnrollResponse{}, httpapi.EnrollResponse{}},
		{client.AgentList{}, httpapi.AgentList{}},
		{client.NumberRequest{}, httpapi.NumberRequest{}},
		{client.NumberPatch{}, httpapi.NumberPatch{}},
		{client.ProviderNumberList{}, httpapi.ProviderNumberList{}},
		{client.Earnings{}, httpapi.Earnings{}},
	} {
		var ours, hubs []string
		jsonShape(reflect.TypeOf(c.ours), "", &ours)
		jsonShape(reflect.TypeOf(c.hubs), "", &hubs)
		sort.Strings(ours)
		sort.Strings(hubs)
		if strings.Join(ours, "\n") != strings.Join(hubs, "\n") {
			t.Errorf("%T differs from %T in JSON:\nclient:\n  %s\nhub:\n  %s", c.ours, c.hubs, strings.Join(ours, "\n  "), strings.Join(hubs, "\n  "))
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	type v struct {
		A string `json:"a"`
	}
	for _, c := range []struct {
		in, want string
	}{
		{`{"a":"x"}`, ""},
		{` {"a":"x"} ` + "\n", ""},
		{`{"a":"x","b":1}`, `unknown field "b"`},
		{`{"a":1}`, "cannot unmarshal number"},
		{`{"a":"x"}{"a":"y"}`, "data after the JSON value"},
		{`{"a":"x"} x`, "data after the JSON value"},
		{``, "EOF"},
	} {
		var got v
		err := client.DecodeStrict("doc", []byte(c.in), &got)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "doc: ")) {
			t.Errorf("DecodeStrict(%q): got %v, want %q", c.in, err, c.want)
		}
	}
}

// TestUnexpectedAnswers: what a client makes of answers that are not the hub's.
func TestUnexpectedAnswers(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"extra field", 200, `{"numbers":[],"surprise":1}`, `unknown field "surprise"`},
		{"proxy page", 502, `<html>bad gateway</html>`, `http_502 (HTTP 502)`},
		{"error shape", 429, `{"error":{"code":"rate_limited","message":"slow down"}}`, `hub says rate_limited (HTTP 429): slow down`},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			h, err := client.New(srv.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Numbers(context.Background(), client.NumberQuery{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Numbers: got %v, want %q", err, c.want)
			}
			var ae *client.APIError
			if c.status == 429 && (!errorsAs(err, &ae) || ae.RetryAfter != 3*time.Second) {
				t.Errorf("429: got %#v, want RetryAfter 3s", err)
			}
		})
	}
}

func errorsAs(err error, target **client.APIError) bool {
	e, ok := err.(*client.APIError)
	if ok {
		*target = e
	}
	return ok
}

func TestParseHubURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		good bool
	}{
		{"http://127.0.0.1:8080", true},
		{"https://hub.example.org", true},
		{"https://hub.example.org/", true},
		{"ftp://hub", false},
		{"hub.example.org", false},
		{"https://hub.example.org/v1", false},
		{"https://user@hub.example.org", false},
		{"https://hub.example.org?x=1", false},
	} {
		_, err := client.ParseHubURL(c.in)
		if (err == nil) != c.good {
			t.Errorf("ParseHubURL(%q): got %v, want good=%v", c.in, err, c.good)
		}
	}
}

func TestSessionFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	path, err := client.SessionFile()
	if err != nil || path != filepath.Join(dir, "ness", "session.json") {
		t.Fatalf("SessionFile: got %q, %v", path, err)
	}
	if s, err := client.LoadSession(path); s != nil || err != nil {
		t.Fatalf("LoadSession of a missing file: got %v, %v, want nil, nil", s, err)
	}
	want := client.Session{Hub: "http://127.0.0.1:1", Token: "ness_x", Expires: time.Unix(1e9, 0).UTC(), Key: "/k"}
	if err := client.SaveSession(path, want); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("session file mode: got %04o, want 0600", fi.Mode().Perm())
	}
	got, err := client.LoadSession(path)
	if err != nil || !reflect.DeepEqual(*got, want) {
		t.Fatalf("LoadSession: got %+v, %v, want %+v", got, err, want)
	}
	os.Chmod(path, 0o644)
	if _, err := client.LoadSession(path); err == nil || !strings.Contains(err.Error(), "lets others read the token") {
		t.Errorf("LoadSession of a 0644 file: got %v, want a refusal", err)
	}
}

// message is a valid message view of one SMS sealed to renter by a clienttest-style agent.
func message(t *testing.T, renter *wire.Identity) (client.MessageView, *hubtest.Agent) {
	t.Helper()
	h := hubtest.Start(t, hubtest.Options{})
	a := h.Enroll(t)
	l := &wire.Lease{Seq: 3, ICCID: clienttest.ICCID(1), Renter: renter.Public}
	m, signed := a.NewSMS(t, hubtest.SMS{ICCID: l.ICCID, Slot: 2, Lease: l, Text: "code 777"})
	cert, err := a.Cert.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return client.MessageView{ID: m.ID, Rental: "rnt_1", Agent: a.ID, Slot: 2, ICCID: l.ICCID, LeaseSeq: 3,
		Received: m.Received, Stored: time.Now(), Signed: base64.StdEncoding.EncodeToString(signed),
		Certificate: base64.StdEncoding.EncodeToString(cert)}, a
}

// TestOpen: the client believes nothing the hub says that the agent did not sign.
func TestOpen(t *testing.T) {
	renter, _ := wire.GenerateIdentity()
	other, _ := wire.GenerateIdentity()
	good, a := message(t, renter)
	now := time.Now()
	if o, err := client.Open(good, renter, a.Provider.Verify, now); err != nil || o.Plaintext.Text != "code 777" {
		t.Fatalf("Open of a good message: got %v, %v", o, err)
	}
	// A certificate for the same agent key signed by someone else.
	forged, _ := wire.NewAgentCert(a.Identity.Verify, other, "", now.Add(-time.Hour), now.Add(time.Hour))
	forgedJSON, _ := forged.MarshalJSON()
	expired, _ := wire.NewAgentCert(a.Identity.Verify, a.Provider, "", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	expiredJSON, _ := expired.MarshalJSON()
	signed, _ := base64.StdEncoding.DecodeString(good.Signed)
	var sj map[string]any
	json.Unmarshal(signed, &sj)
	sj["slot"] = 5 // re-routed by someone without the agent key
	tampered, _ := json.Marshal(sj)

	for _, c := range []struct {
		name     string
		mod      func(*client.MessageView)
		key      *wire.Identity
		provider wire.VerifyKey
		at       time.Time
		want     string
	}{
		{"other provider pinned", nil, renter, other.Verify, now, "not the expected"},
		{"other renter", nil, other, wire.VerifyKey{}, now, "not to this key"},
		{"hub lies about the id", func(v *client.MessageView) { v.ID = strings.Repeat("0", 64) }, renter, wire.VerifyKey{}, now, "the agent signed id"},
		{"hub lies about the slot", func(v *client.MessageView) { v.Slot = 7 }, renter, wire.VerifyKey{}, now, "signed slot 2"},
		{"hub lies about the SIM", func(v *client.MessageView) { v.ICCID = clienttest.ICCID(9) }, renter, wire.VerifyKey{}, now, "signed SIM"},
		{"hub lies about the lease", func(v *client.MessageView) { v.LeaseSeq = 4 }, renter, wire.VerifyKey{}, now, "signed lease #3"},
		{"hub lies about the time", func(v *client.MessageView) { v.Received = v.Received.Add(time.Second) }, renter, wire.VerifyKey{}, now, "signed"},
		{"forged certificate", func(v *client.MessageView) {
			v.Certificate = base64.StdEncoding.EncodeToString(forgedJSON)
		}, renter, a.Provider.Verify, now, "not the expected"},
		{"expired certificate", func(v *client.MessageView) { v.Certificate = base64.StdEncoding.EncodeToString(expiredJSON) }, renter, wire.VerifyKey{}, now, "message"},
		{"tampered signed bytes", func(v *client.MessageView) { v.Signed = base64.StdEncoding.EncodeToString(tampered) }, renter, wire.VerifyKey{}, now, "signature"},
		{"not base64", func(v *client.MessageView) { v.Signed = "%%%" }, renter, wire.VerifyKey{}, now, "signed"},
		{"garbage certificate", func(v *client.MessageView) { v.Certificate = base64.StdEncoding.EncodeToString([]byte("{}")) }, renter, wire.VerifyKey{}, now, "agent certificate"},
		{"certificate used after its end", nil, renter, wire.VerifyKey{}, now.Add(48 * time.Hour), "message"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := good
			if c.mod != nil {
				c.mod(&v)
			}
			o, err := client.Open(v, c.key, c.provider, c.at)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: got %v, %v, want an error containing %q", o, err, c.want)
			}
		})
	}
}

// TestAgainstHub: sign-in, enrolment upload, API errors and stream resume through the real API.
func TestAgainstHub(t *testing.T) {
	e := clienttest.Start(t)
	ctx := context.Background()
	prov, err := client.New(e.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := prov.SignIn(ctx, e.Agent.Provider)
	if err != nil || !tok.Account.Provider || tok.Account.Subject != "ed25519:"+e.Agent.Provider.Verify.String() {
		t.Fatalf("SignIn: got %+v, %v", tok, err)
	}
	if a, err := prov.WhoAmI(ctx); err != nil || a.Key != tok.Account.Key {
		t.Fatalf("WhoAmI: got %+v, %v", a, err)
	}
	// Enrol a second agent through the API.
	ag, _ := wire.GenerateIdentity()
	cert, _ := wire.NewAgentCert(ag.Verify, e.Agent.Provider, "", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	cj, _ := cert.MarshalJSON()
	res, err := prov.EnrollAgent(ctx, cj)
	if err != nil || res.Agent.ID != ag.AgentID() || res.MQTTUsername != ag.AgentID() || res.MQTTPassword == "" {
		t.Fatalf("EnrollAgent: got %+v, %v", res, err)
	}
	// A certificate signed by someone else is refused with the hub's reason.
	other, _ := wire.GenerateIdentity()
	bad, _ := wire.NewAgentCert(ag.Verify, other, "", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	bj, _ := bad.MarshalJSON()
	if _, err := prov.EnrollAgent(ctx, bj); !client.IsCode(err, "forbidden") {
		t.Errorf("EnrollAgent with another provider's certificate: got %v, want forbidden", err)
	}

	e.PublishStatus(t, clienttest.ICCID(1))
	if _, err := prov.BindNumber(ctx, client.NumberRequest{Number: "+4915550001", Agent: e.Agent.ID, ICCID: clienttest.ICCID(1),
		Country: "DE", Features: []string{"sms"}, Prices: client.Prices{Day: "0.5", Week: "3", Month: "10", SMS: "0"}}); err != nil {
		t.Fatal(err)
	}
	renter, _ := wire.GenerateIdentity()
	rc, _ := client.New(e.URL, "")
	if _, err := rc.SignIn(ctx, renter); err != nil {
		t.Fatal(err)
	}
	_, err = rc.Rent(ctx, "+4915550001", "yearly", renter.Public)
	var ae *client.APIError
	if !errorsAs(err, &ae) || ae.Status != 400 || ae.Code != "invalid_request" || ae.Field != "duration" {
		t.Fatalf("Rent yearly: got %#v, want a 400 invalid_request on duration", err)
	}
	r, err := rc.Rent(ctx, "+4915550001", "daily", renter.Public)
	if err != nil {
		t.Fatal(err)
	}
	l := e.Agent.WaitLease(t, clienttest.ICCID(1), r.LeaseSeq, 10*time.Second)
	for i := range 3 {
		e.SMS(t, 0, l, "+491700000000", "n"+string(rune('0'+i)))
	}
	// Store order (ingest runs several workers, so not necessarily publication order).
	var ids []string
	for deadline := time.Now().Add(10 * time.Second); len(ids) < 3 && time.Now().Before(deadline); {
		page, err := rc.Messages(ctx, client.MessageQuery{After: last(ids), Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("messages: got %d, want 3", len(ids))
	}
	// The stream replays after the given id, then goes live; a second stream resumes.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := rc.Stream(sctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range ids[1:] {
		v, err := s.Next(sctx)
		if err != nil || v.ID != want {
			t.Fatalf("stream after %s: got %s, %v, want %s", ids[0], v.ID, err, want)
		}
		if o, err := client.Open(v, renter, e.Agent.Provider.Verify, time.Now()); err != nil || o.Plaintext.Sender != "+491700000000" {
			t.Fatalf("open streamed %s: %v", v.ID, err)
		}
	}
	s.Close()
	// Tail resumes after the last message handed on when the connection drops (a proxy cuts it).
	px := newProxy(t, strings.TrimPrefix(e.URL, "http://"))
	tc, _ := client.New("http://"+px.addr, rc.Token)
	got := make(chan string, 16)
	var afters []string
	tctx, tcancel := context.WithCancel(ctx)
	tdone := make(chan error, 1)
	go func() {
		tdone <- tc.Tail(tctx, client.TailOptions{OnConnect: func(after string) { afters = append(afters, after) }},
			func(v client.MessageView) error { got <- v.ID; return nil })
	}()
	for _, want := range ids {
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("tail: got %s, want %s", id, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("tail: nothing after 10s, want %s", want)
		}
	}
	px.drop()
	id4 := e.SMS(t, 0, l, "+491700000000", "after the drop")
	select {
	case id := <-got:
		if id != id4 {
			t.Fatalf("tail after a dropped connection: got %s, want only the new %s", id, id4)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("tail: nothing 10s after the drop, want %s", id4)
	}
	tcancel()
	if err := <-tdone; err != nil {
		t.Errorf("Tail after cancel: got %v, want nil", err)
	}
	if len(afters) != 2 || afters[0] != "" || afters[1] != ids[2] {
		t.Errorf("tail connections resumed after %q, want [\"\" %s]", afters, ids[2])
	}
	select {
	case id := <-got:
		t.Errorf("tail handed on %s twice or extra", id)
	default:
	}

	bad2, _ := client.New(e.URL, "ness_not_a_token")
	if err := bad2.Tail(sctx, client.TailOptions{}, func(client.MessageView) error { return nil }); !client.IsCode(err, "unauthenticated") {
		t.Errorf("Tail with a bad token: got %v, want unauthenticated at once", err)
	}
}

// proxy forwards TCP to a target; drop cuts every connection so far.
type proxy struct {
	addr  string
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxy{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.drop)
	return p
}

func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func last(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1]
}
