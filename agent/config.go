package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/board"
)

// EnvPrefix is the prefix of every agent environment variable.
const EnvPrefix = "NESS_AGENT"

// Config is the slot supervisor's part of the agent's configuration, read with
// github.com/kelseyhightower/envconfig under EnvPrefix (NESS_AGENT_BOARD, …). Other parts of the
// agent (the pipeline: MQTT_URL, HUB_KEY, …) keep their own structs under the same prefix; main
// processes them all and `ness-agent --help` prints them all.
type Config struct {
	Board           string        `envconfig:"BOARD" desc:"board profile (see 'ness-agent boards'); empty: detect from /proc/device-tree/model"`
	Ports           []string      `envconfig:"PORTS" desc:"comma-separated AT ports, one per slot, overriding the profile's (paths or by-path/by-id globs)"`
	SimControl      string        `envconfig:"SIM_CONTROL" desc:"ness-modemsim control API URL for the sim board, e.g. http://127.0.0.1:7070"`
	SimDir          string        `envconfig:"SIM_DIR" desc:"directory of ness-modemsim's slotN links, for the sim board"`
	Slots           int           `envconfig:"SLOTS" desc:"number of slots for profiles sized at start (usb-generic, sim), 1-32"`
	HealthInterval  time.Duration `envconfig:"HEALTH_INTERVAL" default:"30s" desc:"health poll per slot (AT, signal, SIM, registration, operator, storage)"`
	SweepInterval   time.Duration `envconfig:"SWEEP_INTERVAL" default:"60s" desc:"AT+CMGL=4 sweep per slot, so a lost +CMTI never strands a message"`
	CommandTimeout  time.Duration `envconfig:"COMMAND_TIMEOUT" default:"5s" desc:"timeout of one AT command"`
	BackoffMax      time.Duration `envconfig:"BACKOFF_MAX" default:"10m" desc:"cap of the recovery backoff; a slot reaching it is blocked and probed at this rate"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s" desc:"bound on powering every modem down at exit"`
	DataDir         string        `envconfig:"DATA_DIR" default:"/var/lib/ness-agent" desc:"directory for the agent's key and outbox"`
	MetricsAddr     string        `envconfig:"METRICS_ADDR" desc:"listen address for Prometheus metrics at /metrics, e.g. 127.0.0.1:9108; empty: off"`
	LogLevel        string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

// Validate checks the values envconfig cannot, naming the variable.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s_%s: %s", EnvPrefix, name, fmt.Sprintf(format, a...)))
	}
	durs := []struct {
		name     string
		v        time.Duration
		min, max time.Duration
	}{
		{"HEALTH_INTERVAL", c.HealthInterval, 100 * time.Millisecond, 24 * time.Hour},
		{"SWEEP_INTERVAL", c.SweepInterval, 100 * time.Millisecond, 24 * time.Hour},
		{"COMMAND_TIMEOUT", c.CommandTimeout, 100 * time.Millisecond, 5 * time.Minute},
		{"BACKOFF_MAX", c.BackoffMax, time.Second, 24 * time.Hour},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout, time.Second, time.Hour},
	}
	for _, d := range durs {
		if d.v < d.min || d.v > d.max {
			bad(d.name, "%v: want %v to %v", d.v, d.min, d.max)
		}
	}
	if c.Slots < 0 || c.Slots > board.MaxSlots {
		bad("SLOTS", "%d: want 1 to %d (or unset)", c.Slots, board.MaxSlots)
	}
	for i, p := range c.Ports {
		if strings.TrimSpace(p) == "" {
			bad("PORTS", "entry %d is empty", i)
		}
	}
	if _, err := c.Level(); err != nil {
		bad("LOG_LEVEL", "%v", err)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("DATA_DIR", "empty")
	}
	return errors.Join(errs...)
}

// Level parses LogLevel.
func (c *Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("%q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// Timing returns the supervisor intervals from c and the board's boot timeout.
func (c *Config) Timing(p *board.Profile) Timing {
	t := DefaultTiming
	t.HealthInterval = c.HealthInterval
	t.SweepInterval = c.SweepInterval
	t.CommandTimeout = c.CommandTimeout
	t.BackoffMax = c.BackoffMax
	t.ShutdownTimeout = c.ShutdownTimeout
	if p != nil && p.Timing.BootTimeout > 0 {
		t.BootTimeout = p.Timing.BootTimeout.D()
	}
	return t.withDefaults()
}

// Profile picks and completes the board profile: NESS_AGENT_BOARD (or detection through
// readFile of board.ModelPath), its slots sized by NESS_AGENT_PORTS or NESS_AGENT_SLOTS (and
// NESS_AGENT_SIM_DIR for the sim board), and the timing overrides board.ApplyEnv reads through
// lookup. Errors name the variable to set.
func (c *Config) Profile(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (*board.Profile, error) {
	name := strings.TrimSpace(c.Board)
	var p *board.Profile
	if name == "" {
		model, err := board.ReadModel(readFile, board.ModelPath)
		if err != nil {
			return nil, fmt.Errorf("%s_BOARD: not set, and the board cannot be detected: %w", EnvPrefix, err)
		}
		ps, err := board.Detect(model)
		if err != nil {
			return nil, err
		}
		switch len(ps) {
		case 0:
			return nil, fmt.Errorf("%s_BOARD: not set, and no profile matches board model %q; see 'ness-agent boards'", EnvPrefix, model)
		case 1:
			p = ps[0]
		default:
			names := make([]string, len(ps))
			for i, q := range ps {
				names[i] = q.Name
			}
			return nil, fmt.Errorf("%s_BOARD: not set, and board model %q fits %d profiles (%s): set one", EnvPrefix, model, len(ps), strings.Join(names, ", "))
		}
	} else {
		var err error
		if p, err = board.ByName(name); err != nil {
			return nil, fmt.Errorf("%s_BOARD: %w", EnvPrefix, err)
		}
	}
	var err error
	switch {
	case len(c.Ports) > 0:
		if p, err = p.WithPorts(c.Ports); err != nil {
			return nil, fmt.Errorf("%s_PORTS: %w", EnvPrefix, err)
		}
		if c.Slots != 0 && c.Slots != len(p.Slots) {
			return nil, fmt.Errorf("%s_SLOTS: %d, but %s_PORTS names %d ports", EnvPrefix, c.Slots, EnvPrefix, len(p.Slots))
		}
	case p.SlotTemplate != nil:
		if c.Slots == 0 {
			return nil, fmt.Errorf("%s_SLOTS: required for board %s (1-%d), or set %s_PORTS", EnvPrefix, p.Name, p.SlotTemplate.MaxSlots, EnvPrefix)
		}
		if strings.Contains(p.SlotTemplate.Port, "{dir}") && c.SimDir == "" {
			return nil, fmt.Errorf("%s_SIM_DIR: required for board %s (ness-modemsim's --dir)", EnvPrefix, p.Name)
		}
		if p, err = p.Expand(c.Slots, c.SimDir); err != nil {
			return nil, fmt.Errorf("%s_SLOTS: %w", EnvPrefix, err)
		}
	case c.Slots != 0 && c.Slots != len(p.Slots):
		return nil, fmt.Errorf("%s_SLOTS: %d, but board %s has %d fixed slots (use %s_PORTS to use fewer)", EnvPrefix, c.Slots, p.Name, len(p.Slots), EnvPrefix)
	}
	if p.Driver == board.DriverSim && c.SimControl == "" {
		return nil, fmt.Errorf("%s_SIM_CONTROL: required for board %s (ness-modemsim's control URL)", EnvPrefix, p.Name)
	}
	if err := p.ApplyEnv(lookup); err != nil {
		return nil, err
	}
	return p, nil
}
