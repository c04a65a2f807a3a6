package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/modemsim"
	"github.com/ness-network/ness-sms/agent/slottest"
)

// timedSink records when each PDU arrived.
type timedSink struct {
	*slottest.Sink
	mu sync.Mutex
	at map[string]time.Time // PDU hex → first arrival
}

func newTimedSink() *timedSink {
	return &timedSink{Sink: slottest.NewSink(), at: map[string]time.Time{}}
}

func (s *timedSink) StorePart(ctx context.Context, p agent.ReceivedPart) error {
	s.mu.Lock()
	k := hex.EncodeToString(p.PDU)
	if _, ok := s.at[k]; !ok {
		s.at[k] = time.Now()
	}
	s.mu.Unlock()
	return s.Sink.StorePart(ctx, p)
}

func (s *timedSink) arrived(pdu []byte) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[hex.EncodeToString(pdu)]
	return t, ok
}

// simRig is ness-modemsim in process: n slots on real pseudo-terminals, the control API on
// 127.0.0.1:0, and the agent's supervisor over it exactly as main wires it (sim power driver,
// ports opened with go.bug.st/serial), with short intervals.
type simRig struct {
	sim  *modemsim.Simulator
	dir  string
	sink *timedSink
	sup  *agent.Supervisor
	mu   sync.Mutex
	acts []agent.Action
}

func startSim(t *testing.T, n int, serve bool) *simRig {
	t.Helper()
	sim, err := modemsim.New(modemsim.Config{Slots: n, BootDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := &simRig{sim: sim, dir: t.TempDir(), sink: newTimedSink()}
	if serve {
		ptys, err := sim.ServePTYs(r.dir)
		if err != nil {
			t.Fatalf("ServePTYs: %v", err)
		}
		t.Cleanup(func() { ptys.Close() })
	}
	ctl := httptest.NewServer(sim.Handler()) // listens on 127.0.0.1:0
	t.Cleanup(ctl.Close)

	cfg := agent.Config{Board: "sim", SimControl: ctl.URL, SimDir: r.dir, Slots: n,
		HealthInterval: 500 * time.Millisecond, SweepInterval: 2 * time.Second, CommandTimeout: 500 * time.Millisecond,
		BackoffMax: 10 * time.Second, ShutdownTimeout: 10 * time.Second, DataDir: t.TempDir(), LogLevel: "info"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	env := map[string]string{
		"NESS_AGENT_PWRKEY_ON_MS":  "400", // the simulated SIM7600 switches on from 300 ms
		"NESS_AGENT_PWRKEY_OFF_MS": "100", // too short to switch it off: a hung module loses its supply instead
		"NESS_AGENT_SHUTDOWN_WAIT": "100ms",
		"NESS_AGENT_OFF_TIME":      "100ms",
		"NESS_AGENT_BOOT_TIMEOUT":  "3s",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p, err := cfg.Profile(lookup, os.ReadFile)
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sup, closeBoard, err := supervise(p, &cfg, r.sink, serialOpener{}, log, func(a agent.Action) {
		r.mu.Lock()
		r.acts = append(r.acts, a)
		r.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("supervise: %v", err)
	}
	r.sup = sup
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sup.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("supervisor did not stop within 30 s")
		}
		closeBoard()
	})
	return r
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func (r *simRig) waitAll(t *testing.T, what string, timeout time.Duration, cond func(agent.SlotStatus) bool, slots ...int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		var bad agent.SlotStatus
		for _, st := range r.sup.Snapshot() {
			if (len(slots) == 0 || slices.Contains(slots, st.Slot)) && !cond(st) {
				ok, bad = false, st
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %v for %s: slot %d is %s (%s)", timeout, what, bad.Slot, bad.State, bad.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ready(st agent.SlotStatus) bool { return st.State == agent.StateReady }

// inject delivers one SMS to slot n and returns its PDU.
func (r *simRig) inject(t *testing.T, n int, text string) []byte {
	t.Helper()
	s, _ := r.sim.Slot(n)
	pdus, err := modemsim.EncodeDeliver("+15550123456", text, time.Now(), "+15550000000", 0)
	if err != nil || len(pdus) != 1 {
		t.Fatalf("EncodeDeliver: %v (%d parts)", err, len(pdus))
	}
	if _, err := s.InjectPDUs(pdus[0]); err != nil {
		t.Fatalf("slot %d: inject: %v", n, err)
	}
	return pdus[0]
}

func TestAcceptance32SlotsHangThreeOthersKeepReading(t *testing.T) {
	if testing.Short() {
		t.Skip("32 pseudo-terminals and a real simulator: not in -short")
	}
	const n = 32
	hung := []int{3, 17, 29}
	r := startSim(t, n, true)
	r.waitAll(t, "all 32 slots ready", 60*time.Second, ready)
	t.Logf("all %d slots ready", n)

	for _, h := range hung {
		s, _ := r.sim.Slot(h)
		if err := s.SetFault(modemsim.FaultHang); err != nil {
			t.Fatal(err)
		}
	}
	// While the three recover, keep sending SMS to the other 29 and time each one to the sink.
	type sent struct {
		slot int
		pdu  []byte
		at   time.Time
	}
	var msgs []sent
	recovered := func() bool {
		for _, st := range r.sup.Snapshot() {
			if slices.Contains(hung, st.Slot) && (st.State != agent.StateReady || st.PowerCycles == 0) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(60 * time.Second)
	for round := 0; round < 5 || !recovered(); round++ {
		if time.Now().After(deadline) {
			t.Fatalf("hung slots did not recover in 60 s: %+v", r.sup.Snapshot())
		}
		for slot := range n {
			if !slices.Contains(hung, slot) {
				msgs = append(msgs, sent{slot, r.inject(t, slot, fmt.Sprintf("slot %d round %d", slot, round)), time.Now()})
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Every message reached the sink, promptly, and left the SIM.
	var worst time.Duration
	wait := time.Now().Add(10 * time.Second)
	for _, m := range msgs {
		for {
			at, ok := r.sink.arrived(m.pdu)
			if ok {
				worst = max(worst, at.Sub(m.at))
				break
			}
			if time.Now().After(wait) {
				t.Fatalf("slot %d: SMS sent at %v never reached the sink", m.slot, m.at)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("%d SMS to the 29 healthy slots during recovery; slowest reached the sink in %v", len(msgs), worst)
	if worst > 2*time.Second {
		t.Errorf("slowest SMS on a healthy slot took %v to reach the sink, want < 2s (no pause while others recover)", worst)
	}
	for _, st := range r.sup.Snapshot() {
		isHung := slices.Contains(hung, st.Slot)
		switch {
		case isHung && st.PowerCycles != 1:
			t.Errorf("hung slot %d: got %d power cycles, want 1", st.Slot, st.PowerCycles)
		case !isHung && (st.PowerCycles != 0 || st.Resets != 0):
			t.Errorf("healthy slot %d: got %d power cycles and %d resets, want none", st.Slot, st.PowerCycles, st.Resets)
		}
		s, _ := r.sim.Slot(st.Slot)
		if ss := s.Status(); isHung && (ss.Fault != modemsim.FaultNone || ss.State != modemsim.StateOn) {
			t.Errorf("hung slot %d in the simulator: fault %q, state %q; want the power cycle to have cleared the hang", st.Slot, ss.Fault, ss.State)
		}
	}
	// The recovered slots read again, and no SIM keeps a message.
	for _, h := range hung {
		pdu := r.inject(t, h, fmt.Sprintf("slot %d after recovery", h))
		msgs = append(msgs, sent{h, pdu, time.Now()})
	}
	r.waitAll(t, "empty SIMs", 10*time.Second, func(st agent.SlotStatus) bool {
		s, _ := r.sim.Slot(st.Slot)
		return len(s.Status().Messages) == 0
	})
	for _, m := range msgs[len(msgs)-len(hung):] {
		if _, ok := r.sink.arrived(m.pdu); !ok {
			t.Errorf("slot %d: SMS after recovery not in the sink", m.slot)
		}
	}
	if got := len(r.sink.Parts()); got != len(msgs) {
		t.Errorf("sink holds %d parts, want %d (one per SMS)", got, len(msgs))
	}
}

func TestPortVanishesAndReturns(t *testing.T) {
	r := startSim(t, 1, false)
	slot, _ := r.sim.Slot(0)
	link := filepath.Join(r.dir, "slot0")
	serve := func() *modemsim.PTY {
		p, err := modemsim.OpenPTY(link)
		if err != nil {
			t.Fatalf("OpenPTY: %v", err)
		}
		go slot.Serve(p)
		return p
	}
	p := serve()
	r.waitAll(t, "ready", 20*time.Second, ready)

	p.Close() // the device disappears: link removed, terminal hung up
	r.waitAll(t, "off with the port missing", 20*time.Second, func(st agent.SlotStatus) bool { return st.State == agent.StateOff })
	p = serve() // it comes back (a new terminal behind the same link)
	defer p.Close()
	r.waitAll(t, "ready again", 20*time.Second, ready)
	if st := r.sup.Snapshot()[0]; st.Port != p.Name() {
		t.Errorf("port after return: got %q, want the new terminal %q", st.Port, p.Name())
	}
	r.mu.Lock()
	lost := slices.ContainsFunc(r.acts, func(a agent.Action) bool { return a.Kind == agent.ActionPortLost })
	r.mu.Unlock()
	if !lost {
		t.Errorf("no %s action: the supervisor never noticed the port go", agent.ActionPortLost)
	}
	pdu := r.inject(t, 0, "after the port came back")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := r.sink.arrived(pdu); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SMS after the port returned never reached the sink")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := r.sup.Snapshot()[0]; st.PowerCycles != 0 {
		t.Errorf("power cycles: got %d, want 0 (a lost port is reopened, not escalated)", st.PowerCycles)
	}
}
