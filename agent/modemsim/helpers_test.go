package modemsim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeClock fires AfterFunc callbacks only when Advance passes their deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("", 2*3600))}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(d time.Duration) { time.Sleep(d) }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves time on and runs due callbacks synchronously.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	rest := c.timers[:0]
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t)
		} else if !t.stopped {
			rest = append(rest, t)
		}
	}
	c.timers = rest
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// startSim runs a simulator on ptys in a temporary directory.
func startSim(t *testing.T, cfg Config) (*Simulator, string) {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	dir := t.TempDir()
	c, err := sim.ServePTYs(dir)
	if err != nil {
		t.Fatalf("ServePTYs: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return sim, dir
}

// port is a test client on a slot's pty slave, opened like a serial port.
type port struct {
	t   *testing.T
	f   *os.File
	buf []byte
}

func openPort(t *testing.T, dir string, slot int) *port {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "slot"+itoa(slot)), os.O_RDWR|0x100 /* O_NOCTTY */, 0)
	if err != nil {
		t.Fatalf("open slot %d: %v", slot, err)
	}
	t.Cleanup(func() { f.Close() })
	return &port{t: t, f: f}
}

func itoa(n int) string { return strconv.Itoa(n) }

func (p *port) send(s string) {
	p.t.Helper()
	if _, err := p.f.Write([]byte(s)); err != nil {
		p.t.Fatalf("write %q: %v", s, err)
	}
}

var finalRE = regexp.MustCompile(`(?m)^(OK|ERROR|\+CME ERROR: [^\r]*|\+CMS ERROR: [^\r]*)\r\n`)

// readUntil reads until re matches the collected output or the timeout passes, and returns (and
// consumes) everything up to the end of the match.
func (p *port) readUntil(re *regexp.Regexp, timeout time.Duration) (string, bool) {
	deadline := time.Now().Add(timeout)
	chunk := make([]byte, 4096)
	for {
		if loc := re.FindIndex(p.buf); loc != nil {
			out := string(p.buf[:loc[1]])
			p.buf = p.buf[loc[1]:]
			return out, true
		}
		if time.Now().After(deadline) {
			return string(p.buf), false
		}
		p.f.SetReadDeadline(deadline)
		n, err := p.f.Read(chunk)
		p.buf = append(p.buf, chunk[:n]...)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			p.t.Fatalf("read: %v", err)
		}
	}
}

// cmd sends one command line and returns the whole answer up to the final result code.
func (p *port) cmd(line string) string {
	p.t.Helper()
	p.send(line + "\r")
	out, ok := p.readUntil(finalRE, 3*time.Second)
	if !ok {
		p.t.Fatalf("%s: no final result code within 3s; got %q", line, out)
	}
	return out
}

// expect waits for output matching re.
func (p *port) expect(re string) string {
	p.t.Helper()
	out, ok := p.readUntil(regexp.MustCompile(re), 3*time.Second)
	if !ok {
		p.t.Fatalf("want output matching %q within 3s, got %q", re, out)
	}
	return out
}

// silent checks that nothing arrives for d.
func (p *port) silent(d time.Duration) {
	p.t.Helper()
	out, _ := p.readUntil(regexp.MustCompile(`[\s\S]`), d)
	if out != "" {
		p.t.Fatalf("want silence for %v, got %q", d, out)
	}
	p.buf = p.buf[:0]
}

func (p *port) drain() {
	p.readUntil(regexp.MustCompile(`^\b\B`), 50*time.Millisecond)
	p.buf = bytes.Clone(p.buf[:0])
}

// waitState polls a slot until it reaches state.
func waitState(t *testing.T, s *Slot, want State) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for s.Status().State != want {
		if time.Now().After(deadline) {
			t.Fatalf("slot %d: state %q, want %q", s.n, s.Status().State, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
