package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ness-network/ness-sms/agent/modem"
)

// errRestart ends serve without blaming the modem: the slot starts again (ping, power on when
// silent, initialise) with no escalation. errPortLost also closes the port first.
var (
	errRestart  = errors.New("restart")
	errPortLost = fmt.Errorf("%w: port lost", errRestart)
)

// step is how bringUp gets a modem answering before it initialises it.
type step int

const (
	stepStart      step = iota // ping; power on when silent; wait for AT
	stepReinit                 // escalation 1: ping, then initialise again
	stepCFUN                   // escalation 2: AT+CFUN=1,1, wait for AT
	stepPowerCycle             // escalation 3: power cycle, wait for AT
	stepProbe                  // after a backoff or while blocked: ping; power cycle (or CFUN) when silent
)

// slot is one slot's state machine. run is its goroutine; it alone writes the port.
type slot struct {
	sup *Supervisor
	n   int
	cfg SlotConfig
	t   Timing
	clk Clock
	log *slog.Logger

	// events is written by the modem Conn's dispatch goroutine (onEvent) and read by run.
	events chan modem.Event
	// overflow is set by onEvent when events was full; run then sweeps.
	overflow atomic.Bool

	// Owned by the run goroutine.
	port      io.ReadWriteCloser
	m         *modem.Modem
	level     int // escalation level reached since the modem was last healthy
	fails     int // consecutive failed health polls
	portWait  time.Duration
	simReady  bool   // SIM READY and Init done: messages are read
	sim       string // last SIM state seen
	reg       modem.Registration
	regKnown  bool
	iccid     string
	blocked   bool
	lastLog   map[string]time.Time
	suppessed map[string]int
	// suspects are entries that read back malformed, by index, until they prove stable
	// (junk) or read back well; reread asks for a sweep soon after a garbled read.
	suspects map[int]*suspect
	reread   bool
}

// JunkReads is how many times in a row an entry must read back malformed with the same raw line
// and header <length>, the first and the last read at least Timing.SweepInterval apart, before it
// is handed over as junk and deleted. Line noise is random: it never repeats itself like that, so
// noise can only delay an SMS, never get it deleted.
const JunkReads = 3

// suspect is an entry seen malformed: what it looked like and since when.
type suspect struct {
	raw    string
	length int
	first  time.Time
	seen   int
}

func newSlot(sup *Supervisor, n int, cfg SlotConfig) *slot {
	if cfg.Baud == 0 {
		cfg.Baud = 115200
	}
	return &slot{
		sup: sup, n: n, cfg: cfg, t: sup.t, clk: sup.clock,
		log:       sup.log.With("slot", n),
		events:    make(chan modem.Event, 64),
		lastLog:   map[string]time.Time{},
		suppessed: map[string]int{},
		suspects:  map[int]*suspect{},
	}
}

// onEvent runs on the Conn's dispatch goroutine: it never blocks.
func (s *slot) onEvent(e modem.Event) {
	select {
	case s.events <- e:
	default:
		s.overflow.Store(true)
	}
}

func (s *slot) canPower() bool { return s.cfg.Power != nil && s.cfg.Power.CanPowerCycle() }

func (s *slot) act(k ActionKind, detail string) {
	if k != ActionBackoff && k != ActionProbe {
		s.log.Info("slot action", "action", string(k), "detail", detail)
	} else {
		s.log.Debug("slot action", "action", string(k), "detail", detail)
	}
	if f := s.sup.cfg.OnAction; f != nil {
		f(Action{Slot: s.n, Kind: k, Detail: detail, At: s.clk.Now()})
	}
}

// setState moves the slot to st with reason; since changes only when the state does.
func (s *slot) setState(st State, reason string) {
	now := s.clk.Now()
	var old State
	s.sup.update(s.n, func(x *SlotStatus) {
		old = x.State
		if x.State != st {
			x.State, x.Since = st, now
		}
		x.Reason = reason
	})
	if old != st {
		s.log.Info("slot state", "from", string(old), "to", string(st), "reason", reason)
	}
}

func (s *slot) count(f func(*SlotStatus)) { s.sup.update(s.n, f) }

// limited logs at most once per Timing.LogEvery per key, saying how many were suppressed.
func (s *slot) limited(key string, level slog.Level, msg string, args ...any) {
	now := s.clk.Now()
	if last, ok := s.lastLog[key]; ok && now.Sub(last) < s.t.LogEvery {
		s.suppessed[key]++
		return
	}
	if n := s.suppessed[key]; n > 0 {
		args = append(args, "suppressed", n)
	}
	s.lastLog[key] = now
	s.suppessed[key] = 0
	s.log.Log(context.Background(), level, msg, args...)
}

// wait sleeps d on the supervisor's clock; false when ctx ended first.
func (s *slot) wait(ctx context.Context, d time.Duration) bool {
	c, stop := s.clk.Timer(d)
	defer stop()
	select {
	case <-ctx.Done():
		return false
	case <-c:
		return true
	}
}

func (s *slot) run(ctx context.Context) {
	how := stepStart
	for ctx.Err() == nil {
		if s.m == nil && !s.openPort(ctx, true) {
			continue
		}
		err := s.bringUp(ctx, how)
		if err == nil {
			s.blocked = false
			s.act(ActionReady, "")
			err = s.serve(ctx)
		}
		if ctx.Err() != nil {
			break
		}
		how = s.next(ctx, err)
	}
	s.shutdown()
}

// next decides the step after serve or bringUp ended with err, and waits when the ladder says so.
func (s *slot) next(ctx context.Context, err error) step {
	if errors.Is(err, modem.ErrClosed) {
		err = fmt.Errorf("%w: %v", errPortLost, err)
	}
	if errors.Is(err, errRestart) {
		if errors.Is(err, errPortLost) {
			s.act(ActionPortLost, err.Error())
			s.closePort()
		}
		s.log.Info("slot restart", "why", err.Error())
		return stepStart
	}
	s.level++
	s.count(func(x *SlotStatus) { x.Errors++ })
	reason := err.Error()
	switch {
	case s.level == 1:
		s.setState(StateRecovering, "re-initialising: "+reason)
		s.act(ActionReinit, reason)
		return stepReinit
	case s.level == 2:
		s.setState(StateRecovering, "AT+CFUN=1,1 reset: "+reason)
		s.act(ActionCFUNReset, reason)
		return stepCFUN
	case s.level == 3 && s.canPower():
		s.setState(StateRecovering, "power cycle: "+reason)
		s.act(ActionPowerCycle, reason)
		return stepPowerCycle
	}
	k := s.level - 4
	if !s.canPower() {
		k = s.level - 3
	}
	d := s.t.BackoffBase
	for range k {
		if d >= s.t.BackoffMax {
			break
		}
		d *= 2
	}
	if d >= s.t.BackoffMax {
		d = s.t.BackoffMax
		if !s.blocked {
			s.blocked = true
			s.act(ActionBlocked, reason)
		}
		s.setState(StateBlocked, fmt.Sprintf("%s (probing every %v)", reason, d))
	} else {
		s.setState(StateRecovering, fmt.Sprintf("backoff %v: %s", d, reason))
		s.act(ActionBackoff, d.String())
	}
	if !s.wait(ctx, d) {
		return stepProbe
	}
	s.act(ActionProbe, "")
	return stepProbe
}

// openPort opens the slot's port. When it fails, the slot shows off with the reason and, if
// backoff is set, waits the port retry (doubling to its cap) before returning false.
func (s *slot) openPort(ctx context.Context, backoff bool) bool {
	rwc, dev, err := s.sup.cfg.Ports.OpenPort(s.cfg.Port, s.cfg.Baud)
	if err != nil {
		if !backoff {
			return false
		}
		s.setState(StateOff, "port: "+err.Error())
		s.limited("port", slog.LevelWarn, "open port failed", "port", s.cfg.Port, "err", err)
		if s.portWait == 0 {
			s.portWait = s.t.PortRetry
		} else {
			s.portWait = min(2*s.portWait, s.t.PortRetryMax)
		}
		s.wait(ctx, s.portWait)
		return false
	}
	s.portWait = 0
	s.port = rwc
	s.m = modem.New(rwc, modem.Config{
		Timeout: s.t.CommandTimeout, ListTimeout: s.t.ListTimeout, Settle: s.t.Settle,
		Clock: s.sup.cfg.ModemClock, Logger: s.log, OnEvent: s.onEvent,
	})
	s.sup.update(s.n, func(x *SlotStatus) { x.Port = dev })
	s.act(ActionPortOpen, dev)
	return true
}

func (s *slot) closePort() {
	if s.m != nil {
		s.m.Close()
		s.m = nil
	}
	if s.port != nil {
		s.port.Close()
		s.port = nil
	}
	s.simReady = false
}

func (s *slot) ping(ctx context.Context) error {
	if s.m == nil {
		return errPortLost
	}
	return s.m.Ping(ctx)
}

// waitAT polls AT until the modem answers or the boot timeout passes. A port that closed
// (a USB modem re-enumerating after a power cycle) is reopened on the way.
func (s *slot) waitAT(ctx context.Context) error {
	deadline := s.clk.Now().Add(s.t.BootTimeout)
	var last error
	for {
		if s.m == nil || s.m.Conn().Err() != nil {
			s.closePort()
			s.openPort(ctx, false)
		}
		if s.m != nil {
			if last = s.m.Ping(ctx); last == nil {
				return nil
			}
		} else {
			last = errPortLost
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !s.clk.Now().Before(deadline) {
			return fmt.Errorf("no answer to AT within %v: %w", s.t.BootTimeout, last)
		}
		if !s.wait(ctx, s.t.PingInterval) {
			return ctx.Err()
		}
	}
}

func (s *slot) powerCycle(ctx context.Context) error {
	s.count(func(x *SlotStatus) { x.PowerCycles++ })
	if err := s.cfg.Power.PowerCycle(ctx); err != nil {
		return err
	}
	return nil
}

func (s *slot) cfunReset(ctx context.Context) error {
	s.count(func(x *SlotStatus) { x.Resets++ })
	if s.m == nil {
		return errPortLost
	}
	if _, err := s.m.Conn().Command(ctx, "AT+CFUN=1,1"); err != nil {
		return err
	}
	// The modem answers OK before it restarts: give it a moment to stop answering.
	s.wait(ctx, s.t.PingInterval)
	return nil
}

// bringUp gets the modem answering by the given step and initialises it.
func (s *slot) bringUp(ctx context.Context, how step) error {
	switch how {
	case stepStart:
		if err := s.ping(ctx); err != nil {
			if ctx.Err() != nil {
				return err
			}
			if s.canPower() {
				s.setState(StatePowering, "")
				s.act(ActionPowerOn, "")
				if err := s.cfg.Power.PowerOn(ctx); err != nil {
					return err
				}
			}
			s.setState(StateWaitingAT, "")
			if err := s.waitAT(ctx); err != nil {
				return err
			}
		}
	case stepReinit:
		s.count(func(x *SlotStatus) { x.Resets++ })
		if err := s.ping(ctx); err != nil {
			return err
		}
	case stepCFUN:
		if err := s.cfunReset(ctx); err != nil {
			return fmt.Errorf("AT+CFUN=1,1: %w", err)
		}
		if err := s.waitAT(ctx); err != nil {
			return err
		}
	case stepPowerCycle:
		if err := s.powerCycle(ctx); err != nil {
			return err
		}
		if err := s.waitAT(ctx); err != nil {
			return err
		}
	case stepProbe:
		if err := s.ping(ctx); err != nil {
			if ctx.Err() != nil {
				return err
			}
			if s.canPower() {
				s.act(ActionPowerCycle, "probe: "+err.Error())
				if err := s.powerCycle(ctx); err != nil {
					return err
				}
			} else if err := s.cfunReset(ctx); err != nil {
				return fmt.Errorf("AT+CFUN=1,1: %w", err)
			}
			if err := s.waitAT(ctx); err != nil {
				return err
			}
		}
	}
	return s.initialise(ctx)
}

// silent reports errors that mean the modem or its port stopped answering.
func silent(err error) bool {
	return errors.Is(err, modem.ErrTimeout) || errors.Is(err, modem.ErrClosed)
}

// initialise identifies the modem and SIM and, with the SIM ready, runs modem.Init.
func (s *slot) initialise(ctx context.Context) error {
	if s.sup.status(s.n).State != StateRecovering && s.sup.status(s.n).State != StateBlocked {
		s.setState(StateInitialising, "")
	}
	s.simReady = false
	sim, err := s.m.SIMState(ctx)
	if err != nil {
		if silent(err) {
			return fmt.Errorf("SIM state: %w", err)
		}
		sim = ""
	}
	id, err := s.m.Identify(ctx)
	if silent(err) {
		return fmt.Errorf("identify: %w", err)
	}
	if id.ICCID != s.iccid {
		clear(s.suspects) // another SIM: what was seen on the old one says nothing
	}
	s.iccid = id.ICCID
	s.sim = string(sim)
	s.sup.update(s.n, func(x *SlotStatus) {
		x.ICCID, x.IMSIHash, x.IMEI = id.ICCID, HashIMSI(id.IMSI), id.IMEI
		x.Model = strings.TrimSpace(id.Manufacturer + " " + id.Model)
		x.SIM = string(sim)
	})
	if sim != "" && sim != modem.SIMReady {
		s.drain()
		return nil // serve reports it degraded; no init without a usable SIM
	}
	if _, err := s.m.Init(ctx); err != nil {
		return err
	}
	s.simReady = true
	s.drain()
	return nil
}

// drain drops events queued during boot and init (RDY, +CPIN, SMS DONE of the restart we just
// did); new-message events among them are covered by the sweep serve starts with.
func (s *slot) drain() {
	for {
		select {
		case <-s.events:
		default:
			s.overflow.Store(false)
			return
		}
	}
}

// serve reads messages and polls health until the modem fails (error), needs a restart
// (errRestart) or ctx ends.
func (s *slot) serve(ctx context.Context) error {
	s.fails = 0
	if err := s.poll(ctx); err != nil {
		return err
	}
	if err := s.sweep(ctx); err != nil {
		return err
	}
	health, stopHealth := s.clk.Timer(s.t.HealthInterval)
	defer func() { stopHealth() }()
	sweep, stopSweep := s.clk.Timer(s.t.SweepInterval)
	defer func() { stopSweep() }()
	var reread <-chan time.Time // armed while a garbled read waits to be read again
	stopReread := func() {}
	defer func() { stopReread() }()
	for {
		if s.m == nil {
			return errPortLost
		}
		done := s.m.Conn().Done()
		var err error
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return fmt.Errorf("%w: %v", errPortLost, s.m.Conn().Err())
		case e := <-s.events:
			err = s.handle(ctx, e)
		case <-health:
			err = s.poll(ctx)
			health, stopHealth = s.clk.Timer(s.t.HealthInterval)
		case <-sweep:
			err = s.sweep(ctx)
			sweep, stopSweep = s.clk.Timer(s.t.SweepInterval)
		case <-reread:
			reread = nil
			err = s.sweep(ctx)
		}
		if err == nil && s.overflow.Swap(false) {
			err = s.sweep(ctx)
		}
		if err != nil {
			return err
		}
		if s.reread && reread == nil {
			reread, stopReread = s.clk.Timer(s.t.RereadInterval)
		}
	}
}

// fatal turns a command error into serve's result: silence escalates, a closed port restarts,
// anything else is counted and tolerated.
func (s *slot) fatal(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, modem.ErrClosed) {
		return fmt.Errorf("%w: %s: %v", errPortLost, what, err)
	}
	if errors.Is(err, modem.ErrTimeout) {
		return fmt.Errorf("%s: %w", what, err)
	}
	s.count(func(x *SlotStatus) { x.Errors++ })
	s.limited(what, slog.LevelWarn, "modem command failed", "what", what, "err", err)
	return nil
}

// poll runs one health check and sets ready or degraded.
func (s *slot) poll(ctx context.Context) error {
	if err := s.ping(ctx); err != nil {
		if errors.Is(err, errRestart) {
			return err
		}
		return s.fatal("health: AT", fmt.Errorf("%w", err))
	}
	h, err := s.m.Health(ctx)
	s.sup.update(s.n, func(x *SlotStatus) {
		if h.Signal.Known {
			x.SignalDBm = h.Signal.DBm
		} else {
			x.SignalDBm = 0
		}
		if h.SIM != "" {
			x.SIM = string(h.SIM)
		}
		x.Operator = h.Operator.Name
	})
	if h.CREG != nil || h.CEREG != nil {
		s.reg, s.regKnown = h.Registration, true
	}
	if silent(err) {
		return s.fatal("health", err)
	}
	if h.SIM != "" {
		s.sim = string(h.SIM)
		if h.SIM == modem.SIMReady && !s.simReady {
			return fmt.Errorf("%w: SIM became ready", errRestart)
		}
		if h.SIM != modem.SIMReady {
			s.simReady = false
		}
	}
	if err != nil && s.simReady {
		s.fails++
		s.count(func(x *SlotStatus) { x.Errors++ })
		s.limited("health", slog.LevelWarn, "health poll failed", "err", err, "consecutive", s.fails)
		if s.fails >= s.t.ErrorLimit {
			return fmt.Errorf("%d health polls in a row failed, last: %w", s.fails, err)
		}
	} else {
		s.fails = 0
		s.level = 0 // a healthy poll: the next failure starts the ladder again
	}
	s.setReadiness()
	return nil
}

// setReadiness shows ready, or degraded with the SIM or network reason.
func (s *slot) setReadiness() {
	regName := ""
	if s.regKnown {
		regName = s.reg.State.String()
	}
	s.sup.update(s.n, func(x *SlotStatus) { x.Registration = regName })
	switch {
	case !s.simReady:
		var what string
		switch modem.SIMState(s.sim) {
		case modem.SIMNotInserted:
			what = "SIM absent"
		case modem.SIMPIN:
			what = "SIM is PIN-locked"
		case modem.SIMPUK:
			what = "SIM is PUK-locked"
		case "":
			what = "SIM state unknown"
		default:
			what = "SIM " + s.sim
		}
		s.setState(StateDegraded, what)
	case !s.regKnown:
		s.setState(StateDegraded, "registration unknown")
	case s.reg.State == modem.RegHome:
		s.setState(StateReady, "")
	case s.reg.State == modem.RegRoaming:
		s.setState(StateDegraded, "roaming")
	default:
		s.setState(StateDegraded, "not registered: "+s.reg.State.String())
	}
}

// handle reacts to one unsolicited event.
func (s *slot) handle(ctx context.Context, e modem.Event) error {
	switch e.Kind {
	case modem.EventNewMessage:
		if e.Err != nil || e.Index < 0 || (e.Storage != "" && !strings.EqualFold(e.Storage, s.m.Storage())) {
			return s.sweep(ctx)
		}
		return s.readOne(ctx, e.Index)
	case modem.EventMessage:
		return s.storeDirect(ctx, e)
	case modem.EventSIM:
		if e.Err != nil {
			return nil
		}
		s.sim = string(e.SIM)
		s.sup.update(s.n, func(x *SlotStatus) { x.SIM = string(e.SIM) })
		if e.SIM == modem.SIMReady && !s.simReady {
			return fmt.Errorf("%w: SIM became ready", errRestart)
		}
		if e.SIM != modem.SIMReady && s.simReady {
			s.simReady = false
			s.setReadiness()
		}
	case modem.EventRegistration:
		if e.Err == nil && (e.Registration.State.Registered() || !s.regKnown || e.Registration.Kind == s.reg.Kind) {
			s.reg, s.regKnown = e.Registration, true
			s.setReadiness()
		}
	case modem.EventReady:
		return fmt.Errorf("%w: modem restarted (%s)", errRestart, e.URC.Line)
	case modem.EventPowerDown:
		return fmt.Errorf("%w: modem powered down (%s)", errRestart, e.URC.Line)
	}
	return nil
}

// gone reports a read error that means the index is empty (taken by a sweep, or deleted).
func gone(err error) bool {
	var cms *modem.CMSError
	return errors.Is(err, modem.ErrNoMessage) || (errors.As(err, &cms) && cms.Code == modem.CMSInvalidMemoryIndex)
}

// readOne reads the message at index and hands it on.
func (s *slot) readOne(ctx context.Context, index int) error {
	p, err := s.m.Read(ctx, index)
	if err != nil {
		if gone(err) {
			delete(s.suspects, index)
			return nil // already taken by a sweep
		}
		s.reread = true
		if f := s.fatal("read", err); f != nil {
			return f
		}
		return s.sweep(ctx)
	}
	return s.take(ctx, p)
}

// sweep lists the whole message memory and hands every message on. Each listed entry is read
// again with AT+CMGR and taken only when both reads agree: the AT+CMGR answer is checked
// against its own header, and the index it is deleted by is the one it was read from, so noise
// in the list (an index, a PDU line) cannot get a message stored wrong or another one deleted.
func (s *slot) sweep(ctx context.Context) error {
	if !s.simReady {
		return nil
	}
	s.reread = false
	list, lerr := s.m.ListAll(ctx)
	if f := s.fatal("sweep", lerr); f != nil {
		return f
	}
	if lerr != nil {
		s.reread = true // lines that fit no entry: some entry may be missing from the list
	}
	listed := make(map[int]bool, len(list))
	for _, p := range list {
		listed[p.Index] = true
		q, err := s.m.Read(ctx, p.Index)
		if err != nil {
			if gone(err) {
				continue
			}
			s.reread = true
			if f := s.fatal("read", err); f != nil {
				return f
			}
			continue
		}
		if p.Err == nil && q.Err == nil && !bytes.Equal(p.PDU, q.PDU) {
			s.misread(p.Index, fmt.Errorf("%w: AT+CMGL and AT+CMGR answers differ", modem.ErrGarbled))
			continue
		}
		if err := s.take(ctx, q); err != nil {
			return err
		}
	}
	if lerr == nil {
		for idx := range s.suspects {
			if !listed[idx] {
				delete(s.suspects, idx) // gone from the SIM
			}
		}
	}
	return nil
}

// misread counts and logs a garbled read and asks for a sweep soon; the message stays on the SIM.
func (s *slot) misread(index int, err error) {
	s.reread = true
	s.count(func(x *SlotStatus) { x.Errors++ })
	s.limited("misread", slog.LevelWarn, "garbled read (line noise?): SMS left on the SIM, read again soon",
		"index", index, "err", err)
}

// take stores one PDU read with AT+CMGR through the sink and deletes it from the SIM only once
// the sink has it. A garbled read is read again at once, and left on the SIM when it still is
// garbled. A PDU line that does not parse, or a PDU the sink says does not decode (PDUChecker),
// is junk only once it proved stable (see stable); until then it stays on the SIM.
func (s *slot) take(ctx context.Context, p modem.StoredPDU) error {
	if errors.Is(p.Err, modem.ErrGarbled) {
		q, err := s.m.Read(ctx, p.Index)
		if err != nil {
			if gone(err) {
				delete(s.suspects, p.Index)
				return nil
			}
			s.reread = true
			return s.fatal("read", err)
		}
		p = q
	}
	if errors.Is(p.Err, modem.ErrGarbled) {
		s.misread(p.Index, p.Err)
		return nil
	}
	bad := p.Err
	if bad == nil {
		if c, ok := s.sup.cfg.Sink.(PDUChecker); ok {
			bad = c.CheckPDU(p.PDU)
		}
	}
	if bad != nil && !s.stable(p) {
		s.count(func(x *SlotStatus) { x.Errors++ })
		s.limited(fmt.Sprintf("malformed-%d", p.Index), slog.LevelWarn,
			"malformed PDU left on the SIM until it reads back the same over a sweep interval",
			"index", p.Index, "raw", p.Raw, "err", bad)
		return nil
	}
	if p.Err != nil {
		// Stable: hand the raw line to the sink as junk, then delete it, so a bad entry
		// cannot fill the SIM (issue 3: keep the raw bytes, report, delete).
		return s.takeMalformed(ctx, p)
	}
	// A good PDU, or valid hex that proved stable but does not decode: the sink keeps the
	// latter as junk, raw bytes and all.
	delete(s.suspects, p.Index)
	storage := p.Storage
	if storage == "" {
		storage = s.m.Storage()
	}
	s.ensureICCID(ctx)
	part := ReceivedPart{Slot: s.n, ICCID: s.iccid, Storage: storage, Index: p.Index, PDU: p.PDU, ReceivedAt: s.clk.Now()}
	if err := s.sup.cfg.Sink.StorePart(ctx, part); err != nil {
		s.count(func(x *SlotStatus) { x.StoreErrors++ })
		s.limited("store", slog.LevelWarn, "sink refused a PDU; it stays on the SIM", "index", p.Index, "err", err)
		return nil
	}
	now := s.clk.Now()
	s.count(func(x *SlotStatus) { x.Received++; x.LastSMS = now })
	if err := s.m.Delete(ctx, p.Index); err != nil {
		// Stored but not deleted: the next sweep hands it over again; the sink knows it.
		return s.fatal("delete", err)
	}
	return nil
}

// stable records one malformed read of p and reports whether the entry is now proven
// malformed: JunkReads reads in a row with the same raw line and header <length>, the first
// and the last at least a sweep interval apart. Any difference starts the count again.
func (s *slot) stable(p modem.StoredPDU) bool {
	now := s.clk.Now()
	k := s.suspects[p.Index]
	if k == nil || k.raw != p.Raw || k.length != p.Length {
		s.suspects[p.Index] = &suspect{raw: p.Raw, length: p.Length, first: now, seen: 1}
		return false
	}
	k.seen++
	return k.seen >= JunkReads && now.Sub(k.first) >= s.t.SweepInterval
}

// ensureICCID reads the ICCID again when initialise got none (a SIM still busy after boot
// answers +CME ERROR: 14): the sink refuses parts without one, so without this every SMS would
// wait on the SIM until the next restart.
func (s *slot) ensureICCID(ctx context.Context) {
	if s.iccid != "" {
		return
	}
	iccid, err := s.m.ICCID(ctx)
	if err != nil {
		s.limited("iccid", slog.LevelWarn, "ICCID unreadable; SMS wait on the SIM", "err", err)
		return
	}
	s.iccid = iccid
	s.sup.update(s.n, func(x *SlotStatus) { x.ICCID = iccid })
}

// takeMalformed hands a PDU line that did not parse, and proved stable, to the sink as junk
// and deletes it from the SIM once the sink has it.
func (s *slot) takeMalformed(ctx context.Context, p modem.StoredPDU) error {
	storage := p.Storage
	if storage == "" {
		storage = s.m.Storage()
	}
	part := ReceivedPart{Slot: s.n, ICCID: s.iccid, Storage: storage, Index: p.Index, PDU: []byte(p.Raw),
		ReceivedAt: s.clk.Now(), Malformed: p.Err.Error()}
	s.count(func(x *SlotStatus) { x.DecodeErrors++ })
	if err := s.sup.cfg.Sink.StorePart(ctx, part); err != nil {
		s.count(func(x *SlotStatus) { x.StoreErrors++ })
		s.limited(fmt.Sprintf("malformed-%d", p.Index), slog.LevelWarn, "sink refused a malformed PDU; it stays on the SIM",
			"index", p.Index, "raw", p.Raw, "err", err)
		return nil
	}
	delete(s.suspects, p.Index)
	s.log.Warn("malformed PDU kept as junk and deleted from the SIM", "index", p.Index, "raw", p.Raw, "err", p.Err)
	if err := s.m.Delete(ctx, p.Index); err != nil {
		return s.fatal("delete", err)
	}
	return nil
}

// storeDirect stores a +CMT delivery, which exists nowhere but in this event.
func (s *slot) storeDirect(ctx context.Context, e modem.Event) error {
	if e.Err != nil || len(e.PDU) == 0 {
		s.count(func(x *SlotStatus) { x.Errors++ })
		s.limited("cmt", slog.LevelError, "malformed +CMT delivery lost", "line", e.URC.Line, "err", e.Err)
		return nil
	}
	s.ensureICCID(ctx)
	part := ReceivedPart{Slot: s.n, ICCID: s.iccid, Storage: "", Index: -1, PDU: e.PDU, ReceivedAt: s.clk.Now()}
	if err := s.sup.cfg.Sink.StorePart(ctx, part); err != nil {
		s.count(func(x *SlotStatus) { x.StoreErrors++ })
		s.limited("cmt-store", slog.LevelError, "sink refused a +CMT delivery (not stored on the SIM, so it is lost)", "err", err)
		return nil
	}
	now := s.clk.Now()
	s.count(func(x *SlotStatus) { x.Received++; x.LastSMS = now })
	return nil
}

// shutdown powers the modem down (bounded by Timing.ShutdownTimeout) and closes the port.
func (s *slot) shutdown() {
	if s.canPower() {
		ctx, cancel := context.WithTimeout(context.Background(), s.t.ShutdownTimeout)
		s.act(ActionPowerOff, "")
		if err := s.cfg.Power.PowerOff(ctx); err != nil {
			s.log.Warn("power off at exit failed", "err", err)
		}
		cancel()
	}
	s.closePort()
	s.setState(StateOff, "stopped")
}
