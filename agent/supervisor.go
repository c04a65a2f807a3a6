package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/agent/modem"
)

// PortOpener opens a slot's AT port. The agent's main implements it with go.bug.st/serial;
// tests hand out pseudo-terminals. It is called again every time a port is lost, so it must
// resolve by-path/by-id globs afresh on each call: that is how USB re-enumeration is followed.
type PortOpener interface {
	// OpenPort opens port (a device path or glob from the board profile) at baud and returns
	// the open port and the device path it resolved to.
	OpenPort(port string, baud int) (io.ReadWriteCloser, string, error)
}

// PowerControl switches one slot's modem; *power.Controller implements it.
type PowerControl interface {
	PowerOn(ctx context.Context) error
	PowerOff(ctx context.Context) error
	PowerCycle(ctx context.Context) error
	CanPowerCycle() bool
}

// Clock is the supervisor's time source (never time.Now or time.Sleep directly).
type Clock interface {
	Now() time.Time
	// Timer returns a channel that receives once d has passed, and a function that stops it.
	Timer(d time.Duration) (<-chan time.Time, func())
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Timer implements Clock with time.NewTimer.
func (SystemClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// SlotConfig is one slot: where its AT port is and what can switch it.
type SlotConfig struct {
	Port  string       // device path or by-path/by-id glob
	Baud  int          // 0 = 115200
	Power PowerControl // nil: the slot has no power lines
}

// Timing holds the supervisor's intervals. Zero fields get the defaults in DefaultTiming.
type Timing struct {
	HealthInterval  time.Duration // AT ping + signal, SIM, registration, operator, storage
	SweepInterval   time.Duration // AT+CMGL=4 sweep, so a lost +CMTI never strands a message
	RereadInterval  time.Duration // sweep again this soon after a garbled read (line noise), at most SweepInterval
	CommandTimeout  time.Duration // per AT command
	ListTimeout     time.Duration // AT+CMGL on a full SIM
	Settle          time.Duration // quiet wait after a timed-out command (modem.ConnConfig.Settle)
	BootTimeout     time.Duration // from power-on or AT+CFUN=1,1 until AT must answer
	PingInterval    time.Duration // between AT probes while waiting for a modem to boot
	BackoffBase     time.Duration // first backoff after a power cycle failed to help
	BackoffMax      time.Duration // backoff cap; reaching it blocks the slot (still probed at this rate)
	PortRetry       time.Duration // first wait before reopening a missing port (doubles up to PortRetryMax)
	PortRetryMax    time.Duration
	ErrorLimit      int           // consecutive failed health polls before escalating
	ShutdownTimeout time.Duration // bound on powering every modem down at exit
	LogEvery        time.Duration // a repeating log line is written at most this often per slot
}

// DefaultTiming suits a real board.
var DefaultTiming = Timing{
	HealthInterval:  30 * time.Second,
	SweepInterval:   60 * time.Second,
	RereadInterval:  5 * time.Second,
	CommandTimeout:  modem.DefaultTimeout,
	ListTimeout:     30 * time.Second,
	Settle:          modem.DefaultSettle,
	BootTimeout:     20 * time.Second,
	PingInterval:    time.Second,
	BackoffBase:     30 * time.Second,
	BackoffMax:      10 * time.Minute,
	PortRetry:       time.Second,
	PortRetryMax:    30 * time.Second,
	ErrorLimit:      3,
	ShutdownTimeout: 30 * time.Second,
	LogEvery:        10 * time.Minute,
}

func (t Timing) withDefaults() Timing {
	d := DefaultTiming
	set := func(dst *time.Duration, def time.Duration) {
		if *dst <= 0 {
			*dst = def
		}
	}
	set(&t.HealthInterval, d.HealthInterval)
	set(&t.SweepInterval, d.SweepInterval)
	set(&t.RereadInterval, d.RereadInterval)
	set(&t.CommandTimeout, d.CommandTimeout)
	set(&t.ListTimeout, d.ListTimeout)
	set(&t.Settle, d.Settle)
	set(&t.BootTimeout, d.BootTimeout)
	set(&t.PingInterval, d.PingInterval)
	set(&t.BackoffBase, d.BackoffBase)
	set(&t.BackoffMax, d.BackoffMax)
	set(&t.PortRetry, d.PortRetry)
	set(&t.PortRetryMax, d.PortRetryMax)
	set(&t.ShutdownTimeout, d.ShutdownTimeout)
	set(&t.LogEvery, d.LogEvery)
	if t.ErrorLimit <= 0 {
		t.ErrorLimit = d.ErrorLimit
	}
	t.RereadInterval = min(t.RereadInterval, t.SweepInterval)
	t.BackoffBase = min(t.BackoffBase, t.BackoffMax)
	t.PortRetry = min(t.PortRetry, t.PortRetryMax)
	return t
}

// ActionKind names a step the supervisor took on a slot.
type ActionKind string

// Actions, in the order escalation uses them.
const (
	ActionPortOpen   ActionKind = "port-open"   // port opened (Detail: device path)
	ActionPortLost   ActionKind = "port-lost"   // port closed under us (device gone)
	ActionPowerOn    ActionKind = "power-on"    // power-on sequence
	ActionReady      ActionKind = "ready"       // reached ready or degraded after start or recovery
	ActionReinit     ActionKind = "reinit"      // escalation 1: AT ping and init again
	ActionCFUNReset  ActionKind = "cfun-reset"  // escalation 2: AT+CFUN=1,1
	ActionPowerCycle ActionKind = "power-cycle" // escalation 3 and later: power cycle by the slot's lines
	ActionBackoff    ActionKind = "backoff"     // waiting before the next attempt (Detail: duration)
	ActionBlocked    ActionKind = "blocked"     // backoff reached its cap
	ActionProbe      ActionKind = "probe"       // a blocked slot is probed
	ActionPowerOff   ActionKind = "power-off"   // shutdown
)

// Action is one step taken on a slot, reported to SupervisorConfig.OnAction.
type Action struct {
	Slot   int
	Kind   ActionKind
	Detail string
	At     time.Time
}

// SupervisorConfig configures a Supervisor.
type SupervisorConfig struct {
	Slots  []SlotConfig // 1..32
	Ports  PortOpener
	Sink   PartSink
	Timing Timing
	Clock  Clock // default SystemClock
	// ModemClock drives AT command timeouts (default modem.SystemClock). Kept apart from Clock
	// so a test can skip the supervisor's waits on a fake clock while commands run in real time.
	ModemClock modem.Clock
	Logger     *slog.Logger
	// OnAction, when set, is called on the slot's goroutine for every step (tests, tracing).
	// It must not block.
	OnAction func(Action)
}

// MaxSlots is the most slots one supervisor runs.
const MaxSlots = 32

// Supervisor runs one state machine per slot, each on its own goroutine that alone owns the
// slot's port and modem. It keeps every slot's status for Snapshot, metrics and the pipeline's
// status publisher.
type Supervisor struct {
	cfg   SupervisorConfig
	t     Timing
	clock Clock
	log   *slog.Logger
	slots []*slot

	mu       sync.Mutex   // guards statuses
	statuses []SlotStatus // indexed by slot; written by each slot's goroutine, read by Snapshot
	changes  chan struct{}
}

// NewSupervisor checks cfg; nothing is opened until Run.
func NewSupervisor(cfg SupervisorConfig) (*Supervisor, error) {
	switch {
	case len(cfg.Slots) < 1 || len(cfg.Slots) > MaxSlots:
		return nil, fmt.Errorf("supervisor: %d slots: want 1..%d", len(cfg.Slots), MaxSlots)
	case cfg.Ports == nil:
		return nil, errors.New("supervisor: no PortOpener")
	case cfg.Sink == nil:
		return nil, errors.New("supervisor: no PartSink (every PDU must be stored before it is deleted from the SIM)")
	}
	for i, sc := range cfg.Slots {
		if sc.Port == "" {
			return nil, fmt.Errorf("supervisor: slot %d: empty port", i)
		}
	}
	s := &Supervisor{cfg: cfg, t: cfg.Timing.withDefaults(), clock: cfg.Clock, log: cfg.Logger, changes: make(chan struct{}, 1)}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.cfg.ModemClock == nil {
		s.cfg.ModemClock = modem.SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	now := s.clock.Now()
	for i, sc := range cfg.Slots {
		s.statuses = append(s.statuses, SlotStatus{Slot: i, State: StateOff, Since: now})
		s.slots = append(s.slots, newSlot(s, i, sc))
	}
	return s, nil
}

// Run runs every slot until ctx ends, then powers every modem down (bounded by
// Timing.ShutdownTimeout) and returns nil.
func (s *Supervisor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, sl := range s.slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sl.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// Snapshot returns a copy of every slot's status, in slot order.
func (s *Supervisor) Snapshot() []SlotStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SlotStatus(nil), s.statuses...)
}

// Changes receives (coalesced) whenever some slot's status changed since the last receive;
// call Snapshot then. It is never closed.
func (s *Supervisor) Changes() <-chan struct{} { return s.changes }

// RecordDecodeError counts a PDU from slot that the pipeline could not decode.
func (s *Supervisor) RecordDecodeError(slot int) {
	if slot < 0 || slot >= len(s.slots) {
		return
	}
	s.update(slot, func(st *SlotStatus) { st.DecodeErrors++ })
}

// update applies f to slot n's status and signals Changes when it changed.
func (s *Supervisor) update(n int, f func(*SlotStatus)) {
	s.mu.Lock()
	old := s.statuses[n]
	f(&s.statuses[n])
	changed := old != s.statuses[n]
	s.mu.Unlock()
	if changed {
		select {
		case s.changes <- struct{}{}:
		default:
		}
	}
}

func (s *Supervisor) status(n int) SlotStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statuses[n]
}
