package modemsim

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestFaultHang(t *testing.T) {
	tests := []struct {
		name    string
		recover func(s *Slot, p *port)
		wantOK  bool
	}{
		{"AT+CFUN=1,1 does not help", func(s *Slot, p *port) { p.send("AT+CFUN=1,1\r") }, false},
		{"short pwrkey does not help", func(s *Slot, p *port) { s.PressPowerKey(100 * time.Millisecond) }, false},
		{"supply off/on + pwrkey", func(s *Slot, p *port) {
			s.SetPower(false)
			s.SetPower(true)
			s.PressPowerKey(time.Second)
		}, true},
		{"pwrkey off/on", func(s *Slot, p *port) {
			s.PressPowerKey(3 * time.Second)
			s.PressPowerKey(time.Second)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			sim, dir := startSim(t, Config{Slots: 1, Clock: clk})
			s := sim.slots[0]
			p := openPort(t, dir, 0)
			p.cmd("ATE0")
			if err := s.SetFault(FaultHang); err != nil {
				t.Fatal(err)
			}
			if st := s.Status(); st.State != StateHung || !st.Status {
				t.Fatalf("after hang: state %q status %v, want hung, STATUS high", st.State, st.Status)
			}
			p.send("AT\r")
			p.silent(100 * time.Millisecond)
			tt.recover(s, p)
			clk.Advance(3 * time.Second)
			if !tt.wantOK {
				p.send("AT\r")
				p.silent(100 * time.Millisecond)
				if got := s.Status().State; got != StateHung {
					t.Errorf("state %q, want still hung", got)
				}
				return
			}
			p.expect("PB DONE\r\n")
			if got := p.cmd("AT"); got != "AT\r\r\nOK\r\n" {
				t.Errorf("AT after power cycle: got %q", got)
			}
			if got := s.Status().Fault; got != FaultNone {
				t.Errorf("fault after power cycle %q, want none", got)
			}
		})
	}
}

func TestFaultHangWhileOffHangsAtBoot(t *testing.T) {
	clk := newFakeClock()
	sim, _ := New(Config{Slots: 1, PowerOffAtStart: true, Clock: clk})
	s := sim.slots[0]
	s.SetFault(FaultHang)
	s.SetPower(true)
	s.PressPowerKey(time.Second)
	clk.Advance(time.Minute)
	if got := s.Status().State; got != StateHung {
		t.Errorf("boot with pending hang: state %q, want hung", got)
	}
}

func TestFaultGarbage(t *testing.T) {
	sim, dir := startSim(t, Config{Slots: 1})
	p := openPort(t, dir, 0)
	p.cmd("ATE0")
	sim.slots[0].SetFault(FaultGarbage)
	var all bytes.Buffer
	for range 20 {
		p.send("AT+CGMI\r")
		out, _ := p.readUntil(finalRE, 300*time.Millisecond)
		all.WriteString(out)
		all.Write(p.buf)
		p.buf = p.buf[:0]
	}
	clean := strings.Repeat("\r\nSIMCOM INCORPORATED\r\n\r\nOK\r\n", 20)
	if all.String() == clean {
		t.Fatalf("garbage fault: output is exactly the clean answers")
	}
	if all.Len() <= len(clean) {
		t.Errorf("garbage fault: %d bytes, want more than the clean %d", all.Len(), len(clean))
	}
	sim.slots[0].SetFault(FaultNone)
	p.drain()
	if got := p.cmd("AT"); got != "\r\nOK\r\n" {
		t.Errorf("after none: got %q", got)
	}
}

func TestFaultSlow(t *testing.T) {
	sim, dir := startSim(t, Config{Slots: 1, SlowDelay: 300 * time.Millisecond})
	p := openPort(t, dir, 0)
	p.cmd("ATE0")
	sim.slots[0].SetFault(FaultSlow)
	start := time.Now()
	p.cmd("AT")
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("slow fault: answer after %v, want at least 300ms", el)
	}
	sim.slots[0].SetFault(FaultNone)
	start = time.Now()
	p.cmd("AT")
	if el := time.Since(start); el > 200*time.Millisecond {
		t.Errorf("after none: answer after %v, want prompt", el)
	}
}

func TestFaultFullAndLoseURC(t *testing.T) {
	sim, dir := startSim(t, Config{Slots: 1})
	s := sim.slots[0]
	p := openPort(t, dir, 0)
	p.cmd("ATE0")
	s.SetFault(FaultFull)
	if got := p.cmd("AT+CPMS?"); !strings.Contains(got, `"SM",30,30`) {
		t.Errorf("full: AT+CPMS? got %q, want 30 of 30 used", got)
	}
	if _, err := s.InjectSMS("+1555", "x", time.Time{}); err != ErrStorageFull {
		t.Errorf("full: inject err %v, want ErrStorageFull", err)
	}
	s.SetFault(FaultLoseURC)
	if _, err := s.InjectSMS("+1555", "quiet", time.Time{}); err != nil {
		t.Fatal(err)
	}
	p.silent(150 * time.Millisecond)
	if got := p.cmd("AT+CMGL=4"); !strings.Contains(got, "+CMGL: 0,0,") {
		t.Errorf("lose-urc: sweep got %q, want the stored message", got)
	}
}

func TestFaultNoSIM(t *testing.T) {
	sim, dir := startSim(t, Config{Slots: 1})
	s := sim.slots[0]
	p := openPort(t, dir, 0)
	p.cmd("ATE0;+CMEE=1")
	s.SetFault(FaultNoSIM)
	for _, c := range []string{"AT+CPIN?", "AT+CIMI", "AT+CICCID"} {
		if got := p.cmd(c); got != "\r\n+CME ERROR: 10\r\n" {
			t.Errorf("nosim %s: got %q, want +CME ERROR: 10", c, got)
		}
	}
	if _, err := s.InjectSMS("+1555", "x", time.Time{}); err != ErrNoSIM {
		t.Errorf("nosim inject: err %v, want ErrNoSIM", err)
	}
	if err := s.SetFault("bogus"); err == nil {
		t.Errorf("SetFault(bogus): no error")
	}
}

// FuzzSlotInput feeds arbitrary bytes to a running slot: it must neither panic nor hang, and
// must still answer AT afterwards.
func FuzzSlotInput(f *testing.F) {
	for _, s := range []string{"AT\r", "ATE0\rAT+CMGL=4\r", "AT+CMGF=1;+CMGL=\"ALL\"\r", "AT+CMGR=0\rAT+CMGD=0,4\r",
		"AT+CFUN=1,1\r", "AT+CPOF\r", "\x1b\x08\x7f\r\n", "AT+CPMS=\"ME\",\"SM\",\"XX\"\r", "AT+CSCA=\"+1\",300\r", "ATV0\rAT+CRSM=176,12258\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		sim, err := New(Config{Slots: 1, Clock: newFakeClock(), Capacity: 3})
		if err != nil {
			t.Fatal(err)
		}
		s := sim.slots[0]
		s.sink = make(chan []byte, 1024)
		s.InjectSMS("+1555", "hi", time.Time{})
		s.feed(in)
		s.feed([]byte("\r")) // finish a partial last line
		if s.Status().State != StateOn {
			return // the input switched it off or reset it
		}
		s.feed([]byte("ATE0V1+CMEE=0\r"))
		for len(s.sink) > 0 {
			<-s.sink
		}
		s.feed([]byte("AT\r"))
		select {
		case got := <-s.sink:
			if string(got) != "\r\nOK\r\n" {
				t.Fatalf("after input %q: AT answered %q", in, got)
			}
		default:
			t.Fatalf("after input %q: AT got no answer", in)
		}
	})
}
