package modemsim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand"
	"strings"
	"sync"
	"time"
)

// State is where a simulated module is in its power life cycle.
type State string

// The states a module can be in.
const (
	StateOff     State = "off"     // no supply, or supply but not switched on: the port is silent
	StateBooting State = "booting" // switched on, not yet answering
	StateOn      State = "on"      // answering AT commands
	StateHung    State = "hung"    // powered but answering nothing until power-cycled
)

// Fault is a misbehaviour injected through the control API.
type Fault string

// The faults a slot can be given. Only one is active at a time; FaultNone clears it.
const (
	FaultNone    Fault = "none"
	FaultHang    Fault = "hang"     // answer nothing until the module is powered off
	FaultGarbage Fault = "garbage"  // random bytes interleaved with the output
	FaultSlow    Fault = "slow"     // every answer is delayed by Config.SlowDelay
	FaultNoSIM   Fault = "nosim"    // the SIM is missing: +CME ERROR: 10
	FaultNoReg   Fault = "noreg"    // not registered, searching
	FaultFull    Fault = "full"     // storage reports full, new messages are refused
	FaultLoseURC Fault = "lose-urc" // +CMTI/+CMT are not sent; messages are still stored
)

var faults = []Fault{FaultNone, FaultHang, FaultGarbage, FaultSlow, FaultNoSIM, FaultNoReg, FaultFull, FaultLoseURC}

// ParseFault checks a fault name.
func ParseFault(s string) (Fault, error) {
	for _, f := range faults {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(faults))
	for i, f := range faults {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown fault %q (want one of %s)", s, strings.Join(names, ", "))
}

// Errors returned when a message cannot be delivered to a slot.
var (
	ErrStorageFull = errors.New("message storage full")
	ErrNoSIM       = errors.New("no SIM inserted")
)

// Clock is the time source of the simulator; tests inject their own.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; the returned function cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
	Sleep(d time.Duration)
}

type realClock struct{}

func (realClock) Now() time.Time        { return time.Now() }
func (realClock) Sleep(d time.Duration) { time.Sleep(d) }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Identity is what a slot's module and SIM report about themselves.
type Identity struct {
	IMEI   string
	ICCID  string
	IMSI   string
	Number string // own number, answered by AT+CNUM
	SMSC   string // service centre, AT+CSCA
}

// identityFor derives a distinct, valid-looking identity from the slot number and seed.
func identityFor(m Model, slot int, seed int64) Identity {
	h := func(kind string, digits int) string {
		f := fnv.New64a()
		fmt.Fprintf(f, "%d/%d/%s", seed, slot, kind)
		mod := uint64(1)
		for range digits {
			mod *= 10
		}
		return fmt.Sprintf("%0*d", digits, f.Sum64()%mod)
	}
	imei := m.TAC + fmt.Sprintf("%02d", slot%100) + h("imei", 4)
	iccid := "8901999" + fmt.Sprintf("%04d", slot%10000) + h("iccid", 7)
	return Identity{
		IMEI:   imei + luhn(imei),
		ICCID:  iccid + luhn(iccid),
		IMSI:   "00101" + fmt.Sprintf("%04d", slot%10000) + h("imsi", 6),
		Number: fmt.Sprintf("+1555010%04d", slot%10000),
		SMSC:   "+15550000000",
	}
}

// luhn returns the Luhn check digit for digits.
func luhn(digits string) string {
	sum := 0
	double := true
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return fmt.Sprint((10 - sum%10) % 10)
}

// Message status values of 3GPP TS 27.005 (<stat>).
const (
	statUnread = 0
	statRead   = 1
	statUnsent = 2
	statSent   = 3
	statAll    = 4
)

var statNames = []string{"REC UNREAD", "REC READ", "STO UNSENT", "STO SENT", "ALL"}
var statAPINames = []string{"unread", "read", "unsent", "sent"}

type message struct {
	pdu  []byte
	stat int
}

// storage is one message memory ("SM" on the SIM, "ME" in the module); nil entries are free.
type storage struct {
	name string
	msgs []*message
}

func (st *storage) used() int {
	n := 0
	for _, m := range st.msgs {
		if m != nil {
			n++
		}
	}
	return n
}

// session is the AT settings that power-up, AT+CFUN=1,1, ATZ and AT&F reset.
type session struct {
	echo, verbose bool
	cmee          int
	cmgf          int
	csdh          int
	cnmi          [5]int
	cscs          string
	creg, cgreg   int
	cereg         int
	copsFormat    int
	cfun          int
	mem           [3]string
	clip, crc     int
}

func defaultSession() session {
	return session{
		echo: true, verbose: true,
		cnmi: [5]int{2, 1, 0, 0, 0},
		cscs: "IRA",
		cfun: 1,
		mem:  [3]string{"SM", "SM", "SM"},
	}
}

const recentCommands = 32

// Slot is one simulated module with its SIM. All fields below mu are guarded by it; the
// goroutine that reads the slot's port runs commands while holding it, the control API and the
// boot timer take it too. Output goes through sink to a writer goroutine, so nothing that holds
// mu ever blocks on the port.
type Slot struct {
	n     int
	model Model
	id    Identity
	cfg   *Config

	mu          sync.Mutex
	supply      bool
	state       State
	fault       Fault
	gen         uint64 // bumped on every power transition; stale timers and replies compare it
	stopBoot    func() bool
	sess        session
	stores      map[string]*storage
	smsc        string
	smscType    int
	recent      []string
	sink        chan []byte
	rng         *rand.Rand
	concatRef   int
	line        []byte
	overflow    bool
	afterAnswer []func() // run once the current command line's answer is queued
}

func newSlot(n int, cfg *Config) *Slot {
	s := &Slot{
		n:        n,
		model:    cfg.Model,
		id:       identityFor(cfg.Model, n, cfg.Seed),
		cfg:      cfg,
		state:    StateOff,
		fault:    FaultNone,
		sess:     defaultSession(),
		stores:   map[string]*storage{},
		smscType: 145,
		rng:      rand.New(rand.NewSource(cfg.Seed*1000 + int64(n))),
	}
	s.smsc = s.id.SMSC
	for _, name := range cfg.Model.Storages {
		s.stores[name] = &storage{name: name, msgs: make([]*message, cfg.Capacity)}
	}
	if !cfg.PowerOffAtStart {
		// Started long ago: on and booted, its banner already gone by.
		s.supply = true
		s.state = StateOn
	}
	return s
}

// Number is the slot's index, counted from 0.
func (s *Slot) Number() int { return s.n }

// Identity returns the IMEI, ICCID, IMSI and numbers of the slot.
func (s *Slot) Identity() Identity { return s.id }

// SetPower switches the slot's supply. Off cuts the module at once (no power-down URC, the
// port goes silent, a hang is cleared). On boots a module that starts on supply (Model.AutoBoot
// or Config.AutoBoot); others wait for a PWRKEY pulse.
func (s *Slot) SetPower(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on == s.supply {
		return
	}
	s.supply = on
	if !on {
		s.powerDownLocked(false)
		return
	}
	if s.model.AutoBoot || s.cfg.AutoBoot {
		s.startBootLocked()
	}
}

// PressPowerKey applies a PWRKEY pulse of width d. It reports whether the pulse switched the
// module: on from off when d ≥ Model.PowerOnMin, off from booting, on or hung when
// d ≥ Model.PowerOffMin. Without supply nothing happens.
func (s *Slot) PressPowerKey(d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.supply {
		return false
	}
	if s.state == StateOff {
		if d >= s.model.PowerOnMin {
			s.startBootLocked()
			return true
		}
		return false
	}
	if s.model.ForceOnAfter > 0 && d > s.model.ForceOnAfter {
		s.powerDownLocked(true)
		s.startBootLocked()
		return true
	}
	if d >= s.model.PowerOffMin {
		s.powerDownLocked(true)
		return true
	}
	return false
}

// SetFault sets the slot's fault, replacing any other. A hang takes a running module at once
// and one that is off at its next boot; it ends when the module loses power.
func (s *Slot) SetFault(f Fault) error {
	if _, err := ParseFault(string(f)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.fault
	s.fault = f
	if f == FaultHang && (s.state == StateOn || s.state == StateBooting) {
		s.hangLocked()
	}
	if s.state == StateOn && (old == FaultNoReg) != (f == FaultNoReg) {
		s.registrationURCsLocked()
	}
	return nil
}

func (s *Slot) hangLocked() {
	if s.stopBoot != nil {
		s.stopBoot()
		s.stopBoot = nil
	}
	s.gen++
	s.state = StateHung
}

func (s *Slot) powerDownLocked(urc bool) {
	if s.state == StateOff {
		return
	}
	if urc && s.state == StateOn && s.model.PowerDownURC != "" {
		s.emitLinesLocked(s.model.PowerDownURC)
	}
	if s.stopBoot != nil {
		s.stopBoot()
		s.stopBoot = nil
	}
	if s.fault == FaultHang {
		s.fault = FaultNone
	}
	s.gen++
	s.state = StateOff
	s.line = s.line[:0]
}

func (s *Slot) startBootLocked() {
	if s.stopBoot != nil {
		s.stopBoot()
		s.stopBoot = nil
	}
	s.gen++
	s.sess = defaultSession()
	s.line = s.line[:0]
	s.state = StateBooting
	if s.fault == FaultHang {
		s.state = StateHung
		return
	}
	gen := s.gen
	s.stopBoot = s.cfg.Clock.AfterFunc(s.cfg.BootDelay, func() { s.finishBoot(gen) })
}

func (s *Slot) finishBoot(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen || s.state != StateBooting {
		return
	}
	s.stopBoot = nil
	s.state = StateOn
	if s.fault == FaultNoSIM {
		s.emitLinesLocked(s.model.NoSIMBootURCs...)
	} else {
		s.emitLinesLocked(s.model.BootURCs...)
	}
}

// registrationURCsLocked reports a registration change to clients that asked for it.
func (s *Slot) registrationURCsLocked() {
	stat := s.regStatLocked()
	if s.sess.creg > 0 {
		s.emitLinesLocked(fmt.Sprintf("+CREG: %d", stat))
	}
	if s.sess.cgreg > 0 {
		s.emitLinesLocked(fmt.Sprintf("+CGREG: %d", stat))
	}
	if s.sess.cereg > 0 && s.model.HasCEREG {
		s.emitLinesLocked(fmt.Sprintf("+CEREG: %d", stat))
	}
}

// emitLinesLocked queues unsolicited lines, each framed "\r\n<line>\r\n".
func (s *Slot) emitLinesLocked(lines ...string) {
	var b []byte
	for _, l := range lines {
		b = append(b, "\r\n"+l+"\r\n"...)
	}
	s.emitLocked(b)
}

// emitLocked queues output for the port. A module that is not on says nothing, and output
// nobody is connected to read, or that a stuck reader leaves queued, is lost as on a real UART.
func (s *Slot) emitLocked(b []byte) {
	if len(b) == 0 || s.state != StateOn || s.sink == nil {
		return
	}
	if s.fault == FaultGarbage {
		b = s.garbleLocked(b)
	}
	select {
	case s.sink <- b:
	default:
	}
}

// garbleLocked interleaves random bytes with b.
func (s *Slot) garbleLocked(b []byte) []byte {
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		n := 1 + s.rng.Intn(24)
		if n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n]...)
		b = b[n:]
		for k := s.rng.Intn(4); k > 0; k-- {
			out = append(out, byte(s.rng.Intn(256)))
		}
	}
	return out
}

// Serve runs the slot's AT port over rw until reading from it fails (close rw to stop it).
// Only one port is live per slot: a later Serve takes the output over from an earlier one.
func (s *Slot) Serve(rw io.ReadWriter) error {
	ch := make(chan []byte, 256)
	s.mu.Lock()
	s.sink = ch
	s.mu.Unlock()
	go func() {
		for b := range ch {
			_, _ = rw.Write(b) // output to a port nobody can read is lost, like on a UART
		}
	}()
	defer func() {
		s.mu.Lock()
		if s.sink == ch {
			s.sink = nil
		}
		s.mu.Unlock()
		close(ch)
	}()
	buf := make([]byte, 512)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			s.feed(buf[:n])
		}
		if err != nil {
			return err
		}
	}
}

// feed handles bytes from the port: echo, line assembly, command execution.
func (s *Slot) feed(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var echo []byte
	for _, c := range p {
		if s.state != StateOn {
			s.line = s.line[:0]
			return // off, booting or hung: input is lost
		}
		if s.sess.echo {
			echo = append(echo, c)
		}
		switch c {
		case '\r':
			line, over := string(s.line), s.overflow
			s.line, s.overflow = s.line[:0], false
			s.emitLocked(echo)
			echo = nil
			answer := s.execLineLocked(line, over)
			if s.fault == FaultSlow && len(answer) > 0 {
				gen := s.gen
				s.mu.Unlock()
				s.cfg.Clock.Sleep(s.cfg.SlowDelay)
				s.mu.Lock()
				if s.gen != gen {
					s.afterAnswer = nil
					continue
				}
			}
			s.emitLocked(answer)
			after := s.afterAnswer
			s.afterAnswer = nil
			for _, f := range after {
				f()
			}
		case '\n', 0:
			// LF after CR, or padding: not part of a command
		case 0x08, 0x7f: // backspace (S5)
			if len(s.line) > 0 {
				s.line = s.line[:len(s.line)-1]
			}
		case 0x1b: // ESC abandons the line
			s.line = s.line[:0]
		default:
			if len(s.line) < MaxLineLength {
				s.line = append(s.line, c)
			} else {
				s.overflow = true
			}
		}
	}
	s.emitLocked(echo)
}

func (s *Slot) record(line string) {
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	if len(s.recent) == recentCommands {
		copy(s.recent, s.recent[1:])
		s.recent = s.recent[:recentCommands-1]
	}
	s.recent = append(s.recent, line)
}

// execLineLocked runs one command line and returns the whole answer.
func (s *Slot) execLineLocked(line string, overflow bool) []byte {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" {
		return nil
	}
	s.record(trimmed)
	if overflow {
		return s.formatLocked(nil, errorResult)
	}
	cmds, err := ParseLine(line)
	if errors.Is(err, ErrNoPrefix) {
		return nil
	}
	if err != nil {
		return s.formatLocked(nil, errorResult)
	}
	var blocks [][]string
	for _, c := range cmds {
		lines, res := s.execLocked(c)
		if len(lines) > 0 {
			blocks = append(blocks, lines)
		}
		if res.kind != resOK {
			return s.formatLocked(blocks, res)
		}
	}
	return s.formatLocked(blocks, okResult)
}

type resultKind int

const (
	resOK resultKind = iota
	resError
	resCME
	resCMS
	resNone // no final result code (the module went away)
)

type result struct {
	kind resultKind
	code int
}

var (
	okResult    = result{}
	errorResult = result{kind: resError}
)

func cme(code int) result { return result{kind: resCME, code: code} }
func cms(code int) result { return result{kind: resCMS, code: code} }

var cmeText = map[int]string{
	3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
	13: "SIM failure", 21: "invalid index", 30: "no network service", 50: "Incorrect parameters",
	100: "unknown",
}

var cmsText = map[int]string{
	300: "ME failure", 302: "operation not allowed", 303: "operation not supported",
	304: "invalid PDU mode parameter", 305: "invalid text mode parameter", 310: "SIM not inserted",
	321: "invalid memory index", 322: "memory full", 500: "unknown error",
}

// formatLocked frames an answer under the current ATV and AT+CMEE settings.
func (s *Slot) formatLocked(blocks [][]string, res result) []byte {
	var b strings.Builder
	for _, lines := range blocks {
		if s.sess.verbose {
			b.WriteString("\r\n" + strings.Join(lines, "\r\n") + "\r\n")
		} else {
			b.WriteString(strings.Join(lines, "\r\n") + "\r\n")
		}
	}
	final, code := "", ""
	switch res.kind {
	case resNone:
		return []byte(b.String())
	case resOK:
		final, code = "OK", "0"
	case resError:
		final, code = "ERROR", "4"
	case resCME, resCMS:
		final, code = "ERROR", "4"
		prefix, texts := "+CME ERROR: ", cmeText
		if res.kind == resCMS {
			prefix, texts = "+CMS ERROR: ", cmsText
		}
		switch s.sess.cmee {
		case 1:
			final, code = fmt.Sprintf("%s%d", prefix, res.code), ""
		case 2:
			t, ok := texts[res.code]
			if !ok {
				t = fmt.Sprint(res.code)
			}
			final, code = prefix+t, ""
		}
	}
	if s.sess.verbose {
		b.WriteString("\r\n" + final + "\r\n")
	} else if code != "" {
		b.WriteString(code + "\r")
	} else {
		b.WriteString(final + "\r\n")
	}
	return []byte(b.String())
}
