package agent_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/board"
)

func goodConfig() agent.Config {
	return agent.Config{HealthInterval: 30 * time.Second, SweepInterval: time.Minute, CommandTimeout: 5 * time.Second,
		BackoffMax: 10 * time.Minute, ShutdownTimeout: 30 * time.Second, DataDir: "/tmp", LogLevel: "info"}
}

func TestConfigValidateNamesTheVariable(t *testing.T) {
	tests := []struct {
		name string
		edit func(*agent.Config)
		want string // "" = valid
	}{
		{"defaults", func(*agent.Config) {}, ""},
		{"health too short", func(c *agent.Config) { c.HealthInterval = time.Millisecond }, "NESS_AGENT_HEALTH_INTERVAL: 1ms"},
		{"sweep zero", func(c *agent.Config) { c.SweepInterval = 0 }, "NESS_AGENT_SWEEP_INTERVAL"},
		{"backoff", func(c *agent.Config) { c.BackoffMax = 0 }, "NESS_AGENT_BACKOFF_MAX"},
		{"slots", func(c *agent.Config) { c.Slots = 33 }, "NESS_AGENT_SLOTS: 33"},
		{"empty port", func(c *agent.Config) { c.Ports = []string{"/dev/ttyUSB0", " "} }, "NESS_AGENT_PORTS: entry 1 is empty"},
		{"log level", func(c *agent.Config) { c.LogLevel = "loud" }, "NESS_AGENT_LOG_LEVEL"},
		{"data dir", func(c *agent.Config) { c.DataDir = "" }, "NESS_AGENT_DATA_DIR: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := goodConfig()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: got %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigProfile(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	model := func(m string) func(string) ([]byte, error) {
		return func(string) ([]byte, error) { return []byte(m + "\x00"), nil }
	}
	noModel := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	tests := []struct {
		name      string
		edit      func(*agent.Config)
		env       map[string]string
		read      func(string) ([]byte, error)
		wantErr   string
		wantSlots int
		wantPort0 string
	}{
		{"sim", func(c *agent.Config) {
			c.Board, c.Slots, c.SimDir, c.SimControl = "sim", 4, "/run/sim", "http://127.0.0.1:7070"
		}, nil, noModel, "", 4, "/run/sim/slot0"},
		{"sim without control", func(c *agent.Config) { c.Board, c.Slots, c.SimDir = "sim", 4, "/run/sim" }, nil, noModel, "NESS_AGENT_SIM_CONTROL: required", 0, ""},
		{"sim without dir", func(c *agent.Config) { c.Board, c.Slots, c.SimControl = "sim", 4, "http://x:1" }, nil, noModel, "NESS_AGENT_SIM_DIR: required", 0, ""},
		{"sim without slots", func(c *agent.Config) { c.Board, c.SimDir, c.SimControl = "sim", "/d", "http://x:1" }, nil, noModel, "NESS_AGENT_SLOTS: required", 0, ""},
		{"unknown board", func(c *agent.Config) { c.Board = "nope" }, nil, noModel, "NESS_AGENT_BOARD: unknown board profile", 0, ""},
		{"ports override", func(c *agent.Config) { c.Board, c.Ports = "usb-generic", []string{"/dev/ttyUSB2", "/dev/ttyUSB5"} }, nil, noModel, "", 2, "/dev/ttyUSB2"},
		{"fixed slots mismatch", func(c *agent.Config) { c.Board, c.Slots = "carrier-8", 3 }, nil, noModel, "NESS_AGENT_SLOTS: 3, but board carrier-8 has 8", 0, ""},
		{"no board, no model", func(c *agent.Config) {}, nil, noModel, "NESS_AGENT_BOARD: not set, and the board cannot be detected", 0, ""},
		{"no board, unknown model", func(c *agent.Config) {}, nil, model("Rockchip RK3568"), "no profile matches board model", 0, ""},
		{"timing override", func(c *agent.Config) { c.Board, c.Slots, c.SimDir, c.SimControl = "sim", 1, "/d", "http://x:1" },
			map[string]string{"NESS_AGENT_PWRKEY_ON_MS": "abc"}, noModel, "NESS_AGENT_PWRKEY_ON_MS", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := goodConfig()
			tt.edit(&c)
			lookup := noEnv
			if tt.env != nil {
				lookup = func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			}
			p, err := c.Profile(lookup, tt.read)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Profile: got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Profile: %v", err)
			}
			if len(p.Slots) != tt.wantSlots || p.Slots[0].Port != tt.wantPort0 {
				t.Errorf("Profile: got %d slots, slot 0 on %q; want %d, %q", len(p.Slots), p.Slots[0].Port, tt.wantSlots, tt.wantPort0)
			}
		})
	}
	if _, err := board.ByName("nope"); !errors.Is(err, board.ErrUnknown) {
		t.Errorf("board.ByName(nope): got %v, want ErrUnknown", err)
	}
}

func TestStatusWire(t *testing.T) {
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	base := agent.SlotStatus{Slot: 5, Since: since, SignalDBm: -73, Registration: "home", Operator: "EE",
		ICCID: "89014103211118510720", IMSIHash: agent.HashIMSI("234150999999999"), Received: 9, Resets: 2, PowerCycles: 1, Errors: 4}
	tests := []struct {
		state agent.State
		sim   string
		reg   string
		want  string
	}{
		{agent.StateReady, "READY", "home", "registered"},
		{agent.StateDegraded, "NOT INSERTED", "", "no_sim"},
		{agent.StateDegraded, "SIM PIN", "", "no_sim"},
		{agent.StateDegraded, "READY", "searching", "searching"},
		{agent.StateDegraded, "READY", "denied", "denied"},
		{agent.StateDegraded, "READY", "roaming", "registered"},
		{agent.StateWaitingAT, "", "", "powering"},
		{agent.StateOff, "", "", "off"},
		{agent.StateBlocked, "", "", "error"},
		{agent.StateRecovering, "", "", "recovering"},
	}
	for _, tt := range tests {
		s := base
		s.State, s.SIM, s.Registration = tt.state, tt.sim, tt.reg
		w := s.Wire()
		if w.State != tt.want {
			t.Errorf("Wire(%s, sim %q, reg %q).State: got %q, want %q", tt.state, tt.sim, tt.reg, w.State, tt.want)
		}
		if w.Slot != 5 || w.SignalDBm != -73 || w.Resets != 3 || w.Received != 9 || w.Errors != 4 || !w.Since.Equal(since) {
			t.Errorf("Wire(%s): got %+v", tt.state, w)
		}
	}
	// The hash is SHA-256 hex of the digits (echo -n 234150999999999 | sha256sum).
	if got, want := agent.HashIMSI("234150999999999"), "a15f348e296bc5fb9d09108c54fd883128e65c38248148f091cb6f2ba52f2679"; got != want {
		t.Errorf("HashIMSI: got %q, want %q", got, want)
	}
	if agent.HashIMSI("") != "" {
		t.Errorf("HashIMSI(\"\"): want \"\"")
	}
}
