package ingest_test

import (
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/wire"
)

// TestResubscribeAfterBrokerRestart: a private Mosquitto without persistence is killed
// (SIGKILL) and started again on the same port, so it has forgotten every session and
// subscription and the hub's client reconnects with session_present=false. The hub must
// subscribe again on that connect: an SMS published afterwards (through the shared
// subscription) is stored and receipted, and a status (never shared) is applied.
func TestResubscribeAfterBrokerRestart(t *testing.T) {
	mq := hubtest.StartMosquittoWith(t, hubtest.MosquittoConfig{NoPersistence: true})
	h := hubtest.Start(t, hubtest.Options{BrokerURL: mq.URL, HubUser: mq.HubUser, HubPassword: mq.HubPassword,
		Share: "g" + hubtest.UniqueID(t)})
	a := h.Enroll(t)
	mq.Sync(t, h.Store)
	a.Connect(t, mq.URL)
	renter, _ := wire.GenerateIdentity()
	sim := iccid(t, 9)
	r := h.Rent(t, a, sim, "+491709999999", renter)
	l := a.WaitLease(t, sim, r.LeaseSeq, wait)
	m1, p1 := a.NewSMS(t, hubtest.SMS{ICCID: sim, Lease: l, Text: "before"})
	a.Publish(t, p1)
	if rs := a.WaitReceipts(t, 1, wait); rs[0].MessageID != m1.ID {
		t.Fatalf("receipt before the restart for %s, want %s", rs[0].MessageID, m1.ID)
	}

	mq.Kill(t)
	mq.Restart(t)
	waitFor(t, "hub and agent reconnected", func() bool {
		return h.Client.IsConnectionOpen() && a.Client.IsConnectionOpen()
	})

	// The agent sends the SMS again until the hub's receipt arrives, as ness-agent does; a hub
	// that did not subscribe again never sees it.
	m2, p2 := a.NewSMS(t, hubtest.SMS{ICCID: sim, Lease: l, Text: "after"})
	deadline := time.Now().Add(wait)
	for receipted := false; !receipted; {
		if time.Now().After(deadline) {
			t.Fatalf("SMS published after the broker restart: no receipt after %v (hub metrics %+v)", wait, h.Metrics.Counts())
		}
		a.Publish(t, p2)
		for range 50 {
			for _, rc := range a.Receipts() {
				receipted = receipted || rc.MessageID == m2.ID
			}
			if receipted {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	got, err := h.Store.GetMessage(ctx, m2.ID)
	if err != nil {
		t.Fatalf("SMS receipted after the restart is not stored: %v", err)
	}
	if got.RentalID != r.ID {
		t.Errorf("stored SMS rental: got %q, want %q", got.RentalID, r.ID)
	}

	// Statuses are a separate (non-shared) subscription: it must be back too.
	st := &wire.Status{Version: wire.Version, AgentID: a.ID, Time: time.Now().Truncate(time.Millisecond), Online: true,
		Slots: []wire.SlotStatus{{Slot: 0, State: wire.SlotRegistered, SignalDBm: -71, ICCID: sim}}}
	if err := st.Sign(a.Identity); err != nil {
		t.Fatal(err)
	}
	body, _ := st.MarshalJSON()
	a.PublishTo(t, wire.StatusTopic(a.ID), body)
	waitFor(t, "status after the broker restart applied", func() bool {
		sl, _ := h.Store.ListSlots(ctx, a.ID)
		return len(sl) == 1 && sl[0].ICCID == sim
	})
}
