package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/lease"
	"github.com/ness-network/ness-sms/hub/sqlite"
)

type downBroker struct{}

func (downBroker) Publish(context.Context, string, byte, bool, []byte) error {
	return errors.New("broker down")
}

// A rental recorded while the broker was down (or by a previous run whose embedded broker kept
// its retained leases in memory only) reaches its agent once ness-hub starts: run republishes
// every active lease at start.
func TestRunRepublishesActiveLeases(t *testing.T) {
	t.Setenv("NESS_HUB_EMC_RPC", "off")
	dir := t.TempDir()
	c := &Config{DataDir: dir, MQTTListen: freeAddr(t), HTTPAddr: freeAddr(t), LogLevel: "info", Workers: 1}
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	key, err := loadKey(c.Key, log)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	agent := hubtest.Enroll(t, store, key, time.Now())
	renter := hubtest.Enroll(t, store, key, time.Now()).Provider // any identity will do as renter
	const iccid, e164 = "89440000000000000077", "+4915100000077"
	if err := store.BindNumber(ctx, hub.Number{E164: e164, ICCID: iccid, AgentID: agent.ID, Country: "DE", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	is := &lease.Issuer{Store: store, Key: key, MQTT: downBroker{}}
	now := time.Now().Truncate(time.Millisecond)
	r, err := is.Begin(ctx, hub.Rental{ID: "rnt_restart", E164: e164, ICCID: iccid, RenterSealKey: renter.Public[:],
		RenterSignKey: renter.Verify[:], From: now.Add(-time.Minute), Until: now.Add(time.Hour)})
	if err == nil || r.LeaseSeq == 0 {
		t.Fatalf("Begin with the broker down: got seq %d, %v; want the rental recorded and a publish error", r.LeaseSeq, err)
	}
	store.Close()

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(rctx, c, log) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("run did not return 15s after cancel")
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + c.HTTPAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not ok after 15s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	agent.Connect(t, "tcp://"+c.MQTTListen)
	l := agent.WaitLease(t, iccid, r.LeaseSeq, 10*time.Second)
	if l.Seq != r.LeaseSeq || l.ICCID != iccid {
		t.Errorf("retained lease after start: got %s#%d, want %s#%d", l.ICCID, l.Seq, iccid, r.LeaseSeq)
	}
}
