package agent_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/modem/modemtest"
	"github.com/ness-network/ness-sms/agent/power"
	"github.com/ness-network/ness-sms/agent/power/powertest"
	"github.com/ness-network/ness-sms/agent/slottest"
	"github.com/ness-network/ness-sms/board"
)

// A real SMS-DELIVER PDU (SMSC +31624000000, from +31641600986, "How are you?" in 7-bit).
const testPDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"

// hangPort is a scripted modem that can be made silent: while hung it swallows every command.
type hangPort struct {
	*modemtest.Fake
	hung atomic.Bool
}

func (p *hangPort) Write(b []byte) (int, error) {
	if p.hung.Load() {
		return len(b), nil
	}
	return p.Fake.Write(b)
}

// newModem returns a healthy generic modem with a ready SIM, registered at home, empty storage.
func newModem() *hangPort {
	f := modemtest.New()
	answers := map[string][]string{
		"AT":                     {"OK"},
		"ATE0":                   {"OK"},
		"AT+CMEE=1":              {"OK"},
		"AT+CPIN?":               {"+CPIN: READY", "OK"},
		"AT+CGMI":                {"FAKE", "OK"},
		"AT+CGMM":                {"FAKE-1", "OK"},
		"AT+CGMR":                {"R1", "OK"},
		"AT+CGSN":                {"490154203237518", "OK"},
		"AT+CCID":                {"+CCID: 89014103211118510720", "OK"},
		"AT+CIMI":                {"001010123456789", "OK"},
		"AT+CNUM":                {"OK"},
		"AT+CMGF=0":              {"OK"},
		"AT+CPMS=?":              {`+CPMS: ("SM"),("SM"),("SM")`, "OK"},
		`AT+CPMS="SM","SM","SM"`: {"+CPMS: 0,30,0,30,0,30", "OK"},
		"AT+CNMI=?":              {"+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)", "OK"},
		"AT+CNMI=2,1,0,2,0":      {"OK"},
		"AT+CREG=2":              {"OK"},
		"AT+CSQ":                 {"+CSQ: 20,99", "OK"},
		"AT+CREG?":               {"+CREG: 2,1", "OK"},
		"AT+COPS?":               {`+COPS: 0,0,"FakeNet"`, "OK"},
		"AT+CPMS?":               {`+CPMS: "SM",0,30,"SM",0,30,"SM",0,30`, "OK"},
		"AT+CMGL=4":              {"OK"},
		"AT+CFUN=1,1":            {"OK"},
	}
	for cmd, reply := range answers {
		f.Answer(cmd, reply...)
	}
	return &hangPort{Fake: f}
}

// onePort hands out the same fake every time.
type onePort struct{ p *hangPort }

func (o onePort) OpenPort(port string, baud int) (io.ReadWriteCloser, string, error) {
	return o.p, "/dev/fake0", nil
}

// unhangOpener clears the modem's hang when its supply is cut, as a real power cycle does.
type unhangOpener struct {
	power.Opener
	modem *hangPort
}

type unhangLine struct {
	power.Line
	modem *hangPort
}

func (u unhangOpener) Open(req power.Request) (power.Line, error) {
	l, err := u.Opener.Open(req)
	if err != nil || req.Role != board.RoleEnable || u.modem == nil {
		return l, err
	}
	return unhangLine{l, u.modem}, nil
}

func (l unhangLine) SetValue(v int) error {
	if v == 0 {
		l.modem.hung.Store(false)
	}
	return l.Line.SetValue(v)
}

// rig is one supervised slot on fakes.
type rig struct {
	t      *testing.T
	modem  *hangPort
	clock  *slottest.Clock
	sink   *slottest.Sink
	lines  *powertest.Opener
	sup    *agent.Supervisor
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	actions []agent.Action
}

// start runs a one-slot supervisor whose slot has a power key and an enable line. With
// powerFixesHang, cutting the supply clears a hang.
func start(t *testing.T, m *hangPort, powerFixesHang bool) *rig {
	t.Helper()
	r := &rig{t: t, modem: m, clock: slottest.NewClock(), sink: slottest.NewSink(), done: make(chan struct{})}
	pclk := powertest.NewClock()
	r.lines = powertest.NewOpener(pclk)
	var opener power.Opener = r.lines
	if powerFixesHang {
		opener = unhangOpener{r.lines, m}
	}
	timing, _ := board.FamilyTiming("sim7600")
	bs := board.Slot{Port: "/dev/fake0", Baud: 115200,
		PowerKey: &board.Line{Chip: "gpiochip0", Offset: 6},
		Enable:   &board.Line{Chip: "gpiochip0", Offset: 7}}
	ctrl, err := power.NewController(0, bs, timing, opener, pclk)
	if err != nil {
		t.Fatalf("NewController: %v", err)
	}
	r.sup, err = agent.NewSupervisor(agent.SupervisorConfig{
		Slots: []agent.SlotConfig{{Port: "/dev/fake0", Power: ctrl}},
		Ports: onePort{m},
		Sink:  r.sink,
		Clock: r.clock,
		Timing: agent.Timing{
			HealthInterval: time.Minute, SweepInterval: 5 * time.Minute,
			CommandTimeout: 100 * time.Millisecond, Settle: 5 * time.Millisecond,
			BootTimeout: 2 * time.Second, PingInterval: time.Second,
			BackoffBase: time.Minute, BackoffMax: 2 * time.Minute, ErrorLimit: 3,
			ShutdownTimeout: time.Second,
		},
		OnAction: func(a agent.Action) {
			r.mu.Lock()
			r.actions = append(r.actions, a)
			r.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("NewSupervisor: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.clock.AutoAdvance(ctx, 2*time.Millisecond)
	go func() {
		defer close(r.done)
		if err := r.sup.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.t.Errorf("Run did not return 10 s after cancel")
	}
}

func (r *rig) kinds() []agent.ActionKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []agent.ActionKind
	for _, a := range r.actions {
		out = append(out, a.Kind)
	}
	return out
}

// waitFor polls cond (real time) and fails the test with what after 20 s.
func (r *rig) waitFor(what string, cond func(st agent.SlotStatus) bool) agent.SlotStatus {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := r.sup.Snapshot()[0]
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for %s: last status %+v; actions %v", what, st, r.kinds())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func isState(s agent.State) func(agent.SlotStatus) bool {
	return func(st agent.SlotStatus) bool { return st.State == s }
}

func TestEscalationOrder(t *testing.T) {
	m := newModem()
	r := start(t, m, false)
	r.waitFor("ready", isState(agent.StateReady))
	readyAt := len(r.kinds())

	m.hung.Store(true) // silent, and power cycles do not help
	st := r.waitFor("blocked", isState(agent.StateBlocked))
	if !strings.Contains(st.Reason, "probing every 2m0s") {
		t.Errorf("blocked reason: got %q, want it to say it is probed every 2m0s", st.Reason)
	}
	// Still probed while blocked: wait for a probe after the block.
	deadline := time.Now().Add(20 * time.Second)
	for {
		k := r.kinds()
		if i := slices.Index(k, agent.ActionBlocked); i >= 0 && slices.Contains(k[i:], agent.ActionProbe) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no probe after blocked: %v", k)
		}
		time.Sleep(2 * time.Millisecond)
	}
	m.hung.Store(false) // the modem comes back on its own
	r.waitFor("ready again", isState(agent.StateReady))

	got := r.kinds()[readyAt:]
	want := []agent.ActionKind{agent.ActionReinit, agent.ActionCFUNReset, agent.ActionPowerCycle,
		agent.ActionBackoff, agent.ActionProbe, agent.ActionPowerCycle, agent.ActionBlocked, agent.ActionProbe}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("escalation: got %v, want it to start %v", got, want)
	}
	tail := got[len(want):]
	if len(tail) == 0 || tail[len(tail)-1] != agent.ActionReady {
		t.Fatalf("escalation: got %v, want it to end in ready", got)
	}
	for _, k := range tail[:len(tail)-1] {
		if k != agent.ActionProbe && k != agent.ActionPowerCycle {
			t.Errorf("after blocked: got action %s in %v, want only probes and their power cycles", k, tail)
		}
	}
	st = r.sup.Snapshot()[0]
	if st.PowerCycles < 2 || st.Resets != 2 {
		t.Errorf("counters: got %d power cycles, %d resets; want >= 2 power cycles and 2 resets (reinit, CFUN)", st.PowerCycles, st.Resets)
	}
}

// A modem that answers but keeps failing a health command climbs the same ladder, and a
// healthy poll resets it.
func TestErroringModemEscalates(t *testing.T) {
	m := newModem()
	r := start(t, m, false)
	r.waitFor("ready", isState(agent.StateReady))
	readyAt := len(r.kinds())
	m.Answer("AT+CSQ", "+CME ERROR: 100")
	deadline := time.Now().Add(20 * time.Second)
	for !slices.Contains(r.kinds()[readyAt:], agent.ActionPowerCycle) {
		if time.Now().After(deadline) {
			t.Fatalf("no power cycle: actions %v", r.kinds())
		}
		time.Sleep(2 * time.Millisecond)
	}
	m.Answer("AT+CSQ", "+CSQ: 20,99", "OK")
	r.waitFor("ready", isState(agent.StateReady))
	got := r.kinds()[readyAt:]
	want := []agent.ActionKind{agent.ActionReinit, agent.ActionReady, agent.ActionCFUNReset, agent.ActionReady, agent.ActionPowerCycle}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("actions: got %v, want them to start %v", got, want)
	}
	if !slices.Contains(m.Commands(), "AT+CFUN=1,1") {
		t.Errorf("AT+CFUN=1,1 was never sent")
	}
	if st := r.sup.Snapshot()[0]; st.Errors < 9 {
		t.Errorf("errors: got %d, want at least 9 (three rounds of three failed polls)", st.Errors)
	}
}

func TestPowerCycleClearsHang(t *testing.T) {
	m := newModem()
	r := start(t, m, true)
	r.waitFor("ready", isState(agent.StateReady))
	before := len(r.lines.Line(0, board.RoleEnable).Events())
	readyAt := len(r.kinds())

	m.hung.Store(true)
	r.waitFor("recovering", isState(agent.StateRecovering))
	r.waitFor("ready after power cycle", isState(agent.StateReady))

	got := r.kinds()[readyAt:]
	want := []agent.ActionKind{agent.ActionReinit, agent.ActionCFUNReset, agent.ActionPowerCycle, agent.ActionReady}
	if !slices.Equal(got, want) {
		t.Fatalf("actions: got %v, want %v", got, want)
	}
	// The supply went off and on again through the enable line.
	ev := r.lines.Line(0, board.RoleEnable).Events()[before:]
	if len(ev) != 2 || ev[0].Value != 0 || ev[1].Value != 1 {
		t.Errorf("enable line after the hang: got %v, want off then on", ev)
	}
	if st := r.sup.Snapshot()[0]; st.PowerCycles != 1 {
		t.Errorf("power cycles: got %d, want 1", st.PowerCycles)
	}
}

func TestSIMAndNetworkProblemsAreReportedNotRetried(t *testing.T) {
	tests := []struct {
		name       string
		cpin, creg []string
		want       agent.State
		reason     string
		wireState  string
	}{
		{"no SIM", []string{"+CME ERROR: 10"}, []string{"+CREG: 2,0", "OK"}, agent.StateDegraded, "SIM absent", "no_sim"},
		{"PIN locked", []string{"+CPIN: SIM PIN", "OK"}, []string{"+CREG: 2,0", "OK"}, agent.StateDegraded, "PIN-locked", "no_sim"},
		{"searching", []string{"+CPIN: READY", "OK"}, []string{"+CREG: 2,2", "OK"}, agent.StateDegraded, "not registered: searching", "searching"},
		{"denied", []string{"+CPIN: READY", "OK"}, []string{"+CREG: 2,3", "OK"}, agent.StateDegraded, "not registered: denied", "denied"},
		{"roaming", []string{"+CPIN: READY", "OK"}, []string{"+CREG: 2,5", "OK"}, agent.StateDegraded, "roaming", "registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModem()
			m.Answer("AT+CPIN?", tt.cpin...)
			m.Answer("AT+CREG?", tt.creg...)
			r := start(t, m, false)
			st := r.waitFor(string(tt.want), isState(tt.want))
			if !strings.Contains(st.Reason, tt.reason) {
				t.Errorf("reason: got %q, want it to contain %q", st.Reason, tt.reason)
			}
			if got := st.Wire().State; got != tt.wireState {
				t.Errorf("wire state: got %q, want %q", got, tt.wireState)
			}
			// Two hours of polls later: still reported, never escalated.
			for r.clock.Now().Sub(slottest.Epoch) < 2*time.Hour {
				time.Sleep(5 * time.Millisecond)
			}
			st = r.sup.Snapshot()[0]
			if st.State != tt.want || st.PowerCycles != 0 || st.Resets != 0 {
				t.Errorf("after 2h: got state %s, %d power cycles, %d resets; want %s, none, none", st.State, st.PowerCycles, st.Resets, tt.want)
			}
			for _, k := range r.kinds() {
				switch k {
				case agent.ActionReinit, agent.ActionCFUNReset, agent.ActionPowerCycle, agent.ActionBlocked:
					t.Errorf("action %s for a SIM or network problem: %v", k, r.kinds())
				}
			}
			if ev := r.lines.Line(0, board.RoleEnable).Events(); len(ev) != 1 {
				t.Errorf("enable line: got %v, want only its initial level", ev)
			}
		})
	}
}

func TestSIMInsertedLater(t *testing.T) {
	m := newModem()
	m.Answer("AT+CPIN?", "+CME ERROR: 10")
	r := start(t, m, false)
	r.waitFor("degraded", isState(agent.StateDegraded))
	m.Answer("AT+CPIN?", "+CPIN: READY", "OK")
	m.Send("+CPIN: READY")
	st := r.waitFor("ready", isState(agent.StateReady))
	if st.ICCID != "89014103211118510720" {
		t.Errorf("ICCID: got %q, want 89014103211118510720", st.ICCID)
	}
	if want := agent.HashIMSI("001010123456789"); st.IMSIHash != want {
		t.Errorf("IMSI hash: got %q, want %q", st.IMSIHash, want)
	}
}

func cmgr(pdu string) []string {
	b, _ := hex.DecodeString(pdu)
	return []string{fmt.Sprintf("+CMGR: 0,,%d", len(b)-1-int(b[0])), pdu, "OK"}
}

func cmglEntry(index int, pdu string) []string {
	b, _ := hex.DecodeString(pdu)
	return []string{fmt.Sprintf("+CMGL: %d,0,,%d", index, len(b)-1-int(b[0])), pdu}
}

// waitCommand waits (real time) until the modem has received cmd.
func waitCommand(t *testing.T, m *hangPort, cmd string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !slices.Contains(m.Commands(), cmd) {
		if time.Now().After(deadline) {
			t.Fatalf("modem never got %s; got %q", cmd, m.Commands())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestMessagesGoToTheSinkBeforeDeletion(t *testing.T) {
	m := newModem()
	r := start(t, m, false)
	r.waitFor("ready", isState(agent.StateReady))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want, _ := hex.DecodeString(testPDU)

	// +CMTI: read, store, delete.
	m.Answer("AT+CMGR=3", cmgr(testPDU)...)
	m.Answer("AT+CMGD=3", "OK")
	m.Send(`+CMTI: "SM",3`)
	if err := r.sink.Wait(ctx, func(p []agent.ReceivedPart) bool { return len(p) == 1 }); err != nil {
		t.Fatalf("part from +CMTI never reached the sink: %v", err)
	}
	p := r.sink.Parts()[0]
	if p.Slot != 0 || p.Index != 3 || p.Storage != "SM" || p.ICCID != "89014103211118510720" || string(p.PDU) != string(want) {
		t.Errorf("part: got %+v, want slot 0, index 3, SM, the SIM's ICCID and the PDU", p)
	}
	waitCommand(t, m, "AT+CMGD=3")

	// The sink refuses: the message stays on the SIM.
	r.sink.Fail(errors.New("outbox full"))
	m.Answer("AT+CMGR=4", cmgr(testPDU)...)
	m.Answer("AT+CMGD=4", "OK")
	m.Send(`+CMTI: "SM",4`)
	for r.sink.Refused() == 0 {
		time.Sleep(2 * time.Millisecond)
	}
	if slices.Contains(m.Commands(), "AT+CMGD=4") {
		t.Fatalf("message 4 was deleted although the sink refused it")
	}
	// The sink recovers; the sweep finds 4, and 5 whose +CMTI was lost.
	m.Answer("AT+CMGD=5", "OK")
	m.Answer("AT+CMGR=5", cmgr(testPDU)...) // the sweep reads each listed entry again
	m.Answer("AT+CMGL=4", slices.Concat(cmglEntry(4, testPDU), cmglEntry(5, testPDU), []string{"OK"})...)
	r.sink.Fail(nil)
	if err := r.sink.Wait(ctx, func(p []agent.ReceivedPart) bool { return len(p) >= 3 }); err != nil {
		t.Fatalf("sweep never stored messages 4 and 5: %v", err)
	}
	waitCommand(t, m, "AT+CMGD=4")
	waitCommand(t, m, "AT+CMGD=5")
	cmds := m.Commands()
	if i, j := slices.Index(cmds, "AT+CMGD=4"), slices.Index(cmds, "AT+CMGL=4"); i < j {
		t.Errorf("AT+CMGD=4 (at %d) before the sweep that stored it (at %d)", i, j)
	}
	if st := r.sup.Snapshot()[0]; st.Received < 3 || st.StoreErrors == 0 || st.LastSMS.IsZero() {
		t.Errorf("counters: got received %d, store errors %d, last SMS %v; want >= 3, > 0, set", st.Received, st.StoreErrors, st.LastSMS)
	}
}

// TestMalformedPDUGoesToTheSinkThenIsDeleted: an entry whose PDU line does not parse (or, valid
// hex, does not decode by the sink's PDUChecker) and reads back identically JunkReads times over
// at least a sweep interval is handed to the sink with its raw bytes, and deleted only after the
// sink took it, so a bad entry never fills the SIM. Before that it stays on the SIM; a sink that
// refuses keeps it on the SIM. A line whose length disagrees with its header is a read error
// (line noise) and is never junked.
func TestMalformedPDUGoesToTheSinkThenIsDeleted(t *testing.T) {
	undecodable := "00" + "04" + "0B91" // SMSC field empty, SMS-DELIVER cut short: valid hex
	tests := []struct {
		name      string
		line      string // the PDU line as the modem sends it
		length    int    // the header's <length>
		check     bool   // the sink says the PDU does not decode
		junk      bool
		malformed bool // handed over with Malformed set (else as a PDU the sink junks)
		wantRaw   string
	}{
		{"not hex", "07911326040000F0ZZ", 1, false, true, true, "07911326040000F0ZZ"},
		{"SMSC length over 11", "FF00", 20, false, true, true, "FF00"},
		{"does not decode", undecodable, 3, true, true, false, "\x00\x04\x0b\x91"},
		{"length mismatch", testPDU + "00", 30, false, false, false, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModem()
			r := start(t, m, false)
			if tt.check {
				r.sink.SetCheck(func(b []byte) error {
					if hex.EncodeToString(b) == strings.ToLower(undecodable) {
						return errors.New("truncated SMS-DELIVER")
					}
					return nil
				})
			}
			r.waitFor("ready", isState(agent.StateReady))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			idx := 7 + i
			header := fmt.Sprintf("+CMGR: 0,,%d", tt.length)
			read, del := fmt.Sprintf("AT+CMGR=%d", idx), fmt.Sprintf("AT+CMGD=%d", idx)

			// First the sink refuses: the entry stays on the SIM.
			r.sink.Fail(errors.New("outbox broken"))
			m.Answer(read, header, tt.line, "OK")
			m.Answer(del, "OK")
			m.Answer("AT+CMGL=4", fmt.Sprintf("+CMGL: %d,0,,%d", idx, tt.length), tt.line, "OK")
			t0 := r.clock.Now()
			m.Send(fmt.Sprintf(`+CMTI: "SM",%d`, idx))
			if !tt.junk {
				// Many sweeps later it is still on the SIM, never handed over.
				r.sink.Fail(nil)
				for r.clock.Now().Sub(t0) < 4*5*time.Minute {
					time.Sleep(2 * time.Millisecond)
				}
				if slices.Contains(m.Commands(), del) || len(r.sink.Parts()) != 0 || r.sink.Refused() != 0 {
					t.Fatalf("entry with a length disagreeing with its header was handed over (%d parts, %d refused) or deleted; commands %q",
						len(r.sink.Parts()), r.sink.Refused(), m.Commands())
				}
				if st := r.sup.Snapshot()[0]; st.DecodeErrors != 0 || st.Errors == 0 {
					t.Errorf("counters: decode errors %d, errors %d; want 0 and > 0 (read errors)", st.DecodeErrors, st.Errors)
				}
				return
			}
			for r.sink.Refused() == 0 {
				time.Sleep(2 * time.Millisecond)
			}
			if slices.Contains(m.Commands(), del) {
				t.Fatalf("malformed entry deleted although the sink refused it; commands %q", m.Commands())
			}
			if n := countOf(m.Commands(), read); n < agent.JunkReads {
				t.Errorf("%s sent %d times before the entry was handed over as junk, want at least %d", read, n, agent.JunkReads)
			}
			if d := r.clock.Now().Sub(t0); d < 5*time.Minute {
				t.Errorf("handed over as junk %v after its first read, want at least the sweep interval", d)
			}
			r.sink.Fail(nil)
			if err := r.sink.Wait(ctx, func(p []agent.ReceivedPart) bool { return len(p) == 1 }); err != nil {
				t.Fatalf("malformed entry never reached the sink: %v", err)
			}
			waitCommand(t, m, del)
			p := r.sink.Parts()[0]
			if string(p.PDU) != tt.wantRaw {
				t.Errorf("part raw bytes: got %q, want %q", p.PDU, tt.wantRaw)
			}
			if (p.Malformed != "") != tt.malformed || p.Index != idx || p.ICCID != "89014103211118510720" {
				t.Errorf("part: got malformed %q, index %d, ICCID %s; want malformed %v, index %d, the SIM's ICCID",
					p.Malformed, p.Index, p.ICCID, tt.malformed, idx)
			}
			if st := r.sup.Snapshot()[0]; tt.malformed && st.DecodeErrors == 0 {
				t.Errorf("decode errors: got 0, want > 0")
			}
		})
	}
}

// TestNoisyReadsNeverJunkAnSMS: the AT+CMGR answers for a real SMS come polluted by line noise
// on the first reads (a stray "g" line before the PDU, as the system test saw, noise inside the
// PDU line, the PDU line split in two, a length that disagrees with the header, bytes outside
// printable ASCII), then clean. The SMS reaches the sink intact, once, and nothing is junked.
func TestNoisyReadsNeverJunkAnSMS(t *testing.T) {
	m := newModem()
	r := start(t, m, false)
	r.waitFor("ready", isState(agent.StateReady))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want, _ := hex.DecodeString(testPDU)
	hdr := cmgr(testPDU)[0]
	// Control bytes inside a line are not in this list: the line splitter drops them, so such a
	// read is the clean PDU and is rightly handed over (agent/modem lines.go).
	noisy := [][]string{
		{hdr, "g", testPDU, "OK"},
		{hdr, testPDU[:20] + "g" + testPDU[20:], "OK"},
		{hdr, testPDU[:30], testPDU[30:], "OK"},
		{hdr, testPDU[:30] + "5A" + testPDU[30:], "OK"},
		{hdr, "g"},
		{"+CMGR: 0,,3", "0", testPDU, "OK"},
		{"g", "OK"},
	}
	m.Answer("AT+CMGD=3", "OK")
	m.Answer("AT+CMGL=4", slices.Concat(cmglEntry(3, testPDU), []string{"OK"})...)
	for i, a := range noisy {
		m.Answer("AT+CMGR=3", a...)
		if i == 0 {
			m.Send(`+CMTI: "SM",3`)
		}
		for countOf(m.Commands(), "AT+CMGR=3") <= i {
			if ctx.Err() != nil {
				t.Fatalf("AT+CMGR=3 sent %d times, want a read per noisy answer", countOf(m.Commands(), "AT+CMGR=3"))
			}
			time.Sleep(time.Millisecond)
		}
		if len(r.sink.Parts()) != 0 || slices.Contains(m.Commands(), "AT+CMGD=3") {
			t.Fatalf("noisy answer %d %q: handed over %+v or deleted", i, a, r.sink.Parts())
		}
	}
	m.Answer("AT+CMGR=3", cmgr(testPDU)...)
	if err := r.sink.Wait(ctx, func(p []agent.ReceivedPart) bool { return len(p) >= 1 }); err != nil {
		t.Fatalf("the SMS never reached the sink after the noise ended: %v", err)
	}
	waitCommand(t, m, "AT+CMGD=3")
	p := r.sink.Parts()
	if len(p) != 1 || p[0].Malformed != "" || !bytes.Equal(p[0].PDU, want) || p[0].Index != 3 {
		t.Errorf("sink got %+v, want the PDU once, intact, not malformed", p)
	}
	if st := r.sup.Snapshot()[0]; st.DecodeErrors != 0 || st.Received != 1 {
		t.Errorf("counters: decode errors %d, received %d; want 0 and 1", st.DecodeErrors, st.Received)
	}
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// TestICCIDReadAgainWhenMissing: a SIM that is busy when the slot initialises (+CME ERROR: 14
// to every ICCID command) gives no ICCID, and the pipeline refuses parts without one. The slot
// reads the ICCID again before it hands on a message, so the SIM does not fill up until the
// next restart.
func TestICCIDReadAgainWhenMissing(t *testing.T) {
	m := newModem()
	m.Answer("AT+CCID", "+CME ERROR: 14")
	r := start(t, m, false)
	r.waitFor("ready", isState(agent.StateReady))
	m.Answer("AT+CCID", "+CCID: 89014103211118510720", "OK")
	m.Answer("AT+CMGR=3", cmgr(testPDU)...)
	m.Answer("AT+CMGD=3", "OK")
	m.Send(`+CMTI: "SM",3`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.sink.Wait(ctx, func(p []agent.ReceivedPart) bool { return len(p) >= 1 }); err != nil {
		t.Fatalf("part never reached the sink: %v", err)
	}
	if p := r.sink.Parts()[0]; p.ICCID != "89014103211118510720" {
		t.Errorf("part ICCID: got %q, want the SIM's 89014103211118510720", p.ICCID)
	}
	if st := r.sup.Snapshot()[0]; st.ICCID != "89014103211118510720" {
		t.Errorf("status ICCID: got %q, want 89014103211118510720", st.ICCID)
	}
}
