package storetest

import (
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

func testChallenges(t *testing.T, s hub.Store) {
	ch := key("challenge")
	if err := s.PutChallenge(ctx, ch, base.Add(time.Minute)); err != nil {
		t.Fatalf("PutChallenge: %v", err)
	}
	if err := s.UseChallenge(ctx, key("other"), base); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("UseChallenge(unknown): got %v, want hub.ErrNotFound", err)
	}
	// Ten concurrent uses: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UseChallenge(ctx, ch, base)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, hub.ErrNotFound):
				t.Errorf("UseChallenge: got %v, want nil or hub.ErrNotFound", err)
			}
		}()
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Errorf("concurrent UseChallenge: %d succeeded, want exactly 1", got)
	}
	exp := key("expiring")
	if err := s.PutChallenge(ctx, exp, base.Add(time.Minute)); err != nil {
		t.Fatalf("PutChallenge: %v", err)
	}
	if err := s.UseChallenge(ctx, exp, base.Add(time.Minute)); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("UseChallenge at expiry: got %v, want hub.ErrNotFound", err)
	}
}

func testRenterRentalsAndMessages(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "a")
	mustNumber(t, s, a.ID, "+4915100000001", 1)
	mustNumber(t, s, a.ID, "+4915100000002", 2)
	r1 := rental("r1", "+4915100000001", 1, "alice", 1, base, base.Add(time.Hour), hub.RentalActive)
	r2 := rental("r2", "+4915100000002", 2, "alice", 1, base, base.Add(time.Hour), hub.RentalActive)
	r2.CreatedAt = base.Add(time.Second)
	r3 := rental("r3", "+4915100000002", 2, "bob", 2, base, base.Add(time.Hour), hub.RentalActive)
	for _, r := range []hub.Rental{r3, r2, r1} {
		if err := s.PutRental(ctx, r); err != nil {
			t.Fatalf("PutRental(%s): %v", r.ID, err)
		}
	}
	got, err := s.ListRentals(ctx, key("sign:alice"))
	if err != nil {
		t.Fatalf("ListRentals: %v", err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if !reflect.DeepEqual(ids, []string{"r1", "r2"}) {
		t.Errorf("ListRentals(alice): got %v, want [r1 r2]", ids)
	}
	if got, err := s.ListRentals(ctx, key("sign:nobody")); err != nil || len(got) != 0 {
		t.Errorf("ListRentals(nobody): got %d rentals, %v; want none", len(got), err)
	}
	// Bob's rental uses Alice's seal key: listing by renter must still keep them apart.
	for _, m := range []hub.Message{
		message("m1", a.ID, "r1", key("seal:alice")),
		message("m2", a.ID, "r3", key("seal:alice")),
		message("m3", a.ID, "r2", key("seal:alice")),
		message("m4", a.ID, "", key("seal:alice")),
	} {
		if _, err := s.PutMessage(ctx, m); err != nil {
			t.Fatalf("PutMessage(%s): %v", m.ID, err)
		}
	}
	list := func(renter string) []string {
		t.Helper()
		ms, err := s.ListMessages(ctx, hub.MessageQuery{Renter: key("sign:" + renter)})
		if err != nil {
			t.Fatalf("ListMessages(renter %s): %v", renter, err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	if got := list("alice"); !reflect.DeepEqual(got, []string{"m1", "m3"}) {
		t.Errorf("ListMessages(Renter alice): got %v, want [m1 m3]", got)
	}
	if got := list("bob"); !reflect.DeepEqual(got, []string{"m2"}) {
		t.Errorf("ListMessages(Renter bob): got %v, want [m2]", got)
	}
	if err := s.DeleteMessage(ctx, "m1"); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if err := s.DeleteMessage(ctx, "nope"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("DeleteMessage(unknown): got %v, want hub.ErrNotFound", err)
	}
	if got := list("alice"); !reflect.DeepEqual(got, []string{"m3"}) {
		t.Errorf("ListMessages after delete: got %v, want [m3]", got)
	}
	m, err := s.GetMessage(ctx, "m1")
	if err != nil {
		t.Fatalf("GetMessage(deleted): %v", err)
	}
	if !m.Deleted || len(m.Signed) != 0 {
		t.Errorf("GetMessage(deleted): Deleted=%v, %d signed bytes; want true, 0", m.Deleted, len(m.Signed))
	}
	if stored, err := s.PutMessage(ctx, message("m1", a.ID, "r1", key("seal:alice"))); err != nil || stored {
		t.Errorf("PutMessage(deleted id again): stored=%v err=%v, want false, nil", stored, err)
	}
	if _, err := s.ListMessages(ctx, hub.MessageQuery{Renter: []byte("short")}); err == nil {
		t.Errorf("ListMessages(Renter of 5 bytes): got nil error, want an error")
	}
}

func testPayments(t *testing.T, s hub.Store) {
	p1 := hub.Payment{ID: "p1", RentalID: "r1", ProviderKey: key("prov"), PayerKey: key("alice"),
		Amount: 1_500_000, Method: "dev", CreatedAt: base}
	p2 := p1
	p2.ID, p2.Amount, p2.CreatedAt, p2.Ref = "p2", 250_000, base.Add(time.Second), "txid"
	p3 := p1
	p3.ID, p3.ProviderKey = "p3", key("other")
	for _, p := range []hub.Payment{p2, p1, p3} {
		if err := s.PutPayment(ctx, p); err != nil {
			t.Fatalf("PutPayment(%s): %v", p.ID, err)
		}
	}
	if err := s.PutPayment(ctx, p1); err == nil {
		t.Errorf("PutPayment twice: got nil error, want an error")
	}
	got, err := s.ListPayments(ctx, key("prov"))
	if err != nil {
		t.Fatalf("ListPayments: %v", err)
	}
	p1.CreatedAt, p2.CreatedAt = hub.StoreTime(p1.CreatedAt), hub.StoreTime(p2.CreatedAt)
	if want := []hub.Payment{p1, p2}; !reflect.DeepEqual(got, want) {
		t.Errorf("ListPayments: got %+v, want %+v", got, want)
	}
}

func testWebhooks(t *testing.T, s hub.Store) {
	w1 := hub.Webhook{ID: "w1", Owner: key("alice"), URL: "https://example.org/hook", Secret: key("s1"), CreatedAt: base}
	w2 := hub.Webhook{ID: "w2", Owner: key("alice"), RentalID: "r1", URL: "https://example.org/r1", Secret: key("s2"), CreatedAt: base.Add(time.Second)}
	w3 := hub.Webhook{ID: "w3", Owner: key("bob"), URL: "https://example.org/bob", Secret: key("s3"), CreatedAt: base}
	for _, w := range []hub.Webhook{w2, w1, w3} {
		if err := s.PutWebhook(ctx, w); err != nil {
			t.Fatalf("PutWebhook(%s): %v", w.ID, err)
		}
	}
	if err := s.PutWebhook(ctx, w1); err == nil {
		t.Errorf("PutWebhook twice: got nil error, want an error")
	}
	w1.CreatedAt, w2.CreatedAt = hub.StoreTime(w1.CreatedAt), hub.StoreTime(w2.CreatedAt)
	if got, err := s.ListWebhooks(ctx, key("alice")); err != nil || !reflect.DeepEqual(got, []hub.Webhook{w1, w2}) {
		t.Errorf("ListWebhooks(alice): got %+v, %v; want %+v", got, err, []hub.Webhook{w1, w2})
	}
	if got, err := s.GetWebhook(ctx, "w2"); err != nil || !reflect.DeepEqual(got, w2) {
		t.Errorf("GetWebhook: got %+v, %v; want %+v", got, err, w2)
	}
	if _, err := s.GetWebhook(ctx, "nope"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("GetWebhook(unknown): got %v, want hub.ErrNotFound", err)
	}

	d := hub.Delivery{WebhookID: "w1", MessageID: "m1", State: hub.DeliveryPending, NextAttempt: base, CreatedAt: base, UpdatedAt: base}
	for i, want := range []bool{true, false} {
		created, err := s.CreateDelivery(ctx, d)
		if err != nil || created != want {
			t.Errorf("CreateDelivery call %d: got created=%v err=%v, want %v", i+1, created, err, want)
		}
	}
	d2 := d
	d2.MessageID, d2.NextAttempt = "m2", base.Add(time.Hour)
	if _, err := s.CreateDelivery(ctx, d2); err != nil {
		t.Fatalf("CreateDelivery: %v", err)
	}
	due, err := s.ListDeliveries(ctx, hub.DeliveryQuery{State: hub.DeliveryPending, DueBy: base.Add(time.Minute)})
	if err != nil || len(due) != 1 || due[0].MessageID != "m1" {
		t.Errorf("ListDeliveries(due in a minute): got %+v, %v; want just m1", due, err)
	}
	d.State, d.Attempts, d.LastStatus, d.LastError, d.UpdatedAt = hub.DeliveryDead, 8, 500, "server error", base.Add(time.Minute)
	if err := s.UpdateDelivery(ctx, d); err != nil {
		t.Fatalf("UpdateDelivery: %v", err)
	}
	dead, err := s.ListDeliveries(ctx, hub.DeliveryQuery{WebhookID: "w1", State: hub.DeliveryDead})
	d.NextAttempt, d.CreatedAt, d.UpdatedAt = hub.StoreTime(d.NextAttempt), hub.StoreTime(d.CreatedAt), hub.StoreTime(d.UpdatedAt)
	if err != nil || !reflect.DeepEqual(dead, []hub.Delivery{d}) {
		t.Errorf("ListDeliveries(dead): got %+v, %v; want %+v", dead, err, []hub.Delivery{d})
	}
	missing := d
	missing.MessageID = "nope"
	if err := s.UpdateDelivery(ctx, missing); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("UpdateDelivery(unknown): got %v, want hub.ErrNotFound", err)
	}
	if err := s.DeleteWebhook(ctx, "w1"); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if err := s.DeleteWebhook(ctx, "w1"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("DeleteWebhook twice: got %v, want hub.ErrNotFound", err)
	}
	if got, err := s.ListDeliveries(ctx, hub.DeliveryQuery{WebhookID: "w1"}); err != nil || len(got) != 0 {
		t.Errorf("ListDeliveries after DeleteWebhook: got %d, %v; want none", len(got), err)
	}
}
