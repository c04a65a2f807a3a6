package modem_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/ness-network/ness-sms/agent/modem"
	"github.com/ness-network/ness-sms/agent/modem/modemtest"
)

// openPTY opens a real pseudo-terminal pair. The tty side (what the agent
// opens as its serial port) is put in raw mode as a serial library would; the
// master side is where the scripted modem answers.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pseudo-terminal (needs /dev/ptmx): %v", err)
	}
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("get termios: %v", err)
	}
	// cfmakeraw
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN] = 1
	tio.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatalf("set raw mode: %v", err)
	}
	t.Cleanup(func() { tty.Close(); master.Close() })
	return master, tty
}

func TestOverPTY(t *testing.T) {
	master, tty := openPTY(t)
	f := modemtest.New() // echo on until ATE0, like a module after power-up
	for cmd, reply := range map[string][]string{
		"AT+CMEE=1": {"OK"}, "AT+CGMI": {"SIMCOM INCORPORATED", "OK"}, "AT+CGMM": {"SIMCOM_SIM7600E-H", "OK"},
		"AT+CMGF=0":              {"OK"},
		"AT+CPMS=?":              {`+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")`, "OK"},
		`AT+CPMS="SM","SM","SM"`: {"+CPMS: 1,30,1,30,1,30", "OK"},
		"AT+CNMI=2,1,0,2,0":      {"OK"}, "AT+CREG=2": {"OK"}, "AT+CEREG=2": {"OK"},
		"AT+CMGL=4": {"+CMGL: 0,0,,30", howAreYou, "OK"},
		"AT+CMGR=1": {"+CMGR: 0,,30", howAreYou, "OK"},
		"AT+CMGD=0": {"OK"}, "AT+CMGD=1": {"OK"},
	} {
		f.Answer(cmd, reply...)
	}
	served := make(chan error, 1)
	go func() { served <- f.Serve(master) }()

	events := make(chan modem.Event, 8)
	m := modem.New(tty, modem.Config{Timeout: 3 * time.Second, OnEvent: func(e modem.Event) { events <- e }})
	defer m.Close()
	ctx := context.Background()

	f.SendRaw([]byte("\xff\x00\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n")) // boot, with line noise
	for _, want := range []modem.EventKind{modem.EventReady, modem.EventSIM, modem.EventSMSReady} {
		select {
		case e := <-events:
			if e.Kind != want {
				t.Fatalf("boot event: got %v (%q), want %v", e.Kind, e.URC.Line, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("boot event %v never arrived over the pty", want)
		}
	}
	s, err := m.Init(ctx)
	if err != nil {
		t.Fatalf("Init over pty: %v (commands %q)", err, f.Commands())
	}
	if s.Family != modem.FamilySIM7600 || s.Storage != "SM" || s.CNMI != "2,1,0,2,0" {
		t.Fatalf("Init over pty: got %+v", s)
	}
	list, err := m.ListAll(ctx)
	if err != nil || len(list) != 1 || list[0].Err != nil || len(list[0].PDU) != 38 {
		t.Fatalf("ListAll over pty: got %+v, %v", list, err)
	}
	if err := m.Delete(ctx, list[0].Index); err != nil {
		t.Fatalf("Delete over pty: %v", err)
	}

	// A message arrives: the URC comes split in two writes with noise.
	f.SendRaw([]byte("\r\n+CMTI: \"S"))
	time.Sleep(20 * time.Millisecond)
	f.SendRaw([]byte("M\",1\r\n"))
	select {
	case e := <-events:
		if e.Kind != modem.EventNewMessage || e.Index != 1 || e.Storage != "SM" {
			t.Fatalf("+CMTI over pty: got %+v", e)
		}
		got, err := m.Read(ctx, e.Index)
		if err != nil || got.Err != nil || len(got.PDU) != 38 {
			t.Fatalf("Read(%d) over pty: got %+v, %v", e.Index, got, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("+CMTI never arrived over the pty")
	}

	// A modem that stops answering times out, and one that comes back is
	// usable again.
	f.Expect("AT+CSQ", modemtest.NoReply)
	if _, err := m.Conn().CommandTimeout(ctx, "AT+CSQ", 200*time.Millisecond); !errors.Is(err, modem.ErrTimeout) {
		t.Fatalf("silent modem over pty: got %v, want ErrTimeout", err)
	}
	f.Answer("AT+CSQ", "+CSQ: 21,99", "OK")
	sig, err := m.Signal(ctx)
	if err != nil || sig.DBm != -71 {
		t.Fatalf("Signal after resync over pty: got %+v, %v; want -71 dBm", sig, err)
	}
	if p := f.Unexpected(); len(p) != 0 {
		t.Fatalf("unexpected commands: %q", p)
	}
}
