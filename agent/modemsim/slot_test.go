package modemsim

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

func mustModel(t *testing.T, name string) Model {
	t.Helper()
	m, err := ModelByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEchoAndResultCodes(t *testing.T) {
	_, dir := startSim(t, Config{Slots: 1})
	p := openPort(t, dir, 0)
	steps := []struct{ send, want string }{
		{"AT", "AT\r\r\nOK\r\n"},
		{"AT+NOSUCH", "AT+NOSUCH\r\r\nERROR\r\n"},
		{"ATE0", "ATE0\r\r\nOK\r\n"},
		{"AT", "\r\nOK\r\n"},
		{"AT+CSQ", "\r\n+CSQ: 14,99\r\n\r\nOK\r\n"},
		{"ATV0", "0\r"},
		{"AT+NOSUCH", "4\r"},
		{"ATV1", "\r\nOK\r\n"},
		{"ATZ", "\r\nOK\r\n"}, // back to defaults: echo on again
		{"AT", "AT\r\r\nOK\r\n"},
	}
	for _, st := range steps {
		p.send(st.send + "\r")
		re := finalRE
		if strings.HasPrefix(st.want, "0\r") || strings.HasPrefix(st.want, "4\r") {
			re = regexp.MustCompile(`[04]\r`)
		}
		got, ok := p.readUntil(re, 3*time.Second)
		if !ok || got != st.want {
			t.Errorf("%s: got %q, want %q", st.send, got, st.want)
		}
	}
}

func TestIdentityPerModel(t *testing.T) {
	for _, name := range ModelNames() {
		t.Run(name, func(t *testing.T) {
			m := mustModel(t, name)
			sim, dir := startSim(t, Config{Slots: 2, Model: m})
			id := sim.slots[1].Identity()
			p := openPort(t, dir, 1)
			p.cmd("ATE0")
			tests := []struct{ cmd, want string }{
				{"AT+CGMI", m.Manufacturer},
				{"AT+CGMM", m.ModelID},
				{"AT+CGMR", m.RevisionLine},
				{"AT+CGSN", id.IMEI},
				{"AT+GSN", id.IMEI},
				{"AT+CIMI", id.IMSI},
				{"AT" + m.ICCIDCommand, m.ICCIDPrefix + id.ICCID},
				{"AT+CNUM", `+CNUM: "","` + id.Number + `",145`},
				{"AT+CPIN?", "+CPIN: READY"},
				{"AT+CRSM=176,12258,0,0,10", `+CRSM: 144,0,"` + swapNibbles(id.ICCID) + `"`},
			}
			for _, tt := range tests {
				if got, want := p.cmd(tt.cmd), "\r\n"+tt.want+"\r\n\r\nOK\r\n"; got != want {
					t.Errorf("%s: got %q, want %q", tt.cmd, got, want)
				}
			}
		})
	}
}

func TestIdentitiesDistinct(t *testing.T) {
	sim, err := New(Config{Slots: 32})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, s := range sim.slots {
		id := s.Identity()
		for _, v := range []string{id.IMEI, id.ICCID, id.IMSI, id.Number} {
			if prev, dup := seen[v]; dup {
				t.Errorf("slot %d repeats %q of slot %d", s.n, v, prev)
			}
			seen[v] = s.n
		}
		if len(id.IMEI) != 15 || luhn(id.IMEI[:14]) != id.IMEI[14:] {
			t.Errorf("slot %d: IMEI %q is not 15 digits with a Luhn check digit", s.n, id.IMEI)
		}
		if len(id.IMSI) != 15 {
			t.Errorf("slot %d: IMSI %q has %d digits, want 15", s.n, id.IMSI, len(id.IMSI))
		}
	}
}

// TestPowerSequence walks a slot through supply, PWRKEY, boot and power-down for every model.
func TestPowerSequence(t *testing.T) {
	for _, name := range ModelNames() {
		t.Run(name, func(t *testing.T) {
			m := mustModel(t, name)
			clk := newFakeClock()
			sim, dir := startSim(t, Config{Slots: 1, Model: m, PowerOffAtStart: true, Clock: clk, BootDelay: 10 * time.Second})
			s := sim.slots[0]
			p := openPort(t, dir, 0)
			check := func(step string, want State, wantStatus bool) {
				t.Helper()
				st := s.Status()
				if st.State != want || st.Status != wantStatus {
					t.Fatalf("%s: state %q status %v, want %q %v", step, st.State, st.Status, want, wantStatus)
				}
			}
			check("start", StateOff, false)
			p.send("AT\r")
			p.silent(100 * time.Millisecond)

			if s.PressPowerKey(m.PowerOnMin) {
				t.Fatal("pulse without supply toggled the module")
			}
			s.SetPower(true)
			check("supply on", StateOff, false)
			if s.PressPowerKey(m.PowerOnMin - time.Millisecond) {
				t.Errorf("pulse of %v (< min %v) toggled the module", m.PowerOnMin-time.Millisecond, m.PowerOnMin)
			}
			if !s.PressPowerKey(m.PowerOnMin) {
				t.Fatalf("pulse of %v (= min) did not switch on", m.PowerOnMin)
			}
			check("pwrkey", StateBooting, true)
			p.send("AT\r")
			p.silent(50 * time.Millisecond)
			clk.Advance(9 * time.Second)
			check("9s", StateBooting, true)
			clk.Advance(time.Second)
			check("10s", StateOn, true)
			want := "\r\n" + strings.Join(m.BootURCs, "\r\n\r\n") + "\r\n"
			if got := p.expect(regexp.QuoteMeta(want)); got != want {
				t.Errorf("boot banner: got %q, want %q", got, want)
			}
			if got := p.cmd("AT"); got != "AT\r\r\nOK\r\n" {
				t.Errorf("AT after boot: got %q", got)
			}
			if m.PowerOffMin > m.PowerOnMin && s.PressPowerKey(m.PowerOffMin-time.Millisecond) {
				t.Errorf("pulse of %v (< off min %v) switched off", m.PowerOffMin-time.Millisecond, m.PowerOffMin)
			}
			if !s.PressPowerKey(m.PowerOffMin) {
				t.Fatalf("pulse of %v did not switch off", m.PowerOffMin)
			}
			check("off pulse", StateOff, false)
			p.expect(regexp.QuoteMeta("\r\n" + m.PowerDownURC + "\r\n"))
			p.send("AT\r")
			p.silent(100 * time.Millisecond)
		})
	}
}

func TestSIM800LongPressRepowers(t *testing.T) {
	clk := newFakeClock()
	sim, err := New(Config{Slots: 1, Model: mustModel(t, "sim800"), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	s := sim.slots[0]
	if !s.PressPowerKey(34 * time.Second) {
		t.Fatal("34 s press did nothing")
	}
	if got := s.Status().State; got != StateBooting {
		t.Errorf("after a 34 s press: state %q, want booting", got)
	}
}

func TestSupplyOffSilences(t *testing.T) {
	clk := newFakeClock()
	sim, dir := startSim(t, Config{Slots: 1, Clock: clk})
	s := sim.slots[0]
	p := openPort(t, dir, 0)
	p.cmd("AT")
	s.SetPower(false)
	p.send("AT\r")
	p.silent(100 * time.Millisecond)
	s.SetPower(true) // sim7600 waits for PWRKEY
	if got := s.Status().State; got != StateOff {
		t.Fatalf("supply on without pulse: state %q, want off", got)
	}
	s.PressPowerKey(time.Second)
	clk.Advance(2 * time.Second)
	p.expect("SMS DONE")
	p.cmd("AT")
}

func TestAutoBoot(t *testing.T) {
	clk := newFakeClock()
	sim, err := New(Config{Slots: 1, AutoBoot: true, PowerOffAtStart: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	sim.slots[0].SetPower(true)
	if got := sim.slots[0].Status().State; got != StateBooting {
		t.Errorf("autoboot supply on: state %q, want booting", got)
	}
}

func TestCFUNReset(t *testing.T) {
	clk := newFakeClock()
	sim, dir := startSim(t, Config{Slots: 1, Clock: clk})
	p := openPort(t, dir, 0)
	p.cmd("ATE0")
	if got := p.cmd("AT+CFUN=1,1"); got != "\r\nOK\r\n" {
		t.Fatalf("AT+CFUN=1,1: got %q", got)
	}
	waitState(t, sim.slots[0], StateBooting)
	clk.Advance(2 * time.Second)
	p.expect("RDY")
	p.expect("PB DONE\r\n")
	if got := p.cmd("AT"); got != "AT\r\r\nOK\r\n" {
		t.Errorf("AT after reset (echo back on): got %q", got)
	}
}

func TestSoftPowerOff(t *testing.T) {
	for _, name := range ModelNames() {
		t.Run(name, func(t *testing.T) {
			m := mustModel(t, name)
			sim, dir := startSim(t, Config{Slots: 1, Model: m})
			p := openPort(t, dir, 0)
			p.cmd("ATE0")
			arg := ""
			if m.PowerOffCommand == "+CPOWD" {
				arg = "=1"
			}
			p.send("AT" + m.PowerOffCommand + arg + "\r")
			p.expect(m.PowerDownURC)
			waitState(t, sim.slots[0], StateOff)
			if got := sim.slots[0].Status().Status; got {
				t.Errorf("STATUS after power-off: high, want low")
			}
		})
	}
}

func TestCNMIPerModel(t *testing.T) {
	tests := []struct {
		model, cmd, want string
	}{
		{"sim800", "AT+CNMI=2,1,0,2,0", "\r\n+CMS ERROR: 303\r\n"},
		{"sim800", "AT+CNMI=2,1,0,1,0", "\r\nOK\r\n"},
		{"sim800", "AT+CNMI=?", "\r\n+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)\r\n\r\nOK\r\n"},
		{"sim7600", "AT+CNMI=2,1,0,2,0", "\r\nOK\r\n"},
		{"ec25", "AT+CNMI=2,1,0,2,0", "\r\nOK\r\n"},
		{"ec25", "AT+CNMI=9", "\r\n+CMS ERROR: 303\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.model+" "+tt.cmd, func(t *testing.T) {
			_, dir := startSim(t, Config{Slots: 1, Model: mustModel(t, tt.model)})
			p := openPort(t, dir, 0)
			p.cmd("ATE0;+CMEE=1")
			if got := p.cmd(tt.cmd); got != tt.want {
				t.Errorf("%s on %s: got %q, want %q", tt.cmd, tt.model, got, tt.want)
			}
		})
	}
}

func TestCMEELevels(t *testing.T) {
	sim, dir := startSim(t, Config{Slots: 1})
	sim.slots[0].SetFault(FaultNoSIM)
	p := openPort(t, dir, 0)
	p.cmd("ATE0")
	for _, tt := range []struct{ level, want string }{
		{"0", "\r\nERROR\r\n"},
		{"1", "\r\n+CME ERROR: 10\r\n"},
		{"2", "\r\n+CME ERROR: SIM not inserted\r\n"},
	} {
		p.cmd("AT+CMEE=" + tt.level)
		if got := p.cmd("AT+CPIN?"); got != tt.want {
			t.Errorf("CMEE=%s: AT+CPIN? got %q, want %q", tt.level, got, tt.want)
		}
	}
	p.cmd("AT+CMEE=1")
	if got := p.cmd("AT+CMGL=4"); got != "\r\n+CMS ERROR: 310\r\n" {
		t.Errorf("nosim AT+CMGL=4: got %q, want +CMS ERROR: 310", got)
	}
}

// decodePDU checks a hex PDU from the port is a valid SMS-DELIVER and returns it.
func decodePDU(t *testing.T, h string) *tpdu.TPDU {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatalf("pdu %q: %v", h, err)
	}
	p, err := pdumode.UnmarshalBinary(b)
	if err != nil {
		t.Fatalf("pdu %q: %v", h, err)
	}
	tp, err := sms.Unmarshal(p.TPDU)
	if err != nil {
		t.Fatalf("pdu %q: %v", h, err)
	}
	if tp.SmsType() != tpdu.SmsDeliver {
		t.Fatalf("pdu %q: type %v, want SMS-DELIVER", h, tp.SmsType())
	}
	return tp
}

var cmglRE = regexp.MustCompile(`\+CMGL: (\d+),(\d),[^,]*,(\d+)\r\n([0-9A-F]+)\r\n`)

func TestReceiveAndReadSMS(t *testing.T) {
	for _, name := range ModelNames() {
		t.Run(name, func(t *testing.T) {
			m := mustModel(t, name)
			sim, dir := startSim(t, Config{Slots: 1, Model: m})
			s := sim.slots[0]
			p := openPort(t, dir, 0)
			p.cmd("ATE0")
			at := time.Date(2024, 3, 9, 8, 7, 6, 0, time.FixedZone("", -5*3600))
			d, err := s.InjectSMS("+15551234567", "Hello, world", at)
			if err != nil {
				t.Fatal(err)
			}
			base := m.IndexBase
			if len(d.Indexes) != 1 || d.Indexes[0] != base {
				t.Fatalf("indexes %v, want [%d]", d.Indexes, base)
			}
			p.expect(regexp.QuoteMeta(fmt.Sprintf("\r\n+CMTI: \"SM\",%d\r\n", base)))
			if got := p.cmd("AT+CPMS?"); !strings.Contains(got, `+CPMS: "SM",1,30,"SM",1,30,"SM",1,30`) {
				t.Errorf("AT+CPMS?: got %q", got)
			}
			out := p.cmd("AT+CMGL=4")
			ms := cmglRE.FindAllStringSubmatch(out, -1)
			if len(ms) != 1 {
				t.Fatalf("AT+CMGL=4: got %q, want one entry", out)
			}
			if ms[0][1] != fmt.Sprint(base) || ms[0][2] != "0" {
				t.Errorf("AT+CMGL=4 entry: index %s stat %s, want %d 0", ms[0][1], ms[0][2], base)
			}
			if want := fmt.Sprint(len(ms[0][4])/2 - 1 - int(mustHexByte(t, ms[0][4][:2]))); ms[0][3] != want {
				t.Errorf("length %s, want %s (TPDU octets)", ms[0][3], want)
			}
			tp := decodePDU(t, ms[0][4])
			if got := tp.OA.Number(); got != "+15551234567" {
				t.Errorf("originator %q, want +15551234567", got)
			}
			if txt, _ := sms.Decode([]*tpdu.TPDU{tp}); string(txt) != "Hello, world" {
				t.Errorf("text %q, want Hello, world", txt)
			}
			if !tp.SCTS.Equal(at) {
				t.Errorf("SCTS %v, want %v", tp.SCTS.Time, at)
			}
			// Listing marked it read; a second CMGL=0 finds nothing unread.
			if got := p.cmd("AT+CMGL=0"); got != "\r\nOK\r\n" {
				t.Errorf("AT+CMGL=0 after read: got %q", got)
			}
			if got := p.cmd(fmt.Sprintf("AT+CMGR=%d", base)); !strings.Contains(got, "+CMGR: 1,") {
				t.Errorf("AT+CMGR: got %q, want stat 1", got)
			}
			if got := p.cmd(fmt.Sprintf("AT+CMGR=%d", base+30)); got != "\r\nERROR\r\n" {
				t.Errorf("AT+CMGR out of range: got %q, want ERROR (CMEE=0)", got)
			}
			if got := p.cmd(fmt.Sprintf("AT+CMGD=%d", base)); got != "\r\nOK\r\n" {
				t.Errorf("AT+CMGD: got %q", got)
			}
			if got := len(s.Status().Messages); got != 0 {
				t.Errorf("after CMGD: %d messages, want 0", got)
			}
		})
	}
}

func mustHexByte(t *testing.T, h string) byte {
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return b[0]
}

func TestLongAndUnicodeTexts(t *testing.T) {
	sim, err := New(Config{Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := sim.slots[0]
	tests := []struct {
		name, text string
		parts      int
		alpha      tpdu.Alphabet
	}{
		{"gsm7 short", "plain text {with} €xtension", 1, tpdu.Alpha7Bit},
		{"gsm7 long", strings.Repeat("0123456789", 40), 3, tpdu.Alpha7Bit},
		{"ucs2", "Привет 👋", 1, tpdu.AlphaUCS2},
		{"ucs2 long", strings.Repeat("Ж", 100), 2, tpdu.AlphaUCS2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.InjectSMS("+4412345", tt.text, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Indexes) != tt.parts {
				t.Fatalf("%d parts, want %d", len(d.Indexes), tt.parts)
			}
			var segs []*tpdu.TPDU
			msgs := s.Status().Messages
			for _, idx := range d.Indexes {
				for _, m := range msgs {
					if m.Index == idx {
						segs = append(segs, decodePDU(t, m.PDU))
					}
				}
			}
			for i, seg := range segs {
				if a, _ := seg.Alphabet(); a != tt.alpha {
					t.Errorf("part %d alphabet %v, want %v", i+1, a, tt.alpha)
				}
				if tt.parts > 1 {
					total, seq, _, ok := seg.UDH.ConcatInfo()
					if !ok || total != tt.parts || seq != i+1 {
						t.Errorf("part %d concat info total %d seq %d ok %v", i+1, total, seq, ok)
					}
				}
			}
			txt, err := sms.Decode(segs)
			if err != nil || string(txt) != tt.text {
				t.Errorf("decoded %q (%v), want %q", txt, err, tt.text)
			}
			s.mu.Lock()
			for _, st := range s.stores {
				clear(st.msgs)
			}
			s.mu.Unlock()
		})
	}
}

func TestAlphanumericSender(t *testing.T) {
	sim, _ := New(Config{Slots: 1})
	d, err := sim.slots[0].InjectSMS("NESS Bank", "code 1234", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tp := decodePDU(t, sim.slots[0].Status().Messages[0].PDU)
	if tp.OA.Number() != "NESS Bank" || tp.OA.TypeOfNumber() != tpdu.TonAlphanumeric {
		t.Errorf("originator %q ton %v, want alphanumeric NESS Bank", tp.OA.Number(), tp.OA.TypeOfNumber())
	}
	_ = d
}

func TestStorageCapacity(t *testing.T) {
	sim, _ := New(Config{Slots: 1, Capacity: 3})
	s := sim.slots[0]
	for i := range 3 {
		if _, err := s.InjectSMS("+1555", fmt.Sprint("msg ", i), time.Time{}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if _, err := s.InjectSMS("+1555", "one too many", time.Time{}); !errors.Is(err, ErrStorageFull) {
		t.Errorf("4th message into 3 locations: err %v, want ErrStorageFull", err)
	}
}

func TestCMTDirectAndTextMode(t *testing.T) {
	sim, dir := startSim(t, Config{Slots: 1})
	s := sim.slots[0]
	p := openPort(t, dir, 0)
	p.cmd("ATE0")
	p.cmd("AT+CNMI=2,2,0,0,0")
	d, err := s.InjectSMS("+15551234567", "direct", time.Time{})
	if err != nil || !d.Direct {
		t.Fatalf("inject with mt=2: %+v %v, want direct", d, err)
	}
	out := p.expect(`\+CMT: "",\d+\r\n[0-9A-F]+\r\n`)
	if len(s.Status().Messages) != 0 {
		t.Errorf("mt=2 stored the message; want it only shown")
	}
	_ = out
	p.cmd("AT+CNMI=2,1,0,0,0")
	p.cmd("AT+CMGF=1")
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600))
	if _, err := s.InjectSMS("+15551234567", "text mode", at); err != nil {
		t.Fatal(err)
	}
	p.expect(`\+CMTI: "SM",0\r\n`)
	got := p.cmd(`AT+CMGL="ALL"`)
	want := "\r\n+CMGL: 0,\"REC UNREAD\",\"+15551234567\",\"\",\"24/01/02,03:04:05+04\"\r\ntext mode\r\n\r\nOK\r\n"
	if got != want {
		t.Errorf("AT+CMGL=\"ALL\": got %q, want %q", got, want)
	}
	if got := p.cmd("AT+CMGL=4"); got != "\r\nERROR\r\n" {
		t.Errorf("numeric stat in text mode: got %q, want ERROR", got)
	}
	got = p.cmd("AT+CMGR=0")
	if !strings.Contains(got, `+CMGR: "REC READ","+15551234567","","24/01/02,03:04:05+04"`+"\r\ntext mode") {
		t.Errorf("AT+CMGR=0 text mode: got %q", got)
	}
}

func TestCMGDFlags(t *testing.T) {
	sim, dir := startSim(t, Config{Slots: 1, Model: mustModel(t, "sim800")})
	s := sim.slots[0]
	p := openPort(t, dir, 0)
	p.cmd("ATE0")
	for i := range 3 {
		s.InjectSMS("+1555", fmt.Sprint("m", i), time.Time{})
	}
	p.cmd("AT+CMGR=1") // read one
	p.cmd("AT+CMGD=1,1")
	if got := len(s.Status().Messages); got != 2 {
		t.Errorf("after delflag 1: %d messages, want 2 unread left", got)
	}
	p.cmd("AT+CMGD=1,4")
	if got := len(s.Status().Messages); got != 0 {
		t.Errorf("after delflag 4: %d messages, want 0", got)
	}
	if got := p.cmd("AT+CMGD=0"); got != "\r\nERROR\r\n" {
		t.Errorf("AT+CMGD=0 on SIM800 (1-based): got %q, want ERROR", got)
	}
}

func TestRegistration(t *testing.T) {
	sim, dir := startSim(t, Config{Slots: 1})
	s := sim.slots[0]
	p := openPort(t, dir, 0)
	p.cmd("ATE0")
	if got := p.cmd("AT+CREG?"); got != "\r\n+CREG: 0,1\r\n\r\nOK\r\n" {
		t.Errorf("AT+CREG?: got %q", got)
	}
	p.cmd("AT+CREG=1")
	s.SetFault(FaultNoReg)
	p.expect(`\r\n\+CREG: 2\r\n`)
	if got := p.cmd("AT+CREG?"); got != "\r\n+CREG: 1,2\r\n\r\nOK\r\n" {
		t.Errorf("noreg AT+CREG?: got %q", got)
	}
	if got := p.cmd("AT+COPS?"); got != "\r\n+COPS: 0\r\n\r\nOK\r\n" {
		t.Errorf("noreg AT+COPS?: got %q", got)
	}
	s.SetFault(FaultNone)
	p.expect(`\r\n\+CREG: 1\r\n`)
	if got := p.cmd("AT+COPS?"); got != "\r\n+COPS: 0,0,\"NESS Sim\",7\r\n\r\nOK\r\n" {
		t.Errorf("AT+COPS?: got %q", got)
	}
}

func TestLineEditingAndGarbageInput(t *testing.T) {
	_, dir := startSim(t, Config{Slots: 1})
	p := openPort(t, dir, 0)
	p.cmd("ATE0")
	if got := p.cmd("AT+CSX\bQ"); got != "\r\n+CSQ: 14,99\r\n\r\nOK\r\n" {
		t.Errorf("backspace: got %q", got)
	}
	p.send("no prefix here\r")
	p.silent(100 * time.Millisecond)
	p.send(strings.Repeat("A", MaxLineLength+10) + "\r")
	if out, ok := p.readUntil(finalRE, 3*time.Second); !ok || out != "\r\nERROR\r\n" {
		t.Errorf("overlong line: got %q, want ERROR", out)
	}
	if got := p.cmd("AT\r\n"); got != "\r\nOK\r\n" { // CRLF terminated
		t.Errorf("AT CRLF: got %q", got)
	}
}

func TestSocketMode(t *testing.T) {
	sim, err := New(Config{Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := sim.ServeSockets(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := dialUnix(dir + "/slot1.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("AT+CGSN\r"))
	want := "AT+CGSN\r\r\n" + sim.slots[1].Identity().IMEI + "\r\n\r\nOK\r\n"
	got := readN(conn, len(want), 3*time.Second)
	if got != want {
		t.Errorf("socket AT+CGSN: got %q, want %q", got, want)
	}
}
