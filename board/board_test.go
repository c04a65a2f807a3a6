package board_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/board"
)

var piLabels = []string{"pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835"}

func piLine(off int, activeLow bool) *board.Line {
	return &board.Line{ChipLabels: piLabels, Offset: off, ActiveLow: activeLow}
}

// TestProfiles is the table test over every built-in profile: each loads,
// validates, survives a JSON round trip, and has the slots and lines its
// board's documentation gives (BCM numbers from modems-power.md).
func TestProfiles(t *testing.T) {
	tests := []struct {
		name   string
		family string
		slots  int // 0 for templated profiles
		slot0  board.Slot
	}{
		{"waveshare-sim7600x", "sim7600", 1, board.Slot{Port: "/dev/serial0", Baud: 115200, PowerKey: piLine(6, false), FlightMode: piLine(4, false)}},
		{"waveshare-sim7600x-usb", "sim7600", 1, board.Slot{Port: "/dev/serial/by-id/usb-SimTech*-if02-port0", Baud: 115200, PowerKey: piLine(6, false), FlightMode: piLine(4, false)}},
		{"sixfab-base-ec25", "ec25", 1, board.Slot{Port: "/dev/serial/by-id/usb-Quectel*-if02-port0", Baud: 115200, Enable: piLine(26, true), FlightMode: piLine(19, false)}},
		{"sixfab-cellular-iot-bg96", "bg96", 1, board.Slot{Port: "/dev/serial0", Baud: 115200, Enable: piLine(17, true), PowerKey: piLine(24, false), Status: piLine(23, false)}},
		{"carrier-8", "sim800", 8, board.Slot{Port: "/dev/serial/by-path/*usb-0:1.1:1.0-port0", Baud: 115200,
			PowerKey: &board.Line{Chip: "gpiochip2", Offset: 0}, Reset: &board.Line{Chip: "gpiochip2", Offset: 8}, Status: &board.Line{Chip: "gpiochip3", Offset: 0}}},
		{"carrier-16", "sim800", 16, board.Slot{Port: "/dev/serial/by-path/*usb-0:1.1:1.0-port0", Baud: 115200,
			PowerKey: &board.Line{Chip: "gpiochip2", Offset: 0}, Reset: &board.Line{Chip: "gpiochip3", Offset: 0}, Status: &board.Line{Chip: "gpiochip4", Offset: 0}}},
		{"carrier-32", "sim800", 32, board.Slot{Port: "/dev/serial/by-path/*usb-0:1.1:1.0-port0", Baud: 115200,
			PowerKey: &board.Line{Chip: "gpiochip2", Offset: 0}, Reset: &board.Line{Chip: "gpiochip4", Offset: 0}, Status: &board.Line{Chip: "gpiochip6", Offset: 0}}},
		{"usb-generic", "generic", 0, board.Slot{}},
		{"sim", "sim7600", 0, board.Slot{}},
	}
	all, err := board.All()
	if err != nil {
		t.Fatalf("All: %v", err)
	}
	if len(all) != len(tests) {
		t.Errorf("All: got %d profiles, want %d (add the new profile to this table)", len(all), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := board.ByName(tt.name)
			if err != nil {
				t.Fatalf("ByName(%q): %v", tt.name, err)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if p.Modem.Family != tt.family {
				t.Errorf("modem.family: got %q, want %q", p.Modem.Family, tt.family)
			}
			if got, _ := board.FamilyTiming(tt.family); p.Timing != got {
				t.Errorf("timing: got %+v, want the %s defaults %+v", p.Timing, tt.family, got)
			}
			if len(p.Slots) != tt.slots {
				t.Errorf("slots: got %d, want %d", len(p.Slots), tt.slots)
			}
			if tt.slots > 0 && !reflect.DeepEqual(p.Slots[0], tt.slot0) {
				t.Errorf("slots[0]: got %s, want %s", js(p.Slots[0]), js(tt.slot0))
			}
			if tt.slots == 0 {
				if p.SlotTemplate == nil {
					t.Fatalf("slot_template: got nil, want a template")
				}
				e, err := p.WithPorts([]string{"/dev/a", "/dev/b"})
				if err != nil {
					t.Fatalf("WithPorts: %v", err)
				}
				if len(e.Slots) != 2 || e.Slots[1].Port != "/dev/b" {
					t.Errorf("WithPorts: got %s, want 2 slots ending in /dev/b", js(e.Slots))
				}
			}
			// The JSON a provider would copy loads back to the same profile.
			var buf bytes.Buffer
			if err := json.NewEncoder(&buf).Encode(p); err != nil {
				t.Fatal(err)
			}
			q, err := board.Load(&buf)
			if err != nil {
				t.Fatalf("Load(marshalled %s): %v", tt.name, err)
			}
			if !reflect.DeepEqual(p, q) {
				t.Errorf("round trip: got %s, want %s", js(q), js(p))
			}
		})
	}
}

// Every slot of the carrier boards has its own port and lines, all on
// expander chips, and slot i's lines are line i%16 of its chip.
func TestCarrierSlotsDistinct(t *testing.T) {
	for _, name := range []string{"carrier-8", "carrier-16", "carrier-32"} {
		p, err := board.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range p.Slots {
			if s.PowerKey == nil || s.Reset == nil || s.Status == nil {
				t.Fatalf("%s slots[%d]: got %s, want power_key, reset and status", name, i, js(s))
			}
			if s.PowerKey.Offset != i%16 || s.Status.Offset != i%16 {
				t.Errorf("%s slots[%d]: power_key, status offsets got %d, %d, want %d", name, i, s.PowerKey.Offset, s.Status.Offset, i%16)
			}
		}
		// Validate rejects duplicate ports and lines, so this is the check that
		// no two slots share one.
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFamilyDefaults(t *testing.T) {
	// The values modems-power.md gives; a change here must come with a source.
	ms := func(n int) board.Duration { return board.Duration(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		family                        string
		on, off, reset, boot, shutdwn board.Duration
	}{
		{"sim7600", ms(2000), ms(3000), ms(100), ms(20000), ms(18000)},
		{"ec25", ms(600), ms(750), ms(460), ms(15000), ms(5000)},
		{"bg96", ms(1000), ms(1000), ms(1000), ms(10000), ms(2000)},
		{"sim800", ms(1200), ms(2000), ms(100), ms(10000), ms(2000)},
	}
	for _, tt := range tests {
		got, ok := board.FamilyTiming(tt.family)
		if !ok {
			t.Fatalf("FamilyTiming(%q): missing", tt.family)
		}
		want := board.Timing{PowerOnPulse: tt.on, PowerOffPulse: tt.off, ResetPulse: tt.reset, BootTimeout: tt.boot,
			ShutdownWait: tt.shutdwn, OffTime: ms(2000), SupplySettle: ms(100)}
		if got != want {
			t.Errorf("FamilyTiming(%q): got %+v, want %+v", tt.family, got, want)
		}
	}
}

func TestByNameUnknown(t *testing.T) {
	_, err := board.ByName("no-such-board")
	if !errors.Is(err, board.ErrUnknown) {
		t.Fatalf("ByName(no-such-board): got %v, want ErrUnknown", err)
	}
	if !strings.Contains(err.Error(), "waveshare-sim7600x") {
		t.Errorf("ByName(no-such-board): got %q, want it to list the known names", err)
	}
}

func TestByNameReturnsCopy(t *testing.T) {
	p, _ := board.ByName("sixfab-base-ec25")
	p.Slots[0].Enable.Offset = 99
	p.Slots[0].Enable.ChipLabels[0] = "changed"
	q, _ := board.ByName("sixfab-base-ec25")
	if q.Slots[0].Enable.Offset != 26 || q.Slots[0].Enable.ChipLabels[0] != "pinctrl-rp1" {
		t.Errorf("ByName after a caller's change: got %s, want the built-in line BCM26", js(q.Slots[0].Enable))
	}
}

// validProfile is a small good profile the malformed cases start from.
const validProfile = `{
  "name": "sixfab-base-ec25",
  "description": "test",
  "driver": "gpio",
  "modem": {"family": "ec25"},
  "timing": {},
  "slots": [{"port": "/dev/ttyUSB2", "baud": 115200,
             "power_key": {"chip": "gpiochip0", "offset": 6},
             "enable": {"chip": "gpiochip0", "offset": 26, "active_low": true}}]
}`

func TestLoadMalformed(t *testing.T) {
	tests := []struct {
		name    string
		from    string // replaced in validProfile
		to      string
		wantErr string
	}{
		{"empty chip", `"chip": "gpiochip0", "offset": 6`, `"chip": "", "offset": 6`,
			"profile sixfab-base-ec25: slots[0].power_key.chip: empty"},
		{"both chip and labels", `"chip": "gpiochip0", "offset": 6`, `"chip": "gpiochip0", "chip_labels": ["x"], "offset": 6`,
			"slots[0].power_key.chip: set together with chip_labels"},
		{"missing offset", `"chip": "gpiochip0", "offset": 6`, `"chip": "gpiochip0"`,
			"profile sixfab-base-ec25: slots[0].power_key.offset: missing"},
		{"negative offset", `"offset": 26`, `"offset": -2`, "slots[0].enable.offset: -2: want 0..1023"},
		{"empty label", `"chip": "gpiochip0", "offset": 6`, `"chip_labels": ["a", " "], "offset": 6`,
			"slots[0].power_key.chip_labels[1]: empty"},
		{"chip path", `"chip": "gpiochip0", "offset": 6`, `"chip": "/dev/gpiochip0", "offset": 6`,
			"slots[0].power_key.chip: \"/dev/gpiochip0\""},
		{"same line twice", `"offset": 26`, `"offset": 6`, "slots[0].enable: line gpiochip0:6:active_low: also used by slots[0].power_key"},
		{"empty port", `"port": "/dev/ttyUSB2"`, `"port": ""`, "profile sixfab-base-ec25: slots[0].port: empty"},
		{"bad glob", `"port": "/dev/ttyUSB2"`, `"port": "/dev/[tty"`, "slots[0].port: \"/dev/[tty\": bad glob"},
		{"bad baud", `"baud": 115200`, `"baud": 12`, "slots[0].baud: 12: want 1200..4000000"},
		{"no slots", `"slots": [`, `"slots": [], "x": [`, "unknown field \"x\""},
		{"unknown field", `"driver": "gpio",`, `"driver": "gpio", "colour": "blue",`, "unknown field \"colour\""},
		{"unknown line field", `"offset": 6}`, `"offset": 6, "pull": "up"}`, "unknown field \"pull\""},
		{"unknown driver", `"driver": "gpio"`, `"driver": "spi"`, "profile sixfab-base-ec25: driver: \"spi\""},
		{"unknown family", `"family": "ec25"`, `"family": "zte"`, "profile sixfab-base-ec25: modem.family: \"zte\": want one of"},
		{"bad name", `"name": "sixfab-base-ec25"`, `"name": "Sixfab Base"`, "profile Sixfab Base: name: \"Sixfab Base\""},
		{"no name", `"name": "sixfab-base-ec25"`, `"name": ""`, "name: empty"},
		{"no description", `"description": "test"`, `"description": " "`, "profile sixfab-base-ec25: description: empty"},
		{"numeric duration", `"timing": {}`, `"timing": {"power_on_pulse": 600}`, "duration: want a string such as \"600ms\""},
		{"bad duration", `"timing": {}`, `"timing": {"power_on_pulse": "6 hours"}`, "duration \"6 hours\""},
		{"negative pulse", `"timing": {}`, `"timing": {"reset_pulse": "-1s"}`, "profile sixfab-base-ec25: timing.reset_pulse: -1s: must be positive"},
		{"pulse over SIM800 limit", `"timing": {}`, `"timing": {"power_off_pulse": "34s"}`,
			"profile sixfab-base-ec25: timing.power_off_pulse: 34s: longer than 30s (a SIM800 held over 33 s powers back on)"},
		{"boot timeout too short", `"timing": {}`, `"timing": {"boot_timeout": "10ms"}`, "timing.boot_timeout: 10ms: want at least 1s"},
		{"trailing data", `"timing": {}`, `"timing": {}}{`, "trailing data"},
		{"wrong type", `"baud": 115200`, `"baud": "fast"`, "cannot unmarshal string"},
		{"template and slots", `"timing": {}`, `"timing": {}, "slot_template": {"port": "/dev/x{n}", "baud": 9600, "max_slots": 4}`,
			"profile sixfab-base-ec25: slot_template: set together with slots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(validProfile, tt.from, tt.to, 1)
			if in == validProfile {
				t.Fatalf("test case does not change the profile: %q not found", tt.from)
			}
			p, err := board.Load(strings.NewReader(in))
			if err == nil {
				t.Fatalf("Load: got profile %s, want error containing %q", js(p), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load: got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	if _, err := board.Load(strings.NewReader(validProfile)); err != nil {
		t.Fatalf("Load(validProfile): %v", err)
	}
}

func TestLoadTimingOverlay(t *testing.T) {
	in := strings.Replace(validProfile, `"timing": {}`, `"timing": {"power_on_pulse": "2100ms"}`, 1)
	p, err := board.Load(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	ec25, _ := board.FamilyTiming("ec25")
	want := ec25
	want.PowerOnPulse = board.Duration(2100 * time.Millisecond)
	if p.Timing != want {
		t.Errorf("timing: got %+v, want ec25 defaults with power_on_pulse 2.1s: %+v", p.Timing, want)
	}
}

func TestApplyEnv(t *testing.T) {
	base, _ := board.FamilyTiming("sim7600")
	tests := []struct {
		name    string
		env     map[string]string
		want    func(t *board.Timing)
		wantErr string
	}{
		{"none", nil, func(*board.Timing) {}, ""},
		{"all", map[string]string{
			"NESS_AGENT_PWRKEY_ON_MS": "500", "NESS_AGENT_PWRKEY_OFF_MS": " 2600 ", "NESS_AGENT_RESET_MS": "250",
			"NESS_AGENT_BOOT_TIMEOUT": "45s", "NESS_AGENT_SHUTDOWN_WAIT": "1500ms", "NESS_AGENT_OFF_TIME": "5s",
			"NESS_AGENT_SUPPLY_SETTLE_MS": "300",
		}, func(tm *board.Timing) {
			*tm = board.Timing{
				PowerOnPulse: board.Duration(500 * time.Millisecond), PowerOffPulse: board.Duration(2600 * time.Millisecond),
				ResetPulse: board.Duration(250 * time.Millisecond), BootTimeout: board.Duration(45 * time.Second),
				ShutdownWait: board.Duration(1500 * time.Millisecond), OffTime: board.Duration(5 * time.Second),
				SupplySettle: board.Duration(300 * time.Millisecond),
			}
		}, ""},
		{"empty is unset", map[string]string{"NESS_AGENT_RESET_MS": ""}, func(*board.Timing) {}, ""},
		{"not a number", map[string]string{"NESS_AGENT_PWRKEY_ON_MS": "2s"}, nil,
			`NESS_AGENT_PWRKEY_ON_MS="2s": want a whole number of milliseconds`},
		{"zero", map[string]string{"NESS_AGENT_RESET_MS": "0"}, nil, `NESS_AGENT_RESET_MS="0"`},
		{"bad duration", map[string]string{"NESS_AGENT_BOOT_TIMEOUT": "20"}, nil,
			`NESS_AGENT_BOOT_TIMEOUT="20": want a duration`},
		{"over SIM800 limit", map[string]string{"NESS_AGENT_PWRKEY_OFF_MS": "40000"}, nil,
			"NESS_AGENT_PWRKEY_OFF_MS: power_off_pulse: 40s: longer than 30s"},
		{"boot too short", map[string]string{"NESS_AGENT_BOOT_TIMEOUT": "1ms"}, nil,
			"NESS_AGENT_BOOT_TIMEOUT: boot_timeout: 1ms: want at least 1s"},
		{"two bad", map[string]string{"NESS_AGENT_PWRKEY_ON_MS": "x", "NESS_AGENT_SHUTDOWN_WAIT": "y"}, nil,
			"NESS_AGENT_SHUTDOWN_WAIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := board.ByName("waveshare-sim7600x")
			err := p.ApplyEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ApplyEnv(%v): got error %v, want one containing %q", tt.env, err, tt.wantErr)
				}
				if p.Timing != base {
					t.Errorf("ApplyEnv failed but changed the timing: got %+v, want %+v", p.Timing, base)
				}
				return
			}
			if err != nil {
				t.Fatalf("ApplyEnv(%v): %v", tt.env, err)
			}
			want := base
			tt.want(&want)
			if p.Timing != want {
				t.Errorf("ApplyEnv(%v): got %+v, want %+v", tt.env, p.Timing, want)
			}
		})
	}
	for _, v := range board.EnvVars {
		if !strings.HasPrefix(v.Name, "NESS_AGENT_") || v.Help == "" {
			t.Errorf("EnvVars: %+v: want a NESS_AGENT_ name and help", v)
		}
	}
}

func TestDetect(t *testing.T) {
	piHATs := []string{"sixfab-base-ec25", "sixfab-cellular-iot-bg96", "waveshare-sim7600x", "waveshare-sim7600x-usb"}
	tests := []struct {
		file string
		want []string
	}{
		{"model-pi5", piHATs},
		{"model-pi4", piHATs},
		{"model-pi3bplus", piHATs},
		{"model-zero2w", piHATs},
		{"model-rock3a", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			model, err := board.ReadModel(os.ReadFile, filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsRune(model, 0) {
				t.Errorf("ReadModel: got %q, want no NUL", model)
			}
			ps, err := board.Detect(model)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Detect(%q): got %v, want %v", model, got, tt.want)
			}
		})
	}
	if _, err := board.ReadModel(os.ReadFile, "testdata/no-such-file"); err == nil {
		t.Errorf("ReadModel(missing file): got nil error, want one")
	}
	if ps, _ := board.Detect(""); len(ps) != 0 {
		t.Errorf("Detect(\"\"): got %d profiles, want none", len(ps))
	}
}

func TestExpandSim(t *testing.T) {
	p, _ := board.ByName("sim")
	e, err := p.Expand(32, "/tmp/ness-sim/")
	if err != nil {
		t.Fatalf("Expand(32): %v", err)
	}
	if len(e.Slots) != 32 {
		t.Fatalf("Expand(32): got %d slots, want 32", len(e.Slots))
	}
	s := e.Slots[31]
	if s.Port != "/tmp/ness-sim/slot31" || s.PowerKey.Offset != 31 || s.Enable.Offset != 31 || s.Status.Offset != 31 {
		t.Errorf("Expand(32) slot 31: got %s, want port /tmp/ness-sim/slot31 and every line at offset 31", js(s))
	}
	if e.SlotTemplate != nil {
		t.Errorf("Expand: slot_template still set")
	}
	for _, tt := range []struct {
		n       int
		dir     string
		wantErr string
	}{
		{0, "/tmp", "slot count 0: want 1..32"},
		{33, "/tmp", "slot count 33: want 1..32"},
		{2, "", "needs a directory"},
	} {
		if _, err := p.Expand(tt.n, tt.dir); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Expand(%d, %q): got %v, want error containing %q", tt.n, tt.dir, err, tt.wantErr)
		}
	}
	g, _ := board.ByName("usb-generic")
	if _, err := g.Expand(2, ""); err == nil || !strings.Contains(err.Error(), "slot_template.port: empty") {
		t.Errorf("usb-generic Expand: got %v, want slot_template.port error", err)
	}
	c, _ := board.ByName("carrier-8")
	if _, err := c.Expand(4, ""); err == nil {
		t.Errorf("carrier-8 Expand(4): got nil error, want one (fixed slots)")
	}
}

func TestWithPorts(t *testing.T) {
	c, _ := board.ByName("carrier-8")
	e, err := c.WithPorts([]string{"/dev/ttyUSB0", " /dev/ttyUSB1 "})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Slots) != 2 || e.Slots[1].Port != "/dev/ttyUSB1" || e.Slots[1].PowerKey.Offset != 1 {
		t.Errorf("WithPorts: got %s, want 2 slots keeping their lines", js(e.Slots))
	}
	for _, tt := range []struct {
		ports   []string
		wantErr string
	}{
		{nil, "ports: empty list"},
		{[]string{"/dev/a", ""}, "ports[1]: empty"},
		{make9(), "ports: 9 given, the board has 8 slots"},
		{[]string{"/dev/a", "/dev/a"}, "slots[1].port: \"/dev/a\": also used by slots[0]"},
	} {
		if _, err := c.WithPorts(tt.ports); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("WithPorts(%q): got %v, want error containing %q", tt.ports, err, tt.wantErr)
		}
	}
}

func make9() []string {
	var p []string
	for i := range 9 {
		p = append(p, "/dev/ttyUSB"+string(rune('0'+i)))
	}
	return p
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in      string
		want    board.Line
		wantErr string
	}{
		{"gpiochip2:7", board.Line{Chip: "gpiochip2", Offset: 7}, ""},
		{"gpiochip0:26:active_low", board.Line{Chip: "gpiochip0", Offset: 26, ActiveLow: true}, ""},
		{"label=pinctrl-rp1|pinctrl-bcm2711:17", board.Line{ChipLabels: []string{"pinctrl-rp1", "pinctrl-bcm2711"}, Offset: 17}, ""},
		{"gpiochip0", board.Line{}, "want CHIP:OFFSET"},
		{"gpiochip0:x", board.Line{}, "offset \"x\": not a number"},
		{"gpiochip0:1:inverted", board.Line{}, "want active_low"},
		{":3", board.Line{}, "chip: empty"},
		{"gpiochip0:5000", board.Line{}, "offset: 5000"},
	}
	for _, tt := range tests {
		got, err := board.ParseLine(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseLine(%q): got %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLine(%q): got %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if back, _ := board.ParseLine(got.String()); !reflect.DeepEqual(back, got) {
			t.Errorf("ParseLine(%q).String() = %q does not parse back", tt.in, got.String())
		}
	}
}

func TestResolvePort(t *testing.T) {
	glob := func(m map[string][]string) func(string) ([]string, error) {
		return func(p string) ([]string, error) { return m[p], nil }
	}
	const pat = "/dev/serial/by-id/usb-SimTech*-if02-port0"
	tests := []struct {
		name    string
		port    string
		matches map[string][]string
		want    string
		wantErr string
	}{
		{"plain", "/dev/serial0", nil, "/dev/serial0", ""},
		{"one match", pat, map[string][]string{pat: {"/dev/serial/by-id/usb-SimTech_X-if02-port0"}}, "/dev/serial/by-id/usb-SimTech_X-if02-port0", ""},
		{"none", pat, nil, "", "no device matches"},
		{"two", pat, map[string][]string{pat: {"/a", "/b"}}, "", "2 devices match (/a, /b)"},
	}
	for _, tt := range tests {
		got, err := board.ResolvePort(tt.port, glob(tt.matches))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: ResolvePort(%q): got %q, %v; want error containing %q", tt.name, tt.port, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: ResolvePort(%q): got %q, %v; want %q", tt.name, tt.port, got, err, tt.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	all, err := board.All()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := board.WriteTable(&buf, all); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != len(all)+1 {
		t.Fatalf("WriteTable: got %d lines, want %d:\n%s", len(lines), len(all)+1, buf.String())
	}
	if !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "SLOTS") {
		t.Errorf("WriteTable header: got %q", lines[0])
	}
	want := map[string]string{"carrier-32": "32", "sim": "1-32 (per port)", "waveshare-sim7600x": "1"}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if w, ok := want[f[0]]; ok {
			if got := strings.Join(f[1:1+len(strings.Fields(w))], " "); got != w {
				t.Errorf("WriteTable row %s: slots got %q, want %q", f[0], got, w)
			}
			delete(want, f[0])
		}
	}
	if len(want) != 0 {
		t.Errorf("WriteTable: rows missing for %v", want)
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestGenericUSBWithPowerLines(t *testing.T) {
	g, _ := board.ByName("usb-generic")
	p, err := g.WithPorts([]string{"/dev/serial/by-path/platform-xhci-hcd.0-usb-0:1:1.2-port0", "/dev/serial/by-path/platform-xhci-hcd.0-usb-0:2:1.2-port0"})
	if err != nil {
		t.Fatal(err)
	}
	l0, err := board.ParseLine("gpiochip0:17:active_low")
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.WithLines(board.RoleEnable, []*board.Line{&l0, nil})
	if err != nil {
		t.Fatalf("WithLines: %v", err)
	}
	if q.Slots[0].Enable == nil || !reflect.DeepEqual(*q.Slots[0].Enable, l0) || q.Slots[1].Enable != nil {
		t.Errorf("WithLines: got %s, want slot 0 enable %s and slot 1 none", js(q.Slots), l0)
	}
	if p.Slots[0].Enable != nil {
		t.Errorf("WithLines changed its receiver")
	}
	for _, tt := range []struct {
		role    board.Role
		lines   []*board.Line
		wantErr string
	}{
		{"pwm", []*board.Line{&l0}, `line role "pwm"`},
		{board.RoleEnable, []*board.Line{&l0, nil, &l0}, "3 given, the profile has 2 slots"},
		{board.RoleEnable, []*board.Line{&l0, &l0}, "slots[1].enable: line gpiochip0:17:active_low: also used by slots[0].enable"},
	} {
		if _, err := p.WithLines(tt.role, tt.lines); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("WithLines(%s, %d lines): got %v, want error containing %q", tt.role, len(tt.lines), err, tt.wantErr)
		}
	}
}
