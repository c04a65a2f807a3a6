// Package powertest has hand-written fakes for testing code that uses
// agent/power: a fake clock that advances when slept on, fake lines that
// record every (time, value) change against it, a fake modem that answers a
// slot's status line the way a module reacts to its supply and power key,
// and a fake of ness-modemsim's control API for the sim driver.
package powertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/agent/power"
	"github.com/ness-network/ness-sms/board"
)

// Epoch is the fake clock's start (a Pi without RTC boots at 1970; any
// fixed instant will do).
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a fake power.Clock. Sleep returns at once after moving the clock
// forward by the duration, so a 2 s pulse takes microseconds and the
// recorded times are exact.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep advances the clock by d, unless ctx has already ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Elapsed is the time since Epoch.
func (c *Clock) Elapsed() time.Duration { return c.Now().Sub(Epoch) }

// Event is one change of a line: At is the time since Epoch and Value the
// logical level (1 = active).
type Event struct {
	At    time.Duration
	Value int
}

func (e Event) String() string { return fmt.Sprintf("%v=%d", e.At, e.Value) }

// Line is a fake power.Line. Outputs record every SetValue; the initial
// level given at request time is the first event. Inputs read Input.
type Line struct {
	clk *Clock
	req power.Request

	mu      sync.Mutex
	value   int
	events  []Event
	closed  bool
	input   func(at time.Duration) int
	onSet   func(at time.Duration, v int)
	failSet error
	failGet error
}

// SetValue records v at the current fake time.
func (l *Line) SetValue(v int) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("fake line: closed")
	}
	if !l.req.Output {
		l.mu.Unlock()
		return errors.New("fake line: set on an input")
	}
	if l.failSet != nil {
		err := l.failSet
		l.mu.Unlock()
		return err
	}
	at := l.clk.Elapsed()
	l.value = v
	l.events = append(l.events, Event{at, v})
	hook := l.onSet
	l.mu.Unlock()
	if hook != nil {
		hook(at, v)
	}
	return nil
}

// Value returns the level last set, or for an input what Input gives now.
func (l *Line) Value() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, errors.New("fake line: closed")
	}
	if l.failGet != nil {
		return 0, l.failGet
	}
	if l.input != nil {
		return l.input(l.clk.Elapsed()), nil
	}
	return l.value, nil
}

// Close marks the line released.
func (l *Line) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// Events returns the recorded changes.
func (l *Line) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// Levels returns the recorded changes as pin levels: logical values
// inverted for an active-low line, which is what a scope on the pin shows.
func (l *Line) Levels() []Event {
	ev := l.Events()
	if l.req.Line.ActiveLow {
		for i := range ev {
			ev[i].Value ^= 1
		}
	}
	return ev
}

// Request returns what the line was requested with.
func (l *Line) Request() power.Request { return l.req }

// Closed reports whether the line was released.
func (l *Line) Closed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// FailSet makes later SetValue calls fail with err (nil to stop).
func (l *Line) FailSet(err error) {
	l.mu.Lock()
	l.failSet = err
	l.mu.Unlock()
}

// FailValue makes later Value calls fail with err (nil to stop).
func (l *Line) FailValue(err error) {
	l.mu.Lock()
	l.failGet = err
	l.mu.Unlock()
}

// Opener is a fake power.Opener handing out fake Lines on one Clock.
type Opener struct {
	clk *Clock

	mu       sync.Mutex
	lines    map[key]*Line
	requests []power.Request
	modems   map[int]*Modem
	fail     map[board.Role]error
}

type key struct {
	slot int
	role board.Role
}

// NewOpener returns an opener whose lines record against clk.
func NewOpener(clk *Clock) *Opener {
	return &Opener{clk: clk, lines: map[key]*Line{}, modems: map[int]*Modem{}, fail: map[board.Role]error{}}
}

// Attach puts a fake modem behind slot's lines: its status line reads the
// modem, and its enable and power-key lines drive it. Call before Open.
func (o *Opener) Attach(slot int, m *Modem) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.modems[slot] = m
}

// FailOpen makes Open fail with err for role.
func (o *Opener) FailOpen(role board.Role, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fail[role] = err
}

// Open returns a fake line for req; outputs start at req.Initial.
func (o *Opener) Open(req power.Request) (power.Line, error) {
	o.mu.Lock()
	o.requests = append(o.requests, req)
	if err := o.fail[req.Role]; err != nil {
		o.mu.Unlock()
		return nil, err
	}
	l := &Line{clk: o.clk, req: req}
	o.lines[key{req.Slot, req.Role}] = l
	m := o.modems[req.Slot]
	o.mu.Unlock()
	if m != nil {
		switch req.Role {
		case board.RoleStatus:
			l.input = m.status
		case board.RoleEnable, board.RolePowerKey:
			role := req.Role
			l.onSet = func(at time.Duration, v int) { m.set(role, at, v) }
			if role == board.RoleEnable {
				m.mu.Lock()
				m.hasEnable = true
				m.mu.Unlock()
			}
		}
	}
	if req.Output {
		// The level is driven from the moment of the request.
		l.value = req.Initial
		l.events = append(l.events, Event{o.clk.Elapsed(), req.Initial})
		if l.onSet != nil {
			l.onSet(o.clk.Elapsed(), req.Initial)
		}
	}
	return l, nil
}

// Line returns the fake line opened for slot and role, or nil.
func (o *Opener) Line(slot int, role board.Role) *Line {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lines[key{slot, role}]
}

// Requests returns every request made, in order.
func (o *Opener) Requests() []power.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.requests)
}

// Modem is a fake module behind a slot's lines. It has supply while its
// enable line is active (always, when the slot has none). A power-key press
// held at least MinPress toggles it when released; supply on starts it when
// AutoBoot is set (a module without a power key, like the EC25 on the Sixfab
// Base HAT). Its status goes active BootDelay after it starts and inactive
// ShutdownDelay after a press stops it, at once when supply is cut. Ignore
// makes it ignore presses (a hung module).
type Modem struct {
	MinPress      time.Duration
	BootDelay     time.Duration
	ShutdownDelay time.Duration
	AutoBoot      bool
	Ignore        bool

	mu        sync.Mutex
	hasEnable bool
	powered   bool
	on        bool          // target state after the transition
	since     time.Duration // when the last transition started
	from      int           // status level at that moment
	pressAt   time.Duration
	pressed   bool
	presses   int
}

// Start sets the modem running (status active) from time zero.
func (m *Modem) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on, m.from, m.since = true, 1, 0
}

// Presses counts the presses that toggled the modem.
func (m *Modem) Presses() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.presses
}

func (m *Modem) set(role board.Role, at time.Duration, v int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch role {
	case board.RoleEnable:
		was := m.powered
		m.powered = v == 1
		if !m.powered {
			m.on, m.from, m.since = false, 0, at
		} else if !was && m.AutoBoot {
			m.transition(at, true)
		}
	case board.RolePowerKey:
		switch {
		case v == 1 && !m.pressed:
			m.pressed, m.pressAt = true, at
		case v == 0 && m.pressed:
			m.pressed = false
			if m.supplied() && !m.Ignore && at-m.pressAt >= m.MinPress {
				m.presses++
				m.transition(at, !m.on)
			}
		}
	}
}

func (m *Modem) supplied() bool { return !m.hasEnable || m.powered }

func (m *Modem) transition(at time.Duration, on bool) {
	m.from = m.level(at)
	m.on, m.since = on, at
}

func (m *Modem) level(at time.Duration) int {
	if !m.supplied() {
		return 0
	}
	delay := m.ShutdownDelay
	target := 0
	if m.on {
		delay, target = m.BootDelay, 1
	}
	if at < m.since+delay {
		return m.from
	}
	return target
}

func (m *Modem) status(at time.Duration) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.level(at)
}
