// Package slottest has hand-written fakes for testing the slot supervisor (package agent) and
// what sits around it: a fake clock whose timers fire when the test (or AutoAdvance) moves it,
// and an in-memory PartSink that can be told to refuse parts.
package slottest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/agent"
)

// Epoch is the fake clock's start.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a fake clock for agent.Clock, modem.Clock and power.Clock. Time moves only through
// Advance, AdvanceToNext or AutoAdvance. It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a clock at Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Timer fires once the clock reaches now+d (at once when d <= 0).
func (c *Clock) Timer(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t.ch, func() {}
	}
	c.timers = append(c.timers, t)
	return t.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == t })
	}
}

// Sleep waits until the clock has moved d, or ctx ends.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	ch, stop := c.Timer(d)
	defer stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Advance moves the clock by d and fires the timers due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked(c.now.Add(d))
}

func (c *Clock) advanceLocked(to time.Time) {
	if to.After(c.now) {
		c.now = to
	}
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
		} else {
			keep = append(keep, t)
		}
	}
	clear(c.timers[len(keep):])
	c.timers = keep
}

// AdvanceToNext moves the clock to the earliest pending timer and fires it; false when none is
// pending.
func (c *Clock) AdvanceToNext() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return false
	}
	next := c.timers[0].at
	for _, t := range c.timers[1:] {
		if t.at.Before(next) {
			next = t.at
		}
	}
	c.advanceLocked(next)
	return true
}

// Pending counts the timers waiting.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// AutoAdvance jumps to the next timer every idle of real time until ctx ends, so code that
// waits minutes of fake time runs in milliseconds. Run it on its own goroutine.
func (c *Clock) AutoAdvance(ctx context.Context, idle time.Duration) {
	t := time.NewTicker(idle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.AdvanceToNext()
		}
	}
}

// Sink is an in-memory agent.PartSink. It is safe for concurrent use.
type Sink struct {
	mu      sync.Mutex
	parts   []agent.ReceivedPart
	fail    error
	refused int
	check   func([]byte) error
	changed chan struct{} // closed and replaced on every change
}

var _ agent.PDUChecker = (*Sink)(nil)

// SetCheck sets what CheckPDU answers (nil: every PDU decodes), to play a sink that keeps
// undecodable PDUs as junk.
func (s *Sink) SetCheck(f func([]byte) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.check = f
}

// CheckPDU implements agent.PDUChecker with the function set by SetCheck.
func (s *Sink) CheckPDU(b []byte) error {
	s.mu.Lock()
	f := s.check
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(b)
}

// NewSink returns an empty sink that accepts every part.
func NewSink() *Sink { return &Sink{changed: make(chan struct{})} }

// StorePart keeps p, or refuses it with the error set by Fail.
func (s *Sink) StorePart(ctx context.Context, p agent.ReceivedPart) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		s.refused++
		s.notifyLocked()
		return s.fail
	}
	p.PDU = slices.Clone(p.PDU)
	s.parts = append(s.parts, p)
	s.notifyLocked()
	return nil
}

func (s *Sink) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Fail makes StorePart refuse every part with err (nil: accept again).
func (s *Sink) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// Parts returns the parts stored so far.
func (s *Sink) Parts() []agent.ReceivedPart {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.parts)
}

// Refused counts the parts refused.
func (s *Sink) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Wait blocks until cond holds for the stored parts, or ctx ends (then it returns ctx's error).
func (s *Sink) Wait(ctx context.Context, cond func(parts []agent.ReceivedPart) bool) error {
	for {
		s.mu.Lock()
		ok := cond(s.parts)
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
