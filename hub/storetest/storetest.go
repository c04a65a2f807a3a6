// Package storetest is the contract every hub.Store implementation passes: hub/sqlite and
// hub/postgres run the same Run from their tests, so the hub behaves the same on either database.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

// Run runs the contract suite. Empty byte fields read back as nil. open must return a new, empty store for each call and arrange for
// it to be closed (and any database dropped) with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) hub.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, hub.Store)
	}{
		{"Agents", testAgents},
		{"AgentNotFound", testAgentNotFound},
		{"InvalidRecords", testInvalidRecords},
		{"Slots", testSlots},
		{"Numbers", testNumbers},
		{"LeaseSeq", testLeaseSeq},
		{"LeaseSeqConcurrent", testLeaseSeqConcurrent},
		{"ActiveLease", testActiveLease},
		{"RentalExclusive", testRentalExclusive},
		{"ListActiveRentals", testListActiveRentals},
		{"IssuedLeases", testIssuedLeases},
		{"PutMessageOnce", testPutMessageOnce},
		{"PutMessageConcurrent", testPutMessageConcurrent},
		{"PutMessageReceipt", testPutMessageReceipt},
		{"ListMessagesCursor", testListMessagesCursor},
		{"ListMessagesConcurrentWriters", testListMessagesConcurrentWriters},
		{"MessageFlags", testMessageFlags},
		{"Receipts", testReceipts},
		{"ListReceipts", testListReceipts},
		{"Tokens", testTokens},
		{"Challenges", testChallenges},
		{"RenterRentalsAndMessages", testRenterRentalsAndMessages},
		{"Payments", testPayments},
		{"Webhooks", testWebhooks},
		{"MissingDeliveries", testMissingDeliveries},
		{"ClaimDelivery", testClaimDelivery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

// base is a fixed instant with a sub-microsecond part, so stores that keep more or less precision
// than promised are caught.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

func key(seed string) []byte {
	k := sha256.Sum256([]byte(seed))
	return k[:]
}

// AgentID returns a valid agent id derived from seed.
func AgentID(seed string) string { return fmt.Sprintf("%x", key("agent:" + seed)[:16]) }

// ICCID returns a valid 19-digit ICCID ending in n.
func ICCID(n int) string { return fmt.Sprintf("8944%015d", n) }

// Agent returns a valid agent record for seed.
func Agent(seed string) hub.Agent {
	return hub.Agent{
		ID:               AgentID(seed),
		PublicKey:        key("agent-pub:" + seed),
		ProviderKey:      key("provider:" + seed),
		Certificate:      []byte("certificate of " + seed),
		MQTTPasswordHash: "$7$101$c2FsdHNhbHRzYWx0$aGFzaA==",
		EnrolledAt:       base,
	}
}

func mustAgent(t *testing.T, s hub.Store, seed string) hub.Agent {
	t.Helper()
	a := Agent(seed)
	if err := s.UpsertAgent(ctx, a); err != nil {
		t.Fatalf("UpsertAgent(%s): %v", seed, err)
	}
	return a
}

func mustNumber(t *testing.T, s hub.Store, agentID, e164 string, iccid int) hub.Number {
	t.Helper()
	n := hub.Number{E164: e164, ICCID: ICCID(iccid), AgentID: agentID, Country: "DE",
		Features: []string{"sms"}, PricePerDay: 500_000, PricePerWeek: 3_000_000,
		PricePerMonth: 10_000_000, PricePerSMS: 10_000, UpdatedAt: base}
	if err := s.BindNumber(ctx, n); err != nil {
		t.Fatalf("BindNumber(%s): %v", e164, err)
	}
	return n
}

func rental(id, e164 string, iccid int, renter string, seq uint64, from, until time.Time, st hub.RentalStatus) hub.Rental {
	return hub.Rental{ID: id, E164: e164, ICCID: ICCID(iccid), RenterSealKey: key("seal:" + renter),
		RenterSignKey: key("sign:" + renter), From: from, Until: until, LeaseSeq: seq, Status: st,
		SignedLease: []byte("lease " + id), CreatedAt: base}
}

func message(id, agentID string, rentalID string, recipient []byte) hub.Message {
	return hub.Message{ID: id, AgentID: agentID, Slot: 3, ICCID: ICCID(1), RentalID: rentalID,
		LeaseSeq: 1, RecipientKey: recipient, ReceivedAt: base, StoredAt: base.Add(time.Second),
		Signed: []byte("signed bytes of " + id)}
}

// norm returns what a store must give back for v: times in UTC at microsecond precision.
func normAgent(a hub.Agent) hub.Agent {
	a.EnrolledAt, a.LastSeen = hub.StoreTime(a.EnrolledAt), hub.StoreTime(a.LastSeen)
	return a
}

func testAgents(t *testing.T, s hub.Store) {
	a := Agent("one")
	if err := s.UpsertAgent(ctx, a); err != nil {
		t.Fatalf("UpsertAgent: %v", err)
	}
	got, err := s.GetAgent(ctx, a.ID)
	if err != nil {
		t.Fatalf("GetAgent: %v", err)
	}
	if want := normAgent(a); !reflect.DeepEqual(got, want) {
		t.Errorf("GetAgent after insert:\ngot  %+v\nwant %+v", got, want)
	}

	a.Certificate = []byte("renewed certificate")
	a.MQTTPasswordHash = "$7$101$bmV3c2FsdA==$bmV3aGFzaA=="
	if err := s.UpsertAgent(ctx, a); err != nil {
		t.Fatalf("UpsertAgent (update): %v", err)
	}
	seen := base.Add(time.Hour)
	if err := s.SetAgentSeen(ctx, a.ID, true, seen); err != nil {
		t.Fatalf("SetAgentSeen: %v", err)
	}
	got, err = s.GetAgent(ctx, a.ID)
	if err != nil {
		t.Fatalf("GetAgent: %v", err)
	}
	a.Online, a.LastSeen = true, seen
	if want := normAgent(a); !reflect.DeepEqual(got, want) {
		t.Errorf("GetAgent after update:\ngot  %+v\nwant %+v", got, want)
	}

	mustAgent(t, s, "two")
	mustAgent(t, s, "three")
	list, err := s.ListAgents(ctx)
	if err != nil {
		t.Fatalf("ListAgents: %v", err)
	}
	var ids []string
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	want := []string{AgentID("one"), AgentID("two"), AgentID("three")}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("ListAgents ids: got %v, want %v", ids, want)
	}
}

func testAgentNotFound(t *testing.T, s hub.Store) {
	lookups := []struct {
		name string
		err  func() error
	}{
		{"GetAgent", func() error { _, err := s.GetAgent(ctx, AgentID("nobody")); return err }},
		{"SetAgentSeen", func() error { return s.SetAgentSeen(ctx, AgentID("nobody"), true, base) }},
		{"GetNumber", func() error { _, err := s.GetNumber(ctx, "+491700000000"); return err }},
		{"GetRental", func() error { _, err := s.GetRental(ctx, "no-such-rental"); return err }},
		{"ActiveLease", func() error { _, err := s.ActiveLease(ctx, ICCID(99), base); return err }},
		{"GetMessage", func() error { _, err := s.GetMessage(ctx, "no-such-message"); return err }},
		{"MarkDelivered", func() error { return s.MarkDelivered(ctx, "no-such-message") }},
		{"MarkAcked", func() error { return s.MarkAcked(ctx, "no-such-message") }},
		{"GetReceipt", func() error { _, err := s.GetReceipt(ctx, "no-such-message"); return err }},
		{"GetToken", func() error { _, err := s.GetToken(ctx, key("no token"), base); return err }},
	}
	for _, l := range lookups {
		if err := l.err(); !errors.Is(err, hub.ErrNotFound) {
			t.Errorf("%s of a missing record: got error %v, want hub.ErrNotFound", l.name, err)
		}
	}
}

func testInvalidRecords(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "valid")
	good := message("m-valid", a.ID, "", key("recipient"))
	cases := []struct {
		name  string
		field string
		err   func() error
	}{
		{"agent id not hex", "ID", func() error { x := Agent("x"); x.ID = "../../etc"; return s.UpsertAgent(ctx, x) }},
		{"agent short key", "PublicKey", func() error { x := Agent("x"); x.PublicKey = []byte{1}; return s.UpsertAgent(ctx, x) }},
		{"slot negative", "Slot", func() error { return s.UpsertSlotStatus(ctx, hub.Slot{AgentID: a.ID, Slot: -1}) }},
		{"number not E164", "E164", func() error {
			return s.BindNumber(ctx, hub.Number{E164: "0170123", ICCID: ICCID(1), AgentID: a.ID})
		}},
		{"number negative price", "Price", func() error {
			return s.BindNumber(ctx, hub.Number{E164: "+4917012345", ICCID: ICCID(1), AgentID: a.ID, PricePerSMS: -1})
		}},
		{"lease seq bad iccid", "ICCID", func() error { _, err := s.NextLeaseSeq(ctx, "abc"); return err }},
		{"rental until before from", "Until", func() error {
			return s.PutRental(ctx, rental("r", "+4917012345", 1, "x", 1, base, base, hub.RentalActive))
		}},
		{"rental unknown status", "Status", func() error {
			return s.PutRental(ctx, rental("r", "+4917012345", 1, "x", 1, base, base.Add(time.Hour), "borrowed"))
		}},
		{"message empty id", "ID", func() error { m := good; m.ID = ""; _, err := s.PutMessage(ctx, m); return err }},
		{"message short recipient", "RecipientKey", func() error {
			m := good
			m.RecipientKey = []byte("short")
			_, err := s.PutMessage(ctx, m)
			return err
		}},
		{"message no bytes", "Signed", func() error { m := good; m.Signed = nil; _, err := s.PutMessage(ctx, m); return err }},
		{"list without selector", "RecipientKey", func() error { _, err := s.ListMessages(ctx, hub.MessageQuery{}); return err }},
		{"list negative cursor", "After", func() error {
			_, err := s.ListMessages(ctx, hub.MessageQuery{RentalID: "r", After: -1})
			return err
		}},
		{"receipt empty", "Signed", func() error { return s.PutReceipt(ctx, hub.Receipt{MessageID: "m"}) }},
		{"token short hash", "Hash", func() error {
			return s.PutToken(ctx, hub.Token{Hash: []byte{1}, Subject: "s", ExpiresAt: base})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			var ie *hub.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("got error %v, want *hub.InvalidError", err)
			}
			if ie.Field != c.field {
				t.Errorf("InvalidError.Field: got %q, want %q", ie.Field, c.field)
			}
		})
	}
	if _, err := s.PutMessage(ctx, good); err != nil {
		t.Errorf("PutMessage of a valid message after the invalid ones: %v", err)
	}
}

func testSlots(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "slots")
	b := mustAgent(t, s, "other")
	for i, sl := range []hub.Slot{
		{AgentID: a.ID, Slot: 1, ICCID: ICCID(11), State: "ready", Signal: 17, Registration: "home", Operator: "Telekom", Status: []byte("st1"), UpdatedAt: base},
		{AgentID: a.ID, Slot: 0, State: "no-sim", Signal: 99, UpdatedAt: base},
		{AgentID: b.ID, Slot: 0, ICCID: ICCID(12), State: "ready", UpdatedAt: base},
	} {
		if err := s.UpsertSlotStatus(ctx, sl); err != nil {
			t.Fatalf("UpsertSlotStatus #%d: %v", i, err)
		}
	}
	upd := hub.Slot{AgentID: a.ID, Slot: 1, ICCID: ICCID(11), State: "resetting", Signal: 5,
		Registration: "searching", Operator: "", Status: []byte("st2"), UpdatedAt: base.Add(time.Minute)}
	if err := s.UpsertSlotStatus(ctx, upd); err != nil {
		t.Fatalf("UpsertSlotStatus (update): %v", err)
	}
	// An older status arriving late (out-of-order ingest) leaves the newer one in place.
	late := hub.Slot{AgentID: a.ID, Slot: 1, ICCID: ICCID(11), State: "ready", Signal: 17,
		Registration: "home", Status: []byte("late"), UpdatedAt: base.Add(30 * time.Second)}
	if err := s.UpsertSlotStatus(ctx, late); err != nil {
		t.Fatalf("UpsertSlotStatus (late, older): %v", err)
	}
	got, err := s.ListSlots(ctx, a.ID)
	if err != nil {
		t.Fatalf("ListSlots: %v", err)
	}
	want := []hub.Slot{
		{AgentID: a.ID, Slot: 0, State: "no-sim", Signal: 99, UpdatedAt: hub.StoreTime(base)},
		{AgentID: a.ID, Slot: 1, ICCID: ICCID(11), State: "resetting", Signal: 5, Registration: "searching",
			Status: []byte("st2"), UpdatedAt: hub.StoreTime(base.Add(time.Minute))},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListSlots(%s):\ngot  %+v\nwant %+v", a.ID, got, want)
	}
	all, err := s.ListSlots(ctx, "")
	if err != nil {
		t.Fatalf("ListSlots(all): %v", err)
	}
	if len(all) != 3 {
		t.Errorf("ListSlots(all): got %d slots, want 3", len(all))
	}
	if err := s.UpsertSlotStatus(ctx, hub.Slot{AgentID: AgentID("unenrolled"), Slot: 0}); err == nil {
		t.Errorf("UpsertSlotStatus for an unknown agent: got nil error, want a foreign key error")
	}
}

func testNumbers(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "numbers-a")
	b := mustAgent(t, s, "numbers-b")
	nums := []hub.Number{
		{E164: "+4917000000001", ICCID: ICCID(1), AgentID: a.ID, Country: "DE", Features: []string{"sms", "long-sms", "sms"}, PricePerDay: 1_000_000, UpdatedAt: base},
		{E164: "+4917000000002", ICCID: ICCID(2), AgentID: a.ID, Country: "DE", Features: []string{"sms"}, PricePerDay: 3_000_000, UpdatedAt: base},
		{E164: "+33600000003", ICCID: ICCID(3), AgentID: b.ID, Country: "FR", PricePerDay: 500_000, PricePerSMS: 1, UpdatedAt: base},
	}
	for _, n := range nums {
		if err := s.BindNumber(ctx, n); err != nil {
			t.Fatalf("BindNumber(%s): %v", n.E164, err)
		}
	}
	got, err := s.GetNumber(ctx, nums[0].E164)
	if err != nil {
		t.Fatalf("GetNumber: %v", err)
	}
	want := nums[0]
	want.Features = []string{"long-sms", "sms"}
	want.UpdatedAt = hub.StoreTime(want.UpdatedAt)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetNumber(%s):\ngot  %+v\nwant %+v", want.E164, got, want)
	}

	// Rebinding moves the number to another SIM and replaces its features.
	moved := nums[1]
	moved.ICCID, moved.Features, moved.PricePerDay = ICCID(22), []string{"voice"}, 2_000_000
	if err := s.BindNumber(ctx, moved); err != nil {
		t.Fatalf("BindNumber (rebind): %v", err)
	}
	got, err = s.GetNumber(ctx, moved.E164)
	if err != nil {
		t.Fatalf("GetNumber: %v", err)
	}
	if got.ICCID != ICCID(22) || !slices.Equal(got.Features, []string{"voice"}) || got.PricePerDay != 2_000_000 {
		t.Errorf("after rebind: got ICCID %s features %v price %s, want %s [voice] 2.000000",
			got.ICCID, got.Features, got.PricePerDay, ICCID(22))
	}

	filters := []struct {
		name string
		f    hub.NumberFilter
		want []string
	}{
		{"all", hub.NumberFilter{}, []string{"+33600000003", "+4917000000001", "+4917000000002"}},
		{"country DE", hub.NumberFilter{Country: "DE"}, []string{"+4917000000001", "+4917000000002"}},
		{"agent b", hub.NumberFilter{AgentID: b.ID}, []string{"+33600000003"}},
		{"feature sms", hub.NumberFilter{Feature: "sms"}, []string{"+4917000000001"}},
		{"feature voice", hub.NumberFilter{Feature: "voice"}, []string{"+4917000000002"}},
		{"max price 1 EMC", hub.NumberFilter{MaxPricePerDay: 1_000_000}, []string{"+33600000003", "+4917000000001"}},
		{"limit 2", hub.NumberFilter{Limit: 2}, []string{"+33600000003", "+4917000000001"}},
		{"DE and max price", hub.NumberFilter{Country: "DE", MaxPricePerDay: 2_500_000}, []string{"+4917000000001", "+4917000000002"}},
		{"no match", hub.NumberFilter{Country: "IT"}, nil},
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			list, err := s.ListNumbers(ctx, f.f)
			if err != nil {
				t.Fatalf("ListNumbers(%+v): %v", f.f, err)
			}
			var got []string
			for _, n := range list {
				got = append(got, n.E164)
			}
			if !slices.Equal(got, f.want) {
				t.Errorf("ListNumbers(%+v): got %v, want %v", f.f, got, f.want)
			}
		})
	}
}

func testLeaseSeq(t *testing.T, s hub.Store) {
	for i, c := range []struct {
		iccid int
		want  uint64
	}{{1, 1}, {1, 2}, {2, 1}, {1, 3}, {2, 2}} {
		got, err := s.NextLeaseSeq(ctx, ICCID(c.iccid))
		if err != nil {
			t.Fatalf("call %d: NextLeaseSeq(%s): %v", i, ICCID(c.iccid), err)
		}
		if got != c.want {
			t.Errorf("call %d: NextLeaseSeq(%s): got %d, want %d", i, ICCID(c.iccid), got, c.want)
		}
	}
}

func testLeaseSeqConcurrent(t *testing.T, s hub.Store) {
	const workers, each = 8, 25
	iccid := ICCID(7)
	var wg sync.WaitGroup
	results := make([][]uint64, workers)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				v, err := s.NextLeaseSeq(ctx, iccid)
				if err != nil {
					errs <- err
					return
				}
				results[w] = append(results[w], v)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("NextLeaseSeq under concurrency: %v", err)
	}
	var all []uint64
	for w, r := range results {
		for i := 1; i < len(r); i++ {
			if r[i] <= r[i-1] {
				t.Errorf("worker %d: got %d after %d, want strictly increasing", w, r[i], r[i-1])
			}
		}
		all = append(all, r...)
	}
	slices.Sort(all)
	for i, v := range all {
		if v != uint64(i+1) {
			t.Fatalf("all sequences sorted: at %d got %d, want %d (duplicates or gaps)", i, v, i+1)
		}
	}
}

func testActiveLease(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "lease")
	mustNumber(t, s, a.ID, "+4917011111111", 5)
	day := 24 * time.Hour
	rs := []hub.Rental{
		rental("r-old", "+4917011111111", 5, "alice", 1, base.Add(-10*day), base.Add(-5*day), hub.RentalEnded),
		rental("r-cur", "+4917011111111", 5, "bob", 2, base, base.Add(7*day), hub.RentalActive),
		rental("r-next", "+4917011111111", 5, "carol", 3, base.Add(7*day), base.Add(14*day), hub.RentalActive),
		rental("r-pending", "+4917011111111", 5, "dave", 4, base.Add(14*day), base.Add(21*day), hub.RentalPending),
	}
	for _, r := range rs {
		if err := s.PutRental(ctx, r); err != nil {
			t.Fatalf("PutRental(%s): %v", r.ID, err)
		}
	}
	got, err := s.GetRental(ctx, "r-cur")
	if err != nil {
		t.Fatalf("GetRental: %v", err)
	}
	want := rs[1]
	want.From, want.Until, want.CreatedAt = hub.StoreTime(want.From), hub.StoreTime(want.Until), hub.StoreTime(want.CreatedAt)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetRental(r-cur):\ngot  %+v\nwant %+v", got, want)
	}

	cases := []struct {
		name string
		at   time.Time
		want string // "" = none
	}{
		{"during ended rental", base.Add(-7 * day), ""},
		{"just before current", base.Add(-time.Microsecond), ""},
		{"at current From", base, "r-cur"},
		{"inside current", base.Add(3 * day), "r-cur"},
		{"at current Until is next", base.Add(7 * day), "r-next"},
		{"pending is no lease", base.Add(15 * day), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.ActiveLease(ctx, ICCID(5), c.at)
			switch {
			case c.want == "" && !errors.Is(err, hub.ErrNotFound):
				t.Errorf("ActiveLease at %v: got %q, %v; want hub.ErrNotFound", c.at, r.ID, err)
			case c.want != "" && err != nil:
				t.Errorf("ActiveLease at %v: %v; want %s", c.at, err, c.want)
			case c.want != "" && r.ID != c.want:
				t.Errorf("ActiveLease at %v: got %s, want %s", c.at, r.ID, c.want)
			}
		})
	}

	// Overlapping active rentals: the higher lease sequence wins; ending it brings back the other.
	over := rental("r-over", "+4917011111111", 5, "erin", 9, base.Add(day), base.Add(2*day), hub.RentalActive)
	if err := s.PutRental(ctx, over); err != nil {
		t.Fatalf("PutRental: %v", err)
	}
	if r, err := s.ActiveLease(ctx, ICCID(5), base.Add(36*time.Hour)); err != nil || r.ID != "r-over" {
		t.Errorf("ActiveLease with overlap: got %q, %v; want r-over", r.ID, err)
	}
	over.Status = hub.RentalEnded
	if err := s.PutRental(ctx, over); err != nil {
		t.Fatalf("PutRental (end): %v", err)
	}
	if r, err := s.ActiveLease(ctx, ICCID(5), base.Add(36*time.Hour)); err != nil || r.ID != "r-cur" {
		t.Errorf("ActiveLease after ending r-over: got %q, %v; want r-cur", r.ID, err)
	}
}

// testIssuedLeases: every issued lease is kept by (ICCID, Seq), the same pair cannot be issued
// twice, and an unknown pair is hub.ErrNotFound.
func testIssuedLeases(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "issued")
	mustNumber(t, s, a.ID, "+4917022222222", 6)
	r := rental("r-issued", "+4917022222222", 6, "frank", 1, base, base.Add(time.Hour), hub.RentalActive)
	if err := s.PutRental(ctx, r); err != nil {
		t.Fatalf("PutRental: %v", err)
	}
	leases := []hub.Lease{
		{ICCID: ICCID(6), Seq: 1, RentalID: r.ID, AgentID: a.ID, RenterSealKey: r.RenterSealKey,
			From: base, Until: base.Add(time.Hour), Signed: []byte("lease 1"), IssuedAt: base},
		// The same rental ended early: a higher sequence, Until moved to the end.
		{ICCID: ICCID(6), Seq: 2, RentalID: r.ID, AgentID: a.ID, RenterSealKey: r.RenterSealKey,
			From: base, Until: base.Add(time.Minute), Signed: []byte("lease 2"), IssuedAt: base.Add(time.Minute)},
	}
	for _, l := range leases {
		if err := s.PutLease(ctx, l); err != nil {
			t.Fatalf("PutLease(%s#%d): %v", l.ICCID, l.Seq, err)
		}
	}
	for _, want := range leases {
		got, err := s.GetLease(ctx, want.ICCID, want.Seq)
		if err != nil {
			t.Fatalf("GetLease(%s, %d): %v", want.ICCID, want.Seq, err)
		}
		want.From, want.Until, want.IssuedAt = hub.StoreTime(want.From), hub.StoreTime(want.Until), hub.StoreTime(want.IssuedAt)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GetLease(%s, %d):\ngot  %+v\nwant %+v", want.ICCID, want.Seq, got, want)
		}
	}
	if err := s.PutLease(ctx, leases[0]); err == nil {
		t.Errorf("PutLease of %s#1 a second time: got no error, want one", ICCID(6))
	}
	for _, c := range []struct {
		iccid string
		seq   uint64
	}{{ICCID(6), 3}, {ICCID(7), 1}, {ICCID(6), 0}, {ICCID(6), 1 << 63}} {
		if _, err := s.GetLease(ctx, c.iccid, c.seq); !errors.Is(err, hub.ErrNotFound) {
			t.Errorf("GetLease(%s, %d): got %v, want hub.ErrNotFound", c.iccid, c.seq, err)
		}
	}
	bad := leases[0]
	bad.Seq = 0
	var inv *hub.InvalidError
	if err := s.PutLease(ctx, bad); !errors.As(err, &inv) || inv.Field != "Seq" {
		t.Errorf("PutLease with Seq 0: got %v, want an InvalidError on Seq", err)
	}
}

func testPutMessageOnce(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "msg")
	m := message("m1", a.ID, "", key("recipient"))
	stored, err := s.PutMessage(ctx, m)
	if err != nil || !stored {
		t.Fatalf("first PutMessage: got stored=%v err=%v, want true, nil", stored, err)
	}
	again := m
	again.Signed = []byte("a different payload under the same id")
	again.Slot = 7
	stored, err = s.PutMessage(ctx, again)
	if err != nil || stored {
		t.Fatalf("second PutMessage: got stored=%v err=%v, want false, nil", stored, err)
	}
	got, err := s.GetMessage(ctx, "m1")
	if err != nil {
		t.Fatalf("GetMessage: %v", err)
	}
	want := m
	want.ReceivedAt, want.StoredAt, want.Seq = hub.StoreTime(m.ReceivedAt), hub.StoreTime(m.StoredAt), got.Seq
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetMessage after redelivery (the first must stay):\ngot  %+v\nwant %+v", got, want)
	}
	if got.Seq <= 0 {
		t.Errorf("Seq: got %d, want > 0", got.Seq)
	}

	// StoredAt is set by the store when the caller leaves it zero.
	before := time.Now().Add(-time.Second)
	m2 := message("m2", a.ID, "", key("recipient"))
	m2.StoredAt = time.Time{}
	if _, err := s.PutMessage(ctx, m2); err != nil {
		t.Fatalf("PutMessage(m2): %v", err)
	}
	got, err = s.GetMessage(ctx, "m2")
	if err != nil {
		t.Fatalf("GetMessage(m2): %v", err)
	}
	if got.StoredAt.Before(before) || got.StoredAt.After(time.Now().Add(time.Second)) {
		t.Errorf("StoredAt left zero: got %v, want about now", got.StoredAt)
	}

	// A message from an agent the hub does not know is refused by the database.
	if _, err := s.PutMessage(ctx, message("m3", AgentID("stranger"), "", key("recipient"))); err == nil {
		t.Errorf("PutMessage from an unknown agent: got nil error, want a foreign key error")
	}
}

func testPutMessageConcurrent(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "concurrent")
	for round := range 5 {
		id := fmt.Sprintf("dup-%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		storedCount := 0
		var errs []error
		start := make(chan struct{})
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				stored, err := s.PutMessage(ctx, message(id, a.ID, "", key("recipient")))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if stored {
					storedCount++
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("round %d: PutMessage from 8 goroutines: errors %v, want none", round, errs)
		}
		if storedCount != 1 {
			t.Errorf("round %d: PutMessage from 8 goroutines: got %d stored=true, want exactly 1", round, storedCount)
		}
	}
}

func testListMessagesCursor(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "list")
	mustNumber(t, s, a.ID, "+4917022222222", 1)
	r := rental("r-list", "+4917022222222", 1, "reader", 1, base, base.Add(time.Hour), hub.RentalActive)
	if err := s.PutRental(ctx, r); err != nil {
		t.Fatalf("PutRental: %v", err)
	}
	mine, theirs := r.RenterSealKey, key("someone else")
	var wantIDs []string
	for i := range 25 {
		id := fmt.Sprintf("list-%02d", i)
		m := message(id, a.ID, "r-list", mine)
		if i%5 == 4 {
			m = message(id, a.ID, "", theirs)
		} else {
			wantIDs = append(wantIDs, id)
		}
		if _, err := s.PutMessage(ctx, m); err != nil {
			t.Fatalf("PutMessage(%s): %v", id, err)
		}
	}
	for _, q := range []struct {
		name string
		q    hub.MessageQuery
	}{
		{"by recipient", hub.MessageQuery{RecipientKey: mine, Limit: 7}},
		{"by rental", hub.MessageQuery{RentalID: "r-list", Limit: 7}},
		{"by both", hub.MessageQuery{RecipientKey: mine, RentalID: "r-list", Limit: 7}},
	} {
		t.Run(q.name, func(t *testing.T) {
			var got []string
			pages := 0
			qq := q.q
			for {
				page, err := s.ListMessages(ctx, qq)
				if err != nil {
					t.Fatalf("ListMessages(after %d): %v", qq.After, err)
				}
				if len(page) > qq.Limit {
					t.Fatalf("page of %d, want at most %d", len(page), qq.Limit)
				}
				if len(page) == 0 {
					break
				}
				pages++
				for _, m := range page {
					if m.Seq <= qq.After {
						t.Fatalf("message %s has Seq %d, not after cursor %d", m.ID, m.Seq, qq.After)
					}
					if !bytes.Equal(m.RecipientKey, mine) {
						t.Fatalf("message %s is for another recipient", m.ID)
					}
					got = append(got, m.ID)
					qq.After = m.Seq
				}
			}
			if !slices.Equal(got, wantIDs) {
				t.Errorf("paged ids:\ngot  %v\nwant %v", got, wantIDs)
			}
			if pages != 3 {
				t.Errorf("pages of 7 over 20 messages: got %d, want 3", pages)
			}
		})
	}
	if got, err := s.ListMessages(ctx, hub.MessageQuery{RecipientKey: key("nobody")}); err != nil || len(got) != 0 {
		t.Errorf("ListMessages for an unknown recipient: got %d messages, err %v; want 0, nil", len(got), err)
	}
}

// testListMessagesConcurrentWriters checks the cursor promise a live reader depends on: once a
// reader has seen Seq n, no message with a smaller Seq appears later.
func testListMessagesConcurrentWriters(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "live")
	rcpt := key("live reader")
	const writers, each = 4, 30
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Half the writers store message and receipt together, as ingest does.
				m := message(fmt.Sprintf("live-%d-%d", w, i), a.ID, "", rcpt)
				var err error
				if w%2 == 1 {
					_, err = s.PutMessageReceipt(ctx, m, hub.Receipt{MessageID: m.ID, Signed: []byte("receipt of " + m.ID), CreatedAt: base})
				} else {
					_, err = s.PutMessage(ctx, m)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[string]bool{}
	var after int64
	finished := false
	for !finished {
		select {
		case <-done:
			finished = true // one more read after the writers are done
		default:
		}
		page, err := s.ListMessages(ctx, hub.MessageQuery{RecipientKey: rcpt, After: after, Limit: 50})
		if err != nil {
			t.Fatalf("ListMessages: %v", err)
		}
		for _, m := range page {
			if seen[m.ID] {
				t.Fatalf("message %s returned twice", m.ID)
			}
			seen[m.ID] = true
			after = m.Seq
		}
	}
	close(errs)
	for err := range errs {
		t.Fatalf("PutMessage: %v", err)
	}
	// Everything the reader missed while following the cursor is a message it will never see.
	if len(seen) != writers*each {
		t.Errorf("a reader following the cursor saw %d messages, want %d (a message committed behind the cursor)",
			len(seen), writers*each)
	}
}

func testMessageFlags(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "flags")
	if _, err := s.PutMessage(ctx, message("f1", a.ID, "", key("r"))); err != nil {
		t.Fatalf("PutMessage: %v", err)
	}
	for _, step := range []struct {
		name                string
		do                  func() error
		delivered, wantAckd bool
	}{
		{"stored", func() error { return nil }, false, false},
		{"delivered", func() error { return s.MarkDelivered(ctx, "f1") }, true, false},
		{"acked", func() error { return s.MarkAcked(ctx, "f1") }, true, true},
		{"delivered again", func() error { return s.MarkDelivered(ctx, "f1") }, true, true},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		m, err := s.GetMessage(ctx, "f1")
		if err != nil {
			t.Fatalf("%s: GetMessage: %v", step.name, err)
		}
		if m.Delivered != step.delivered || m.Acked != step.wantAckd {
			t.Errorf("%s: got delivered=%v acked=%v, want %v %v", step.name, m.Delivered, m.Acked, step.delivered, step.wantAckd)
		}
	}
}

func testReceipts(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "receipts")
	if _, err := s.PutMessage(ctx, message("rc1", a.ID, "", key("r"))); err != nil {
		t.Fatalf("PutMessage: %v", err)
	}
	first := hub.Receipt{MessageID: "rc1", Signed: []byte("receipt one"), CreatedAt: base}
	if err := s.PutReceipt(ctx, first); err != nil {
		t.Fatalf("PutReceipt: %v", err)
	}
	if err := s.PutReceipt(ctx, hub.Receipt{MessageID: "rc1", Signed: []byte("receipt two"), CreatedAt: base.Add(time.Hour)}); err != nil {
		t.Fatalf("PutReceipt again: got %v, want nil (ignored)", err)
	}
	got, err := s.GetReceipt(ctx, "rc1")
	if err != nil {
		t.Fatalf("GetReceipt: %v", err)
	}
	first.CreatedAt = hub.StoreTime(first.CreatedAt)
	if !reflect.DeepEqual(got, first) {
		t.Errorf("GetReceipt: got %+v, want the first %+v", got, first)
	}
	if err := s.PutReceipt(ctx, hub.Receipt{MessageID: "not-stored", Signed: []byte("x")}); err == nil {
		t.Errorf("PutReceipt for a message not stored: got nil error, want a foreign key error")
	}
}

func testTokens(t *testing.T, s hub.Store) {
	tok := hub.Token{Hash: key("token"), Subject: "renter-key", Scope: "renter", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatalf("PutToken: %v", err)
	}
	if err := s.PutToken(ctx, tok); err == nil {
		t.Errorf("PutToken with a hash already issued: got nil error, want an error")
	}
	got, err := s.GetToken(ctx, tok.Hash, base.Add(time.Minute))
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	tok.CreatedAt, tok.ExpiresAt = hub.StoreTime(tok.CreatedAt), hub.StoreTime(tok.ExpiresAt)
	if !reflect.DeepEqual(got, tok) {
		t.Errorf("GetToken: got %+v, want %+v", got, tok)
	}
	if _, err := s.GetToken(ctx, tok.Hash, base.Add(time.Hour)); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("GetToken at expiry: got %v, want hub.ErrNotFound", err)
	}
	if err := s.DeleteToken(ctx, tok.Hash); err != nil {
		t.Fatalf("DeleteToken: %v", err)
	}
	if _, err := s.GetToken(ctx, tok.Hash, base); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("GetToken after delete: got %v, want hub.ErrNotFound", err)
	}
}

// testListReceipts: receipts come back by hub-stored time in [from, until), ordered by time
// then message id, so a day's proof tree is the same on every read.
func testListReceipts(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "listreceipts")
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	at := map[string]time.Time{
		"lr-before": day.Add(-time.Microsecond),
		"lr-b":      day,
		"lr-a":      day, // same instant as lr-b: ordered by id
		"lr-c":      day.Add(12*time.Hour + 535*time.Nanosecond),
		"lr-last":   day.Add(24*time.Hour - time.Microsecond),
		"lr-next":   day.Add(24 * time.Hour),
	}
	for id, when := range at {
		if _, err := s.PutMessage(ctx, message(id, a.ID, "", key("lr"))); err != nil {
			t.Fatalf("PutMessage %s: %v", id, err)
		}
		if err := s.PutReceipt(ctx, hub.Receipt{MessageID: id, Signed: []byte("receipt " + id), CreatedAt: when}); err != nil {
			t.Fatalf("PutReceipt %s: %v", id, err)
		}
	}
	got, err := s.ListReceipts(ctx, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatalf("ListReceipts: %v", err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.MessageID)
		if string(r.Signed) != "receipt "+r.MessageID || !r.CreatedAt.Equal(hub.StoreTime(at[r.MessageID])) {
			t.Errorf("ListReceipts: %s came back as %q at %v", r.MessageID, r.Signed, r.CreatedAt)
		}
	}
	if want := []string{"lr-a", "lr-b", "lr-c", "lr-last"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ListReceipts(day): got %v, want %v", ids, want)
	}
	if got, err := s.ListReceipts(ctx, day.Add(48*time.Hour), day.Add(72*time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("ListReceipts(empty range): got %v, %v; want none", got, err)
	}
}
