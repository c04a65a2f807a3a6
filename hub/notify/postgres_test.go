package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/notify"
	"github.com/ness-network/ness-sms/hub/postgres/pgtest"
)

// TestPostgresResyncAfterRestart: notifications sent while the listener is down are lost, so
// after PostgreSQL restarts (a private cluster, stopped immediate) the listener, once it listens
// again, sends its subscribers a Resync event; then notifications flow again.
func TestPostgresResyncAfterRestart(t *testing.T) {
	pg := pgtest.StartCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, err := pgxpool.New(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	n := notify.NewPostgres(pool, pg.URL, nil)
	ch, stop := n.Subscribe()
	defer stop()
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	next := func(what string) notify.Event {
		t.Helper()
		select {
		case e := <-ch:
			return e
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no event after 15s", what)
			return notify.Event{}
		}
	}
	if e := next("first LISTEN"); !e.Resync {
		t.Fatalf("first event: got %+v, want a resync", e)
	}
	pg.Restart(t)
	if e := next("LISTEN after the restart"); !e.Resync {
		t.Fatalf("first event after the restart: got %+v, want a resync", e)
	}
	m := hub.Message{ID: "m1", RentalID: "r1", RecipientKey: make([]byte, 32), Seq: 7}
	deadline := time.Now().Add(15 * time.Second)
	for n.Publish(ctx, m) != nil { // the pool's connections died with the server
		if time.Now().After(deadline) {
			t.Fatal("publish after the restart: still failing after 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if e := next("notification after the restart"); e.Resync || e.MessageID != "m1" || e.Seq != 7 {
		t.Fatalf("after the restart: got %+v, want message m1", e)
	}
}

// TestFanoutResyncAfterOverflow: a subscriber that fell behind (its buffer full, events dropped)
// gets a Resync event before the next event that fits.
func TestFanoutResyncAfterOverflow(t *testing.T) {
	l := notify.NewLocal()
	ch, stop := l.Subscribe()
	defer stop()
	for i := range notify.SubscriberBuffer + 5 {
		l.Publish(context.Background(), hub.Message{ID: string(rune('a' + i%26))})
	}
	if l.Dropped() != 5 {
		t.Fatalf("dropped: got %d, want 5", l.Dropped())
	}
	for range notify.SubscriberBuffer {
		if e := <-ch; e.Resync {
			t.Fatal("resync before the buffer was drained")
		}
	}
	l.Publish(context.Background(), hub.Message{ID: "next"})
	if e := <-ch; !e.Resync {
		t.Fatalf("after an overflow: got %+v, want a resync first", e)
	}
	if e := <-ch; e.MessageID != "next" {
		t.Fatalf("after the resync: got %+v, want message next", e)
	}
}
