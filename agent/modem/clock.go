package modem

import "time"

// Clock makes time injectable: the engine uses it for command timeouts and the
// quiet window after a resynchronisation, never time.Now or time.Sleep.
type Clock interface {
	// Timer returns a channel that receives once d has passed, and a function
	// that stops the timer and releases its resources.
	Timer(d time.Duration) (<-chan time.Time, func())
}

// SystemClock is the real clock.
type SystemClock struct{}

// Timer implements [Clock] with time.NewTimer.
func (SystemClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}
