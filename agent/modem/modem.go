package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a [Modem]. The zero value works.
type Config struct {
	// Timeout is the per-command timeout (DefaultTimeout if zero).
	Timeout time.Duration
	// ListTimeout bounds AT+CMGL, which reads the whole SIM (30 s if zero).
	ListTimeout time.Duration
	// Settle: see ConnConfig.Settle.
	Settle time.Duration
	// Clock drives timeouts (SystemClock if nil).
	Clock Clock
	// Logger gets debug and warning lines; discarded if nil.
	Logger *slog.Logger
	// Storage forces the message memory ("SM", "ME", …) instead of the
	// family's preference.
	Storage string
	// OnEvent receives every event in arrival order, on the Conn's dispatch
	// goroutine (see ConnConfig.OnURC). It may call Modem methods; events
	// wait while it runs and none are dropped.
	OnEvent func(Event)
}

// Modem is one GSM module. Its methods may be called from any goroutine:
// commands are serialised by the underlying Conn. The slot supervisor is
// expected to own it and to be the only caller of Init and Delete.
type Modem struct {
	conn        *Conn
	log         *slog.Logger
	listTimeout time.Duration
	onEvent     func(Event)
	forceMem    string

	mu      sync.Mutex // guards family and storage
	family  Family
	known   bool // family detected
	storage string
}

// New starts a Modem on an open port. It writes nothing until a method is
// called; call Init first.
func New(rw io.ReadWriter, cfg Config) *Modem {
	m := &Modem{
		log:         cfg.Logger,
		listTimeout: cfg.ListTimeout,
		onEvent:     cfg.OnEvent,
		forceMem:    cfg.Storage,
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.listTimeout <= 0 {
		m.listTimeout = 30 * time.Second
	}
	m.conn = NewConn(rw, ConnConfig{
		Timeout: cfg.Timeout, Settle: cfg.Settle, Clock: cfg.Clock, Logger: cfg.Logger,
		OnURC: m.handleURC,
	})
	return m
}

// Conn returns the AT engine, for commands this package does not wrap.
func (m *Modem) Conn() *Conn { return m.conn }

// Close closes the Conn (not the port).
func (m *Modem) Close() error { return m.conn.Close() }

// Family returns the detected family (FamilyGeneric before Identify or Init).
func (m *Modem) Family() Family {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.family
}

// Storage returns the message memory Init selected ("" before Init).
func (m *Modem) Storage() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.storage
}

// Ping sends "AT" and waits for OK: the probe for "is the modem answering".
// Poll it after power-up; RDY, +CPIN: READY and SMS DONE are only hints.
func (m *Modem) Ping(ctx context.Context) error {
	_, err := m.conn.Command(ctx, "AT")
	return err
}

// Identity is what a modem says about itself and its SIM.
type Identity struct {
	Manufacturer string
	Model        string
	Firmware     string
	IMEI         string
	ICCID        string
	IMSI         string
	Number       string // own number from AT+CNUM; "" when the SIM has none
	Family       Family
}

// Identify asks for manufacturer, model, firmware, IMEI, ICCID, IMSI and own
// number, and sets the family. It returns every answer it got; err joins the
// failures (ICCID and IMSI fail without a SIM; a missing own number is not a
// failure). Callers must not bind a lease without an ICCID.
func (m *Modem) Identify(ctx context.Context) (Identity, error) {
	var id Identity
	var errs []error
	text := func(cmd, name string) string {
		lines, err := m.conn.Command(ctx, cmd)
		if err == nil {
			var v string
			if v, err = parseText(lines, name); err == nil {
				return v
			}
		}
		errs = append(errs, err)
		return ""
	}
	id.Manufacturer = text("AT+CGMI", "+CGMI")
	id.Model = text("AT+CGMM", "+CGMM")
	id.Firmware = text("AT+CGMR", "+CGMR")
	id.Family = DetectFamily(id.Manufacturer, id.Model)
	if id.Manufacturer != "" || id.Model != "" {
		m.mu.Lock()
		m.family, m.known = id.Family, true
		m.mu.Unlock()
	}
	if lines, err := m.conn.Command(ctx, "AT+CGSN"); err != nil {
		errs = append(errs, err)
	} else if id.IMEI, err = parseDigits(lines, "+CGSN", 14, 17); err != nil {
		errs = append(errs, err)
	}
	var err error
	if id.ICCID, err = m.iccid(ctx, id.Family); err != nil {
		errs = append(errs, err)
	}
	if lines, err := m.conn.Command(ctx, "AT+CIMI"); err != nil {
		errs = append(errs, err)
	} else if id.IMSI, err = parseDigits(lines, "+CIMI", 6, 15); err != nil {
		errs = append(errs, err)
	}
	if lines, err := m.conn.Command(ctx, "AT+CNUM"); err == nil {
		if id.Number, err = ParseCNUM(lines); err != nil {
			errs = append(errs, err)
		}
	} else if errors.Is(err, ErrClosed) || errors.Is(err, ErrTimeout) {
		errs = append(errs, err)
	}
	return id, errors.Join(errs...)
}

// ICCID reads the SIM's ICCID, trying the family's command first and
// AT+CRSM last.
func (m *Modem) ICCID(ctx context.Context) (string, error) {
	return m.iccid(ctx, m.Family())
}

func (m *Modem) iccid(ctx context.Context, f Family) (string, error) {
	var errs []error
	for _, cmd := range iccidCommands(f) {
		lines, err := m.conn.Command(ctx, cmd)
		if err == nil {
			var v string
			if strings.HasPrefix(cmd, "AT+CRSM") {
				v, err = ParseCRSMICCID(lines)
			} else {
				v, err = ParseICCID(lines)
			}
			if err == nil {
				return v, nil
			}
			err = fmt.Errorf("%s: %w", cmd, err)
		}
		errs = append(errs, err)
		if errors.Is(err, ErrClosed) || ctx.Err() != nil {
			break
		}
		if s, ok := simStateFromError(err); ok && s == SIMNotInserted {
			break
		}
	}
	return "", fmt.Errorf("ICCID: %w", errors.Join(errs...))
}

// Settings is what Init chose.
type Settings struct {
	Family  Family
	Storage string    // message memory used for reading, writing and receiving
	Fill    MemStatus // its fill after selection
	CNMI    string    // the AT+CNMI parameters the modem accepted
	Warn    []error   // settings refused that Init could do without
}

// Init puts the modem in the state the rest of this package relies on:
// echo off (ATE0), numeric errors (AT+CMEE=1, else 2), PDU mode (AT+CMGF=0),
// one message memory for read, write and receive (AT+CPMS, chosen from
// AT+CPMS=? by family preference), new-message indications (AT+CNMI with
// fallbacks, skipping those AT+CNMI=? rules out) and registration URCs (AT+CREG=2, AT+CEREG=2 on LTE families).
// It identifies the family first (AT+CGMI, AT+CGMM) if Identify has not run.
// It fails if echo off, PDU mode, storage or every AT+CNMI variant fails.
func (m *Modem) Init(ctx context.Context) (Settings, error) {
	var s Settings
	c := m.conn
	if _, err := c.Command(ctx, "ATE0"); err != nil {
		return s, fmt.Errorf("init: %w", err)
	}
	if _, err := c.Command(ctx, "AT+CMEE=1"); err != nil {
		if _, err2 := c.Command(ctx, "AT+CMEE=2"); err2 != nil {
			s.Warn = append(s.Warn, err)
		}
	}
	m.mu.Lock()
	known := m.known
	m.mu.Unlock()
	if !known {
		mf, err1 := c.Command(ctx, "AT+CGMI")
		md, err2 := c.Command(ctx, "AT+CGMM")
		if err1 == nil && err2 == nil {
			mfs, _ := parseText(mf, "+CGMI")
			mds, _ := parseText(md, "+CGMM")
			m.mu.Lock()
			m.family, m.known = DetectFamily(mfs, mds), true
			m.mu.Unlock()
		} else {
			s.Warn = append(s.Warn, errors.Join(err1, err2))
		}
	}
	s.Family = m.Family()
	if _, err := c.Command(ctx, "AT+CMGF=0"); err != nil {
		return s, fmt.Errorf("init: PDU mode: %w", err)
	}
	mem, fill, warn, err := m.selectStorage(ctx, s.Family)
	s.Warn = append(s.Warn, warn...)
	if err != nil {
		return s, fmt.Errorf("init: storage: %w", err)
	}
	s.Storage, s.Fill = mem, fill
	m.mu.Lock()
	m.storage = mem
	m.mu.Unlock()

	var supported []map[int]bool
	if lines, err := c.Command(ctx, "AT+CNMI=?"); err == nil {
		if supported, err = ParseCNMITest(lines); err != nil {
			s.Warn = append(s.Warn, err)
		}
	} else if !isFinalError(err) {
		return s, fmt.Errorf("init: %w", err)
	}
	var cnmiErrs []error
	for _, p := range cnmiCandidates(supported) {
		_, err := c.Command(ctx, "AT+CNMI="+p)
		if err == nil {
			s.CNMI = p
			break
		}
		cnmiErrs = append(cnmiErrs, err)
		if !isFinalError(err) {
			break
		}
	}
	if s.CNMI == "" {
		return s, fmt.Errorf("init: new message indications: %w", errors.Join(cnmiErrs...))
	}
	if _, err := c.Command(ctx, "AT+CREG=2"); err != nil {
		if _, err2 := c.Command(ctx, "AT+CREG=1"); err2 != nil {
			s.Warn = append(s.Warn, err2)
		}
	}
	if s.Family.LTE() {
		if _, err := c.Command(ctx, "AT+CEREG=2"); err != nil {
			s.Warn = append(s.Warn, err)
		}
	}
	return s, nil
}

// selectStorage chooses and sets the message memory.
func (m *Modem) selectStorage(ctx context.Context, f Family) (string, MemStatus, []error, error) {
	var warn []error
	prefs := storagePreference(f)
	if m.forceMem != "" {
		prefs = []string{m.forceMem}
	}
	nparams := 3
	if lines, err := m.conn.Command(ctx, "AT+CPMS=?"); err == nil {
		if lists, err := ParseCPMSTest(lines); err == nil {
			nparams = min(len(lists), 3)
			var avail []string
			for _, p := range prefs {
				if offered(lists[0], p) && (len(lists) < 3 || offered(lists[2], p)) {
					avail = append(avail, p)
				}
			}
			if len(avail) == 0 {
				return "", MemStatus{}, warn, fmt.Errorf("none of %v offered by AT+CPMS=? %q", prefs, lines)
			}
			prefs = avail
		} else {
			warn = append(warn, err)
		}
	} else if !isFinalError(err) {
		return "", MemStatus{}, warn, err
	} else {
		warn = append(warn, err)
	}
	var errs []error
	for _, mem := range prefs {
		q := strconv.Quote(mem)
		args := strings.TrimSuffix(strings.Repeat(q+",", nparams), ",")
		lines, err := m.conn.Command(ctx, "AT+CPMS="+args)
		if err != nil {
			errs = append(errs, err)
			if !isFinalError(err) {
				break
			}
			continue
		}
		st, err := ParseCPMSSet(lines)
		if err != nil || len(st) == 0 {
			warn = append(warn, fmt.Errorf("AT+CPMS=%s: %w", args, err))
			return mem, MemStatus{Name: mem}, warn, nil
		}
		st[0].Name = mem
		return mem, st[0], warn, nil
	}
	return "", MemStatus{}, warn, errors.Join(errs...)
}

func offered(list []string, mem string) bool {
	for _, l := range list {
		if strings.EqualFold(l, mem) {
			return true
		}
	}
	return false
}

// Health is one poll of the modem's condition.
type Health struct {
	Signal       Signal
	Registration Registration // the one that decides SMS reachability
	CREG         *Registration
	CEREG        *Registration
	SIM          SIMState
	Operator     Operator
	Storage      []MemStatus // from AT+CPMS?; Storage[0] is the one read
}

// Health polls signal (AT+CSQ), SIM (AT+CPIN?), registration (AT+CREG?, and
// AT+CEREG? on LTE families or when +CREG is not registered), operator
// (AT+COPS?) and storage fill (AT+CPMS?). It returns all it learnt; err joins
// what failed. A missing SIM is a SIM state, not an error.
func (m *Modem) Health(ctx context.Context) (Health, error) {
	var h Health
	var errs []error
	var err error
	if h.Signal, err = m.Signal(ctx); err != nil {
		errs = append(errs, err)
	}
	if h.SIM, err = m.SIMState(ctx); err != nil {
		errs = append(errs, err)
	}
	h.Registration.State = RegUnknown
	h.Registration.AcT = -1
	if r, err := m.registration(ctx, "+CREG"); err != nil {
		errs = append(errs, err)
	} else {
		h.CREG = &r
		h.Registration = r
	}
	if m.Family().LTE() || h.CREG == nil || !h.CREG.State.Registered() {
		if r, err := m.registration(ctx, "+CEREG"); err == nil {
			h.CEREG = &r
			if r.State.Registered() || h.CREG == nil {
				h.Registration = r
			}
		} else if m.Family().LTE() {
			errs = append(errs, err)
		}
	}
	if lines, err := m.conn.Command(ctx, "AT+COPS?"); err != nil {
		errs = append(errs, err)
	} else if h.Operator, err = ParseCOPS(lines); err != nil {
		errs = append(errs, err)
	}
	if h.Storage, err = m.StorageStatus(ctx); err != nil {
		errs = append(errs, err)
	}
	return h, errors.Join(errs...)
}

// Signal reads AT+CSQ.
func (m *Modem) Signal(ctx context.Context) (Signal, error) {
	lines, err := m.conn.Command(ctx, "AT+CSQ")
	if err != nil {
		return Signal{}, err
	}
	return ParseCSQ(lines)
}

// Registration reads AT+CREG? (kind "+CREG"), AT+CGREG? or AT+CEREG?.
func (m *Modem) Registration(ctx context.Context, kind string) (Registration, error) {
	return m.registration(ctx, kind)
}

func (m *Modem) registration(ctx context.Context, kind string) (Registration, error) {
	lines, err := m.conn.Command(ctx, "AT"+kind+"?")
	if err != nil {
		return Registration{Kind: kind, AcT: -1}, err
	}
	return parseRegAnswer(lines, kind)
}

// SIMState reads AT+CPIN?; "+CME ERROR: 10" becomes SIMNotInserted.
func (m *Modem) SIMState(ctx context.Context) (SIMState, error) {
	lines, err := m.conn.Command(ctx, "AT+CPIN?")
	if err != nil {
		if s, ok := simStateFromError(err); ok {
			return s, nil
		}
		if errors.Is(err, ErrTimeout) {
			// Some firmware never sends OK after +CPIN: (python-gsmmodem's
			// Wavecom profile); the state line is still good.
			if s, perr := ParseCPIN(lines); perr == nil {
				return s, nil
			}
		}
		return "", err
	}
	return ParseCPIN(lines)
}

// StorageStatus reads AT+CPMS?: the memories in use and their fill.
func (m *Modem) StorageStatus(ctx context.Context) ([]MemStatus, error) {
	lines, err := m.conn.Command(ctx, "AT+CPMS?")
	if err != nil {
		return nil, err
	}
	return ParseCPMSQuery(lines)
}

// ListAll lists every message in the read memory with AT+CMGL=4 (all
// statuses, PDU mode). Reading marks unread messages read; nothing is
// deleted. Entries with a malformed PDU carry Err and Raw. err reports lines
// that could not be attributed to any index; the entries are valid even when
// err is not nil. Sweep with it at start and periodically, so that a lost
// +CMTI never strands a message.
func (m *Modem) ListAll(ctx context.Context) ([]StoredPDU, error) {
	lines, err := m.conn.CommandTimeout(ctx, "AT+CMGL=4", m.listTimeout)
	if err != nil {
		return nil, err
	}
	return ParseCMGL(lines, m.Storage())
}

// Read reads one message with AT+CMGR=index. An empty index gives
// ErrNoMessage (some modems say +CMS ERROR: 321 instead, which is returned as
// is). A malformed PDU is returned in the entry's Err, not as err.
func (m *Modem) Read(ctx context.Context, index int) (StoredPDU, error) {
	if index < 0 {
		return StoredPDU{}, fmt.Errorf("read sms %d: negative index", index)
	}
	lines, err := m.conn.Command(ctx, "AT+CMGR="+strconv.Itoa(index))
	if err != nil {
		return StoredPDU{Index: index}, fmt.Errorf("read sms %d: %w", index, err)
	}
	e, err := ParseCMGR(lines, index, m.Storage())
	if err != nil {
		return e, fmt.Errorf("read sms %d: %w", index, err)
	}
	return e, nil
}

// Delete removes one message with AT+CMGD=index.
//
// Contract: call Delete only after the message (its raw PDU) is stored
// durably elsewhere (the agent's outbox, fsynced). A crash between the two
// then reads the message again on the next sweep; its id is derived from the
// PDU, so the duplicate is recognised.
func (m *Modem) Delete(ctx context.Context, index int) error {
	if index < 0 {
		return fmt.Errorf("delete sms %d: negative index", index)
	}
	if _, err := m.conn.Command(ctx, "AT+CMGD="+strconv.Itoa(index)); err != nil {
		return fmt.Errorf("delete sms %d: %w", index, err)
	}
	return nil
}
