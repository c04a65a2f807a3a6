package modem_test

import (
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ness-network/ness-sms/agent/modem"
)

// A real SMS-DELIVER ("How are you?" from +31641600986) with its SMSC prefix:
// 8 octets of SMSC field, 30 octets of TPDU.
const howAreYou = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"

func TestParseCMGL(t *testing.T) {
	lines := []string{
		`+CMGL: 0,1,,30`, howAreYou,
		`+CMGL: 3,"REC UNREAD","",30`, strings.ToLower(howAreYou),
		`+CMGL: 4,0,,29`, howAreYou, // length disagrees
		`+CMGL: 5,0,,30`, "0791ZZ", // not hex
		`+CMGL: 6,0,,30`,            // PDU line missing
		`+CMGL: x,0,,30`, howAreYou, // no index: skipped, reported
	}
	got, err := modem.ParseCMGL(lines, "SM")
	if err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("unparseable header: got err %v, want it reported", err)
	}
	type row struct {
		index, status int
		ok            bool
	}
	want := []row{{0, 1, true}, {3, 0, true}, {4, 0, false}, {5, 0, false}, {6, 0, false}}
	if len(got) != len(want) {
		t.Fatalf("got %d entries %+v, want %d", len(got), got, len(want))
	}
	pdu, _ := hex.DecodeString(howAreYou)
	for i, w := range want {
		g := got[i]
		if g.Index != w.index || g.Status != w.status || (g.Err == nil) != w.ok || g.Storage != "SM" {
			t.Errorf("entry %d: got index %d status %d err %v storage %q, want index %d status %d ok %v",
				i, g.Index, g.Status, g.Err, g.Storage, w.index, w.status, w.ok)
		}
		if w.ok && !slices.Equal(g.PDU, pdu) {
			t.Errorf("entry %d: got PDU %X, want %X", i, g.PDU, pdu)
		}
		if !w.ok && g.PDU != nil {
			t.Errorf("entry %d: malformed entry has PDU %X", i, g.PDU)
		}
	}
	if got[3].Raw != "0791ZZ" {
		t.Errorf("malformed entry Raw: got %q, want %q", got[3].Raw, "0791ZZ")
	}
	if got, err := modem.ParseCMGL(nil, "SM"); err != nil || len(got) != 0 {
		t.Errorf("empty storage: got %v, %v; want no entries", got, err)
	}
}

func TestParseCMGR(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		wantErr error
		wantBad bool
	}{
		{"message", []string{"+CMGR: 0,,30", howAreYou}, nil, false},
		{"empty answer", nil, modem.ErrNoMessage, false},
		{"zero length", []string{"+CMGR: 0,,0"}, modem.ErrNoMessage, false},
		{"truncated PDU", []string{"+CMGR: 1,,30", howAreYou[:40]}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := modem.ParseCMGR(tt.lines, 7, "ME")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("%q: got err %v, want %v", tt.lines, err, tt.wantErr)
			}
			if err == nil && ((got.Err != nil) != tt.wantBad || got.Index != 7 || got.Storage != "ME") {
				t.Fatalf("%q: got %+v, want malformed=%v index 7 storage ME", tt.lines, got, tt.wantBad)
			}
		})
	}
}

func TestDecodeHex(t *testing.T) {
	tests := []struct {
		in   string
		want string // hex of result, or "" for error
	}{
		{"00", "00"},
		{"0a0B", "0a0b"},
		{"", ""},
		{"0", ""},
		{"0G", ""},
		{"00 11", ""},
		{strings.Repeat("00", modem.MaxPDULen), strings.Repeat("00", modem.MaxPDULen)},
		{strings.Repeat("00", modem.MaxPDULen+1), ""},
	}
	for _, tt := range tests {
		got, err := modem.DecodeHex(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("DecodeHex(%q): got %X, want error", tt.in, got)
			}
			continue
		}
		if err != nil || hex.EncodeToString(got) != tt.want {
			t.Errorf("DecodeHex(%q): got %x, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCPMS(t *testing.T) {
	q, err := modem.ParseCPMSQuery([]string{`+CPMS: "SM",5,30,"ME",0,100,"SM",5,30`})
	want := []modem.MemStatus{{"SM", 5, 30}, {"ME", 0, 100}, {"SM", 5, 30}}
	if err != nil || !slices.Equal(q, want) {
		t.Errorf("AT+CPMS?: got %v, %v; want %v", q, err, want)
	}
	for _, bad := range [][]string{{`+CPMS: ,,,,,,,,`}, {`+CPMS: "SM",31,30`}, {`+CPMS: "SM",5`}, {"OK"}} {
		if got, err := modem.ParseCPMSQuery(bad); err == nil {
			t.Errorf("AT+CPMS? %q: got %v, want error", bad, got)
		}
	}
	s, err := modem.ParseCPMSSet([]string{"+CPMS: 14,50,14,50"})
	if err != nil || !slices.Equal(s, []modem.MemStatus{{"", 14, 50}, {"", 14, 50}}) {
		t.Errorf("AT+CPMS=: got %v, %v", s, err)
	}
	tests := []struct {
		line string
		want [][]string
	}{
		{`+CPMS: ("SM","ME","MT"),("SM","ME","MT"),("SM","ME","MT")`, [][]string{{"SM", "ME", "MT"}, {"SM", "ME", "MT"}, {"SM", "ME", "MT"}}},
		{`+CPMS: (("SM","BM","SR"),("SM"))`, [][]string{{"SM", "BM", "SR"}, {"SM"}}},
		{`+CPMS: ("ME","SM","MT"),("ME","SM","MT"),("SM","MT")`, [][]string{{"ME", "SM", "MT"}, {"ME", "SM", "MT"}, {"SM", "MT"}}},
		{`+CPMS: (),(),()`, nil},
		{`+CPMS: ("SM"`, nil},
	}
	for _, tt := range tests {
		got, err := modem.ParseCPMSTest([]string{tt.line})
		if tt.want == nil {
			if err == nil {
				t.Errorf("AT+CPMS=? %q: got %q, want error", tt.line, got)
			}
			continue
		}
		if err != nil || !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("AT+CPMS=? %q: got %q, %v; want %q", tt.line, got, err, tt.want)
		}
	}
}

func TestParseCSQ(t *testing.T) {
	tests := []struct {
		line  string
		dbm   int
		known bool
		bad   bool
	}{
		{"+CSQ: 0,99", -113, true, false},
		{"+CSQ: 20,0", -73, true, false},
		{"+CSQ: 31,99", -51, true, false},
		{"+CSQ: 99,99", 0, false, false},
		{"+CSQ: -1,99", 0, false, true},
		{"+CSQ: 20", 0, false, true},
		{"+CSQ: a,b", 0, false, true},
	}
	for _, tt := range tests {
		got, err := modem.ParseCSQ([]string{tt.line})
		if (err != nil) != tt.bad {
			t.Errorf("%q: got err %v, want error=%v", tt.line, err, tt.bad)
			continue
		}
		if !tt.bad && (got.DBm != tt.dbm || got.Known != tt.known) {
			t.Errorf("%q: got %d dBm known=%v, want %d known=%v", tt.line, got.DBm, got.Known, tt.dbm, tt.known)
		}
	}
}

func TestParseRegistration(t *testing.T) {
	tests := []struct {
		kind, params string
		want         modem.RegState
		lac          string
		bad          bool
	}{
		{"+CREG", "0,1", modem.RegHome, "", false},
		{"+CREG", "2,5,\"1A2B\",\"00C1\"", modem.RegRoaming, "1A2B", false},
		{"+CREG", "1", modem.RegHome, "", false},                              // URC, n omitted
		{"+CREG", "2,\"1A2B\",\"00C1\",7", modem.RegSearching, "1A2B", false}, // URC with location
		{"+CEREG", "2,3", modem.RegDenied, "", false},
		{"+CEREG", "0,0", modem.RegNotRegistered, "", false},
		{"+CREG", "0,4", modem.RegUnknown, "", false},
		{"+CREG", "0,6", modem.RegHome, "", false}, // SMS only, home
		{"+CREG", "", 0, "", true},
		{"+CREG", "0,12", 0, "", true},
		{"+CREG", "\"x", 0, "", true},
	}
	for _, tt := range tests {
		got, err := modem.ParseRegistration(tt.kind, tt.params)
		if (err != nil) != tt.bad {
			t.Errorf("%s %q: got err %v, want error=%v", tt.kind, tt.params, err, tt.bad)
			continue
		}
		if !tt.bad && (got.State != tt.want || got.LAC != tt.lac) {
			t.Errorf("%s %q: got %v lac %q, want %v lac %q", tt.kind, tt.params, got.State, got.LAC, tt.want, tt.lac)
		}
	}
}

func TestParseICCID(t *testing.T) {
	tests := []struct {
		lines []string
		want  string
	}{
		{[]string{"+CCID: 89882806660004909182"}, "89882806660004909182"},
		{[]string{"+ICCID: 8944500102198304826F"}, "8944500102198304826"},
		{[]string{"+QCCID: 89860318740280003545"}, "89860318740280003545"},
		{[]string{`+CCID: "8901260882205567890"`}, "8901260882205567890"},
		{[]string{"8944100000000000001f"}, "8944100000000000001"},
		{[]string{"+CCID: 12345"}, ""},
		{[]string{"+CCID: 89ABCDEF000000000000"}, ""},
		{[]string{""}, ""},
	}
	for _, tt := range tests {
		got, err := modem.ParseICCID(tt.lines)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: got %q, want error", tt.lines, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.lines, got, err, tt.want)
		}
	}
	crsm := []struct {
		line, want string
	}{
		{`+CRSM: 144,0,"98101430121181157002"`, "89014103211118510720"},
		{`+CRSM: 144,0,"984400012091384028F6"`, "8944001002198304826"},
		{`+CRSM: 148,4,""`, ""},
		{`+CRSM: 144,0,"981"`, ""},
	}
	for _, tt := range crsm {
		got, err := modem.ParseCRSMICCID([]string{tt.line})
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: got %q, want error", tt.line, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.line, got, err, tt.want)
		}
	}
}

func TestParseCNUM(t *testing.T) {
	tests := []struct {
		lines []string
		want  string
		bad   bool
	}{
		{[]string{`+CNUM: "","+15551234567",145`}, "+15551234567", false},
		{[]string{`+CNUM: "Line 1","447562567063",145,7,4`}, "+447562567063", false},
		{[]string{`+CNUM: "","0612345678",129`}, "0612345678", false},
		{nil, "", false},
		{[]string{`+CNUM: "","12ab",129`}, "", true},
	}
	for _, tt := range tests {
		got, err := modem.ParseCNUM(tt.lines)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q error=%v", tt.lines, got, err, tt.want, tt.bad)
		}
	}
}

func TestParseCOPS(t *testing.T) {
	got, err := modem.ParseCOPS([]string{`+COPS: 0,0,"Vodafone NL",7`})
	if err != nil || got.Name != "Vodafone NL" || got.AcT != 7 || got.Format != 0 {
		t.Errorf("COPS with operator: got %+v, %v", got, err)
	}
	got, err = modem.ParseCOPS([]string{`+COPS: 0`})
	if err != nil || got.Name != "" || got.Mode != 0 {
		t.Errorf("COPS without operator: got %+v, %v", got, err)
	}
}

func FuzzParseCMGL(f *testing.F) {
	f.Add("+CMGL: 0,1,,30\n" + howAreYou + "\n+CMGL: 3,\"REC UNREAD\",\"\",30\n00")
	f.Add("+CMGL: 1,0,\"a,b\",0\n00\n+CMGL: 2")
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		got, _ := modem.ParseCMGL(lines, "SM")
		for _, e := range got {
			if e.Err == nil && len(e.PDU) != 1+int(e.PDU[0])+e.Length {
				t.Fatalf("accepted PDU %X with length %d", e.PDU, e.Length)
			}
			if e.Err != nil && e.PDU != nil {
				t.Fatalf("entry with error carries a PDU: %+v", e)
			}
		}
		_, _ = modem.ParseCMGR(lines, 0, "SM")
	})
}

func FuzzParseCPMS(f *testing.F) {
	f.Add(`+CPMS: "SM",5,30,"SM",5,30,"SM",5,30`)
	f.Add(`+CPMS: (("SM","BM","SR"),("SM"))`)
	f.Add(`+CPMS: ("SM","ME","MT"),("SM","ME","MT"),("SM","ME","MT")`)
	f.Add(`+CPMS: 14,50,14,50`)
	f.Fuzz(func(t *testing.T, s string) {
		lines := []string{s}
		if q, err := modem.ParseCPMSQuery(lines); err == nil {
			for _, m := range q {
				if m.Name == "" || m.Used > m.Total || m.Used < 0 {
					t.Fatalf("accepted %+v from %q", m, s)
				}
			}
		}
		_, _ = modem.ParseCPMSSet(lines)
		if l, err := modem.ParseCPMSTest(lines); err == nil && len(l[0]) == 0 {
			t.Fatalf("accepted an empty memory list from %q", s)
		}
	})
}

func FuzzParseResponses(f *testing.F) {
	for _, s := range []string{`+CSQ: 20,99`, `+CREG: 2,1,"1A2B","00C1",7`, `+COPS: 0,0,"X",7`,
		`+CCID: 89882806660004909182`, `+CRSM: 144,0,"98101430121181157002"`, `+CNUM: "","+1555",145`,
		`+CPIN: READY`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := []string{s}
		if sig, err := modem.ParseCSQ(lines); err == nil && sig.Known && (sig.DBm < -113 || sig.DBm > -51) {
			t.Fatalf("%q: dBm %d out of range", s, sig.DBm)
		}
		if _, rest, ok := strings.Cut(s, ":"); ok {
			_, _ = modem.ParseRegistration("+CREG", rest)
		}
		_, _ = modem.ParseCOPS(lines)
		if id, err := modem.ParseICCID(lines); err == nil && (len(id) < 18 || len(id) > 20) {
			t.Fatalf("%q: accepted ICCID %q", s, id)
		}
		_, _ = modem.ParseCRSMICCID(lines)
		_, _ = modem.ParseCNUM(lines)
		_, _ = modem.ParseCPIN(lines)
		_ = modem.ParseEvent(modem.URC{Name: "+CMTI", Params: s})
	})
}

func FuzzDecodeHex(f *testing.F) {
	f.Add(howAreYou)
	f.Add("0")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := modem.DecodeHex(s)
		if err != nil {
			return
		}
		if !strings.EqualFold(hex.EncodeToString(b), s) {
			t.Fatalf("DecodeHex(%q) = %X does not round-trip", s, b)
		}
	})
}

// TestParseCMGRGarbled: answers polluted by line noise are read errors (ErrGarbled), never a
// verdict on the entry; a line of the right length that still does not parse is not.
func TestParseCMGRGarbled(t *testing.T) {
	hdr := "+CMGR: 0,,30"
	tests := []struct {
		name    string
		lines   []string
		garbled bool
	}{
		{"stray line before the PDU", []string{hdr, "g", howAreYou}, true},
		{"noise inside the PDU line", []string{hdr, howAreYou[:20] + "g" + howAreYou[20:]}, true},
		{"PDU line split", []string{hdr, howAreYou[:30], howAreYou[30:]}, true},
		{"hex inserted: length disagrees", []string{hdr, howAreYou[:30] + "5A" + howAreYou[30:]}, true},
		{"PDU line missing", []string{hdr}, true},
		{"non-hex of the right length", []string{hdr, howAreYou[:30] + "ZZ" + howAreYou[32:]}, false},
		{"SMSC length over 11", []string{"+CMGR: 0,,1", "FF00"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := modem.ParseCMGR(tt.lines, 1, "SM")
			if err != nil {
				t.Fatalf("err %v", err)
			}
			if got.Err == nil || errors.Is(got.Err, modem.ErrGarbled) != tt.garbled || got.PDU != nil {
				t.Errorf("%q: got Err %v PDU %X; want an error, garbled %v, no PDU", tt.lines, got.Err, got.PDU, tt.garbled)
			}
		})
	}
}
