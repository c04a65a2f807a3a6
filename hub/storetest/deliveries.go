package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

// testMissingDeliveries: ListMissingDeliveries lists the (webhook, message) pairs a dispatcher
// still has to create, in message order, and stops listing a pair once its delivery exists.
func testMissingDeliveries(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "missing")
	mustNumber(t, s, a.ID, "+4917066666661", 21)
	mustNumber(t, s, a.ID, "+4917066666662", 22)
	ra := rental("r-alice", "+4917066666661", 21, "alice", 1, base, base.Add(time.Hour), hub.RentalActive)
	rb := rental("r-bob", "+4917066666662", 22, "bob", 1, base, base.Add(time.Hour), hub.RentalActive)
	for _, r := range []hub.Rental{ra, rb} {
		if err := s.PutRental(ctx, r); err != nil {
			t.Fatalf("PutRental(%s): %v", r.ID, err)
		}
	}
	hooks := []hub.Webhook{
		{ID: "w-all", Owner: ra.RenterSignKey, URL: "https://example.org/all", Secret: key("s1"), CreatedAt: base},
		{ID: "w-rental", Owner: ra.RenterSignKey, RentalID: "r-alice", URL: "https://example.org/r", Secret: key("s2"), CreatedAt: base},
		{ID: "w-other-rental", Owner: ra.RenterSignKey, RentalID: "r-bob", URL: "https://example.org/x", Secret: key("s3"), CreatedAt: base},
		{ID: "w-late", Owner: ra.RenterSignKey, URL: "https://example.org/late", Secret: key("s4"), CreatedAt: base.Add(10 * time.Second)},
	}
	for _, w := range hooks {
		if err := s.PutWebhook(ctx, w); err != nil {
			t.Fatalf("PutWebhook(%s): %v", w.ID, err)
		}
	}
	put := func(id, rentalID string, stored time.Time) int64 {
		t.Helper()
		m := message(id, a.ID, rentalID, key("seal:x"))
		m.StoredAt = stored
		if _, err := s.PutMessage(ctx, m); err != nil {
			t.Fatalf("PutMessage(%s): %v", id, err)
		}
		got, err := s.GetMessage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return got.Seq
	}
	s1 := put("m-1", "r-alice", base.Add(time.Second))
	put("m-bob", "r-bob", base.Add(time.Second)) // bob has no webhook; alice's w-other-rental is not his
	put("m-provider", "", base.Add(time.Second)) // sealed to the provider: nobody's
	put("m-deleted", "r-alice", base.Add(time.Second))
	if err := s.DeleteMessage(ctx, "m-deleted"); err != nil {
		t.Fatal(err)
	}
	s2 := put("m-2", "r-alice", base.Add(20*time.Second)) // after w-late was created

	str := func(ds []hub.MissingDelivery) string {
		var out []string
		for _, d := range ds {
			out = append(out, fmt.Sprintf("%s/%s", d.WebhookID, d.MessageID))
		}
		return fmt.Sprint(out)
	}
	got, upTo, err := s.ListMissingDeliveries(ctx, 0, 100)
	want := "[w-all/m-1 w-rental/m-1 w-all/m-2 w-late/m-2 w-rental/m-2]"
	if err != nil || str(got) != want || upTo != s2 {
		t.Fatalf("ListMissingDeliveries(0): got %s, up to %d, %v; want %s up to %d", str(got), upTo, err, want, s2)
	}
	if got[0].MessageSeq != s1 || got[4].MessageSeq != s2 {
		t.Errorf("MessageSeq: got %d and %d, want %d and %d", got[0].MessageSeq, got[4].MessageSeq, s1, s2)
	}
	if got, upTo, err := s.ListMissingDeliveries(ctx, s1, 2); err != nil || str(got) != "[w-all/m-2 w-late/m-2]" || upTo != s2-1 {
		t.Errorf("ListMissingDeliveries(after m-1, limit 2): got %s, up to %d, %v; want [w-all/m-2 w-late/m-2] up to %d (m-2 has a pair left)", str(got), upTo, err, s2-1)
	}
	if got, upTo, err := s.ListMissingDeliveries(ctx, s2, 100); err != nil || len(got) != 0 || upTo != s2 {
		t.Errorf("ListMissingDeliveries(after m-2): got %s, up to %d, %v; want none up to %d", str(got), upTo, err, s2)
	}
	for _, d := range []hub.Delivery{
		{WebhookID: "w-all", MessageID: "m-1", State: hub.DeliveryDelivered, NextAttempt: base, CreatedAt: base, UpdatedAt: base},
		{WebhookID: "w-rental", MessageID: "m-2", State: hub.DeliveryDead, NextAttempt: base, CreatedAt: base, UpdatedAt: base},
	} {
		if _, err := s.CreateDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if got, _, err := s.ListMissingDeliveries(ctx, 0, 100); err != nil || str(got) != "[w-rental/m-1 w-all/m-2 w-late/m-2]" {
		t.Errorf("ListMissingDeliveries after two deliveries: got %s, %v; want [w-rental/m-1 w-all/m-2 w-late/m-2]", str(got), err)
	}
}

// testPutMessageReceipt: message and receipt are stored together once; a redelivery writes
// neither, and a receipt for another message is refused before anything is written.
func testPutMessageReceipt(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "with-receipt")
	m := message("m-with-receipt", a.ID, "", key("seal:r"))
	r := hub.Receipt{MessageID: m.ID, Signed: []byte("first receipt"), CreatedAt: base}
	var inv *hub.InvalidError
	if _, err := s.PutMessageReceipt(ctx, m, hub.Receipt{MessageID: "other", Signed: []byte("x"), CreatedAt: base}); !errors.As(err, &inv) {
		t.Fatalf("PutMessageReceipt with another message's receipt: got %v, want an InvalidError", err)
	}
	if _, err := s.GetMessage(ctx, m.ID); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("message after a refused PutMessageReceipt: got %v, want hub.ErrNotFound", err)
	}
	for i, want := range []bool{true, false} {
		rr := r
		if i > 0 {
			rr.Signed = []byte("second receipt")
		}
		stored, err := s.PutMessageReceipt(ctx, m, rr)
		if err != nil || stored != want {
			t.Fatalf("PutMessageReceipt call %d: got %v, %v; want %v", i+1, stored, err, want)
		}
	}
	got, err := s.GetReceipt(ctx, m.ID)
	if err != nil || string(got.Signed) != "first receipt" || !got.CreatedAt.Equal(hub.StoreTime(base)) {
		t.Errorf("GetReceipt: got %q at %v, %v; want the first receipt at %v", got.Signed, got.CreatedAt, err, hub.StoreTime(base))
	}
	if gm, err := s.GetMessage(ctx, m.ID); err != nil || string(gm.Signed) != string(m.Signed) {
		t.Errorf("GetMessage: got %q, %v; want the stored message", gm.Signed, err)
	}
	// A message stored alone is not stored again with a receipt.
	alone := message("m-alone", a.ID, "", key("seal:r"))
	if _, err := s.PutMessage(ctx, alone); err != nil {
		t.Fatal(err)
	}
	if stored, err := s.PutMessageReceipt(ctx, alone, hub.Receipt{MessageID: alone.ID, Signed: []byte("late"), CreatedAt: base}); err != nil || stored {
		t.Errorf("PutMessageReceipt of a stored message: got %v, %v; want false, nil", stored, err)
	}
	if _, err := s.GetReceipt(ctx, alone.ID); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("GetReceipt after PutMessageReceipt of a stored message: got %v, want hub.ErrNotFound (nothing written)", err)
	}
}

// testClaimDelivery: ClaimDelivery takes a pending delivery for one attempt only when it is as
// the caller listed it, so of two hub instances that listed the same due delivery one attempts
// it, and a delivery another instance finished is never set pending again.
func testClaimDelivery(t *testing.T, s hub.Store) {
	w := hub.Webhook{ID: "wc", Owner: key("alice"), URL: "https://example.org/hook", Secret: key("s"), CreatedAt: base}
	if err := s.PutWebhook(ctx, w); err != nil {
		t.Fatalf("PutWebhook: %v", err)
	}
	listed := hub.Delivery{WebhookID: "wc", MessageID: "m1", State: hub.DeliveryPending,
		NextAttempt: base.Add(1234567 * time.Nanosecond), CreatedAt: base, UpdatedAt: base}
	if _, err := s.CreateDelivery(ctx, listed); err != nil {
		t.Fatalf("CreateDelivery: %v", err)
	}
	lease1, lease2 := base.Add(time.Minute), base.Add(2*time.Minute)
	for i, c := range []struct {
		prev, until time.Time
		want        bool
	}{
		{listed.NextAttempt, lease1, true},  // as listed (unrounded: the store rounds alike)
		{listed.NextAttempt, lease2, false}, // a second instance with the same listing
		{lease1, lease2, true},              // the holder renewing its lease
	} {
		got, err := s.ClaimDelivery(ctx, listed, c.prev, c.until)
		if err != nil || got != c.want {
			t.Errorf("ClaimDelivery call %d (prev %s): got %v, %v; want %v", i+1, c.prev.Format(time.RFC3339Nano), got, err, c.want)
		}
	}
	ds, err := s.ListDeliveries(ctx, hub.DeliveryQuery{WebhookID: "wc"})
	if err != nil || len(ds) != 1 || !ds[0].NextAttempt.Equal(hub.StoreTime(lease2)) {
		t.Fatalf("ListDeliveries after claims: got %+v, %v; want next attempt %s", ds, err, lease2)
	}
	done := ds[0]
	done.State, done.Attempts = hub.DeliveryDelivered, 1
	if err := s.UpdateDelivery(ctx, done); err != nil {
		t.Fatalf("UpdateDelivery: %v", err)
	}
	if got, err := s.ClaimDelivery(ctx, listed, lease2, base.Add(time.Hour)); err != nil || got {
		t.Errorf("ClaimDelivery of a delivered delivery: got %v, %v; want false", got, err)
	}
	unknown := listed
	unknown.MessageID = "nope"
	if got, err := s.ClaimDelivery(ctx, unknown, listed.NextAttempt, lease1); err != nil || got {
		t.Errorf("ClaimDelivery of an unknown delivery: got %v, %v; want false", got, err)
	}
}
