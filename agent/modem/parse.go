package modem

import (
	"errors"
	"fmt"
	"strings"
)

// MemStatus is the fill of one message memory.
type MemStatus struct {
	Name  string // "SM", "ME", "MT", …; empty in the answer to AT+CPMS=<mem>
	Used  int
	Total int
}

// ParseCPMSQuery parses the answer to AT+CPMS?:
//
//	+CPMS: "SM",5,30,"SM",5,30,"SM",5,30
//
// returning one MemStatus per memory (mem1 = read/delete, mem2 = write/send,
// mem3 = receive), as many as the modem listed.
func ParseCPMSQuery(lines []string) ([]MemStatus, error) {
	fs, err := infoFields(lines, "+CPMS")
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 || len(fs)%3 != 0 {
		return nil, fmt.Errorf("+CPMS: want groups of 3 parameters, got %d", len(fs))
	}
	var out []MemStatus
	for i := 0; i < len(fs); i += 3 {
		m := MemStatus{Name: fs[i].Value}
		if m.Name == "" {
			return nil, fmt.Errorf("+CPMS: memory %d has no name", i/3+1)
		}
		if m.Used, err = atoiField(fs[i+1], "used", 0, 1<<20); err != nil {
			return nil, fmt.Errorf("+CPMS: %w", err)
		}
		if m.Total, err = atoiField(fs[i+2], "total", 0, 1<<20); err != nil {
			return nil, fmt.Errorf("+CPMS: %w", err)
		}
		if m.Used > m.Total {
			return nil, fmt.Errorf("+CPMS: %s used %d exceeds total %d", m.Name, m.Used, m.Total)
		}
		out = append(out, m)
	}
	return out, nil
}

// ParseCPMSSet parses the answer to AT+CPMS=<mem1>[,<mem2>[,<mem3>]]:
//
//	+CPMS: 5,30,5,30,5,30
func ParseCPMSSet(lines []string) ([]MemStatus, error) {
	fs, err := infoFields(lines, "+CPMS")
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 || len(fs)%2 != 0 {
		return nil, fmt.Errorf("+CPMS: want pairs of used,total, got %d parameters", len(fs))
	}
	var out []MemStatus
	for i := 0; i < len(fs); i += 2 {
		var m MemStatus
		if m.Used, err = atoiField(fs[i], "used", 0, 1<<20); err != nil {
			return nil, fmt.Errorf("+CPMS: %w", err)
		}
		if m.Total, err = atoiField(fs[i+1], "total", 0, 1<<20); err != nil {
			return nil, fmt.Errorf("+CPMS: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// ParseCPMSTest parses the answer to AT+CPMS=?, a list of memory names for
// each of mem1, mem2 and mem3 (fewer on old modems):
//
//	+CPMS: ("SM","ME","MT"),("SM","ME","MT"),("SM","ME","MT")
//	+CPMS: (("SM","BM","SR"),("SM"))          (Wavecom: one extra pair of parentheses)
func ParseCPMSTest(lines []string) ([][]string, error) {
	fs, err := infoFields(lines, "+CPMS")
	if err != nil {
		return nil, err
	}
	if len(fs) == 1 && fs[0].List && strings.HasPrefix(strings.TrimSpace(fs[0].Value), "(") {
		if fs, err = splitFields(fs[0].Value); err != nil {
			return nil, fmt.Errorf("+CPMS: %w", err)
		}
	}
	var out [][]string
	for i, f := range fs {
		if !f.List {
			return nil, fmt.Errorf("+CPMS: parameter %d is not a list: %q", i+1, f.Value)
		}
		names, err := splitFields(f.Value)
		if err != nil {
			return nil, fmt.Errorf("+CPMS: %w", err)
		}
		var list []string
		for _, n := range names {
			if n.Value != "" {
				list = append(list, n.Value)
			}
		}
		out = append(out, list)
	}
	if len(out) == 0 || len(out[0]) == 0 {
		return nil, errors.New("+CPMS: the modem lists no message memory")
	}
	return out, nil
}

// Signal is the answer to AT+CSQ.
type Signal struct {
	RSSI  int  // 0..31, or 99 when unknown
	BER   int  // 0..7, or 99 when unknown
	Known bool // RSSI is 0..31
	DBm   int  // -113 + 2*RSSI when Known (0 means ≤ -113 dBm, 31 means ≥ -51 dBm)
}

// ParseCSQ parses "+CSQ: <rssi>,<ber>".
func ParseCSQ(lines []string) (Signal, error) {
	fs, err := infoFields(lines, "+CSQ")
	if err != nil {
		return Signal{}, err
	}
	if len(fs) != 2 {
		return Signal{}, fmt.Errorf("+CSQ: want 2 parameters, got %d", len(fs))
	}
	var s Signal
	if s.RSSI, err = atoiField(fs[0], "rssi", 0, 199); err != nil {
		return s, fmt.Errorf("+CSQ: %w", err)
	}
	if s.BER, err = atoiField(fs[1], "ber", 0, 99); err != nil {
		return s, fmt.Errorf("+CSQ: %w", err)
	}
	if s.RSSI <= 31 {
		s.Known = true
		s.DBm = -113 + 2*s.RSSI
	}
	return s, nil
}

// RegState is a network registration state (27.007 +CREG <stat>).
type RegState int

// Registration states. The SMS-only and CSFB variants (6, 7, 9, 10) count as
// home or roaming: SMS works there.
const (
	RegNotRegistered RegState = iota // not registered, not searching
	RegHome
	RegSearching
	RegDenied
	RegUnknown
	RegRoaming
	RegEmergencyOnly
)

func (r RegState) String() string {
	switch r {
	case RegNotRegistered:
		return "not registered"
	case RegHome:
		return "home"
	case RegSearching:
		return "searching"
	case RegDenied:
		return "denied"
	case RegRoaming:
		return "roaming"
	case RegEmergencyOnly:
		return "emergency only"
	}
	return "unknown"
}

// Registered reports whether SMS can arrive: home or roaming.
func (r RegState) Registered() bool { return r == RegHome || r == RegRoaming }

func regStateOf(stat int) RegState {
	switch stat {
	case 0:
		return RegNotRegistered
	case 1, 6, 9:
		return RegHome
	case 2:
		return RegSearching
	case 3:
		return RegDenied
	case 5, 7, 10:
		return RegRoaming
	case 8:
		return RegEmergencyOnly
	}
	return RegUnknown
}

// Registration is an answer to AT+CREG?, AT+CGREG? or AT+CEREG?, or one of
// their URCs.
type Registration struct {
	Kind  string // "+CREG", "+CGREG" or "+CEREG"
	State RegState
	Stat  int    // the raw <stat>
	LAC   string // location or tracking area code, hex, when reported
	CI    string // cell id, hex, when reported
	AcT   int    // access technology, -1 when not reported
}

// ParseRegistration parses the parameters of kind ("+CREG", "+CGREG",
// "+CEREG"), either the query answer "<n>,<stat>[,<lac>,<ci>[,<AcT>]]" or the
// URC "<stat>[,<lac>,<ci>[,<AcT>]]". The two are told apart by the second
// parameter: a bare number in the answer, a quoted area code in the URC.
func ParseRegistration(kind, params string) (Registration, error) {
	r := Registration{Kind: kind, AcT: -1}
	fs, err := splitFields(params)
	if err != nil {
		return r, fmt.Errorf("%s: %w", kind, err)
	}
	if len(fs) == 0 {
		return r, fmt.Errorf("%s: no parameters", kind)
	}
	if len(fs) >= 2 && !fs[1].Quoted && fs[1].Value != "" {
		fs = fs[1:] // drop <n>
	}
	if r.Stat, err = atoiField(fs[0], "stat", 0, 11); err != nil {
		return r, fmt.Errorf("%s: %w", kind, err)
	}
	r.State = regStateOf(r.Stat)
	if len(fs) >= 3 {
		r.LAC, r.CI = fs[1].Value, fs[2].Value
	}
	if len(fs) >= 4 && fs[3].Value != "" {
		if r.AcT, err = atoiField(fs[3], "AcT", 0, 15); err != nil {
			return r, fmt.Errorf("%s: %w", kind, err)
		}
	}
	return r, nil
}

// parseRegAnswer finds the kind line in a command answer and parses it.
func parseRegAnswer(lines []string, kind string) (Registration, error) {
	for _, l := range lines {
		if rest, ok := cutName(l, kind); ok {
			return ParseRegistration(kind, rest)
		}
	}
	return Registration{Kind: kind, AcT: -1}, fmt.Errorf("no %s line in answer %q", kind, lines)
}

// SIMState is the SIM's state from AT+CPIN? ("READY", "SIM PIN", "SIM PUK",
// …, as the modem words it), or SIMNotInserted / SIMFailure derived from the
// +CME ERROR that some modems give instead.
type SIMState string

// SIM states.
const (
	SIMReady       SIMState = "READY"
	SIMPIN         SIMState = "SIM PIN"
	SIMPUK         SIMState = "SIM PUK"
	SIMNotInserted SIMState = "NOT INSERTED"
	SIMFailure     SIMState = "SIM FAILURE"
	SIMBusy        SIMState = "SIM BUSY"
)

// ParseCPIN parses "+CPIN: <code>".
func ParseCPIN(lines []string) (SIMState, error) {
	for _, l := range lines {
		if rest, ok := cutName(l, "+CPIN"); ok {
			return cpinState(rest)
		}
	}
	return "", fmt.Errorf("no +CPIN line in answer %q", lines)
}

func cpinState(rest string) (SIMState, error) {
	s := strings.ToUpper(strings.Trim(strings.TrimSpace(rest), `"`))
	switch s {
	case "":
		return "", errors.New("+CPIN: empty state")
	case "NOT INSERTED", "SIM REMOVED", "NOT READY":
		return SIMNotInserted, nil
	}
	return SIMState(s), nil
}

// simStateFromError maps the +CME ERROR some modems give to AT+CPIN?.
func simStateFromError(err error) (SIMState, bool) {
	var cme *CMEError
	if errors.As(err, &cme) {
		switch cme.Code {
		case CMESIMNotInserted:
			return SIMNotInserted, true
		case CMESIMFailure, CMESIMWrong:
			return SIMFailure, true
		case CMESIMBusy:
			return SIMBusy, true
		case CMESIMPINRequired:
			return SIMPIN, true
		case CMESIMPUKRequired:
			return SIMPUK, true
		}
	}
	var cms *CMSError
	if errors.As(err, &cms) && cms.Code == CMSSIMNotInserted {
		return SIMNotInserted, true
	}
	return "", false
}

// Operator is the answer to AT+COPS?.
type Operator struct {
	Mode   int    // 0 automatic, 1 manual, 2 deregistered, …
	Format int    // 0 long name, 1 short name, 2 numeric (MCC MNC); -1 when absent
	Name   string // empty when not registered
	AcT    int    // -1 when absent
}

// ParseCOPS parses "+COPS: <mode>[,<format>,<oper>[,<AcT>]]".
func ParseCOPS(lines []string) (Operator, error) {
	op := Operator{Format: -1, AcT: -1}
	fs, err := infoFields(lines, "+COPS")
	if err != nil {
		return op, err
	}
	if len(fs) == 0 {
		return op, errors.New("+COPS: no parameters")
	}
	if op.Mode, err = atoiField(fs[0], "mode", 0, 9); err != nil {
		return op, fmt.Errorf("+COPS: %w", err)
	}
	if len(fs) >= 3 {
		if op.Format, err = atoiField(fs[1], "format", 0, 9); err != nil {
			return op, fmt.Errorf("+COPS: %w", err)
		}
		op.Name = fs[2].Value
	}
	if len(fs) >= 4 && fs[3].Value != "" {
		if op.AcT, err = atoiField(fs[3], "AcT", 0, 15); err != nil {
			return op, fmt.Errorf("+COPS: %w", err)
		}
	}
	return op, nil
}

// iccidPrefixes are the names modems put before an ICCID.
var iccidPrefixes = []string{"+CCID", "+ICCID", "+QCCID", "+CICCID", "^ICCID", "ICCID", "+SCID", "SCID"}

// ParseICCID extracts an ICCID from the answer to AT+CCID, AT+QCCID,
// AT+ICCID or AT+CICCID: "+CCID: 8988…", "+ICCID: …", "+QCCID: …", bare
// digits, quoted or not, with an optional trailing F (the filler of an odd
// length). The result is 18 to 20 decimal digits (a final check digit may be
// hex on some cards and is accepted).
func ParseICCID(lines []string) (string, error) {
	for _, l := range lines {
		v := l
		for _, p := range iccidPrefixes {
			if rest, ok := cutName(l, p); ok {
				v = rest
				break
			}
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if v == "" {
			continue
		}
		return checkICCID(v)
	}
	return "", fmt.Errorf("no ICCID in answer %q", lines)
}

func checkICCID(v string) (string, error) {
	v = strings.TrimRight(v, "Ff")
	if len(v) < 18 || len(v) > 20 {
		return "", fmt.Errorf("ICCID %q: want 18 to 20 digits, got %d", v, len(v))
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return "", fmt.Errorf("ICCID %q: not a digit at %d", v, i)
		}
	}
	if !strings.HasPrefix(v, "89") {
		return "", fmt.Errorf("ICCID %q: does not start with 89 (telecom)", v)
	}
	return v, nil
}

// ParseCRSMICCID parses the answer to AT+CRSM=176,12258,0,0,10 (READ BINARY
// of EF_ICCID): "+CRSM: 144,0,"98101430121181157002"", whose data is the
// ICCID with the two digits of each octet swapped.
func ParseCRSMICCID(lines []string) (string, error) {
	fs, err := infoFields(lines, "+CRSM")
	if err != nil {
		return "", err
	}
	if len(fs) < 3 {
		return "", fmt.Errorf("+CRSM: want 3 parameters, got %d", len(fs))
	}
	sw1, err := atoiField(fs[0], "sw1", 0, 255)
	if err != nil {
		return "", fmt.Errorf("+CRSM: %w", err)
	}
	if sw1 != 0x90 && sw1 != 0x91 {
		return "", fmt.Errorf("+CRSM: status %d,%s: read failed", sw1, fs[1].Value)
	}
	d := fs[2].Value
	if len(d)%2 != 0 {
		return "", fmt.Errorf("+CRSM: odd data length %d", len(d))
	}
	b := []byte(d)
	for i := 0; i+1 < len(b); i += 2 {
		b[i], b[i+1] = b[i+1], b[i]
	}
	return checkICCID(string(b))
}

// ParseCNUM returns the first number in the answer to AT+CNUM:
//
//	+CNUM: "Line 1","+15551234567",145
//
// A number of type 145 (international) gets a leading "+" if it lacks one.
// An empty answer (no number provisioned on the SIM) gives "".
func ParseCNUM(lines []string) (string, error) {
	for _, l := range lines {
		rest, ok := cutName(l, "+CNUM")
		if !ok {
			continue
		}
		fs, err := splitFields(rest)
		if err != nil {
			return "", fmt.Errorf("+CNUM: %w", err)
		}
		if len(fs) < 2 {
			return "", fmt.Errorf("+CNUM: want at least 2 parameters, got %d", len(fs))
		}
		num := fs[1].Value
		if num == "" {
			continue
		}
		for i := 0; i < len(num); i++ {
			c := num[i]
			if !(c >= '0' && c <= '9') && !(i == 0 && c == '+') && c != '*' && c != '#' {
				return "", fmt.Errorf("+CNUM: number %q has %q", num, c)
			}
		}
		if len(fs) >= 3 && fs[2].Value == "145" && !strings.HasPrefix(num, "+") {
			num = "+" + num
		}
		return num, nil
	}
	return "", nil
}

// parseDigits returns the single value of a command like AT+CGSN or AT+CIMI,
// which answer bare ("867…") or prefixed ("+CGSN: 867…"), checking that it is
// lo..hi decimal digits.
func parseDigits(lines []string, name string, lo, hi int) (string, error) {
	for _, l := range lines {
		v := l
		if rest, ok := cutName(l, name); ok {
			v = rest
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if v == "" {
			continue
		}
		if len(v) < lo || len(v) > hi {
			return "", fmt.Errorf("%s: %q: want %d to %d digits", name, v, lo, hi)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return "", fmt.Errorf("%s: %q: not a digit at %d", name, v, i)
			}
		}
		return v, nil
	}
	return "", fmt.Errorf("%s: empty answer", name)
}

// parseText returns the single text value of AT+CGMI, AT+CGMM or AT+CGMR,
// dropping an optional "+CGMI: " style prefix and quotes. Several lines (some
// modems answer AT+CGMR over several lines) are joined with a space.
func parseText(lines []string, name string) (string, error) {
	var parts []string
	for _, l := range lines {
		v := l
		if rest, ok := cutName(l, name); ok {
			v = rest
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("%s: empty answer", name)
	}
	return strings.Join(parts, " "), nil
}

// ParseCNMITest parses the answer to AT+CNMI=?, one set of supported values
// per parameter (<mode>,<mt>,<bm>,<ds>,<bfr>):
//
//	+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)
func ParseCNMITest(lines []string) ([]map[int]bool, error) {
	fs, err := infoFields(lines, "+CNMI")
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 || len(fs) > 5 {
		return nil, fmt.Errorf("+CNMI: want 1 to 5 lists, got %d", len(fs))
	}
	var out []map[int]bool
	for i, f := range fs {
		set, err := parseRange(f)
		if err != nil {
			return nil, fmt.Errorf("+CNMI: parameter %d: %w", i+1, err)
		}
		out = append(out, set)
	}
	return out, nil
}

// parseRange parses "(0-3)", "(0,2,3)", "(0-1,3)" or a bare "1".
func parseRange(f field) (map[int]bool, error) {
	set := map[int]bool{}
	items := strings.Split(f.Value, ",")
	for _, it := range items {
		it = strings.TrimSpace(it)
		lo, hi, isRange := strings.Cut(it, "-")
		a, err := atoiField(field{Value: lo}, "value", 0, 255)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = atoiField(field{Value: hi}, "value", 0, 255); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("range %q runs backwards", it)
			}
		}
		for v := a; v <= b; v++ {
			set[v] = true
		}
	}
	return set, nil
}
