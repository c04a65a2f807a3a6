package power

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/board"
)

// StatusPoll is how often a Controller reads the status line while it
// waits for a modem to boot or shut down.
const StatusPoll = 100 * time.Millisecond

// Controller powers one slot's modem through the slot's lines. Its methods
// are safe to call from several goroutines (the slot's owner and a metrics
// reader); they are serialised, so a Status never lands inside a pulse.
//
// Without a status line a Controller cannot know whether the modem is on,
// and a power-key press toggles it: PowerOn on a running modem switches it
// off. The supervisor therefore probes AT first and calls PowerOn only when
// the modem does not answer, as the Waveshare demo does.
type Controller struct {
	slot   int
	timing board.Timing
	clk    Clock

	mu      sync.Mutex // guards everything below and serialises operations
	lines   map[board.Role]Line
	enabled bool // level last driven on the enable line
}

// outputs lists the output roles with the logical level each is driven to
// when requested, which is the idle state start-up puts the world in: keys
// released, flight mode off, and supply on, as the boards are at power-up
// (the Sixfab HATs' enable pins default to "modem powered").
var outputs = []struct {
	role    board.Role
	initial int
}{
	{board.RoleEnable, 1},
	{board.RolePowerKey, 0},
	{board.RoleReset, 0},
	{board.RoleFlightMode, 0},
}

// NewController requests the slot's lines from o, outputs at their idle
// level and status as input. On error every line already requested is
// released.
func NewController(slot int, s board.Slot, t board.Timing, o Opener, clk Clock) (*Controller, error) {
	c := &Controller{slot: slot, timing: t, clk: clk, lines: map[board.Role]Line{}}
	open := func(r board.Role, output bool, initial int) error {
		l := s.Line(r)
		if l == nil {
			return nil
		}
		line, err := o.Open(Request{Slot: slot, Role: r, Line: *l, Output: output, Initial: initial})
		if err != nil {
			return fmt.Errorf("slot %d: open %s line %s: %w", slot, r, l, err)
		}
		c.lines[r] = line
		return nil
	}
	for _, out := range outputs {
		if err := open(out.role, true, out.initial); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := open(board.RoleStatus, false, 0); err != nil {
		c.Close()
		return nil, err
	}
	c.enabled = c.lines[board.RoleEnable] != nil
	return c, nil
}

// OpenBoard builds one Controller per slot of p, which must have concrete
// slots (see board.Profile.Expand and WithPorts). On error the controllers
// already built are closed.
func OpenBoard(p *board.Profile, o Opener, clk Clock) ([]*Controller, error) {
	if len(p.Slots) == 0 {
		return nil, fmt.Errorf("profile %s: no slots (a templated profile must be expanded first)", p.Name)
	}
	var cs []*Controller
	for i, s := range p.Slots {
		c, err := NewController(i, s, p.Timing, o, clk)
		if err != nil {
			for _, c := range cs {
				c.Close()
			}
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// Close releases the slot's lines.
func (c *Controller) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, r := range board.Roles {
		if l := c.lines[r]; l != nil {
			if err := l.Close(); err != nil {
				errs = append(errs, fmt.Errorf("slot %d: close %s line: %w", c.slot, r, err))
			}
			delete(c.lines, r)
		}
	}
	return errors.Join(errs...)
}

// Slot returns the slot number the controller was built for.
func (c *Controller) Slot() int { return c.slot }

// CanPowerCycle reports whether the slot has a power key or an enable line.
func (c *Controller) CanPowerCycle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines[board.RolePowerKey] != nil || c.lines[board.RoleEnable] != nil
}

// PowerOn switches the modem on: flight mode off, supply on (then the supply
// settle time), a power-on press, and, when there is a status line, a wait
// of up to the boot timeout for it to go active. A modem whose status line
// is already active is left alone.
func (c *Controller) PowerOn(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.powerOn(ctx); err != nil {
		return fmt.Errorf("slot %d: power on: %w", c.slot, err)
	}
	return nil
}

func (c *Controller) powerOn(ctx context.Context) error {
	pk, en, st := c.lines[board.RolePowerKey], c.lines[board.RoleEnable], c.lines[board.RoleStatus]
	if pk == nil && en == nil {
		return ErrNoPowerControl
	}
	if fm := c.lines[board.RoleFlightMode]; fm != nil {
		if err := fm.SetValue(0); err != nil {
			return fmt.Errorf("flight mode off: %w", err)
		}
	}
	if st != nil {
		v, err := st.Value()
		if err != nil {
			return fmt.Errorf("read status: %w", err)
		}
		if v == 1 {
			return nil
		}
	}
	if en != nil && !c.enabled {
		if err := en.SetValue(1); err != nil {
			return fmt.Errorf("supply on: %w", err)
		}
		c.enabled = true
		if err := c.clk.Sleep(ctx, c.timing.SupplySettle.D()); err != nil {
			return err
		}
	}
	if pk != nil {
		if err := c.pulse(ctx, pk, c.timing.PowerOnPulse.D()); err != nil {
			return fmt.Errorf("power key: %w", err)
		}
	}
	if st != nil {
		ok, err := c.waitStatus(ctx, st, 1, c.timing.BootTimeout.D())
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w (%v)", ErrBootTimeout, c.timing.BootTimeout.D())
		}
	}
	return nil
}

// PowerOff switches the modem off: a power-off press and the shutdown wait
// (cut short when a status line goes inactive), then supply off. A modem
// whose status line is already inactive gets no press, since a press would
// switch it on.
func (c *Controller) PowerOff(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.powerOff(ctx); err != nil {
		return fmt.Errorf("slot %d: power off: %w", c.slot, err)
	}
	return nil
}

func (c *Controller) powerOff(ctx context.Context) error {
	pk, en, st := c.lines[board.RolePowerKey], c.lines[board.RoleEnable], c.lines[board.RoleStatus]
	if pk == nil && en == nil {
		return ErrNoPowerControl
	}
	running := true
	if st != nil {
		v, err := st.Value()
		if err != nil {
			return fmt.Errorf("read status: %w", err)
		}
		running = v == 1
	}
	if pk != nil && running && c.supplied() {
		if err := c.pulse(ctx, pk, c.timing.PowerOffPulse.D()); err != nil {
			return fmt.Errorf("power key: %w", err)
		}
		if st != nil {
			down, err := c.waitStatus(ctx, st, 0, c.timing.ShutdownWait.D())
			if err != nil {
				return err
			}
			if !down && en == nil {
				return fmt.Errorf("%w (%v)", ErrStillOn, c.timing.ShutdownWait.D())
			}
			// With an enable line a modem that ignored the press loses its
			// supply below: that is the recovery a hung module needs.
		} else if err := c.clk.Sleep(ctx, c.timing.ShutdownWait.D()); err != nil {
			return err
		}
	}
	if en != nil && c.enabled {
		if err := en.SetValue(0); err != nil {
			return fmt.Errorf("supply off: %w", err)
		}
		c.enabled = false
	}
	return nil
}

// supplied reports whether the modem has supply: always, without an enable line.
func (c *Controller) supplied() bool {
	return c.lines[board.RoleEnable] == nil || c.enabled
}

// PowerCycle switches the modem off, leaves it off for the profile's off
// time, and switches it on again.
func (c *Controller) PowerCycle(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.powerCycle(ctx)
}

func (c *Controller) powerCycle(ctx context.Context) error {
	if err := c.powerOff(ctx); err != nil {
		return fmt.Errorf("slot %d: power cycle: off: %w", c.slot, err)
	}
	if err := c.clk.Sleep(ctx, c.timing.OffTime.D()); err != nil {
		return fmt.Errorf("slot %d: power cycle: %w", c.slot, err)
	}
	if err := c.powerOn(ctx); err != nil {
		return fmt.Errorf("slot %d: power cycle: on: %w", c.slot, err)
	}
	return nil
}

// Reset pulses the reset line, or power cycles the modem when the slot has
// no reset line.
func (c *Controller) Reset(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := c.lines[board.RoleReset]
	if rs == nil {
		return c.powerCycle(ctx)
	}
	if err := c.pulse(ctx, rs, c.timing.ResetPulse.D()); err != nil {
		return fmt.Errorf("slot %d: reset: %w", c.slot, err)
	}
	return nil
}

// SetFlightMode switches the modem's RF off (true) or on through the flight
// mode line. It is an error when the slot has none.
func (c *Controller) SetFlightMode(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fm := c.lines[board.RoleFlightMode]
	if fm == nil {
		return fmt.Errorf("slot %d: flight mode: no flight_mode line", c.slot)
	}
	v := 0
	if on {
		v = 1
	}
	if err := fm.SetValue(v); err != nil {
		return fmt.Errorf("slot %d: flight mode: %w", c.slot, err)
	}
	return nil
}

// Status reads the status line: on is the modem running, known is false
// when the slot has no status line (then on is false too).
func (c *Controller) Status(ctx context.Context) (on, known bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return false, false, err
	}
	st := c.lines[board.RoleStatus]
	if st == nil {
		return false, false, nil
	}
	v, err := st.Value()
	if err != nil {
		return false, false, fmt.Errorf("slot %d: read status: %w", c.slot, err)
	}
	return v == 1, true, nil
}

// pulse drives l active for width and releases it. The release happens
// even when ctx ends during the press (cutting the press short), so a key
// is never left held: a SIM800 held over 33 s switches back on.
func (c *Controller) pulse(ctx context.Context, l Line, width time.Duration) error {
	if width <= 0 || width > board.MaxPulse {
		return fmt.Errorf("pulse width %v: want 0 < width <= %v", width, board.MaxPulse)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.SetValue(1); err != nil {
		return fmt.Errorf("press: %w", err)
	}
	serr := c.clk.Sleep(ctx, width)
	rerr := l.SetValue(0)
	if rerr != nil {
		rerr = l.SetValue(0) // one retry: a held key is the worst outcome
	}
	if rerr != nil {
		return fmt.Errorf("release: %w", rerr)
	}
	return serr
}

// waitStatus polls st until it reads want or timeout passes; it reports
// whether want was seen.
func (c *Controller) waitStatus(ctx context.Context, st Line, want int, timeout time.Duration) (bool, error) {
	deadline := c.clk.Now().Add(timeout)
	for {
		v, err := st.Value()
		if err != nil {
			return false, fmt.Errorf("read status: %w", err)
		}
		if v == want {
			return true, nil
		}
		left := deadline.Sub(c.clk.Now())
		if left <= 0 {
			return false, nil
		}
		if err := c.clk.Sleep(ctx, min(StatusPoll, left)); err != nil {
			return false, err
		}
	}
}
