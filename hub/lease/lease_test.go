package lease_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/lease"
	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/hub/storetest"
	"github.com/ness-network/ness-sms/wire"
)

// flaky is a broker that refuses publishes while down and keeps the retained payload per topic.
type flaky struct {
	mu       sync.Mutex
	down     bool
	retained map[string][]byte
}

func (f *flaky) Publish(_ context.Context, topic string, _ byte, retained bool, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("broker down")
	}
	if retained {
		f.retained[topic] = append([]byte(nil), payload...)
	}
	return nil
}

func (f *flaky) set(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

func (f *flaky) seq(t *testing.T, topic string) uint64 {
	t.Helper()
	f.mu.Lock()
	b := f.retained[topic]
	f.mu.Unlock()
	if b == nil {
		return 0
	}
	l, err := wire.DecodeLease(b)
	if err != nil {
		t.Fatalf("retained lease on %s: %v", topic, err)
	}
	return l.Seq
}

func setup(t *testing.T) (*lease.Issuer, *flaky, hub.Rental, string) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.OpenDir(ctx, filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key, _ := wire.GenerateIdentity()
	renter, _ := wire.GenerateIdentity()
	a := storetest.Agent("lease-retry")
	if err := s.UpsertAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	iccid := storetest.ICCID(42)
	if err := s.BindNumber(ctx, hub.Number{E164: "+4915100000042", ICCID: iccid, AgentID: a.ID, Country: "DE", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f := &flaky{retained: map[string][]byte{}}
	is := &lease.Issuer{Store: s, Key: key, MQTT: f, RetryEvery: 10 * time.Millisecond}
	now := time.Now().Truncate(time.Millisecond)
	r := hub.Rental{ID: "rnt_1", E164: "+4915100000042", ICCID: iccid, RenterSealKey: renter.Public[:],
		RenterSignKey: renter.Verify[:], From: now.Add(-time.Minute), Until: now.Add(time.Hour)}
	return is, f, r, wire.LeaseTopic(a.ID, iccid)
}

// A lease recorded while the broker is down is published by Run once the broker is back, and a
// newer lease of the same SIM is never overwritten by a retry of an older one.
func TestFailedLeaseIsRetried(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	is, f, r, topic := setup(t)
	f.set(true)
	r, err := is.Begin(ctx, r)
	if err == nil || r.LeaseSeq == 0 {
		t.Fatalf("Begin with the broker down: got seq %d, %v; want a recorded rental and an error", r.LeaseSeq, err)
	}
	if got := is.Pending(); got != 1 {
		t.Fatalf("Pending after a failed publish: got %d, want 1", got)
	}
	done := make(chan error, 1)
	go func() { done <- is.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // several retries, all refused
	if got := f.seq(t, topic); got != 0 {
		t.Fatalf("retained lease while the broker is down: got #%d, want none", got)
	}
	f.set(false)
	deadline := time.Now().Add(5 * time.Second)
	for f.seq(t, topic) != r.LeaseSeq || is.Pending() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the broker came back: retained #%d, pending %d; want #%d, 0", f.seq(t, topic), is.Pending(), r.LeaseSeq)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}

	// Down again: the ended lease fails, then a retry publishes the ended lease (the newest).
	f.set(true)
	ended, err := is.End(context.Background(), r.ID, time.Time{})
	if err == nil {
		t.Fatalf("End with the broker down: got no error")
	}
	f.set(false)
	if n := is.RetryPending(context.Background()); n != 1 {
		t.Errorf("RetryPending: published %d, want 1", n)
	}
	if got := f.seq(t, topic); got != ended.LeaseSeq {
		t.Errorf("retained lease after retrying the ended lease: got #%d, want #%d", got, ended.LeaseSeq)
	}
}

// RepublishActive publishes the newest lease of every active rental, and nothing for ended ones.
func TestRepublishActive(t *testing.T) {
	ctx := context.Background()
	is, f, r, topic := setup(t)
	r, err := is.Begin(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	r.Until = r.Until.Add(time.Hour)
	if r, err = is.Begin(ctx, r); err != nil { // extended: a newer lease
		t.Fatal(err)
	}
	f.retained = map[string][]byte{} // a restarted embedded broker has nothing retained
	n, err := is.RepublishActive(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RepublishActive: got %d, %v; want 1, nil", n, err)
	}
	if got := f.seq(t, topic); got != r.LeaseSeq {
		t.Errorf("retained lease after RepublishActive: got #%d, want #%d", got, r.LeaseSeq)
	}
	if _, err := is.End(ctx, r.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	f.retained = map[string][]byte{}
	if n, err := is.RepublishActive(ctx); err != nil || n != 0 {
		t.Errorf("RepublishActive after the rental ended: got %d, %v; want 0, nil", n, err)
	}
}

// Begin refuses a second active rental of a SIM (the database guard), before any lease is
// recorded or published.
func TestBeginRefusesSecondRental(t *testing.T) {
	ctx := context.Background()
	is, f, r, topic := setup(t)
	first, err := is.Begin(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	second := r
	second.ID = "rnt_2"
	if _, err := is.Begin(ctx, second); !errors.Is(err, hub.ErrConflict) {
		t.Fatalf("Begin of a second rental of the SIM: got %v, want hub.ErrConflict", err)
	}
	if got := f.seq(t, topic); got != first.LeaseSeq {
		t.Errorf("retained lease after the refused rental: got #%d, want #%d", got, first.LeaseSeq)
	}
}
