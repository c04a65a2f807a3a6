package board

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxPulse is the longest power-key or reset pulse a profile may ask for.
// SIM800 modules power back **on** when PWRKEY is held longer than 33 s
// (modems-power.md, "Power off by PWRKEY ... `1.5s<t<33s`. Holding longer than
// 33 s powers the module back up", SIM800 Hardware Design V1.09 pp. 23–24),
// so even a long "force off" press stays well below that.
const MaxPulse = 30 * time.Second

// Duration is a time.Duration written in JSON as a Go duration string
// ("600ms", "20s"). Numbers are rejected, so a unit is never guessed.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"600ms\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Timing is how long to hold and wait when powering a slot's modem.
type Timing struct {
	PowerOnPulse  Duration `json:"power_on_pulse,omitempty"`  // power key held to switch on
	PowerOffPulse Duration `json:"power_off_pulse,omitempty"` // power key held to switch off
	ResetPulse    Duration `json:"reset_pulse,omitempty"`     // reset line held
	BootTimeout   Duration `json:"boot_timeout,omitempty"`    // from power-on until the modem should answer AT
	ShutdownWait  Duration `json:"shutdown_wait,omitempty"`   // from power-off press until it is safe to cut supply
	OffTime       Duration `json:"off_time,omitempty"`        // time left off in a power cycle
	SupplySettle  Duration `json:"supply_settle,omitempty"`   // from supply on until the power key may be pressed
}

// overlay returns t with every non-zero field of o laid over it.
func (t Timing) overlay(o Timing) Timing {
	set := func(dst *Duration, v Duration) {
		if v != 0 {
			*dst = v
		}
	}
	set(&t.PowerOnPulse, o.PowerOnPulse)
	set(&t.PowerOffPulse, o.PowerOffPulse)
	set(&t.ResetPulse, o.ResetPulse)
	set(&t.BootTimeout, o.BootTimeout)
	set(&t.ShutdownWait, o.ShutdownWait)
	set(&t.OffTime, o.OffTime)
	set(&t.SupplySettle, o.SupplySettle)
	return t
}

// validate returns the JSON name of the first bad field and what is wrong.
func (t Timing) validate() (string, error) {
	pulses := []struct {
		name string
		v    Duration
	}{{"power_on_pulse", t.PowerOnPulse}, {"power_off_pulse", t.PowerOffPulse}, {"reset_pulse", t.ResetPulse}}
	for _, p := range pulses {
		if p.v <= 0 {
			return p.name, fmt.Errorf("%v: must be positive", p.v.D())
		}
		if p.v.D() > MaxPulse {
			return p.name, fmt.Errorf("%v: longer than %v (a SIM800 held over 33 s powers back on)", p.v.D(), MaxPulse)
		}
	}
	waits := []struct {
		name string
		v    Duration
		min  time.Duration
	}{
		{"boot_timeout", t.BootTimeout, time.Second},
		{"shutdown_wait", t.ShutdownWait, 0},
		{"off_time", t.OffTime, 0},
		{"supply_settle", t.SupplySettle, 0},
	}
	for _, w := range waits {
		if w.v.D() < w.min || w.v < 0 {
			return w.name, fmt.Errorf("%v: want at least %v", w.v.D(), w.min)
		}
		if w.v.D() > 10*time.Minute {
			return w.name, fmt.Errorf("%v: longer than 10m", w.v.D())
		}
	}
	return "", nil
}

// families holds each modem family's default timing. Every value names the
// line of /work/shared/reference/modems-power.md it comes from; where that
// file lists several, the comment says which was taken and why. These are
// values drivers and vendor demos use, not datasheet minimums.
var families = map[string]Timing{
	"sim7600": {
		// SIMCom SIM7600 table, "Waveshare Python demo, power on": BCM6 HIGH, sleep 2 s, LOW.
		// (The C++ demo's 600 ms and LilyGO's 300 ms also work; the HAT's own demo is longest.)
		PowerOnPulse: Duration(2 * time.Second),
		// SIM7600 table, "Waveshare Python demo, power off": BCM6 HIGH 3 s, LOW.
		PowerOffPulse: Duration(3 * time.Second),
		// SIM7600 table, "Zephyr driver values for the related SIMCom A76XX": reset pulse 100 ms.
		ResetPulse: Duration(100 * time.Millisecond),
		// SIM7600 table, Waveshare demo "then sleep 20 s before it prints SIM7600X is ready";
		// also Zephyr A76XX startup wait 20000 ms.
		BootTimeout: Duration(20 * time.Second),
		// SIM7600 table, "Waveshare Python demo, power off": "LOW, wait 18 s".
		ShutdownWait: Duration(18 * time.Second),
		OffTime:      defaultOffTime,
		SupplySettle: defaultSupplySettle,
	},
	"ec25": {
		// Quectel table, "Mbed OS EC2X driver": power-on press 600 ms.
		PowerOnPulse: Duration(600 * time.Millisecond),
		// Quectel table, "Mbed OS EC2X driver": power-off press 750 ms (oFono also 750 ms).
		PowerOffPulse: Duration(750 * time.Millisecond),
		// Quectel table, "Mbed OS EC2X driver": RESET pulse of 460 ms.
		ResetPulse: Duration(460 * time.Millisecond),
		// Quectel table, Mbed OS "default start timeout of 15000 ms"; Zephyr eg25-g startup 15000 ms.
		BootTimeout: Duration(15 * time.Second),
		// Quectel table, "Zephyr quectel,eg25-g": shutdown 5000 ms.
		ShutdownWait: Duration(5 * time.Second),
		OffTime:      defaultOffTime,
		SupplySettle: defaultSupplySettle,
	},
	"bg96": {
		// Sixfab table, "Cellular IoT Application HAT (BG96)": BG96_POWERKEY HIGH 1000 ms.
		// (Zephyr bg9x uses 500 ms; the Sixfab value is the longer of the two.)
		PowerOnPulse: Duration(1000 * time.Millisecond),
		// Quectel table, "Zephyr quectel,bg9x": Zephyr presses the same power pulse to
		// switch off; we hold the Sixfab 1000 ms, which also covers Zephyr's 500 ms.
		PowerOffPulse: Duration(1000 * time.Millisecond),
		// Quectel table, "Zephyr quectel,bg9x": reset 1000 ms.
		ResetPulse: Duration(1000 * time.Millisecond),
		// Quectel table, "Zephyr quectel,bg9x": startup 5000 ms now, 10000 ms in the older
		// version; a wait bound, so the longer one.
		BootTimeout: Duration(10 * time.Second),
		// Quectel table, "Zephyr quectel,bg9x": shutdown 2000 ms.
		ShutdownWait: Duration(2 * time.Second),
		OffTime:      defaultOffTime,
		SupplySettle: defaultSupplySettle,
	},
	"generic": {
		// Any module: the longest value of the families here for every field, so an
		// unknown modem gets the most patient press and wait (see each family's line).
		PowerOnPulse:  Duration(2 * time.Second),         // sim7600, Waveshare Python demo
		PowerOffPulse: Duration(3 * time.Second),         // sim7600, Waveshare Python demo
		ResetPulse:    Duration(1000 * time.Millisecond), // bg96, Zephyr bg9x
		BootTimeout:   Duration(20 * time.Second),        // sim7600, Waveshare demo / Zephyr A76XX
		ShutdownWait:  Duration(18 * time.Second),        // sim7600, Waveshare Python demo
		OffTime:       defaultOffTime,
		SupplySettle:  defaultSupplySettle,
	},
	"sim800": {
		// SIM800 section: "The SIM800-family drivers I found hold it 1–1.2 s
		// (mcd-dd/FAS sim800l.ino uses delay(1200))".
		PowerOnPulse: Duration(1200 * time.Millisecond),
		// SIM800 table, "Power off by PWRKEY": at least 1.5 s, below 33 s; SIM800L T2 ≥ 2 s.
		PowerOffPulse: Duration(2 * time.Second),
		// SIM800 table, RESET pin gives no width; the related SIMCom A76XX Zephyr value is 100 ms
		// (SIM7600 table, "Zephyr driver values").
		ResetPulse: Duration(100 * time.Millisecond),
		// SIM800 table, power-on figure: STATUS T>1.2 s, serial port T>1.4 s; we allow far
		// more, since registration follows (no driver value in the reference).
		BootTimeout: Duration(10 * time.Second),
		// SIM800 table, "Power off timing (SIM800L)": T3 = 2 s.
		ShutdownWait: Duration(2 * time.Second),
		OffTime:      defaultOffTime,
		SupplySettle: defaultSupplySettle,
	},
}

const (
	// defaultOffTime: SIM800H table, "Restart by PWRKEY": wait >800 ms after STATUS
	// goes low before the next power-on; Sixfab core_manager holds the supply off ~2 s
	// ("modem_power_enable ... holds it ~2 s"). The longer one.
	defaultOffTime = Duration(2 * time.Second)
	// defaultSupplySettle: SIM800 table, power-on figure "T=100ms (VBAT→PWRKEY)".
	defaultSupplySettle = Duration(100 * time.Millisecond)
)

// FamilyTiming returns the default timing of a modem family.
func FamilyTiming(family string) (Timing, bool) {
	t, ok := families[family]
	return t, ok
}

// EnvVar is one environment variable ApplyEnv reads.
type EnvVar struct {
	Name string
	Help string
}

// EnvVars lists the variables ApplyEnv reads, for the agent's --help.
var EnvVars = []EnvVar{
	{"NESS_AGENT_PWRKEY_ON_MS", "power-key press to switch a modem on, in milliseconds (profile default)"},
	{"NESS_AGENT_PWRKEY_OFF_MS", "power-key press to switch a modem off, in milliseconds (profile default)"},
	{"NESS_AGENT_RESET_MS", "reset-line pulse, in milliseconds (profile default)"},
	{"NESS_AGENT_BOOT_TIMEOUT", "wait for a modem to boot, a duration such as 20s (profile default)"},
	{"NESS_AGENT_SHUTDOWN_WAIT", "wait after a power-off press before cutting supply, a duration (profile default)"},
	{"NESS_AGENT_OFF_TIME", "time a modem stays off in a power cycle, a duration (profile default)"},
	{"NESS_AGENT_SUPPLY_SETTLE_MS", "wait after switching supply on before pressing the power key, in milliseconds (profile default)"},
}

// ApplyEnv overrides the profile's timing from the environment (see EnvVars)
// through lookup, which is os.LookupEnv in the agent. A bad value is an error
// naming the variable; the profile is left unchanged on error.
func (p *Profile) ApplyEnv(lookup func(string) (string, bool)) error {
	t := p.Timing
	ms := func(name string, dst *Duration) error {
		s, ok := lookup(name)
		if !ok || strings.TrimSpace(s) == "" {
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n <= 0 || n > int64(10*time.Minute/time.Millisecond) {
			return fmt.Errorf("%s=%q: want a whole number of milliseconds, 1..600000", name, s)
		}
		*dst = Duration(time.Duration(n) * time.Millisecond)
		return nil
	}
	dur := func(name string, dst *Duration) error {
		s, ok := lookup(name)
		if !ok || strings.TrimSpace(s) == "" {
			return nil
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < 0 {
			return fmt.Errorf("%s=%q: want a duration such as 20s or 1500ms", name, s)
		}
		*dst = Duration(d)
		return nil
	}
	err := errors.Join(
		ms("NESS_AGENT_PWRKEY_ON_MS", &t.PowerOnPulse),
		ms("NESS_AGENT_PWRKEY_OFF_MS", &t.PowerOffPulse),
		ms("NESS_AGENT_RESET_MS", &t.ResetPulse),
		dur("NESS_AGENT_BOOT_TIMEOUT", &t.BootTimeout),
		dur("NESS_AGENT_SHUTDOWN_WAIT", &t.ShutdownWait),
		dur("NESS_AGENT_OFF_TIME", &t.OffTime),
		ms("NESS_AGENT_SUPPLY_SETTLE_MS", &t.SupplySettle),
	)
	if err != nil {
		return err
	}
	if field, err := t.validate(); err != nil {
		return fmt.Errorf("%s: %s: %w", envFor[field], field, err)
	}
	p.Timing = t
	return nil
}

var envFor = map[string]string{
	"power_on_pulse":  "NESS_AGENT_PWRKEY_ON_MS",
	"power_off_pulse": "NESS_AGENT_PWRKEY_OFF_MS",
	"reset_pulse":     "NESS_AGENT_RESET_MS",
	"boot_timeout":    "NESS_AGENT_BOOT_TIMEOUT",
	"shutdown_wait":   "NESS_AGENT_SHUTDOWN_WAIT",
	"off_time":        "NESS_AGENT_OFF_TIME",
	"supply_settle":   "NESS_AGENT_SUPPLY_SETTLE_MS",
}
