package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/ingest"
	"github.com/ness-network/ness-sms/wire"
)

var ctx = context.Background()

const wait = 15 * time.Second

// iccid returns a unique-per-run valid ICCID.
func iccid(t *testing.T, n int) string {
	var v uint64
	fmt.Sscanf(hubtest.UniqueID(t)[:8], "%x", &v)
	return fmt.Sprintf("8949%010d%05d", v%1e10, n)
}

// e2e runs the user-visible flow against a hub whose agents connect to url: a rental's lease
// reaches the agent, an SMS sealed under it is stored once and receipted, a redelivery is
// receipted again (duplicate) and not stored again, an SMS without lease is stored for the
// provider, and the renter can open what the hub stored.
func e2e(t *testing.T, h *hubtest.Hub, a *hubtest.Agent) {
	t.Helper()
	renter, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	sim := iccid(t, 1)
	r := h.Rent(t, a, sim, "+491701234567", renter)
	l := a.WaitLease(t, sim, r.LeaseSeq, wait)
	if l.Renter != renter.Public || l.AgentID != a.ID || l.Phone != "+491701234567" {
		t.Fatalf("lease: got renter %s agent %s phone %s, want %s %s +491701234567", l.Renter, l.AgentID, l.Phone, renter.Public, a.ID)
	}

	m, payload := a.NewSMS(t, hubtest.SMS{ICCID: sim, Slot: 2, Lease: l, Text: "code 1234"})
	a.Publish(t, payload)
	rs := a.WaitReceipts(t, 1, wait)
	if rs[0].MessageID != m.ID || rs[0].Duplicate {
		t.Fatalf("first receipt: got id %s duplicate %v, want %s false", rs[0].MessageID, rs[0].Duplicate, m.ID)
	}
	a.Publish(t, payload) // the agent did not get the receipt in time and sends again
	rs = a.WaitReceipts(t, 2, wait)
	if rs[1].MessageID != m.ID || !rs[1].Duplicate || !rs[1].Received.Equal(rs[0].Received) {
		t.Fatalf("second receipt: got id %s duplicate %v received %v, want %s true %v", rs[1].MessageID, rs[1].Duplicate, rs[1].Received, m.ID, rs[0].Received)
	}
	got, err := h.Store.ListMessages(ctx, hub.MessageQuery{RentalID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("stored messages for rental %s after a redelivery: got %d, want 1", r.ID, len(got))
	}
	if got[0].ID != m.ID || got[0].LeaseSeq != l.Seq || got[0].Slot != 2 || got[0].ICCID != sim {
		t.Errorf("stored message: got id %s seq %d slot %d iccid %s, want %s %d 2 %s", got[0].ID, got[0].LeaseSeq, got[0].Slot, got[0].ICCID, m.ID, l.Seq, sim)
	}
	// The renter verifies and opens what the hub stored without trusting the hub.
	sm, err := wire.DecodeSMS(got[0].Signed)
	if err != nil {
		t.Fatalf("decode stored message: %v", err)
	}
	if err := sm.VerifyWithCert(a.Cert, time.Now()); err != nil {
		t.Fatalf("verify stored message: %v", err)
	}
	pt, err := sm.Open(renter)
	if err != nil || pt.Text != "code 1234" {
		t.Fatalf("open stored message: got %v, %v; want text %q", pt, err, "code 1234")
	}

	// No lease: sealed to the provider, stored with no rental.
	m2, p2 := a.NewSMS(t, hubtest.SMS{ICCID: iccid(t, 2), Slot: 0, Text: "no renter"})
	a.Publish(t, p2)
	rs = a.WaitReceipts(t, 3, wait)
	if rs[2].MessageID != m2.ID || rs[2].Duplicate {
		t.Fatalf("receipt for a provider-sealed SMS: got %s duplicate %v, want %s false", rs[2].MessageID, rs[2].Duplicate, m2.ID)
	}
	sm2, err := h.Store.GetMessage(ctx, m2.ID)
	if err != nil || sm2.RentalID != "" || sm2.LeaseSeq != 0 {
		t.Fatalf("provider-sealed message: got rental %q seq %d err %v, want no rental, seq 0", sm2.RentalID, sm2.LeaseSeq, err)
	}
	// HandleSMS counts a message after its receipt is sent, so the agent may hold the receipt
	// a moment before the counter moves.
	var c ingest.Counts
	waitFor(t, "counters stored 2 duplicate 1", func() bool {
		c = h.Metrics.Counts()
		return c.Stored >= 2 && c.Duplicate >= 1
	})
	if c.Stored != 2 || c.Duplicate != 1 || len(c.Dropped) != 0 {
		t.Errorf("counters: got stored %d duplicate %d dropped %v, want 2 1 none", c.Stored, c.Duplicate, c.Dropped)
	}
	if bad := a.BadMessages(); len(bad) != 0 {
		t.Errorf("agent got messages that do not verify: %v", bad)
	}
}

func TestEndToEndEmbedded(t *testing.T) {
	h := hubtest.Start(t, hubtest.Options{})
	a := h.Enroll(t)
	a.Connect(t, h.URL)
	e2e(t, h, a)
}

func TestEndToEndMosquitto(t *testing.T) {
	mq := hubtest.StartMosquitto(t)
	h := hubtest.Start(t, hubtest.Options{BrokerURL: mq.URL, HubUser: mq.HubUser, HubPassword: mq.HubPassword})
	a := h.Enroll(t)
	mq.Sync(t, h.Store)
	a.Connect(t, mq.URL)
	e2e(t, h, a)
}

// TestLeaseEnd: ending a rental publishes a higher-sequence lease that has ended; SMS sealed
// under the old lease before the end are still accepted, under a lease never issued are not.
func TestLeaseEnd(t *testing.T) {
	h := hubtest.Start(t, hubtest.Options{})
	a := h.Enroll(t)
	a.Connect(t, h.URL)
	renter, _ := wire.GenerateIdentity()
	sim := iccid(t, 3)
	r := h.Rent(t, a, sim, "+491709999999", renter)
	l1 := a.WaitLease(t, sim, r.LeaseSeq, wait)
	end := time.Now().Truncate(time.Millisecond)
	ended, err := h.Leases.End(ctx, r.ID, end)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	if ended.Status != hub.RentalEnded || ended.LeaseSeq <= l1.Seq {
		t.Fatalf("ended rental: got status %s seq %d, want ended and seq > %d", ended.Status, ended.LeaseSeq, l1.Seq)
	}
	l2 := a.WaitLease(t, sim, ended.LeaseSeq, wait)
	if !l2.ValidUntil.Equal(end) || l2.Active(end) || l2.Renter != renter.Public {
		t.Errorf("ended lease: got until %v active-at-end %v, want until %v, not active", l2.ValidUntil, l2.Active(end), end)
	}
	if _, err := h.Store.ActiveLease(ctx, sim, time.Now()); err == nil {
		t.Errorf("ActiveLease after End: got a lease, want none")
	}
	m, p := a.NewSMS(t, hubtest.SMS{ICCID: sim, Lease: l1, Received: end.Add(-time.Second)})
	a.Publish(t, p)
	if rs := a.WaitReceipts(t, 1, wait); rs[0].MessageID != m.ID {
		t.Fatalf("receipt for an SMS read before the end: got %s, want %s", rs[0].MessageID, m.ID)
	}
}

// hostile is one payload ingest must drop.
type hostile struct {
	name   string
	topic  string // "" = the agent's SMS topic
	via    string // "agent" (default) or "hub": who publishes (the hub credential may use any agent topic)
	body   []byte
	reason string
}

func TestHostilePayloads(t *testing.T) {
	h := hubtest.Start(t, hubtest.Options{})
	a := h.Enroll(t)
	a.Connect(t, h.URL)
	b := h.Enroll(t)
	renter, _ := wire.GenerateIdentity()
	other, _ := wire.GenerateIdentity()
	sim := iccid(t, 4)
	r := h.Rent(t, a, sim, "+491705555555", renter)
	l := a.WaitLease(t, sim, r.LeaseSeq, wait)

	good := func(s hubtest.SMS) (*wire.SMS, []byte) {
		if s.ICCID == "" {
			s.ICCID = sim
		}
		return a.NewSMS(t, s)
	}
	remarshal := func(m *wire.SMS) []byte {
		b, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Forged: the text changed after signing (a different body, same signature).
	forged, _ := good(hubtest.SMS{Lease: l, Text: "forged"})
	forged.Body[len(forged.Body)-1] ^= 1
	// Signature of agent a, claims lease a never got.
	noLease, _ := good(hubtest.SMS{Lease: &wire.Lease{Seq: 99, Renter: renter.Public}})
	wrongKey, _ := good(hubtest.SMS{Lease: &wire.Lease{Seq: l.Seq, Renter: other.Public}})
	// Sequence 0 must be sealed to the provider.
	notProvider, _ := good(hubtest.SMS{})
	notProvider.Recipient = other.Public
	if err := notProvider.Sign(a.Identity); err != nil {
		t.Fatal(err)
	}
	// From a not enrolled agent, on its own topic (through the hub credential).
	sid, _ := wire.GenerateIdentity()
	stranger := &hubtest.Agent{ID: sid.AgentID(), Identity: sid, Provider: other}
	strangerMsg, strangerPayload := stranger.NewSMS(t, hubtest.SMS{ICCID: sim})
	_ = strangerMsg
	// b is enrolled but a's message on b's topic is wrongly addressed.
	_, aPayload := good(hubtest.SMS{Lease: l, Text: "to b's topic"})
	// b signs a message claiming the id of one a already stored.
	storedMsg, storedPayload := good(hubtest.SMS{Lease: l, Text: "stored first"})
	a.Publish(t, storedPayload)
	a.WaitReceipts(t, 1, wait)
	conflict, _ := b.NewSMS(t, hubtest.SMS{ICCID: sim})
	conflict.ID = storedMsg.ID
	if err := conflict.Sign(b.Identity); err != nil {
		t.Fatal(err)
	}
	// An agent whose stored certificate expired.
	expired := h.Enroll(t)
	ea, err := h.Store.GetAgent(ctx, expired.ID)
	if err != nil {
		t.Fatal(err)
	}
	oldCert, err := wire.NewAgentCert(expired.Identity.Verify, expired.Provider, "", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ea.Certificate, _ = oldCert.MarshalJSON()
	if err := h.Store.UpsertAgent(ctx, ea); err != nil {
		t.Fatal(err)
	}
	_, expiredPayload := expired.NewSMS(t, hubtest.SMS{ICCID: sim})

	valid := remarshal(noLease)
	cases := []hostile{
		{name: "empty", body: []byte{}, reason: ingest.ReasonGarbled},
		{name: "not JSON", body: []byte("\x00\xff garbage"), reason: ingest.ReasonGarbled},
		{name: "truncated", body: valid[:len(valid)/2], reason: ingest.ReasonGarbled},
		{name: "unknown field", body: append(bytes.TrimSuffix(valid, []byte("}")), []byte(`,"x":1}`)...), reason: ingest.ReasonGarbled},
		{name: "two objects", body: append(append([]byte{}, valid...), valid...), reason: ingest.ReasonGarbled},
		{name: "deep nesting", body: []byte(strings.Repeat("[", 10000)), reason: ingest.ReasonGarbled},
		{name: "oversized", body: bytes.Repeat([]byte(" "), wire.MaxMessageJSON+1), reason: ingest.ReasonOversized},
		{name: "forged", body: remarshal(forged), reason: ingest.ReasonSignature},
		{name: "lease never issued", body: remarshal(noLease), reason: ingest.ReasonLease},
		{name: "sealed to another key than the lease's", body: remarshal(wrongKey), reason: ingest.ReasonLease},
		{name: "no lease, not sealed to the provider", body: remarshal(notProvider), reason: ingest.ReasonLease},
		{name: "unknown agent", via: "hub", topic: wire.SMSTopic(strangerMsg.AgentID), body: strangerPayload, reason: ingest.ReasonUnknownAgent},
		{name: "another agent's topic", via: "hub", topic: wire.SMSTopic(b.ID), body: aPayload, reason: ingest.ReasonWrongAgent},
		{name: "id of another agent's message", via: "hub", topic: wire.SMSTopic(b.ID), body: remarshal(conflict), reason: ingest.ReasonConflict},
		{name: "expired certificate", via: "hub", topic: wire.SMSTopic(expired.ID), body: expiredPayload, reason: ingest.ReasonCert},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.Metrics.Counts()
			topic := c.topic
			if topic == "" {
				topic = wire.SMSTopic(a.ID)
			}
			if c.via == "hub" {
				if tok := h.Client.Publish(topic, 1, false, c.body); !tok.WaitTimeout(wait) || tok.Error() != nil {
					t.Fatalf("publish: %v", tok.Error())
				}
			} else {
				a.PublishTo(t, topic, c.body)
			}
			deadline := time.Now().Add(wait)
			for {
				after := h.Metrics.Counts()
				if after.Dropped[c.reason] == before.Dropped[c.reason]+1 {
					if after.Stored != before.Stored || after.Duplicate != before.Duplicate {
						t.Errorf("stored %d→%d duplicate %d→%d, want unchanged", before.Stored, after.Stored, before.Duplicate, after.Duplicate)
					}
					after.Dropped[c.reason]--
					maps.DeleteFunc(after.Dropped, func(_ string, n int) bool { return n == 0 })
					if !maps.Equal(after.Dropped, before.Dropped) {
						t.Errorf("other drop counters moved: got %v, want %v", after.Dropped, before.Dropped)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("dropped[%s]: got %d, want %d (all drops: %v)", c.reason, after.Dropped[c.reason], before.Dropped[c.reason]+1, after.Dropped)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	// Ingest still works after all that, and answered nothing but real messages.
	m, p := good(hubtest.SMS{Lease: l, Text: "after the storm"})
	a.Publish(t, p)
	rs := a.WaitReceipts(t, 2, wait)
	if rs[1].MessageID != m.ID {
		t.Errorf("receipt after hostile payloads: got %s, want %s", rs[1].MessageID, m.ID)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(a.Receipts()); n != 2 {
		t.Errorf("receipts: got %d, want 2 (hostile payloads must get none)", n)
	}
}

// TestStatus: agent status updates slots; the last will marks the agent offline; a status
// signed by another key or published as another agent is dropped.
func TestStatus(t *testing.T) {
	h := hubtest.Start(t, hubtest.Options{})
	a := h.Enroll(t)
	a.Connect(t, h.URL)
	sim := iccid(t, 5)
	now := time.Now().Truncate(time.Millisecond)
	st := &wire.Status{Version: wire.Version, AgentID: a.ID, Time: now, Online: true, Slots: []wire.SlotStatus{
		{Slot: 0, State: wire.SlotRegistered, SignalDBm: -71, Registration: "home", Operator: "Telekom", ICCID: sim},
		{Slot: 1, State: wire.SlotNoSIM},
	}}
	if err := st.Sign(a.Identity); err != nil {
		t.Fatal(err)
	}
	body, _ := st.MarshalJSON()
	a.PublishTo(t, wire.StatusTopic(a.ID), body)
	waitFor(t, "two slots stored", func() bool {
		sl, _ := h.Store.ListSlots(ctx, a.ID)
		return len(sl) == 2
	})
	sl, _ := h.Store.ListSlots(ctx, a.ID)
	if sl[0].ICCID != sim || sl[0].State != wire.SlotRegistered || sl[0].Signal != 21 || sl[0].Operator != "Telekom" || sl[1].State != wire.SlotNoSIM {
		t.Errorf("slots: got %+v", sl)
	}
	if ag, _ := h.Store.GetAgent(ctx, a.ID); !ag.Online {
		t.Errorf("agent after an online status: got Online false, want true")
	}
	// An older status (replayed) does not overwrite the newer one.
	old := *st
	old.Time = now.Add(-time.Hour)
	old.Slots = []wire.SlotStatus{{Slot: 0, State: wire.SlotError}}
	if err := old.Sign(a.Identity); err != nil {
		t.Fatal(err)
	}
	ob, _ := old.MarshalJSON()
	before := h.Metrics.Counts()
	a.PublishTo(t, wire.SlotStatusTopic(a.ID, 0), ob)
	waitFor(t, "stale status dropped", func() bool {
		return h.Metrics.Counts().StatusDropped[ingest.ReasonStale] == before.StatusDropped[ingest.ReasonStale]+1
	})
	if sl, _ := h.Store.ListSlots(ctx, a.ID); sl[0].State != wire.SlotRegistered {
		t.Errorf("slot 0 after a replayed older status: got %s, want %s", sl[0].State, wire.SlotRegistered)
	}
	// Forged: signed by another key.
	fake, _ := wire.GenerateIdentity()
	forged := *st
	forged.Time = now.Add(time.Minute)
	forged.Sig = fake.SignBytes(forged.SignedBytes())
	fb, _ := forged.MarshalJSON()
	a.PublishTo(t, wire.StatusTopic(a.ID), fb)
	waitFor(t, "forged status dropped", func() bool {
		return h.Metrics.Counts().StatusDropped[ingest.ReasonSignature] == 1
	})
	// The last will: online false, no slots.
	will := &wire.Status{Version: wire.Version, AgentID: a.ID, Time: now.Add(-time.Minute), Online: false, Slots: []wire.SlotStatus{}}
	if err := will.Sign(a.Identity); err != nil {
		t.Fatal(err)
	}
	wb, _ := will.MarshalJSON()
	a.PublishTo(t, wire.StatusTopic(a.ID), wb)
	waitFor(t, "agent offline after the last will", func() bool {
		ag, _ := h.Store.GetAgent(ctx, a.ID)
		return !ag.Online
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
