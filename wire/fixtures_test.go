package wire

import (
	"testing"
	"time"
)

// seedIdentity returns the identity whose seed is b, b+1, …, b+31 (mod 256).
func seedIdentity(t testing.TB, b byte) *Identity {
	t.Helper()
	seed := make([]byte, KeySize)
	for i := range seed {
		seed[i] = b + byte(i)
	}
	id, err := IdentityFromSeed(seed)
	if err != nil {
		t.Fatalf("IdentityFromSeed: %v", err)
	}
	return id
}

type fixture struct {
	agent, provider, hub, renter *Identity
	now                          time.Time
	iccid                        string
	parts                        [][]byte
	pt                           *Plaintext
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	now := time.Date(2026, 5, 1, 12, 30, 15, 123_000_000, time.UTC)
	return &fixture{
		agent: seedIdentity(t, 0x40), provider: seedIdentity(t, 0x60), hub: seedIdentity(t, 0x80),
		renter: seedIdentity(t, 0xa0), now: now, iccid: "8944501234567890123",
		parts: [][]byte{{0x07, 0x91, 0x44, 0x77, 0x28, 0x00, 0x00, 0xf0, 0x04, 0x0b}, {0x07, 0x91, 0x44, 0x77, 0x01}},
		pt: &Plaintext{
			Version: 1, Sender: "+447700900123",
			Text:     "Your verification code is 482913. It expires in 10 minutes. Do not share this code with anyone, not even NESS staff. Ref: NESS-SMS benchmark text of 160 chars..",
			SMSCTime: time.Date(2026, 5, 1, 13, 30, 10, 0, time.FixedZone("", 3600)),
			Parts:    2, PartsExpected: 2, Encoding: EncodingGSM7,
		},
	}
}

func (f *fixture) sms(t testing.TB) *SMS {
	t.Helper()
	m, err := NewSMS(SMSInput{AgentID: f.agent.AgentID(), Slot: 3, ICCID: f.iccid, Parts: f.parts,
		Received: f.now, LeaseSeq: 7, Recipient: f.renter.Public, Plaintext: f.pt})
	if err != nil {
		t.Fatalf("NewSMS: %v", err)
	}
	if err := m.Sign(f.agent); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return m
}

func (f *fixture) cert(t testing.TB) *AgentCert {
	t.Helper()
	c, err := NewAgentCert(f.agent.Verify, f.provider, "worm:user:ness:alice", f.now.Add(-time.Hour), f.now.Add(365*24*time.Hour))
	if err != nil {
		t.Fatalf("NewAgentCert: %v", err)
	}
	return c
}

func (f *fixture) lease(t testing.TB) *Lease {
	t.Helper()
	l := &Lease{ICCID: f.iccid, AgentID: f.agent.AgentID(), Renter: f.renter.Public, Phone: "+447700900555",
		ValidFrom: f.now.Add(-time.Minute), ValidUntil: f.now.Add(30 * 24 * time.Hour), Seq: 7}
	if err := l.Sign(f.hub); err != nil {
		t.Fatalf("Lease.Sign: %v", err)
	}
	return l
}

func (f *fixture) receipt(t testing.TB, id string) *Receipt {
	t.Helper()
	r := &Receipt{MessageID: id, AgentID: f.agent.AgentID(), Received: f.now.Add(time.Second), Duplicate: true}
	if err := r.Sign(f.hub); err != nil {
		t.Fatalf("Receipt.Sign: %v", err)
	}
	return r
}

func (f *fixture) status(t testing.TB) *Status {
	t.Helper()
	s := &Status{AgentID: f.agent.AgentID(), Time: f.now, Online: true, Slots: []SlotStatus{
		{Slot: 0, State: SlotRegistered, Since: f.now.Add(-time.Hour), SignalDBm: -71, Registration: "home",
			Operator: "EE", ICCID: f.iccid, IMSIHash: IMSIHash("234150999999999"), LastSMS: f.now,
			Received: 12, Published: 11, Errors: 1, Resets: 0, OutboxDepth: 1},
		{Slot: 1, State: SlotNoSIM},
	}}
	if err := s.Sign(f.agent); err != nil {
		t.Fatalf("Status.Sign: %v", err)
	}
	return s
}
