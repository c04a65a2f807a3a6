package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/notify"
	"github.com/ness-network/ness-sms/hub/postgres"
	"github.com/ness-network/ness-sms/hub/postgres/pgtest"
	"github.com/ness-network/ness-sms/wire"
)

// TestTwoHubsSharedSubscription: two hub instances on one PostgreSQL database and one broker,
// subscribed through one shared subscription group. Every SMS is sent twice (as an agent does
// when a receipt is late). Each message is stored exactly once, every copy is receipted, both
// instances take part, and both instances hear of every new message (LISTEN/NOTIFY), so either
// can deliver it live.
func TestTwoHubsSharedSubscription(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	key, _ := wire.GenerateIdentity()
	group := "g" + hubtest.UniqueID(t)

	var hubs [2]*hubtest.Hub
	var events [2]<-chan notify.Event
	for i := range hubs {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatalf("hub %d: open PostgreSQL: %v", i, err)
		}
		t.Cleanup(func() { s.Close() })
		n := notify.NewPostgres(s.Pool(), url, nil)
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case <-n.Ready():
		case <-time.After(wait):
			t.Fatalf("hub %d: notifier not listening after %v", i, wait)
		}
		ch, stop := n.Subscribe()
		t.Cleanup(stop)
		events[i] = ch
		o := hubtest.Options{Store: s, Key: key, Share: group, Notify: n}
		if i == 1 {
			o.BrokerURL, o.HubUser, o.HubPassword = hubs[0].URL, hubs[0].HubUser, hubs[0].HubPassword
		}
		hubs[i] = hubtest.Start(t, o)
	}
	a := hubs[0].Enroll(t)
	a.Connect(t, hubs[0].URL)
	renter, _ := wire.GenerateIdentity()
	sim := iccid(t, 7)
	r := hubs[0].Rent(t, a, sim, "+491707777777", renter)
	l := a.WaitLease(t, sim, r.LeaseSeq, wait)

	const n = 40
	ids := map[string]bool{}
	for i := range n {
		m, p := a.NewSMS(t, hubtest.SMS{ICCID: sim, Lease: l, Text: "m" + string(rune('a'+i%26))})
		ids[m.ID] = true
		a.Publish(t, p)
		a.Publish(t, p)
	}
	rs := a.WaitReceipts(t, 2*n, 60*time.Second)
	receipted := map[string]int{}
	for _, rc := range rs {
		receipted[rc.MessageID]++
	}
	for id := range ids {
		if receipted[id] != 2 {
			t.Errorf("message %s: got %d receipts, want 2", id, receipted[id])
		}
	}
	stored, err := hubs[1].Store.ListMessages(ctx, hub.MessageQuery{RentalID: r.ID, Limit: hub.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != n {
		t.Errorf("stored rows: got %d, want %d", len(stored), n)
	}
	// Counters move just after the receipt goes out: wait for the last ones.
	waitFor(t, "both hubs' counters to add up", func() bool {
		s, d := 0, 0
		for _, h := range hubs {
			c := h.Metrics.Counts()
			s, d = s+c.Stored, d+c.Duplicate
		}
		return s+d >= 2*n
	})
	var sumStored, sumDup int
	for i, h := range hubs {
		c := h.Metrics.Counts()
		t.Logf("hub %d: stored %d, duplicate %d", i, c.Stored, c.Duplicate)
		if c.Stored+c.Duplicate == 0 {
			t.Errorf("hub %d processed no message: the shared subscription did not split the work", i)
		}
		sumStored += c.Stored
		sumDup += c.Duplicate
	}
	if sumStored != n || sumDup != n {
		t.Errorf("across both hubs: got stored %d duplicate %d, want %d and %d", sumStored, sumDup, n, n)
	}
	for i, ch := range events {
		seen := map[string]bool{}
		deadline := time.After(wait)
		for len(seen) < n {
			select {
			case e := <-ch:
				if e.Resync {
					continue // the listener (re)connected: not a message
				}
				if !ids[e.MessageID] || e.RentalID != r.ID {
					t.Fatalf("hub %d: event for %s rental %s, want one of the sent ids and rental %s", i, e.MessageID, e.RentalID, r.ID)
				}
				seen[e.MessageID] = true
			case <-deadline:
				t.Fatalf("hub %d heard of %d new messages, want %d", i, len(seen), n)
			}
		}
	}
}
