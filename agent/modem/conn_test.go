package modem_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/modem"
	"github.com/ness-network/ness-sms/agent/modem/modemtest"
)

// urcLog collects URCs delivered by a Conn.
type urcLog struct {
	mu   sync.Mutex
	urcs []modem.URC
	ch   chan struct{}
}

func newURCLog() *urcLog { return &urcLog{ch: make(chan struct{}, 1024)} }

func (l *urcLog) add(u modem.URC) {
	l.mu.Lock()
	l.urcs = append(l.urcs, u)
	l.mu.Unlock()
	l.ch <- struct{}{}
}

// wait returns once n URCs have arrived, or fails the test after 5 s.
func (l *urcLog) wait(t *testing.T, n int) []modem.URC {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		l.mu.Lock()
		got := append([]modem.URC(nil), l.urcs...)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-l.ch:
		case <-deadline:
			t.Fatalf("got %d URCs %+v, want %d", len(got), got, n)
		}
	}
}

func newConn(t *testing.T, f *modemtest.Fake, cfg modem.ConnConfig) *modem.Conn {
	t.Helper()
	c := modem.NewConn(f, cfg)
	t.Cleanup(func() { c.Close(); f.Close() })
	return c
}

func TestCommandEchoAndFraming(t *testing.T) {
	f := modemtest.New() // echo on, as after power-up
	f.Answer("AT+CGMI", "SIMCOM_Ltd", "OK")
	c := newConn(t, f, modem.ConnConfig{})
	got, err := c.Command(context.Background(), "AT+CGMI")
	if err != nil {
		t.Fatalf("AT+CGMI: %v", err)
	}
	if want := []string{"SIMCOM_Ltd"}; !slices.Equal(got, want) {
		t.Fatalf("AT+CGMI with echo: got %q, want %q", got, want)
	}
}

func TestFinalResultErrors(t *testing.T) {
	tests := []struct {
		final   string
		wantCME *modem.CMEError
		wantCMS *modem.CMSError
		isError bool
	}{
		{final: "+CME ERROR: 10", wantCME: &modem.CMEError{Code: 10, Text: "SIM not inserted"}},
		{final: "+CME ERROR: SIM not inserted", wantCME: &modem.CMEError{Code: 10, Text: "SIM not inserted"}},
		{final: "+CME ERROR: frobnicated", wantCME: &modem.CMEError{Code: -1, Text: "frobnicated"}},
		{final: "+CMS ERROR: 321", wantCMS: &modem.CMSError{Code: 321, Text: "invalid memory index"}},
		{final: "+CMS ERROR:500", wantCMS: &modem.CMSError{Code: 500, Text: "unknown error"}},
		{final: "ERROR", isError: true},
		{final: "COMMAND NOT SUPPORT", isError: true},
	}
	for _, tt := range tests {
		t.Run(tt.final, func(t *testing.T) {
			f := modemtest.New()
			f.Answer("AT+CPIN?", tt.final)
			c := newConn(t, f, modem.ConnConfig{})
			_, err := c.Command(context.Background(), "AT+CPIN?")
			if err == nil {
				t.Fatalf("%q: got nil error", tt.final)
			}
			var cme *modem.CMEError
			var cms *modem.CMSError
			switch {
			case tt.wantCME != nil:
				if !errors.As(err, &cme) || *cme != *tt.wantCME {
					t.Fatalf("%q: got %v, want %v", tt.final, err, tt.wantCME)
				}
			case tt.wantCMS != nil:
				if !errors.As(err, &cms) || *cms != *tt.wantCMS {
					t.Fatalf("%q: got %v, want %v", tt.final, err, tt.wantCMS)
				}
			case tt.isError:
				if !errors.Is(err, modem.ErrError) {
					t.Fatalf("%q: got %v, want ErrError", tt.final, err)
				}
			}
			if !strings.Contains(err.Error(), "AT+CPIN?") {
				t.Errorf("%q: error %q does not name the command", tt.final, err)
			}
		})
	}
}

func TestURCsDuringCommandAreRouted(t *testing.T) {
	const pdu = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
	f := modemtest.New()
	f.SetEcho(false)
	f.Answer("AT+CMGL=4",
		"+CMGL: 1,0,,30",
		"+CMTI: \"SM\",2", // a URC between an entry's header and its PDU must not be taken as the PDU
		"07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
		"+CMT: ,30",
		pdu,
		"RDY",
		"+CREG: 1,\"1A2B\",\"00C1\",7",
		"OK")
	f.Answer("AT+CREG?", "+CREG: 2,5,\"1A2B\",\"00C1\"", "OK")
	log := newURCLog()
	c := newConn(t, f, modem.ConnConfig{OnURC: log.add})
	got, err := c.Command(context.Background(), "AT+CMGL=4")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"+CMGL: 1,0,,30", pdu}
	if !slices.Equal(got, want) {
		t.Fatalf("AT+CMGL=4 lines: got %q, want %q", got, want)
	}
	urcs := log.wait(t, 4)
	names := []string{}
	for _, u := range urcs {
		names = append(names, u.Name)
	}
	if want := []string{"+CMTI", "+CMT", "RDY", "+CREG"}; !slices.Equal(names, want) {
		t.Fatalf("URC names: got %q, want %q", names, want)
	}
	if urcs[1].Err != nil || len(urcs[1].PDU) != 38 {
		t.Fatalf("+CMT PDU: got %d octets, err %v; want 38 octets", len(urcs[1].PDU), urcs[1].Err)
	}
	if urcs[0].Params != `"SM",2` {
		t.Fatalf("+CMTI params: got %q, want %q", urcs[0].Params, `"SM",2`)
	}
	// The same prefix is the command's own answer when the command is AT+CREG?.
	got, err = c.Command(context.Background(), "AT+CREG?")
	if err != nil || !slices.Equal(got, []string{`+CREG: 2,5,"1A2B","00C1"`}) {
		t.Fatalf("AT+CREG?: got %q, %v", got, err)
	}
}

func TestCMTWithoutPDULine(t *testing.T) {
	f := modemtest.New()
	f.SetEcho(false)
	log := newURCLog()
	c := newConn(t, f, modem.ConnConfig{OnURC: log.add})
	f.Answer("AT", "OK")
	f.Send("+CMT: ,24", "NOT-HEX-AT-ALL", "+CDS: 6")
	f.SendRaw([]byte("\r\nZZ\r\n"))
	urcs := log.wait(t, 3)
	if urcs[0].Name != "+CMT" || urcs[0].Err == nil {
		t.Fatalf("+CMT with a non-hex line: got %+v, want Err set", urcs[0])
	}
	if urcs[1].Name != "" || urcs[1].Line != "NOT-HEX-AT-ALL" {
		t.Fatalf("line after broken +CMT: got %+v, want it delivered on its own", urcs[1])
	}
	if urcs[2].Name != "+CDS" || urcs[2].Err == nil {
		t.Fatalf("+CDS followed by odd hex: got %+v, want Err set", urcs[2])
	}
	if _, err := c.Command(context.Background(), "AT"); err != nil {
		t.Fatalf("AT after broken URCs: %v", err)
	}
}

func TestGarbageAndPartialLines(t *testing.T) {
	f := modemtest.New()
	f.SetEcho(false)
	c := newConn(t, f, modem.ConnConfig{})
	// Power-up noise, a line far too long, and a URC split across writes.
	f.SendRaw([]byte{0x00, 0xff, 0xfe, '\r', '\n'})
	f.SendRaw(bytes.Repeat([]byte("x"), 20000))
	f.SendRaw([]byte("\r\n+CSQ"))
	f.Answer("AT+CSQ", "NOISE-IS-NOT-HERE")
	f.Expect("AT+CSQ")
	f.SendRaw([]byte(": 17,99\r\n\r\n\xffO\x00K\r\n"))
	got, err := c.Command(context.Background(), "AT+CSQ")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"+CSQ: 17,99"}; !slices.Equal(got, want) {
		t.Fatalf("AT+CSQ through noise: got %q, want %q", got, want)
	}
}

func TestTimeoutThenResync(t *testing.T) {
	f := modemtest.New()
	f.SetEcho(false)
	f.Expect("AT+CSQ", modemtest.NoReply)
	f.Expect("AT", "OK")
	f.Expect("AT+CGMI", "QUECTEL", "OK")
	c := newConn(t, f, modem.ConnConfig{Timeout: 50 * time.Millisecond, Settle: 50 * time.Millisecond})
	_, err := c.Command(context.Background(), "AT+CSQ")
	if !errors.Is(err, modem.ErrTimeout) {
		t.Fatalf("silent modem: got %v, want ErrTimeout", err)
	}
	// The late answer to AT+CSQ arrives now; it must not answer AT+CGMI.
	f.Send("+CSQ: 20,99", "OK")
	got, err := c.Command(context.Background(), "AT+CGMI")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"QUECTEL"}; !slices.Equal(got, want) {
		t.Fatalf("AT+CGMI after a timeout: got %q, want %q", got, want)
	}
	if cmds, want := f.Commands(), []string{"AT+CSQ", "AT", "AT+CGMI"}; !slices.Equal(cmds, want) {
		t.Fatalf("commands: got %q, want %q", cmds, want)
	}
}

// manualClock fires timers only when told to.
type manualClock struct {
	mu     sync.Mutex
	timers []chan time.Time
	made   chan struct{}
}

func (m *manualClock) Timer(time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time, 1)
	m.mu.Lock()
	m.timers = append(m.timers, ch)
	m.mu.Unlock()
	m.made <- struct{}{}
	return ch, func() {}
}

func (m *manualClock) fireAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ch := range m.timers {
		select {
		case ch <- time.Time{}:
		default:
		}
	}
}

func TestTimeoutUsesInjectedClock(t *testing.T) {
	f := modemtest.New()
	f.Expect("AT+COPS?", modemtest.NoReply)
	clk := &manualClock{made: make(chan struct{}, 8)}
	c := newConn(t, f, modem.ConnConfig{Timeout: time.Hour, Clock: clk})
	errc := make(chan error, 1)
	go func() { _, err := c.Command(context.Background(), "AT+COPS?"); errc <- err }()
	<-clk.made
	select {
	case err := <-errc:
		t.Fatalf("command returned %v before the clock fired", err)
	case <-time.After(20 * time.Millisecond):
	}
	clk.fireAll()
	if err := <-errc; !errors.Is(err, modem.ErrTimeout) {
		t.Fatalf("after the injected clock fired: got %v, want ErrTimeout", err)
	}
}

func TestClosedPort(t *testing.T) {
	f := modemtest.New()
	f.Expect("AT+CMGL=4", modemtest.NoReply)
	c := newConn(t, f, modem.ConnConfig{Timeout: time.Minute})
	errc := make(chan error, 1)
	go func() { _, err := c.Command(context.Background(), "AT+CMGL=4"); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	f.Close()
	if err := <-errc; !errors.Is(err, modem.ErrClosed) {
		t.Fatalf("port closed during command: got %v, want ErrClosed", err)
	}
	<-c.Done()
	if _, err := c.Command(context.Background(), "AT"); !errors.Is(err, modem.ErrClosed) {
		t.Fatalf("command after close: got %v, want ErrClosed", err)
	}
	if !errors.Is(c.Err(), io.EOF) {
		t.Fatalf("Err after EOF: got %v, want it to wrap io.EOF", c.Err())
	}
}

func TestContextCancel(t *testing.T) {
	f := modemtest.New()
	f.Expect("AT+CMGL=4", modemtest.NoReply)
	c := newConn(t, f, modem.ConnConfig{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if _, err := c.Command(ctx, "AT+CMGL=4"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v, want context.Canceled", err)
	}
}

func TestRejectsBadCommands(t *testing.T) {
	c := newConn(t, modemtest.New(), modem.ConnConfig{})
	for _, cmd := range []string{"", "CGMI", "AT+CMGS=1\rX", "AT\x1a"} {
		if _, err := c.Command(context.Background(), cmd); err == nil {
			t.Errorf("command %q: got nil error, want rejection", cmd)
		}
	}
}

func TestConcurrentCommandsAreSerialised(t *testing.T) {
	f := modemtest.New()
	for i := range 20 {
		f.Answer(fmt.Sprintf("AT+CMGR=%d", i), fmt.Sprintf("+CMGR: 1,,%d", i), "OK")
	}
	c := newConn(t, f, modem.ConnConfig{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.Command(context.Background(), fmt.Sprintf("AT+CMGR=%d", i))
			if want := fmt.Sprintf("+CMGR: 1,,%d", i); err != nil || len(got) != 1 || got[0] != want {
				t.Errorf("AT+CMGR=%d: got %q, %v; want [%q]", i, got, err, want)
			}
		}()
	}
	wg.Wait()
}

// FuzzLineParser feeds arbitrary bytes to the engine, as a modem would send
// them, while a command runs. Nothing may panic or hang, and every URC must
// be a non-empty printable line.
func FuzzLineParser(f *testing.F) {
	f.Add([]byte("\r\nOK\r\n"))
	f.Add([]byte("AT\r\r\n+CMTI: \"SM\",3\r\n\r\nOK\r\n"))
	f.Add([]byte("\r\n+CMT: ,24\r\n07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07\r\nERROR\r\n"))
	f.Add([]byte("\x00\xff\r\r\n+CME ERROR: 10\r\n+CDS: 6\r\nZZ\r\nRDY\r\n"))
	f.Add([]byte("+CREG: 1,\"1A\",\"2B\"\n+CMS ERROR: x\rNORMAL POWER DOWN\r\nSMS DONE"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var mu sync.Mutex
		var urcs []modem.URC
		rw := struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(data), io.Discard}
		c := modem.NewConn(rw, modem.ConnConfig{
			Timeout: time.Second,
			OnURC: func(u modem.URC) {
				mu.Lock()
				urcs = append(urcs, u)
				mu.Unlock()
			},
		})
		_, _ = c.Command(context.Background(), "AT+CSQ")
		<-c.Done()
		mu.Lock()
		defer mu.Unlock()
		for _, u := range urcs {
			if u.Line == "" {
				t.Fatalf("empty URC line: %+v", u)
			}
			for _, b := range []byte(u.Line) {
				if b < 0x20 && b != '\t' || b > 0x7e {
					t.Fatalf("URC line %q has byte %#x", u.Line, b)
				}
			}
		}
	})
}
