package power_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/power"
	"github.com/ness-network/ness-sms/agent/power/powertest"
	"github.com/ness-network/ness-sms/board"
)

const (
	ms = time.Millisecond
	s  = time.Second
)

// ev is a recorded line change written compactly: {at, value}.
type ev struct {
	At    time.Duration
	Value int
}

// rig is one slot of a built-in profile on fake lines.
type rig struct {
	clk *powertest.Clock
	o   *powertest.Opener
	c   *power.Controller
}

func newRig(t *testing.T, profile string, slot int, m *powertest.Modem) rig {
	t.Helper()
	p, err := board.ByName(profile)
	if err != nil {
		t.Fatal(err)
	}
	clk := powertest.NewClock()
	o := powertest.NewOpener(clk)
	if m != nil {
		o.Attach(slot, m)
	}
	c, err := power.NewController(slot, p.Slots[slot], p.Timing, o, clk)
	if err != nil {
		t.Fatalf("NewController(%s slot %d): %v", profile, slot, err)
	}
	t.Cleanup(func() { c.Close() })
	return rig{clk, o, c}
}

// levels returns the pin levels recorded on the slot's line for role.
func (r rig) levels(t *testing.T, role board.Role) []powertest.Event {
	t.Helper()
	l := r.o.Line(r.c.Slot(), role)
	if l == nil {
		t.Fatalf("no %s line opened", role)
	}
	return l.Levels()
}

func checkEvents(t *testing.T, what string, recorded []powertest.Event, want []ev) {
	t.Helper()
	got := []ev{}
	for _, e := range recorded {
		got = append(got, ev(e))
	}
	if want == nil {
		want = []ev{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func checkElapsed(t *testing.T, what string, clk *powertest.Clock, want time.Duration) {
	t.Helper()
	if got := clk.Elapsed(); got != want {
		t.Errorf("%s: took %v, want %v", what, got, want)
	}
}

// Start-up drives every output to its idle level, with the right polarity
// on the pins, and asks for status as an input.
func TestStartupLevels(t *testing.T) {
	tests := []struct {
		profile string
		want    map[board.Role][]ev // pin levels at open
	}{
		{"waveshare-sim7600x", map[board.Role][]ev{board.RolePowerKey: {{0, 0}}, board.RoleFlightMode: {{0, 0}}}},
		// BCM26 LOW = modem powered (Sixfab core_manager gpioset 26=0).
		{"sixfab-base-ec25", map[board.Role][]ev{board.RoleEnable: {{0, 0}}, board.RoleFlightMode: {{0, 0}}}},
		// BCM17 LOW = BG96 regulator enabled; BCM24 released.
		{"sixfab-cellular-iot-bg96", map[board.Role][]ev{board.RoleEnable: {{0, 0}}, board.RolePowerKey: {{0, 0}}}},
		{"carrier-32", map[board.Role][]ev{board.RolePowerKey: {{0, 0}}, board.RoleReset: {{0, 0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			r := newRig(t, tt.profile, 0, nil)
			for role, want := range tt.want {
				checkEvents(t, string(role)+" pin", r.levels(t, role), want)
			}
			for _, req := range r.o.Requests() {
				if wantOut := req.Role != board.RoleStatus; req.Output != wantOut {
					t.Errorf("request %s: output got %v, want %v", req.Role, req.Output, wantOut)
				}
			}
		})
	}
}

func TestWaveshareSIM7600(t *testing.T) {
	// No status line: fixed presses and waits from the sim7600 family.
	t.Run("PowerOn", func(t *testing.T) {
		r := newRig(t, "waveshare-sim7600x", 0, nil)
		if err := r.c.PowerOn(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM6 power key", r.levels(t, board.RolePowerKey), []ev{{0, 0}, {0, 1}, {2 * s, 0}})
		checkEvents(t, "BCM4 flight mode", r.levels(t, board.RoleFlightMode), []ev{{0, 0}, {0, 0}})
		checkElapsed(t, "PowerOn", r.clk, 2*s)
	})
	t.Run("PowerOff", func(t *testing.T) {
		r := newRig(t, "waveshare-sim7600x", 0, nil)
		if err := r.c.PowerOff(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM6 power key", r.levels(t, board.RolePowerKey), []ev{{0, 0}, {0, 1}, {3 * s, 0}})
		checkElapsed(t, "PowerOff (3 s press + 18 s shutdown wait)", r.clk, 21*s)
	})
	t.Run("Reset is a power cycle", func(t *testing.T) {
		r := newRig(t, "waveshare-sim7600x", 0, nil)
		if err := r.c.Reset(context.Background()); err != nil {
			t.Fatal(err)
		}
		// off press 3 s, shutdown wait 18 s, off time 2 s, on press 2 s.
		checkEvents(t, "BCM6 power key", r.levels(t, board.RolePowerKey), []ev{{0, 0}, {0, 1}, {3 * s, 0}, {23 * s, 1}, {25 * s, 0}})
		checkElapsed(t, "Reset", r.clk, 25*s)
	})
	t.Run("Status unknown", func(t *testing.T) {
		r := newRig(t, "waveshare-sim7600x", 0, nil)
		on, known, err := r.c.Status(context.Background())
		if on || known || err != nil {
			t.Errorf("Status: got (%v, %v, %v), want (false, false, nil)", on, known, err)
		}
	})
	t.Run("SetFlightMode", func(t *testing.T) {
		r := newRig(t, "waveshare-sim7600x", 0, nil)
		if err := r.c.SetFlightMode(true); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM4 flight mode", r.levels(t, board.RoleFlightMode), []ev{{0, 0}, {0, 1}})
	})
}

func TestSixfabBaseEC25(t *testing.T) {
	// Only a supply line: BCM26 is power-down active HIGH, so enable is active low.
	t.Run("PowerOff then PowerOn", func(t *testing.T) {
		m := &powertest.Modem{AutoBoot: true, BootDelay: 8 * s}
		r := newRig(t, "sixfab-base-ec25", 0, m)
		if err := r.c.PowerOff(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM26 after PowerOff", r.levels(t, board.RoleEnable), []ev{{0, 0}, {0, 1}})
		r.clk.Advance(5 * s)
		if err := r.c.PowerOn(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM26 after PowerOn", r.levels(t, board.RoleEnable), []ev{{0, 0}, {0, 1}, {5 * s, 0}})
		checkElapsed(t, "PowerOn (supply settle 100 ms)", r.clk, 5*s+100*ms)
	})
	t.Run("Reset is a supply cycle", func(t *testing.T) {
		r := newRig(t, "sixfab-base-ec25", 0, nil)
		if err := r.c.Reset(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM26", r.levels(t, board.RoleEnable), []ev{{0, 0}, {0, 1}, {2 * s, 0}})
		checkElapsed(t, "Reset (off 2 s + settle 100 ms)", r.clk, 2*s+100*ms)
	})
	t.Run("PowerOn when powered is a no-op", func(t *testing.T) {
		r := newRig(t, "sixfab-base-ec25", 0, nil)
		if err := r.c.PowerOn(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM26", r.levels(t, board.RoleEnable), []ev{{0, 0}})
	})
}

func bg96Modem() *powertest.Modem {
	return &powertest.Modem{MinPress: 500 * ms, BootDelay: 3 * s, ShutdownDelay: 1 * s}
}

func TestSixfabCellularIoTBG96(t *testing.T) {
	t.Run("PowerOn waits for status", func(t *testing.T) {
		r := newRig(t, "sixfab-cellular-iot-bg96", 0, bg96Modem())
		if err := r.c.PowerOn(context.Background()); err != nil {
			t.Fatal(err)
		}
		// BCM24 pressed 1 s (bg96 family); status rises 3 s after release.
		checkEvents(t, "BCM24 power key", r.levels(t, board.RolePowerKey), []ev{{0, 0}, {0, 1}, {1 * s, 0}})
		checkElapsed(t, "PowerOn", r.clk, 4*s)
		on, known, err := r.c.Status(context.Background())
		if !on || !known || err != nil {
			t.Errorf("Status after PowerOn: got (%v, %v, %v), want (true, true, nil)", on, known, err)
		}
		// A second PowerOn must not press: a press would switch it off.
		if err := r.c.PowerOn(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM24 after second PowerOn", r.levels(t, board.RolePowerKey), []ev{{0, 0}, {0, 1}, {1 * s, 0}})
	})
	t.Run("PowerOff presses, waits for status, cuts supply", func(t *testing.T) {
		m := bg96Modem()
		m.Start()
		r := newRig(t, "sixfab-cellular-iot-bg96", 0, m)
		if err := r.c.PowerOff(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM24 power key", r.levels(t, board.RolePowerKey), []ev{{0, 0}, {0, 1}, {1 * s, 0}})
		// Status drops 1 s after release; supply is cut then (BCM17 HIGH).
		checkEvents(t, "BCM17 enable pin", r.levels(t, board.RoleEnable), []ev{{0, 0}, {2 * s, 1}})
		checkElapsed(t, "PowerOff", r.clk, 2*s)
	})
	t.Run("PowerOff of a stopped modem does not press", func(t *testing.T) {
		r := newRig(t, "sixfab-cellular-iot-bg96", 0, bg96Modem())
		if err := r.c.PowerOff(context.Background()); err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "BCM24", r.levels(t, board.RolePowerKey), []ev{{0, 0}})
		checkEvents(t, "BCM17", r.levels(t, board.RoleEnable), []ev{{0, 0}, {0, 1}})
	})
	t.Run("hung modem: PowerCycle cuts supply after the shutdown wait", func(t *testing.T) {
		m := bg96Modem()
		m.Start()
		m.Ignore = true
		r := newRig(t, "sixfab-cellular-iot-bg96", 0, m)
		err := r.c.PowerCycle(context.Background())
		// The modem ignores presses, so after supply returns it stays off too.
		if !errors.Is(err, power.ErrBootTimeout) {
			t.Fatalf("PowerCycle: got %v, want ErrBootTimeout", err)
		}
		// press 1 s, shutdown wait 2 s, cut at 3 s, off 2 s, supply on at 5 s,
		// settle 100 ms, press 1 s from 5.1 s, boot timeout 10 s.
		checkEvents(t, "BCM17 enable pin", r.levels(t, board.RoleEnable), []ev{{0, 0}, {3 * s, 1}, {5 * s, 0}})
		checkEvents(t, "BCM24 power key", r.levels(t, board.RolePowerKey), []ev{{0, 0}, {0, 1}, {1 * s, 0}, {5100 * ms, 1}, {6100 * ms, 0}})
		checkElapsed(t, "PowerCycle", r.clk, 16100*ms)
	})
	t.Run("PowerCycle of a running modem", func(t *testing.T) {
		m := bg96Modem()
		m.Start()
		r := newRig(t, "sixfab-cellular-iot-bg96", 0, m)
		if err := r.c.PowerCycle(context.Background()); err != nil {
			t.Fatal(err)
		}
		// off: press 0–1 s, status low at 2 s, cut at 2 s; off time to 4 s;
		// on: supply at 4 s, press 4.1–5.1 s, status at 8.1 s.
		checkEvents(t, "BCM24 power key", r.levels(t, board.RolePowerKey), []ev{{0, 0}, {0, 1}, {1 * s, 0}, {4100 * ms, 1}, {5100 * ms, 0}})
		checkEvents(t, "BCM17 enable pin", r.levels(t, board.RoleEnable), []ev{{0, 0}, {2 * s, 1}, {4 * s, 0}})
		checkElapsed(t, "PowerCycle", r.clk, 8100*ms)
		if m.Presses() != 2 {
			t.Errorf("modem toggled by %d presses, want 2", m.Presses())
		}
	})
}

func TestCarrierReset(t *testing.T) {
	for _, slot := range []int{0, 3, 7} {
		t.Run(fmt.Sprint("slot", slot), func(t *testing.T) {
			m := &powertest.Modem{MinPress: 1 * s, BootDelay: 2 * s, ShutdownDelay: 2 * s}
			m.Start()
			r := newRig(t, "carrier-8", slot, m)
			if got := r.o.Line(slot, board.RoleReset).Request().Line; got.Chip != "gpiochip2" || got.Offset != 8+slot {
				t.Errorf("reset line: got %s, want gpiochip2:%d", got, 8+slot)
			}
			if err := r.c.Reset(context.Background()); err != nil {
				t.Fatal(err)
			}
			// sim800 family: reset pulse 100 ms; the power key is not touched.
			checkEvents(t, "reset", r.levels(t, board.RoleReset), []ev{{0, 0}, {0, 1}, {100 * ms, 0}})
			checkEvents(t, "power key", r.levels(t, board.RolePowerKey), []ev{{0, 0}})
		})
	}
	t.Run("PowerOff of a modem that ignores the key", func(t *testing.T) {
		m := &powertest.Modem{MinPress: 1 * s}
		m.Start()
		m.Ignore = true
		r := newRig(t, "carrier-8", 0, m)
		err := r.c.PowerOff(context.Background())
		if !errors.Is(err, power.ErrStillOn) {
			t.Fatalf("PowerOff: got %v, want ErrStillOn", err)
		}
		if !strings.Contains(err.Error(), "slot 0: power off") {
			t.Errorf("PowerOff error %q: want it to name the slot and operation", err)
		}
		// sim800: off press 2 s, then up to 2 s for status to drop.
		checkEvents(t, "power key", r.levels(t, board.RolePowerKey), []ev{{0, 0}, {0, 1}, {2 * s, 0}})
		checkElapsed(t, "PowerOff", r.clk, 4*s)
	})
}

// env overrides from board.ApplyEnv reach the pulses.
func TestEnvTimingReachesPulse(t *testing.T) {
	p, _ := board.ByName("waveshare-sim7600x")
	env := map[string]string{"NESS_AGENT_PWRKEY_ON_MS": "600"}
	if err := p.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	clk := powertest.NewClock()
	o := powertest.NewOpener(clk)
	cs, err := power.OpenBoard(p, o, clk)
	if err != nil {
		t.Fatal(err)
	}
	defer cs[0].Close()
	if err := cs[0].PowerOn(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "power key", o.Line(0, board.RolePowerKey).Events(), []ev{{0, 0}, {0, 1}, {600 * ms, 0}})
}

// cancelClock cancels the operation's context the first time it is slept on.
type cancelClock struct {
	*powertest.Clock
	cancel context.CancelFunc
}

func (c cancelClock) Sleep(ctx context.Context, d time.Duration) error {
	c.Clock.Advance(d / 2)
	c.cancel()
	return ctx.Err()
}

func TestCancelDuringPressReleasesKey(t *testing.T) {
	p, _ := board.ByName("carrier-8")
	fake := powertest.NewClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := powertest.NewOpener(fake)
	m := &powertest.Modem{MinPress: 1 * s}
	m.Start()
	o.Attach(0, m)
	c, err := power.NewController(0, p.Slots[0], p.Timing, o, cancelClock{fake, cancel})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.PowerOff(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("PowerOff: got %v, want context.Canceled", err)
	}
	checkEvents(t, "power key", o.Line(0, board.RolePowerKey).Events(), []ev{{0, 0}, {0, 1}, {1 * s, 0}})
}

func TestPulseWidthLimit(t *testing.T) {
	p, _ := board.ByName("carrier-8")
	tm := p.Timing
	tm.PowerOffPulse = board.Duration(34 * s) // a SIM800 held this long powers back on
	clk := powertest.NewClock()
	o := powertest.NewOpener(clk)
	m := &powertest.Modem{MinPress: 1 * s}
	m.Start()
	o.Attach(0, m)
	c, err := power.NewController(0, p.Slots[0], tm, o, clk)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.PowerOff(context.Background())
	if err == nil || !strings.Contains(err.Error(), "pulse width 34s") {
		t.Fatalf("PowerOff with a 34 s pulse: got %v, want a pulse width error", err)
	}
	checkEvents(t, "power key", o.Line(0, board.RolePowerKey).Events(), []ev{{0, 0}})
}

func TestNoPowerControl(t *testing.T) {
	clk := powertest.NewClock()
	o := powertest.NewOpener(clk)
	slot := board.Slot{Port: "/dev/ttyUSB0", Baud: 115200, Status: &board.Line{Chip: "gpiochip0", Offset: 5}}
	tm, _ := board.FamilyTiming("ec25")
	c, err := power.NewController(2, slot, tm, o, clk)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for name, op := range map[string]func(context.Context) error{"PowerOn": c.PowerOn, "PowerOff": c.PowerOff, "PowerCycle": c.PowerCycle, "Reset": c.Reset} {
		if err := op(ctx); !errors.Is(err, power.ErrNoPowerControl) || !strings.Contains(err.Error(), "slot 2") {
			t.Errorf("%s: got %v, want ErrNoPowerControl naming slot 2", name, err)
		}
	}
	if c.CanPowerCycle() {
		t.Errorf("CanPowerCycle: got true, want false")
	}
	on, known, err := c.Status(ctx)
	if on || !known || err != nil {
		t.Errorf("Status: got (%v, %v, %v), want (false, true, nil)", on, known, err)
	}
}

func TestOpenFailureReleasesLines(t *testing.T) {
	p, _ := board.ByName("sixfab-cellular-iot-bg96")
	clk := powertest.NewClock()
	o := powertest.NewOpener(clk)
	o.FailOpen(board.RoleStatus, errors.New("line busy"))
	_, err := power.NewController(0, p.Slots[0], p.Timing, o, clk)
	if err == nil || !strings.Contains(err.Error(), "slot 0: open status line label=pinctrl-rp1|pinctrl-bcm2711|pinctrl-bcm2835:23: line busy") {
		t.Fatalf("NewController: got %v, want an error naming the status line", err)
	}
	for _, role := range []board.Role{board.RoleEnable, board.RolePowerKey} {
		if l := o.Line(0, role); l == nil || !l.Closed() {
			t.Errorf("%s line: not released after the failed open", role)
		}
	}
}

func TestLineErrors(t *testing.T) {
	r := newRig(t, "sixfab-cellular-iot-bg96", 0, bg96Modem())
	r.o.Line(0, board.RoleStatus).FailValue(errors.New("EIO"))
	if _, _, err := r.c.Status(context.Background()); err == nil || !strings.Contains(err.Error(), "slot 0: read status: EIO") {
		t.Errorf("Status: got %v, want the read error", err)
	}
	if err := r.c.PowerOn(context.Background()); err == nil || !strings.Contains(err.Error(), "EIO") {
		t.Errorf("PowerOn: got %v, want the read error", err)
	}
	r.o.Line(0, board.RoleStatus).FailValue(nil)
	r.o.Line(0, board.RolePowerKey).FailSet(errors.New("EBUSY"))
	if err := r.c.PowerOn(context.Background()); err == nil || !strings.Contains(err.Error(), "power key: press: EBUSY") {
		t.Errorf("PowerOn: got %v, want the press error", err)
	}
}

func TestOpenBoardNeedsSlots(t *testing.T) {
	p, _ := board.ByName("sim")
	if _, err := power.OpenBoard(p, powertest.NewOpener(powertest.NewClock()), powertest.NewClock()); err == nil {
		t.Errorf("OpenBoard(unexpanded sim): got nil error, want one")
	}
}

func TestSystemClock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := (power.SystemClock{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(cancelled ctx): got %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("Sleep(cancelled ctx) blocked")
	}
	if err := (power.SystemClock{}).Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep(1ms): %v", err)
	}
}
