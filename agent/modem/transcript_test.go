package modem_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/modem"
	"github.com/ness-network/ness-sms/agent/modem/modemtest"
)

// Transcript tests: AT exchanges from real modems, kept in testdata with the
// public source they came from, replayed through the fake.

func loadTranscript(t *testing.T, name string) *modemtest.Transcript {
	t.Helper()
	fh, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	tr, err := modemtest.ParseTranscript(fh)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr
}

// playOrdered scripts the fake to answer the transcript's exchanges in order.
func playOrdered(t *testing.T, name string) *modemtest.Fake {
	t.Helper()
	tr := loadTranscript(t, name)
	f := modemtest.New()
	f.SetEcho(tr.Header["echo"] == "on")
	f.Play(tr)
	return f
}

// answersFrom scripts the fake with the transcript's replies as standing
// answers, for transcripts that are a command -> reply table.
func answersFrom(t *testing.T, name string) *modemtest.Fake {
	t.Helper()
	tr := loadTranscript(t, name)
	f := modemtest.New()
	f.SetEcho(tr.Header["echo"] == "on")
	for _, x := range tr.Exchanges {
		f.Answer(x.Cmd, x.Reply...)
	}
	return f
}

func checkConsumed(t *testing.T, f *modemtest.Fake) {
	t.Helper()
	if u := f.Unexpected(); len(u) != 0 {
		t.Errorf("commands not in the transcript: %q", u)
	}
	if p := f.Pending(); len(p) != 0 {
		t.Errorf("transcript exchanges never reached: %+v", p)
	}
}

func TestTranscriptsNameTheirSource(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range files {
		tr := loadTranscript(t, filepath.Base(path))
		if src := tr.Header["source"]; !strings.HasPrefix(src, "https://") {
			t.Errorf("%s: source header %q, want a public URL", path, src)
		}
		if tr.Header["project"] == "" {
			t.Errorf("%s: no project header", path)
		}
		if len(tr.Exchanges) == 0 {
			t.Errorf("%s: no exchanges", path)
		}
	}
}

func TestTranscriptGnokiiCPMSWithEcho(t *testing.T) {
	f := playOrdered(t, "gnokii-issue1-cpms-echo.txt")
	m := newModem(t, f, modem.Config{})
	ctx := context.Background()
	got, err := m.StorageStatus(ctx)
	want := []modem.MemStatus{{"ME", 2, 20}, {"SM", 2, 10}, {"SM", 2, 10}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("AT+CPMS? with echo: got %v, %v; want %v", got, err, want)
	}
	lines, err := m.Conn().Command(ctx, `AT+CPMS="SM"`)
	if err != nil {
		t.Fatal(err)
	}
	set, err := modem.ParseCPMSSet(lines)
	if err != nil || len(set) != 3 || set[0].Used != 2 || set[0].Total != 10 {
		t.Fatalf(`AT+CPMS="SM": got %v, %v; want 3 x 2/10`, set, err)
	}
	got, err = m.StorageStatus(ctx)
	if err != nil || got[0] != (modem.MemStatus{Name: "SM", Used: 2, Total: 10}) {
		t.Fatalf("AT+CPMS? after selecting SM: got %v, %v", got, err)
	}
	checkConsumed(t, f)
}

func TestTranscriptGammuCMGL(t *testing.T) {
	f := playOrdered(t, "gammu-issue508-cmgl.txt")
	m := newModem(t, f, modem.Config{})
	got, err := m.ListAll(context.Background())
	if err != nil || len(got) != 1 {
		t.Fatalf("AT+CMGL=4: got %+v, %v; want one entry", got, err)
	}
	e := got[0]
	// The modem announced a 29-octet TPDU; with the 8-octet SMSC field
	// (length octet 07) the real PDU line must hold 37 octets.
	if e.Err != nil || e.Index != 0 || e.Status != modem.StatusReceivedUnread || len(e.PDU) != 37 || e.PDU[0] != 7 {
		t.Fatalf("AT+CMGL=4 entry: got index %d status %d %d octets err %v; want 0, 0, 37, nil", e.Index, e.Status, len(e.PDU), e.Err)
	}
	checkConsumed(t, f)
}

func TestTranscriptSIM800LCNMI(t *testing.T) {
	// Real SIM800L answer to AT+CNMI=?; the rest of Init is scripted here.
	f := answersFrom(t, "python-gsmmodem-issue60-sim800l.txt")
	f.Answer("AT+CGMI", "SIMCOM_Ltd", "OK")
	f.Answer("AT+CGMM", "SIMCOM_SIM800L", "OK")
	f.Answer("AT+CMEE=1", "OK")
	f.Answer("AT+CMGF=0", "OK")
	f.Answer(`AT+CPMS="SM","SM","SM"`, "+CPMS: 0,30,0,30,0,30", "OK")
	f.Answer("AT+CNMI=2,1,0,1,0", "OK")
	f.Answer("AT+CREG=2", "OK")
	m := newModem(t, f, modem.Config{})
	s, err := m.Init(context.Background())
	if err != nil {
		t.Fatalf("Init: %v (commands %q)", err, f.Commands())
	}
	if s.CNMI != "2,1,0,1,0" {
		t.Fatalf("CNMI: got %q, want 2,1,0,1,0", s.CNMI)
	}
	if slices.Contains(f.Commands(), "AT+CNMI=2,1,0,2,0") {
		t.Fatalf("sent AT+CNMI=2,1,0,2,0 although AT+CNMI=? rules out <ds>=2: %q", f.Commands())
	}
}

func TestTranscriptWavecom(t *testing.T) {
	f := answersFrom(t, "python-gsmmodem-wavecom.txt")
	m := newModem(t, f, modem.Config{Timeout: 300 * time.Millisecond, Settle: 20 * time.Millisecond})
	ctx := context.Background()
	id, err := m.Identify(ctx)
	if id.Manufacturer != "WAVECOM MODEM" || id.Model != "MULTIBAND  900E  1800" || id.IMEI != "111111111111111" ||
		id.IMSI != "111111111111111" || id.Family != modem.FamilyGeneric {
		t.Fatalf("Identify: got %+v", id)
	}
	if !errors.Is(err, modem.ErrError) {
		t.Fatalf("Identify: got err %v, want the refused AT+CGMR (and ICCID commands) reported", err)
	}
	// Its +CPIN? answer has no final OK: the state still comes through.
	sim, err := m.SIMState(ctx)
	if err != nil || sim != modem.SIMReady {
		t.Fatalf("SIMState without OK: got %q, %v; want READY", sim, err)
	}
	// Init against its two-memory AT+CPMS=?: the real answer to
	// AT+CPMS="SM","SM" comes back (ATE0, CMGF and CNMI scripted here).
	f.Answer("AT+CMGF=0", "OK")
	f.Answer("AT+CNMI=2,1,0,2,0", "OK")
	s, err := m.Init(ctx)
	if err != nil {
		t.Fatalf("Init: %v (commands %q)", err, f.Commands())
	}
	if s.Storage != "SM" || s.Fill != (modem.MemStatus{Name: "SM", Used: 14, Total: 50}) {
		t.Fatalf("Init storage: got %q %+v, want SM 14/50", s.Storage, s.Fill)
	}
}

func TestTranscriptHuaweiE1752(t *testing.T) {
	f := answersFrom(t, "python-gsmmodem-huawei-e1752.txt")
	m := newModem(t, f, modem.Config{})
	ctx := context.Background()
	id, _ := m.Identify(ctx)
	if id.Manufacturer != "huawei" || id.Model != "E1752" || id.Firmware != "11.126.13.00.00" {
		t.Fatalf("Identify: got %+v", id)
	}
	_, err := m.Conn().Command(ctx, "AT+WIND?")
	var re *modem.ResultError
	if !errors.Is(err, modem.ErrError) || !errors.As(err, &re) || re.Line != "COMMAND NOT SUPPORT" {
		t.Fatalf("AT+WIND?: got %v, want ResultError COMMAND NOT SUPPORT", err)
	}
	lines, err := m.Conn().Command(ctx, "AT+CPMS=?")
	if err != nil {
		t.Fatal(err)
	}
	lists, err := modem.ParseCPMSTest(lines)
	if err != nil || len(lists) != 3 || !slices.Equal(lists[2], []string{"ME", "MT", "SM", "SR"}) {
		t.Fatalf("AT+CPMS=?: got %q, %v", lists, err)
	}
	if sim, err := m.SIMState(ctx); err != nil || sim != modem.SIMReady {
		t.Fatalf("SIMState: got %q, %v", sim, err)
	}
}
