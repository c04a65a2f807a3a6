// Package board holds the hardware profiles of the boards ness-agent runs on:
// which serial port and which GPIO lines make each SIM slot, and how long the
// modem's power key must be held and its boot waited for.
//
// Profiles are data. The built-in ones are JSON files under profiles/,
// embedded in the binary; a provider with another board writes the same JSON
// and loads it with Load. Nothing here opens a port or a GPIO chip: package
// agent/power turns a Slot's lines into a power controller, and the agent's
// main opens the ports.
package board

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MaxSlots is the most slots a profile may have (the largest carrier board).
const MaxSlots = 32

// Driver names how a profile's power lines are driven.
const (
	DriverGPIO = "gpio" // Linux GPIO character device (agent/power's gpiocdev opener)
	DriverSim  = "sim"  // ness-modemsim's control API (agent/power's sim opener)
)

// Role is what a GPIO line does for its slot.
type Role string

// The line roles a slot can have.
const (
	RolePowerKey   Role = "power_key"   // output, pulsed: press toggles the module on or off
	RoleReset      Role = "reset"       // output, pulsed: emergency reset
	RoleEnable     Role = "enable"      // output, level: active = supply on
	RoleStatus     Role = "status"      // input: active = module running
	RoleFlightMode Role = "flight_mode" // output, level: active = RF off
)

// Roles lists every role in the order slots print them.
var Roles = []Role{RolePowerKey, RoleReset, RoleEnable, RoleStatus, RoleFlightMode}

// Line names one GPIO line. The chip is named either by its device name
// (Chip, "gpiochip0") or, when the number differs between kernels, by the
// chip labels to look for at open time (ChipLabels, first match wins): the
// Raspberry Pi 5's header is "pinctrl-rp1", gpiochip4 on older kernels and
// gpiochip0 on newer ones. Offset is the line's offset on that chip (the BCM
// number on a Pi header). ActiveLow inverts the line: logical 1 (active) is
// a low pin.
type Line struct {
	Chip       string   `json:"chip,omitempty"`
	ChipLabels []string `json:"chip_labels,omitempty"`
	Offset     int      `json:"offset"`
	ActiveLow  bool     `json:"active_low,omitempty"`
}

// offsetMissing marks a line decoded from JSON without an offset, so that
// Validate can say so instead of silently using line 0.
const offsetMissing = -1 << 30

// UnmarshalJSON decodes a line strictly: unknown fields are rejected and the
// offset must be present.
func (l *Line) UnmarshalJSON(b []byte) error {
	var raw struct {
		Chip       string   `json:"chip"`
		ChipLabels []string `json:"chip_labels"`
		Offset     *int     `json:"offset"`
		ActiveLow  bool     `json:"active_low"`
	}
	if err := decodeStrict(b, &raw); err != nil {
		return err
	}
	*l = Line{Chip: raw.Chip, ChipLabels: raw.ChipLabels, ActiveLow: raw.ActiveLow, Offset: offsetMissing}
	if raw.Offset != nil {
		l.Offset = *raw.Offset
	}
	return nil
}

// String gives the line as ParseLine reads it: "gpiochip0:6" or
// "label=pinctrl-rp1|pinctrl-bcm2711:6", with ":active_low" when inverted.
func (l Line) String() string {
	chip := l.Chip
	if chip == "" {
		chip = "label=" + strings.Join(l.ChipLabels, "|")
	}
	s := chip + ":" + strconv.Itoa(l.Offset)
	if l.ActiveLow {
		s += ":active_low"
	}
	return s
}

// ParseLine reads a line written as CHIP:OFFSET[:active_low], where CHIP is a
// device name (gpiochip0) or label=L1|L2 to match chip labels, e.g.
// "gpiochip2:7" or "label=pinctrl-rp1|pinctrl-bcm2711:17:active_low". It is
// how a per-port power line for the generic USB profile is given on the
// command line or in the environment.
func ParseLine(s string) (Line, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Line{}, fmt.Errorf("line %q: want CHIP:OFFSET[:active_low]", s)
	}
	var l Line
	if labels, ok := strings.CutPrefix(parts[0], "label="); ok {
		l.ChipLabels = strings.Split(labels, "|")
	} else {
		l.Chip = parts[0]
	}
	off, err := strconv.Atoi(parts[1])
	if err != nil {
		return Line{}, fmt.Errorf("line %q: offset %q: not a number", s, parts[1])
	}
	l.Offset = off
	if len(parts) == 3 {
		if parts[2] != "active_low" {
			return Line{}, fmt.Errorf("line %q: %q: want active_low or nothing", s, parts[2])
		}
		l.ActiveLow = true
	}
	if err := l.validate(); err != nil {
		return Line{}, fmt.Errorf("line %q: %w", s, err)
	}
	return l, nil
}

// Slot is one SIM in one modem: its AT port and the GPIO lines that power it.
// Every line is optional; a slot without power_key or enable cannot be power
// cycled and recovers by AT commands only.
//
// Port is a stable device name: /dev/serial0 for a Pi's UART, or a
// /dev/serial/by-path or by-id name for USB, which may be a glob (see
// ResolvePort) so that one profile fits every host controller.
type Slot struct {
	Port       string `json:"port"`
	Baud       int    `json:"baud"`
	PowerKey   *Line  `json:"power_key,omitempty"`
	Reset      *Line  `json:"reset,omitempty"`
	Enable     *Line  `json:"enable,omitempty"`
	Status     *Line  `json:"status,omitempty"`
	FlightMode *Line  `json:"flight_mode,omitempty"`
}

// Line returns the slot's line for role, or nil when it has none.
func (s *Slot) Line(r Role) *Line {
	switch r {
	case RolePowerKey:
		return s.PowerKey
	case RoleReset:
		return s.Reset
	case RoleEnable:
		return s.Enable
	case RoleStatus:
		return s.Status
	case RoleFlightMode:
		return s.FlightMode
	}
	return nil
}

func (s *Slot) setLine(r Role, l *Line) {
	switch r {
	case RolePowerKey:
		s.PowerKey = l
	case RoleReset:
		s.Reset = l
	case RoleEnable:
		s.Enable = l
	case RoleStatus:
		s.Status = l
	case RoleFlightMode:
		s.FlightMode = l
	}
}

// SlotTemplate describes the slots of a profile whose slot count is chosen
// when it is used (generic USB modems, ness-modemsim): slot n gets Port with
// "{n}" replaced by n and "{dir}" by the directory given to Expand, and each
// template line with its offset plus n.
type SlotTemplate struct {
	Port       string `json:"port"`
	Baud       int    `json:"baud"`
	MaxSlots   int    `json:"max_slots"`
	PowerKey   *Line  `json:"power_key,omitempty"`
	Reset      *Line  `json:"reset,omitempty"`
	Enable     *Line  `json:"enable,omitempty"`
	Status     *Line  `json:"status,omitempty"`
	FlightMode *Line  `json:"flight_mode,omitempty"`
}

func (t *SlotTemplate) line(r Role) *Line {
	s := Slot{PowerKey: t.PowerKey, Reset: t.Reset, Enable: t.Enable, Status: t.Status, FlightMode: t.FlightMode}
	return s.Line(r)
}

// Modem hints which module the board carries. Family selects the default
// timing (see Families); Model is free text for people.
type Modem struct {
	Family string `json:"family"`
	Model  string `json:"model,omitempty"`
}

// Profile is one board: how to recognise it, which modem it carries, the
// power timing, and its slots (or a template for them).
type Profile struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Detect      []string `json:"detect,omitempty"` // substrings of /proc/device-tree/model
	Driver      string   `json:"driver"`           // DriverGPIO or DriverSim
	Modem       Modem    `json:"modem"`
	// Timing holds the effective values: the family defaults with the
	// profile's own values laid over them (and ApplyEnv's after that).
	Timing       Timing        `json:"timing"`
	Slots        []Slot        `json:"slots,omitempty"`
	SlotTemplate *SlotTemplate `json:"slot_template,omitempty"`
}

// Clone returns a deep copy, so a caller may change it freely.
func (p *Profile) Clone() *Profile {
	c := *p
	c.Detect = slices.Clone(p.Detect)
	if p.Slots != nil {
		c.Slots = make([]Slot, len(p.Slots))
		for i, s := range p.Slots {
			c.Slots[i] = cloneSlot(s)
		}
	}
	if p.SlotTemplate != nil {
		t := *p.SlotTemplate
		for _, r := range Roles {
			if l := p.SlotTemplate.line(r); l != nil {
				l2 := cloneLine(*l)
				setTemplateLine(&t, r, &l2)
			}
		}
		c.SlotTemplate = &t
	}
	return &c
}

func cloneSlot(s Slot) Slot {
	c := s
	for _, r := range Roles {
		if l := s.Line(r); l != nil {
			l2 := cloneLine(*l)
			c.setLine(r, &l2)
		}
	}
	return c
}

func cloneLine(l Line) Line {
	l.ChipLabels = slices.Clone(l.ChipLabels)
	return l
}

func setTemplateLine(t *SlotTemplate, r Role, l *Line) {
	switch r {
	case RolePowerKey:
		t.PowerKey = l
	case RoleReset:
		t.Reset = l
	case RoleEnable:
		t.Enable = l
	case RoleStatus:
		t.Status = l
	case RoleFlightMode:
		t.FlightMode = l
	}
}

// Expand returns a copy of a templated profile with n concrete slots built
// from its template; dir replaces "{dir}" in the port pattern (ness-modemsim's
// pty directory). A profile with fixed slots is returned as a copy when n is
// its slot count and is an error otherwise.
func (p *Profile) Expand(n int, dir string) (*Profile, error) {
	if p.SlotTemplate == nil {
		if n != len(p.Slots) {
			return nil, fmt.Errorf("profile %s: has %d fixed slots, cannot expand to %d", p.Name, len(p.Slots), n)
		}
		return p.Clone(), nil
	}
	t := p.SlotTemplate
	if n < 1 || n > t.MaxSlots {
		return nil, fmt.Errorf("profile %s: slot count %d: want 1..%d", p.Name, n, t.MaxSlots)
	}
	if t.Port == "" {
		return nil, fmt.Errorf("profile %s: slot_template.port: empty, so the ports must be given (WithPorts)", p.Name)
	}
	if strings.Contains(t.Port, "{dir}") && dir == "" {
		return nil, fmt.Errorf("profile %s: slot_template.port %q needs a directory, got none", p.Name, t.Port)
	}
	c := p.Clone()
	c.SlotTemplate = nil
	c.Slots = make([]Slot, n)
	for i := range n {
		port := strings.ReplaceAll(t.Port, "{n}", strconv.Itoa(i))
		port = strings.ReplaceAll(port, "{dir}", strings.TrimSuffix(dir, "/"))
		c.Slots[i] = p.templateSlot(i, port)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *Profile) templateSlot(i int, port string) Slot {
	t := p.SlotTemplate
	s := Slot{Port: port, Baud: t.Baud}
	for _, r := range Roles {
		if l := t.line(r); l != nil {
			l2 := cloneLine(*l)
			l2.Offset += i
			s.setLine(r, &l2)
		}
	}
	return s
}

// WithPorts returns a copy whose slot ports are replaced, in order, by ports
// (NESS_AGENT_PORTS). A templated profile gets one slot per port. A profile
// with fixed slots keeps its first len(ports) slots, with their lines, so a
// partly populated carrier board can name only the ports it uses.
func (p *Profile) WithPorts(ports []string) (*Profile, error) {
	if len(ports) == 0 {
		return nil, fmt.Errorf("profile %s: ports: empty list", p.Name)
	}
	for i, port := range ports {
		if strings.TrimSpace(port) == "" {
			return nil, fmt.Errorf("profile %s: ports[%d]: empty", p.Name, i)
		}
	}
	var c *Profile
	if p.SlotTemplate != nil {
		if len(ports) > p.SlotTemplate.MaxSlots {
			return nil, fmt.Errorf("profile %s: ports: %d given, at most %d", p.Name, len(ports), p.SlotTemplate.MaxSlots)
		}
		c = p.Clone()
		c.SlotTemplate = nil
		c.Slots = make([]Slot, len(ports))
		for i := range ports {
			c.Slots[i] = p.templateSlot(i, "")
		}
	} else {
		if len(ports) > len(p.Slots) {
			return nil, fmt.Errorf("profile %s: ports: %d given, the board has %d slots", p.Name, len(ports), len(p.Slots))
		}
		c = p.Clone()
		c.Slots = c.Slots[:len(ports)]
	}
	for i, port := range ports {
		c.Slots[i].Port = strings.TrimSpace(port)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks a profile and returns an error naming the first bad field,
// e.g. "profile sixfab-base-ec25: slots[0].power_key.chip: empty".
func (p *Profile) Validate() error {
	name := p.Name
	if name == "" {
		name = "(unnamed)"
	}
	fail := func(field, format string, a ...any) error {
		return fmt.Errorf("profile %s: %s: %s", name, field, fmt.Sprintf(format, a...))
	}
	switch {
	case p.Name == "":
		return fail("name", "empty")
	case !nameRE.MatchString(p.Name):
		return fail("name", "%q: want lower-case letters, digits and '-'", p.Name)
	case strings.TrimSpace(p.Description) == "":
		return fail("description", "empty")
	}
	for i, d := range p.Detect {
		if strings.TrimSpace(d) == "" {
			return fail(fmt.Sprintf("detect[%d]", i), "empty")
		}
	}
	if p.Driver != DriverGPIO && p.Driver != DriverSim {
		return fail("driver", "%q: want %q or %q", p.Driver, DriverGPIO, DriverSim)
	}
	if _, ok := families[p.Modem.Family]; !ok {
		return fail("modem.family", "%q: want one of %s", p.Modem.Family, strings.Join(Families(), ", "))
	}
	if field, err := p.Timing.validate(); err != nil {
		return fail("timing."+field, "%v", err)
	}
	switch {
	case len(p.Slots) == 0 && p.SlotTemplate == nil:
		return fail("slots", "empty (and no slot_template)")
	case len(p.Slots) > 0 && p.SlotTemplate != nil:
		return fail("slot_template", "set together with slots; use one")
	case len(p.Slots) > MaxSlots:
		return fail("slots", "%d slots, at most %d", len(p.Slots), MaxSlots)
	}
	seenPort := map[string]int{}
	seenLine := map[string]string{}
	for i, s := range p.Slots {
		f := fmt.Sprintf("slots[%d]", i)
		if strings.TrimSpace(s.Port) == "" {
			return fail(f+".port", "empty")
		}
		if j, dup := seenPort[s.Port]; dup {
			return fail(f+".port", "%q: also used by slots[%d]", s.Port, j)
		}
		seenPort[s.Port] = i
		if _, err := path.Match(s.Port, ""); err != nil {
			return fail(f+".port", "%q: bad glob: %v", s.Port, err)
		}
		if err := validBaud(s.Baud); err != nil {
			return fail(f+".baud", "%v", err)
		}
		for _, r := range Roles {
			l := s.Line(r)
			if l == nil {
				continue
			}
			lf := f + "." + string(r)
			if err := l.validate(); err != nil {
				return fmt.Errorf("profile %s: %s.%w", name, lf, err)
			}
			key := l.key()
			if other, dup := seenLine[key]; dup {
				return fail(lf, "line %s: also used by %s", l, other)
			}
			seenLine[key] = lf
		}
	}
	if t := p.SlotTemplate; t != nil {
		if t.MaxSlots < 1 || t.MaxSlots > MaxSlots {
			return fail("slot_template.max_slots", "%d: want 1..%d", t.MaxSlots, MaxSlots)
		}
		if t.Port != "" && !strings.Contains(t.Port, "{n}") {
			return fail("slot_template.port", "%q: has no {n}, so every slot would share it", t.Port)
		}
		if err := validBaud(t.Baud); err != nil {
			return fail("slot_template.baud", "%v", err)
		}
		for _, r := range Roles {
			if l := t.line(r); l != nil {
				if err := l.validate(); err != nil {
					return fmt.Errorf("profile %s: slot_template.%s.%w", name, r, err)
				}
			}
		}
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func validBaud(b int) error {
	if b < 1200 || b > 4000000 {
		return fmt.Errorf("%d: want 1200..4000000", b)
	}
	return nil
}

// validate checks one line; its errors start with the field name, so a
// caller prefixes the path with a '.'.
func (l *Line) validate() error {
	switch {
	case l.Chip == "" && len(l.ChipLabels) == 0:
		return errors.New("chip: empty (name a chip or chip_labels)")
	case l.Chip != "" && len(l.ChipLabels) > 0:
		return errors.New("chip: set together with chip_labels; use one")
	case l.Offset == offsetMissing:
		return errors.New("offset: missing")
	case l.Offset < 0 || l.Offset > 1023:
		return fmt.Errorf("offset: %d: want 0..1023", l.Offset)
	}
	if l.Chip != "" && (strings.ContainsAny(l.Chip, "/\x00") || strings.TrimSpace(l.Chip) != l.Chip) {
		return fmt.Errorf("chip: %q: want a device name such as gpiochip0", l.Chip)
	}
	for i, lab := range l.ChipLabels {
		if strings.TrimSpace(lab) == "" {
			return fmt.Errorf("chip_labels[%d]: empty", i)
		}
	}
	return nil
}

func (l *Line) key() string {
	if l.Chip != "" {
		return l.Chip + ":" + strconv.Itoa(l.Offset)
	}
	return "label=" + strings.Join(l.ChipLabels, "|") + ":" + strconv.Itoa(l.Offset)
}

// Load reads one profile from JSON (a provider's custom board). Unknown
// fields are errors, timing values the profile leaves out come from its
// modem family, and the result is validated.
func Load(r io.Reader) (*Profile, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxProfileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	if len(b) > maxProfileBytes {
		return nil, fmt.Errorf("load profile: larger than %d bytes", maxProfileBytes)
	}
	return parse(b)
}

const maxProfileBytes = 1 << 20

func parse(b []byte) (*Profile, error) {
	var p Profile
	if err := decodeStrict(b, &p); err != nil {
		return nil, fmt.Errorf("load profile: %w", err)
	}
	if p.Name == "" {
		return nil, errors.New("load profile: name: empty")
	}
	base, ok := families[p.Modem.Family]
	if !ok {
		return nil, fmt.Errorf("profile %s: modem.family: %q: want one of %s", p.Name, p.Modem.Family, strings.Join(Families(), ", "))
	}
	p.Timing = base.overlay(p.Timing)
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// decodeStrict decodes exactly one JSON value, rejecting unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Families lists the modem families with default timing, sorted.
func Families() []string {
	return slices.Sorted(maps.Keys(families))
}

// WithLines returns a copy in which slot i's line for role is lines[i]; a
// nil entry leaves that slot as it is. It gives the generic USB profile its
// optional per-port power lines (e.g. role enable for a switched USB hub
// port, parsed with ParseLine). The profile must have concrete slots.
func (p *Profile) WithLines(role Role, lines []*Line) (*Profile, error) {
	if !slices.Contains(Roles, role) {
		return nil, fmt.Errorf("profile %s: line role %q: want one of %v", p.Name, role, Roles)
	}
	if len(lines) > len(p.Slots) {
		return nil, fmt.Errorf("profile %s: %s lines: %d given, the profile has %d slots", p.Name, role, len(lines), len(p.Slots))
	}
	c := p.Clone()
	for i, l := range lines {
		if l != nil {
			l2 := cloneLine(*l)
			c.Slots[i].setLine(role, &l2)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
