// Package power switches the modems of a board's slots on and off: it
// presses power keys and reset lines for the widths a board profile gives,
// switches supply (enable) lines, and reads status lines.
//
// The Controller works on a small Line interface and never touches hardware
// itself. An Opener hands it lines: the gpiocdev opener drives real GPIO
// character devices (Linux), the sim opener turns the same line operations
// into calls on ness-modemsim's control API, and package powertest has fakes
// that record every change against a fake clock. All waiting goes through an
// injected Clock.
package power

import (
	"context"
	"errors"
	"time"

	"github.com/ness-network/ness-sms/board"
)

// Line is one requested GPIO line (or its simulated stand-in). Values are
// logical: 1 is active, whatever the line's polarity.
type Line interface {
	SetValue(v int) error
	Value() (int, error)
	Close() error
}

// Request asks an Opener for one slot line.
type Request struct {
	Slot    int        // slot number (0-based), for errors and the sim driver
	Role    board.Role // what the line does
	Line    board.Line // chip, offset and polarity from the profile
	Output  bool       // output (power key, reset, enable, flight mode) or input (status)
	Initial int        // for outputs, the logical level to drive from the moment of the request
}

// Opener opens lines, on GPIO chips or their stand-ins.
type Opener interface {
	Open(req Request) (Line, error)
}

// Clock is the time source for pulses and waits.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends, whichever is first, and returns
	// ctx's error in the second case.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits on a timer.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Errors the Controller returns (wrapped with the slot and operation).
var (
	// ErrNoPowerControl: the slot has neither a power key nor an enable line,
	// so only AT commands can restart its modem.
	ErrNoPowerControl = errors.New("slot has no power key or enable line")
	// ErrBootTimeout: after power-on the status line stayed inactive for the
	// whole boot timeout.
	ErrBootTimeout = errors.New("status line did not go active within the boot timeout")
	// ErrStillOn: after a power-off press the status line stayed active and
	// there is no enable line to cut the supply.
	ErrStillOn = errors.New("status line still active after the power-off press")
)
