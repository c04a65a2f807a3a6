// Package modemsim simulates GSM modules (SIMCom SIM7600 and SIM800, Quectel EC25) with their
// SIM cards, so the agent and unmodified third-party modem software can be tested without
// hardware. Each slot is a state machine that answers AT commands on a port (a pseudo-terminal
// or a unix socket), follows the module's power behaviour (supply, PWRKEY pulse widths, boot
// delay and banner), stores SMS in SIM storage as real SMS-DELIVER PDUs and raises +CMTI/+CMT.
// A loopback HTTP control API (Handler, documented in docs/MODEMSIM.md) injects messages,
// faults and power events and shows each slot's state.
//
// Nothing runs without traffic: every goroutine blocks on a read, a channel or a timer, so idle
// slots cost no CPU.
package modemsim

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config describes a simulator. Zero values get the defaults documented on each field.
type Config struct {
	Slots int   // number of slots, 1 to 1024
	Model Model // module type of every slot; default sim7600
	// Capacity is the number of locations in each message storage; default 30.
	Capacity int
	// BootDelay is the time from a power-on (PWRKEY pulse, AT+CFUN=1,1) to the boot banner;
	// default 2 s. Real modules take 10-20 s.
	BootDelay time.Duration
	// SlowDelay is how long the "slow" fault holds each answer; default 3 s.
	SlowDelay time.Duration
	// PowerOffAtStart starts every slot with its supply off; a power driver then switches it.
	// By default slots start powered and booted.
	PowerOffAtStart bool
	// AutoBoot makes modules boot when their supply comes on, without a PWRKEY pulse, like
	// boards that tie PWRKEY low.
	AutoBoot bool
	// Seed varies the IMEI, ICCID and IMSI digits between simulators.
	Seed   int64
	Clock  Clock        // default: the system clock
	Logger *slog.Logger // default: discard
}

// Simulator is a set of simulated slots.
type Simulator struct {
	cfg   Config
	slots []*Slot
}

// New builds a simulator; it opens no ports (see ServePTYs, ServeSockets, Slot.Serve).
func New(cfg Config) (*Simulator, error) {
	if cfg.Slots < 1 || cfg.Slots > 1024 {
		return nil, fmt.Errorf("slots: %d is out of range 1-1024", cfg.Slots)
	}
	if cfg.Model.Name == "" {
		cfg.Model = models["sim7600"]
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = 30
	}
	if cfg.Capacity < 1 || cfg.Capacity > 255 {
		return nil, fmt.Errorf("capacity: %d is out of range 1-255", cfg.Capacity)
	}
	if cfg.BootDelay == 0 {
		cfg.BootDelay = 2 * time.Second
	}
	if cfg.SlowDelay == 0 {
		cfg.SlowDelay = 3 * time.Second
	}
	if cfg.BootDelay < 0 || cfg.SlowDelay < 0 {
		return nil, errors.New("boot and slow delays must not be negative")
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sim := &Simulator{cfg: cfg}
	for n := range cfg.Slots {
		sim.slots = append(sim.slots, newSlot(n, &sim.cfg))
	}
	return sim, nil
}

// Slots returns all slots in order.
func (sim *Simulator) Slots() []*Slot { return sim.slots }

// Slot returns slot n (counted from 0).
func (sim *Simulator) Slot(n int) (*Slot, error) {
	if n < 0 || n >= len(sim.slots) {
		return nil, fmt.Errorf("slot %d does not exist (have 0-%d)", n, len(sim.slots)-1)
	}
	return sim.slots[n], nil
}

// Model returns the module type the simulator was built with.
func (sim *Simulator) Model() Model { return sim.cfg.Model }

// MessageStatus is one stored message as the control API shows it.
type MessageStatus struct {
	Index   int    `json:"index"`
	Storage string `json:"storage"`
	PDU     string `json:"pdu"`    // hex, starting with the SMSC part
	Status  string `json:"status"` // unread, read, unsent, sent
}

// SlotStatus is a snapshot of one slot, the body of GET /slots/{n}.
type SlotStatus struct {
	Slot           int             `json:"slot"`
	Model          string          `json:"model"`
	Power          bool            `json:"power"`  // the supply
	Status         bool            `json:"status"` // the module's STATUS line: high while running
	State          State           `json:"state"`
	Fault          Fault           `json:"fault"`
	IMEI           string          `json:"imei"`
	ICCID          string          `json:"iccid"`
	IMSI           string          `json:"imsi"`
	Number         string          `json:"number"`
	Messages       []MessageStatus `json:"messages"`
	RecentCommands []string        `json:"recent_commands"`
}

// Status returns a snapshot of the slot.
func (s *Slot) Status() SlotStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SlotStatus{
		Slot: s.n, Model: s.model.Name, Power: s.supply, Status: s.state != StateOff,
		State: s.state, Fault: s.fault, IMEI: s.id.IMEI, ICCID: s.id.ICCID, IMSI: s.id.IMSI,
		Number: s.id.Number, Messages: []MessageStatus{}, RecentCommands: append([]string{}, s.recent...),
	}
	for _, name := range s.model.Storages {
		for i, m := range s.stores[name].msgs {
			if m != nil {
				st.Messages = append(st.Messages, MessageStatus{
					Index: s.model.IndexBase + i, Storage: name,
					PDU: fmt.Sprintf("%X", m.pdu), Status: statAPINames[m.stat],
				})
			}
		}
	}
	return st
}

// Delivery reports where injected parts went.
type Delivery struct {
	Storage string `json:"storage,omitempty"`
	Indexes []int  `json:"indexes"`          // storage indexes, in part order; empty when sent as +CMT
	Direct  bool   `json:"direct,omitempty"` // shown with +CMT (AT+CNMI mt=2) instead of stored
}

// InjectSMS delivers a text from the network: encoded as SMS-DELIVER PDUs with the slot's SMSC
// and the given time as SCTS (the clock's now when zero).
func (s *Slot) InjectSMS(from, text string, at time.Time) (Delivery, error) {
	if at.IsZero() {
		at = s.cfg.Clock.Now()
	}
	s.mu.Lock()
	s.concatRef = (s.concatRef + 1) % 256
	ref, smsc := s.concatRef, s.smsc
	s.mu.Unlock()
	pdus, err := EncodeDeliver(from, text, at, smsc, ref)
	if err != nil {
		return Delivery{}, err
	}
	return s.InjectPDUs(pdus...)
}

// InjectPDUs delivers raw PDUs (each starting with the SMSC part) as they are. All parts are
// stored or none: ErrStorageFull when they do not fit, ErrNoSIM without a SIM. The module sends
// +CMTI per part when running and asked to by AT+CNMI, or +CMT with the PDU when mt=2 (then
// nothing is stored). While off, booting or hung the message is stored silently, as the network
// would hold it and deliver it at the next registration.
func (s *Slot) InjectPDUs(pdus ...[]byte) (Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault == FaultNoSIM {
		return Delivery{}, ErrNoSIM
	}
	if s.fault == FaultFull {
		return Delivery{}, ErrStorageFull
	}
	running := s.state == StateOn
	urc := running && s.fault != FaultLoseURC && s.sess.cnmi[0] != 0
	if urc && s.sess.cnmi[1] == 2 {
		for _, p := range pdus {
			s.emitLinesLocked(strings.Join(s.cmtLocked(p), "\r\n")) // header and PDU form one URC
		}
		return Delivery{Indexes: []int{}, Direct: true}, nil
	}
	mem := s.sess.mem[2]
	st := s.stores[mem]
	if len(st.msgs)-st.used() < len(pdus) {
		return Delivery{}, ErrStorageFull
	}
	d := Delivery{Storage: mem, Indexes: []int{}}
	for _, p := range pdus {
		for i, m := range st.msgs {
			if m == nil {
				st.msgs[i] = &message{pdu: append([]byte(nil), p...), stat: statUnread}
				d.Indexes = append(d.Indexes, s.model.IndexBase+i)
				break
			}
		}
	}
	if urc && (s.sess.cnmi[1] == 1 || s.sess.cnmi[1] == 3) {
		for _, idx := range d.Indexes {
			s.emitLinesLocked(fmt.Sprintf(`+CMTI: "%s",%d`, mem, idx))
		}
	}
	return d, nil
}

// cmtLocked is the +CMT URC for one PDU in the current message format.
func (s *Slot) cmtLocked(p []byte) []string {
	if s.sess.cmgf == 0 {
		return []string{fmt.Sprintf("+CMT: %s,%d", s.model.EmptyAlpha, tpduLength(p)), fmt.Sprintf("%X", p)}
	}
	d := decodeStored(p)
	text, oa := s.textLocked(d)
	return []string{fmt.Sprintf(`+CMT: "%s","","%s"`, oa, sctsText(d.scts)), text}
}
