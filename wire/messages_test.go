package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSMSRoundTrip(t *testing.T) {
	f := newFixture(t)
	m := f.sms(t)
	if got, want := m.ID, MessageID(f.agent.AgentID(), f.iccid, f.parts); got != want {
		t.Fatalf("ID: got %s, want %s", got, want)
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeSMS(data)
	if err != nil {
		t.Fatalf("DecodeSMS(%s): %v", data, err)
	}
	if !bytes.Equal(d.SignedBytes(), m.SignedBytes()) || !bytes.Equal(d.Sig, m.Sig) {
		t.Fatalf("decoded SMS differs:\n got %x\nwant %x", d.SignedBytes(), m.SignedBytes())
	}
	if err := d.Verify(f.agent.Verify); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := d.VerifyWithCert(f.cert(t), f.now); err != nil {
		t.Fatalf("VerifyWithCert: %v", err)
	}
	pt, err := d.Open(f.renter)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if pt.Text != f.pt.Text || pt.Sender != f.pt.Sender || !pt.SMSCTime.Equal(f.pt.SMSCTime) || pt.Parts != 2 {
		t.Fatalf("opened plaintext: got %+v, want %+v", pt, f.pt)
	}
	if _, off := pt.SMSCTime.Zone(); off != 3600 {
		t.Fatalf("SMSC time offset: got %d s, want 3600", off)
	}
	// Signed bytes round trip.
	v, err := VerifySignedSMS(m.SignedBytes(), m.Sig, f.agent.Verify)
	if err != nil || v.ID != m.ID || !bytes.Equal(v.Body, m.Body) {
		t.Fatalf("VerifySignedSMS: got %+v, %v", v, err)
	}
	// Wrong keys.
	if err := d.Verify(f.provider.Verify); err == nil {
		t.Fatal("Verify with another agent's key: got no error")
	}
	if _, err := d.Open(f.provider); err == nil {
		t.Fatal("Open with the wrong identity: got no error")
	}
	var u SMS
	if err := json.Unmarshal(data, &u); err != nil || u.ID != m.ID {
		t.Fatalf("json.Unmarshal into SMS: got %v, %v", u.ID, err)
	}
}

func TestSMSSignatureRejectsEveryBitFlip(t *testing.T) {
	f := newFixture(t)
	m := f.sms(t)
	signed := m.SignedBytes()
	for i := 0; i < len(signed)*8; i++ {
		bad := bytes.Clone(signed)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := VerifySignedSMS(bad, m.Sig, f.agent.Verify); err == nil {
			t.Fatalf("signed bytes with bit %d flipped: verified", i)
		}
	}
	for i := 0; i < len(m.Sig)*8; i++ {
		bad := bytes.Clone(m.Sig)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := VerifySignedSMS(signed, bad, f.agent.Verify); !errors.Is(err, ErrSignature) {
			t.Fatalf("signature with bit %d flipped: got %v, want ErrSignature", i, err)
		}
	}
	for n := 0; n < len(signed); n++ {
		if _, err := ParseSignedSMS(signed[:n]); err == nil {
			t.Fatalf("ParseSignedSMS of the first %d bytes: got no error", n)
		}
	}
	if _, err := ParseSignedSMS(append(bytes.Clone(signed), 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("ParseSignedSMS with a trailing byte: got %v, want a trailing-data error", err)
	}
}

// TestEveryFieldIsSigned changes each field of each message after signing and expects Verify
// to fail.
func TestEveryFieldIsSigned(t *testing.T) {
	f := newFixture(t)
	smsMut := map[string]func(*SMS){
		"id":        func(m *SMS) { m.ID = strings.Repeat("0", 64) },
		"agent":     func(m *SMS) { m.AgentID = f.provider.AgentID() },
		"slot":      func(m *SMS) { m.Slot++ },
		"iccid":     func(m *SMS) { m.ICCID += "1" },
		"received":  func(m *SMS) { m.Received = m.Received.Add(time.Millisecond) },
		"lease_seq": func(m *SMS) { m.LeaseSeq++ },
		"recipient": func(m *SMS) { m.Recipient = f.provider.Public },
		"body":      func(m *SMS) { m.Body[len(m.Body)-1] ^= 1 },
	}
	for name, mut := range smsMut {
		m := f.sms(t)
		mut(m)
		if err := m.Verify(f.agent.Verify); err == nil {
			t.Errorf("sms with %s changed after signing: verified", name)
		}
	}
	certMut := map[string]func(*AgentCert){
		"agent_key":       func(c *AgentCert) { c.AgentKey = f.hub.Verify; c.AgentID = f.hub.AgentID() },
		"provider_public": func(c *AgentCert) { c.ProviderPublic = f.renter.Public },
		"worm":            func(c *AgentCert) { c.WormName = "worm:user:ness:mallory" },
		"not_after":       func(c *AgentCert) { c.NotAfter = c.NotAfter.Add(time.Hour) },
		"not_before":      func(c *AgentCert) { c.NotBefore = c.NotBefore.Add(-time.Hour) },
	}
	for name, mut := range certMut {
		c := f.cert(t)
		mut(c)
		if err := c.Verify(f.now); err == nil {
			t.Errorf("cert with %s changed after signing: verified", name)
		}
	}
	hubs := []VerifyKey{f.hub.Verify}
	leaseMut := map[string]func(*Lease){
		"iccid":       func(l *Lease) { l.ICCID = "8944000000000000000" },
		"agent":       func(l *Lease) { l.AgentID = f.provider.AgentID() },
		"renter":      func(l *Lease) { l.Renter = f.provider.Public },
		"phone":       func(l *Lease) { l.Phone = "+447700900556" },
		"valid_from":  func(l *Lease) { l.ValidFrom = l.ValidFrom.Add(-time.Millisecond) },
		"valid_until": func(l *Lease) { l.ValidUntil = l.ValidUntil.Add(time.Millisecond) },
		"seq":         func(l *Lease) { l.Seq++ },
	}
	for name, mut := range leaseMut {
		l := f.lease(t)
		mut(l)
		if err := l.Verify(hubs, f.now); err == nil {
			t.Errorf("lease with %s changed after signing: verified", name)
		}
	}
	id := f.sms(t).ID
	rcMut := map[string]func(*Receipt){
		"id":        func(r *Receipt) { r.MessageID = strings.Repeat("1", 64) },
		"agent":     func(r *Receipt) { r.AgentID = f.provider.AgentID() },
		"received":  func(r *Receipt) { r.Received = r.Received.Add(time.Millisecond) },
		"duplicate": func(r *Receipt) { r.Duplicate = !r.Duplicate },
	}
	for name, mut := range rcMut {
		r := f.receipt(t, id)
		mut(r)
		if err := r.Verify(hubs); err == nil {
			t.Errorf("receipt with %s changed after signing: verified", name)
		}
	}
	stMut := map[string]func(*Status){
		"online":       func(s *Status) { s.Online = false },
		"time":         func(s *Status) { s.Time = s.Time.Add(time.Millisecond) },
		"slot state":   func(s *Status) { s.Slots[0].State = SlotError },
		"slot signal":  func(s *Status) { s.Slots[0].SignalDBm-- },
		"slot outbox":  func(s *Status) { s.Slots[0].OutboxDepth++ },
		"slot dropped": func(s *Status) { s.Slots = s.Slots[:1] },
		"operator":     func(s *Status) { s.Slots[0].Operator = "O2" },
		"resets":       func(s *Status) { s.Slots[1].Resets = 1 },
	}
	for name, mut := range stMut {
		s := f.status(t)
		mut(s)
		if err := s.Verify(f.agent.Verify); err == nil {
			t.Errorf("status with %s changed after signing: verified", name)
		}
	}
}

func TestMessagesJSONRoundTrip(t *testing.T) {
	f := newFixture(t)
	hubs := []VerifyKey{f.hub.Verify}
	c := f.cert(t)
	cj, _ := json.Marshal(c)
	dc, err := DecodeAgentCert(cj)
	if err != nil || dc.Verify(f.now) != nil || !bytes.Equal(dc.SignedBytes(), c.SignedBytes()) {
		t.Fatalf("cert round trip: %v / %v", err, dc.Verify(f.now))
	}
	l := f.lease(t)
	lj, _ := json.Marshal(l)
	dl, err := DecodeLease(lj)
	if err != nil || dl.Verify(hubs, f.now) != nil {
		t.Fatalf("lease round trip: %v", err)
	}
	r := f.receipt(t, f.sms(t).ID)
	rj, _ := json.Marshal(r)
	dr, err := DecodeReceipt(rj)
	if err != nil || dr.Verify(hubs) != nil || !dr.Duplicate {
		t.Fatalf("receipt round trip: %+v %v", dr, err)
	}
	s := f.status(t)
	sj, _ := json.Marshal(s)
	ds, err := DecodeStatus(sj)
	if err != nil || ds.Verify(f.agent.Verify) != nil || !bytes.Equal(ds.SignedBytes(), s.SignedBytes()) {
		t.Fatalf("status round trip: %v", err)
	}
	if ds.Slots[1].LastSMS != (time.Time{}) || ds.Slots[1].ICCID != "" {
		t.Fatalf("status slot 1: zero fields did not stay zero: %+v", ds.Slots[1])
	}
}

func TestValidityWindows(t *testing.T) {
	f := newFixture(t)
	c := f.cert(t)
	hubs := []VerifyKey{f.hub.Verify}
	l := f.lease(t)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"cert before not_before", c.Verify(c.NotBefore.Add(-time.Millisecond)), ErrNotYetValid},
		{"cert at not_before", c.Verify(c.NotBefore), nil},
		{"cert at not_after", c.Verify(c.NotAfter), ErrExpired},
		{"lease before valid_from", l.Verify(hubs, l.ValidFrom.Add(-time.Second)), ErrNotYetValid},
		{"lease at valid_until", l.Verify(hubs, l.ValidUntil), ErrExpired},
		{"lease inside", l.Verify(hubs, f.now), nil},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) || (c.want == nil && c.err != nil) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	if err := l.Verify([]VerifyKey{f.provider.Verify}, f.now); err == nil || !strings.Contains(err.Error(), "not pinned") {
		t.Errorf("lease with an unpinned hub key: got %v, want a not-pinned error", err)
	}
	if err := f.receipt(t, f.sms(t).ID).Verify(nil); err == nil {
		t.Error("receipt with no pinned hub keys: verified")
	}
	// A forged lease: signed by another key but claiming the pinned hub key.
	forged := f.lease(t)
	forged.Seq = 99
	forged.Sig = f.provider.SignBytes(forged.SignedBytes())
	if err := forged.Verify(hubs, f.now); !errors.Is(err, ErrSignature) {
		t.Errorf("forged lease: got %v, want ErrSignature", err)
	}
	// A certificate whose agent id does not match its key.
	bad := f.cert(t)
	bad.AgentID = f.hub.AgentID()
	bad.Sig = f.provider.SignBytes(bad.SignedBytes())
	if err := bad.Verify(f.now); err == nil || !strings.Contains(err.Error(), "does not match agent_key") {
		t.Errorf("cert with a mismatched agent id: got %v", err)
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	f := newFixture(t)
	good, _ := json.Marshal(f.sms(t))
	var base map[string]any
	json.Unmarshal(good, &base)
	edit := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range base {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"unknown version", edit("v", 2), "field v: unsupported version 2"},
		{"short recipient", edit("recipient", "AAAA"), "recipient"},
		{"bad base64 body", edit("body", "***"), "body"},
		{"short sig", edit("sig", "AAAA"), "sig"},
		{"missing sig", edit("sig", nil), "sig"},
		{"bad agent", edit("agent", "XYZ"), "agent"},
		{"bad id", edit("id", "abc"), "id"},
		{"bad iccid", edit("iccid", "89ab"), "iccid"},
		{"negative time", edit("received_ms", -1), "received_ms"},
		{"slot string", edit("slot", "3"), "slot"},
		{"unknown field", edit("extra", 1), `"extra"`},
		{"upper-case key", edit("ID", "x"), `"ID"`},
		{"trailing data", append(bytes.Clone(good), []byte(` {}`)...), "trailing data"},
		{"duplicate key", append([]byte(`{"v":1,"v":1,`), good[1:]...), "field v: appears twice"},
		{"oversized", bytes.Repeat([]byte(" "), MaxMessageJSON+1), "exceeds the limit"},
		{"empty", nil, "empty input"},
		{"array", []byte(`[1]`), "not a JSON object"},
		{"truncated", good[:len(good)/2], "unexpected"},
		{"deep nesting", []byte(`{"v":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`), "nested deeper"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeSMS(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("DecodeSMS(%.80q): got %v, want an error containing %q", c.in, err, c.want)
			}
		})
	}
}

func TestPlaintextValidation(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name string
		mut  func(*Plaintext)
		want string
	}{
		{"incomplete without flag", func(p *Plaintext) { p.Parts = 1 }, "incomplete flag"},
		{"flag without missing parts", func(p *Plaintext) { p.Flags |= FlagIncomplete }, "incomplete flag"},
		{"more parts than expected", func(p *Plaintext) { p.Parts = 3 }, "field parts"},
		{"unknown encoding", func(p *Plaintext) { p.Encoding = "utf8" }, "field encoding"},
		{"8bit with text", func(p *Plaintext) { p.Encoding = Encoding8Bit; p.Flags |= Flag8Bit }, "8bit message"},
		{"no sender", func(p *Plaintext) { p.Sender = "" }, "field sender"},
		{"no smsc time", func(p *Plaintext) { p.SMSCTime = time.Time{} }, "smsc_time"},
	}
	for _, c := range cases {
		p := *f.pt
		c.mut(&p)
		if _, err := p.Marshal(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	data, _ := f.pt.Marshal()
	for _, bad := range []struct{ in, want string }{
		{strings.Replace(string(data), `"flags":[]`, `"flags":["bogus"]`, 1), "unknown flag"},
		{strings.Replace(string(data), `"flags":[]`, `"flags":null`, 1), "flags"},
		{strings.Replace(string(data), `+01:00`, `+1`, 1), "smsc_time"},
	} {
		if _, err := DecodePlaintext([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("DecodePlaintext(%s): got %v, want %q", bad.in, err, bad.want)
		}
	}
	bin := Plaintext{Version: 1, Sender: "Bank", Data: []byte{0, 1, 2, 0xff}, SMSCTime: f.now, Parts: 1, PartsExpected: 1,
		Flags: Flag8Bit, Encoding: Encoding8Bit}
	b, err := bin.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePlaintext(b)
	if err != nil || !bytes.Equal(got.Data, bin.Data) || got.Flags != Flag8Bit {
		t.Fatalf("8-bit plaintext round trip: got %+v, %v", got, err)
	}
}

func TestMessageID(t *testing.T) {
	f := newFixture(t)
	a := f.agent.AgentID()
	id := MessageID(a, f.iccid, f.parts)
	if id != MessageID(a, f.iccid, [][]byte{bytes.Clone(f.parts[0]), bytes.Clone(f.parts[1])}) {
		t.Fatal("MessageID is not deterministic")
	}
	others := map[string]string{
		"other agent":   MessageID(f.hub.AgentID(), f.iccid, f.parts),
		"other iccid":   MessageID(a, "8944501234567890124", f.parts),
		"parts swapped": MessageID(a, f.iccid, [][]byte{f.parts[1], f.parts[0]}),
		"parts joined":  MessageID(a, f.iccid, [][]byte{append(bytes.Clone(f.parts[0]), f.parts[1]...)}),
	}
	for name, o := range others {
		if o == id {
			t.Errorf("%s: same id %s", name, id)
		}
	}
}

func TestSignIn(t *testing.T) {
	id := seedIdentity(t, 5)
	ch := bytes.Repeat([]byte{7}, 32)
	sig, err := SignIn(id, "https://hub.example", ch)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySignIn(id.Verify, "https://hub.example", ch, sig); err != nil {
		t.Fatalf("VerifySignIn: %v", err)
	}
	if err := VerifySignIn(id.Verify, "https://evil.example", ch, sig); !errors.Is(err, ErrSignature) {
		t.Fatalf("VerifySignIn at another origin: got %v, want ErrSignature", err)
	}
	if _, err := SignIn(id, "https://hub.example", ch[:8]); err == nil {
		t.Fatal("SignIn with an 8-byte challenge: got no error")
	}
	if !HasDomainPrefix(SignInBytes("o", ch)) {
		t.Fatal("sign-in bytes lack a domain prefix")
	}
}

func TestDomainPrefixes(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range DomainPrefixes() {
		if seen[p] || !strings.HasPrefix(p, DomainRoot) || !strings.HasSuffix(p, "\x00") {
			t.Errorf("prefix %q: duplicate, or not root-prefixed and NUL-terminated", p)
		}
		seen[p] = true
		if !HasDomainPrefix([]byte(p + "x")) {
			t.Errorf("HasDomainPrefix(%q+x) = false", p)
		}
	}
	if HasDomainPrefix([]byte("hello")) || HasDomainPrefix(nil) {
		t.Error("HasDomainPrefix of ordinary data = true")
	}
}

// TestSMSJSONRejectsEveryBitFlip flips every bit of the JSON transport form: each result must
// fail to decode or fail to verify (no flip yields another accepted encoding of a valid SMS).
func TestSMSJSONRejectsEveryBitFlip(t *testing.T) {
	f := newFixture(t)
	data, _ := json.Marshal(f.sms(t))
	for i := 0; i < len(data)*8; i++ {
		bad := bytes.Clone(data)
		bad[i/8] ^= 1 << (i % 8)
		m, err := DecodeSMS(bad)
		if err != nil {
			continue
		}
		if err := m.Verify(f.agent.Verify); err == nil {
			t.Fatalf("JSON with bit %d flipped (byte %d %q→%q) still verifies", i, i/8, data[i/8], bad[i/8])
		}
	}
}
