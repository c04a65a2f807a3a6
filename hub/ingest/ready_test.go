package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/internal/testproc"
	"github.com/ness-network/ness-sms/wire"
)

// slowStore delays every store of a message, so SMS are in the hub's hands (received, not yet
// acknowledged) when the broker goes away.
type slowStore struct {
	hub.Store
	delay time.Duration
}

func (s slowStore) PutMessageReceipt(ctx context.Context, m hub.Message, r hub.Receipt) (bool, error) {
	time.Sleep(s.delay)
	return s.Store.PutMessageReceipt(ctx, m, r)
}

// TestReadyAfterCleanBrokerRestart: a private Mosquitto with persistence is stopped cleanly
// (SIGTERM) while SMS are in the hub's hands and queued for it, and started again on its port
// with the same persistence file; the agent is back first and publishes while the hub's
// session is still offline. Mosquitto 2.0 does not persist shared subscriptions
// (persist__subs_save writes only the plain ones), so the hub's restored session has none and
// the broker acknowledges those SMS and routes them to nobody (docs/TESTING.md Status 4). The
// hub, once subscribed again, sends every enrolled agent a ready message; an agent then
// publishes again what has no receipt (agent/pipeline TestHubReadyRepublishes), as the test's
// agent does here. Every SMS, before and after, must then be stored and receipted within
// seconds, once. NESS_READY_DOWN (default 3s), NESS_READY_AFTER (default 100),
// NESS_READY_DEBUG=1 (Mosquitto log_type all in the failure output).
func TestReadyAfterCleanBrokerRestart(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) { cleanRestart(t, shared) })
	}
}

func cleanRestart(t *testing.T, shared bool) {
	mq := hubtest.StartMosquittoWith(t, hubtest.MosquittoConfig{Debug: os.Getenv("NESS_READY_DEBUG") == "1"})
	dir := t.TempDir()
	s, err := sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var logs testproc.Buffer
	o := hubtest.Options{Store: slowStore{Store: s, delay: 30 * time.Millisecond}, BrokerURL: mq.URL,
		HubUser: mq.HubUser, HubPassword: mq.HubPassword, Workers: 2,
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if shared {
		o.Share = "g" + hubtest.UniqueID(t)
	}
	h := hubtest.Start(t, o)
	defer func() {
		if t.Failed() {
			t.Logf("hub log:\n%s", logs.Bytes())
		}
	}()
	a := h.Enroll(t)
	mq.Sync(t, h.Store)
	a.Connect(t, mq.URL)
	renter, _ := wire.GenerateIdentity()
	sim := iccid(t, 5)
	r := h.Rent(t, a, sim, "+491705555555", renter)
	l := a.WaitLease(t, sim, r.LeaseSeq, wait)

	payloads := map[string][]byte{}
	send := func(n int, tag string) {
		for i := range n {
			m, p := a.NewSMS(t, hubtest.SMS{ICCID: sim, Lease: l, Text: fmt.Sprintf("%s %d", tag, i)})
			payloads[m.ID] = p
			a.Client.Publish(wire.SMSTopic(a.ID), 1, false, p) // not waited for: the agent's session resends
		}
	}
	receipted := func() map[string]bool {
		out := map[string]bool{}
		for _, rc := range a.Receipts() {
			out[rc.MessageID] = true
		}
		return out
	}
	// Some SMS are in the hub's hands, some in flight at the broker, the rest queued when the
	// broker stops.
	send(60, "before")
	a.WaitReceipts(t, 5, wait)
	// The agent subscribed after the hub's first ready: it counts the ones from now on.
	readies := a.Readies()
	// The hub leaves first and comes back only after the agent has sent (below): in production
	// the agents, with their shorter backoff, are usually back first; here the order is certain.
	h.Client.Disconnect(250)
	mq.Stop(t)
	down := 3 * time.Second
	if d, err := time.ParseDuration(os.Getenv("NESS_READY_DOWN")); err == nil {
		down = d
	}
	time.Sleep(down)
	mq.Restart(t)
	// The agent is back first and sends while the hub is still away.
	waitFor(t, "agent reconnected", func() bool { return a.Client.IsConnectionOpen() })
	time.Sleep(500 * time.Millisecond) // its subscriptions (restored with its session) in place
	after := 100
	if n, err := strconv.Atoi(os.Getenv("NESS_READY_AFTER")); err == nil {
		after = n
	}
	send(after, "after")
	if tok := h.Client.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("hub reconnect: %v", tok.Error())
	}
	// Generous waits: the test's agent never publishes again on its own, so time cannot make an
	// SMS the broker dropped arrive without the hub's ready; a loaded CI machine is slow.
	a.WaitReadies(t, readies+1, time.Minute)
	// As ness-agent does on a ready: publish again everything without a receipt.
	rc := receipted()
	again := 0
	for id, p := range payloads {
		if !rc[id] {
			a.Client.Publish(wire.SMSTopic(a.ID), 1, false, p)
			again++
		}
	}
	t.Logf("at the hub's ready: %d of %d SMS without a receipt, published again", again, len(payloads))

	deadline := time.Now().Add(time.Minute)
	for {
		missing := 0
		for id := range payloads {
			if _, err := h.Store.GetMessage(ctx, id); err != nil {
				missing++
			}
		}
		rc := receipted()
		unreceipted := 0
		for id := range payloads {
			if !rc[id] {
				unreceipted++
			}
		}
		if missing == 0 && unreceipted == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the hub's ready: %d of %d SMS not stored, %d not receipted (hub metrics %+v)\nmosquitto:\n%s",
				missing, len(payloads), unreceipted, h.Metrics.Counts(), tail(mq.Output(), 60))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Each id is stored once by construction (the message id is the key); the SMS the hub had
	// in hand when it left were stored but their receipts failed (receipt_error), so the
	// stored/duplicate counters do not add up to len(payloads) here.
	if c := h.Metrics.Counts(); c.ReadySent < 1 {
		t.Errorf("hub sent %d readies, want ≥ 1 (one per enrolled agent at each subscribe); metrics %+v", c.ReadySent, c)
	}
}

// failingStore fails every store of a message and every agent lookup while down is set, as a
// database that is restarting does.
type failingStore struct {
	hub.Store
	down *atomic.Bool
}

var errDown = errors.New("database is restarting")

func (s failingStore) PutMessageReceipt(ctx context.Context, m hub.Message, r hub.Receipt) (bool, error) {
	if s.down.Load() {
		return false, errDown
	}
	return s.Store.PutMessageReceipt(ctx, m, r)
}

func (s failingStore) GetAgent(ctx context.Context, id string) (hub.Agent, error) {
	if s.down.Load() {
		return hub.Agent{}, errDown
	}
	return s.Store.GetAgent(ctx, id)
}

// TestReadyAfterStoreFailure: SMS dropped because the store failed are not lost (the agent
// keeps them until a receipt), and the hub does not leave them to the agent's republish
// timeout: once the store answers again, with no other SMS coming in, it tells that agent ready
// within seconds (and no agent whose SMS were fine).
func TestReadyAfterStoreFailure(t *testing.T) {
	s, err := sqlite.OpenDir(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var down atomic.Bool
	h := hubtest.Start(t, hubtest.Options{Store: failingStore{Store: s, down: &down}})
	a, other := h.Enroll(t), h.Enroll(t)
	a.Connect(t, h.URL)
	other.Connect(t, h.URL)
	renter, _ := wire.GenerateIdentity()
	sim := iccid(t, 11)
	l := a.WaitLease(t, sim, h.Rent(t, a, sim, "+491701111111", renter).LeaseSeq, wait)
	readies, otherReadies := a.Readies(), other.Readies()

	down.Store(true)
	m, p := a.NewSMS(t, hubtest.SMS{ICCID: sim, Lease: l, Text: "while the database restarts"})
	a.Publish(t, p)
	waitFor(t, "store_error drop", func() bool { return h.Metrics.Counts().Dropped["store_error"] >= 1 })
	time.Sleep(3 * time.Second) // several retry rounds while the store still fails: no ready yet
	if n := a.Readies(); n != readies {
		t.Fatalf("agent got %d ready messages while the store was down, want none", n-readies)
	}
	down.Store(false)
	start := time.Now()
	a.WaitReadies(t, readies+1, wait)
	t.Logf("ready %v after the store came back", time.Since(start).Round(time.Millisecond))
	a.Publish(t, p) // as ness-agent does on ready
	rs := a.WaitReceipts(t, 1, wait)
	if rs[0].MessageID != m.ID {
		t.Fatalf("receipt for %s, want %s", rs[0].MessageID, m.ID)
	}
	if _, err := h.Store.GetMessage(ctx, m.ID); err != nil {
		t.Fatalf("message not stored after the ready: %v", err)
	}
	time.Sleep(2500 * time.Millisecond) // a retry round: nothing more to tell anyone
	if n := a.Readies(); n != readies+1 {
		t.Errorf("agent got %d ready messages, want exactly 1", n-readies)
	}
	if n := other.Readies(); n != otherReadies {
		t.Errorf("an agent whose SMS were fine got %d ready messages, want none", n-otherReadies)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
