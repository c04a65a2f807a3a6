package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/modemsim"
	"github.com/ness-network/ness-sms/agent/pdu"
)

// TestGarbageFaultLosesNoSMS: the simulator's garbage fault (random bytes interleaved with a
// module's output, as line noise) on one slot for a few seconds while SMS arrive on it and on a
// clean slot. Once the noise ends, every SMS reaches the sink exactly once with its text (decoded
// with agent/pdu), and nothing is handed over as junk: noise may delay an SMS, never delete it.
func TestGarbageFaultLosesNoSMS(t *testing.T) {
	if testing.Short() {
		t.Skip("pseudo-terminals and a real simulator: not in -short")
	}
	r := startSim(t, 2, true)
	r.sink.SetCheck(func(b []byte) error { _, err := pdu.Decode(b, true); return err })
	r.waitAll(t, "ready", 30*time.Second, ready)
	noisy, _ := r.sim.Slot(0)
	if err := noisy.SetFault(modemsim.FaultGarbage); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // PDU hex → text
	inject := func(n, i int) {
		text := fmt.Sprintf("slot %d message %d under noise", n, i)
		s, _ := r.sim.Slot(n)
		pdus, err := modemsim.EncodeDeliver("+15550123456", text, time.Now(), "+15550000000", 0)
		if err != nil || len(pdus) != 1 {
			t.Fatalf("EncodeDeliver: %v (%d parts)", err, len(pdus))
		}
		if _, err := s.InjectPDUs(pdus[0]); err != nil {
			if errors.Is(err, modemsim.ErrStorageFull) {
				return // the SIM filled while noise kept the agent from reading it: not sent
			}
			t.Fatalf("slot %d: inject: %v", n, err)
		}
		want[hex.EncodeToString(pdus[0])] = text
	}
	for i := range 40 {
		inject(0, i)
		if i%4 == 0 {
			inject(1, i)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := noisy.SetFault(modemsim.FaultNone); err != nil {
		t.Fatal(err)
	}
	inject(0, 99) // one after the noise

	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := 0
		for k := range want {
			b, _ := hex.DecodeString(k)
			if _, ok := r.sink.arrived(b); !ok {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d SMS never reached the sink after the noise ended", missing, len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a sweep or two more: nothing may come twice
	seen := map[string]int{}
	for _, p := range r.sink.Parts() {
		k := hex.EncodeToString(p.PDU)
		if p.Malformed != "" {
			t.Errorf("slot %d index %d handed over as junk: %q (%s)", p.Slot, p.Index, p.PDU, p.Malformed)
			continue
		}
		text, ok := want[k]
		if !ok {
			t.Errorf("slot %d index %d: a PDU nobody sent reached the sink: %s", p.Slot, p.Index, k)
			continue
		}
		seen[k]++
		m, err := pdu.Decode(p.PDU, true)
		if err != nil || m.Text != text {
			t.Errorf("slot %d index %d: decoded %v, %v; want text %q", p.Slot, p.Index, m, err, text)
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%q reached the sink %d times, want once", want[k], n)
		}
	}
	for _, st := range r.sup.Snapshot() {
		if st.DecodeErrors != 0 {
			t.Errorf("slot %d: %d decode errors, want 0", st.Slot, st.DecodeErrors)
		}
	}
	if st := r.sup.Snapshot()[0]; st.Errors == 0 {
		t.Logf("slot 0 counted no errors: the noise never hit a read")
	}
}
