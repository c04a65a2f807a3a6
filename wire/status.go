package wire

import (
	"encoding/json"
	"fmt"
	"time"
)

// Suggested slot states (any short lowercase label is accepted).
const (
	SlotOff        = "off"
	SlotPowering   = "powering"
	SlotNoSIM      = "no_sim"
	SlotSearching  = "searching"
	SlotRegistered = "registered"
	SlotDenied     = "denied"
	SlotError      = "error"
)

// Status is an agent's signed report about itself and its slots. The agent-level topic carries
// every slot (and, as the MQTT last will, a Status with Online false and no slots); a per-slot
// topic carries a Status with exactly that one slot.
type Status struct {
	Version uint8
	AgentID string
	Time    time.Time
	Online  bool
	Slots   []SlotStatus
	Sig     []byte
}

// SlotStatus is one slot's state. Zero times mean "never"/"unknown"; SignalDBm 0 means unknown.
type SlotStatus struct {
	Slot         uint32
	State        string    // SlotRegistered etc.
	Since        time.Time // when State began
	SignalDBm    int32     // e.g. -71; 0 = unknown
	Registration string    // "home", "roaming", "searching", "denied", "unknown", ""
	Operator     string
	ICCID        string // "" when no SIM
	IMSIHash     string // lowercase hex SHA-256 of the IMSI, or ""
	LastSMS      time.Time
	Received     uint64 // SMS read from the SIM since start
	Published    uint64 // SMS acknowledged by the hub since start
	Errors       uint64 // modem errors since start
	Resets       uint64 // soft resets and power cycles since start
	OutboxDepth  uint32 // SMS waiting for a receipt
}

func (s *Status) validate() error {
	const k = "status"
	if s.Version != Version {
		return checkVersion(k, int(s.Version))
	}
	if err := checkAgentIDField(k, "agent", s.AgentID); err != nil {
		return err
	}
	if err := checkTime(k, "time_ms", s.Time, true); err != nil {
		return err
	}
	if len(s.Slots) > MaxSlots {
		return fieldErr(k, "slots", "%d entries exceeds the limit of %d", len(s.Slots), MaxSlots)
	}
	for i := range s.Slots {
		sl := &s.Slots[i]
		f := func(name string) string { return fmt.Sprintf("slots[%d].%s", i, name) }
		if sl.Slot > MaxSlots {
			return fieldErr(k, f("slot"), "%d is outside 0..%d", sl.Slot, MaxSlots)
		}
		if err := checkLabel(k, f("state"), sl.State, MaxLabel, true); err != nil {
			return err
		}
		if err := checkTime(k, f("since_ms"), sl.Since, false); err != nil {
			return err
		}
		if sl.SignalDBm > 0 || sl.SignalDBm < -200 {
			return fieldErr(k, f("signal_dbm"), "%d is outside -200..0", sl.SignalDBm)
		}
		if err := checkLabel(k, f("registration"), sl.Registration, MaxLabel, false); err != nil {
			return err
		}
		if err := checkLabel(k, f("operator"), sl.Operator, MaxLabel, false); err != nil {
			return err
		}
		if sl.ICCID != "" {
			if err := checkICCID(k, f("iccid"), sl.ICCID); err != nil {
				return err
			}
		}
		if sl.IMSIHash != "" {
			if _, err := checkHex32(k, f("imsi_hash"), sl.IMSIHash); err != nil {
				return err
			}
		}
		if err := checkTime(k, f("last_sms_ms"), sl.LastSMS, false); err != nil {
			return err
		}
	}
	return nil
}

// IMSIHash returns the lowercase hex SHA-256 of an IMSI, as SlotStatus carries it.
func IMSIHash(imsi string) string { return sha256Hex([]byte(imsi)) }

// SignedBytes: DomainStatus || u8 version || agent (16) || i64 time_ms || u8 online ||
// u32 slot count || per slot: u32 slot || str state || i64 since_ms || i32 signal_dbm ||
// str registration || str operator || str iccid || str imsi_hash || i64 last_sms_ms ||
// u64 received || u64 published || u64 errors || u64 resets || u32 outbox.
func (s *Status) SignedBytes() []byte {
	w := newCanon(DomainStatus, 64+len(s.Slots)*160)
	w.u8(s.Version)
	w.raw(fixed(agentIDBytes(s.AgentID), 16))
	w.i64(timeMs(s.Time))
	w.boolean(s.Online)
	w.u32(uint32(len(s.Slots)))
	for _, sl := range s.Slots {
		w.u32(sl.Slot)
		w.str(sl.State)
		w.i64(timeMs(sl.Since))
		w.i32(sl.SignalDBm)
		w.str(sl.Registration)
		w.str(sl.Operator)
		w.str(sl.ICCID)
		w.str(sl.IMSIHash)
		w.i64(timeMs(sl.LastSMS))
		w.u64(sl.Received)
		w.u64(sl.Published)
		w.u64(sl.Errors)
		w.u64(sl.Resets)
		w.u32(sl.OutboxDepth)
	}
	return w.b
}

// Sign signs with the agent identity, which must match AgentID.
func (s *Status) Sign(agent *Identity) error {
	if s.Version == 0 {
		s.Version = Version
	}
	if got := agent.AgentID(); got != s.AgentID {
		return fmt.Errorf("status: sign: identity is agent %s, status says agent %s", got, s.AgentID)
	}
	s.Time = s.Time.Truncate(time.Millisecond).UTC()
	for i := range s.Slots {
		s.Slots[i].Since = s.Slots[i].Since.Truncate(time.Millisecond).UTC()
		s.Slots[i].LastSMS = s.Slots[i].LastSMS.Truncate(time.Millisecond).UTC()
	}
	if err := s.validate(); err != nil {
		return err
	}
	s.Sig = agent.SignBytes(s.SignedBytes())
	return nil
}

// Verify checks agentKey is the status's agent and signed it.
func (s *Status) Verify(agentKey VerifyKey) error {
	if err := s.validate(); err != nil {
		return err
	}
	if got := AgentIDOf(agentKey); got != s.AgentID {
		return fmt.Errorf("status: key is agent %s, status says agent %s", got, s.AgentID)
	}
	if !VerifyBytes(agentKey, s.SignedBytes(), s.Sig) {
		return fmt.Errorf("status of agent %s: %w", s.AgentID, ErrSignature)
	}
	return nil
}

type statusJSON struct {
	V      int              `json:"v"`
	Agent  string           `json:"agent"`
	TimeMs int64            `json:"time_ms"`
	Online bool             `json:"online"`
	Slots  []slotStatusJSON `json:"slots"`
	Sig    string           `json:"sig"`
}

type slotStatusJSON struct {
	Slot         uint32 `json:"slot"`
	State        string `json:"state"`
	SinceMs      int64  `json:"since_ms"`
	SignalDBm    int32  `json:"signal_dbm"`
	Registration string `json:"registration"`
	Operator     string `json:"operator"`
	ICCID        string `json:"iccid"`
	IMSIHash     string `json:"imsi_hash"`
	LastSMSMs    int64  `json:"last_sms_ms"`
	Received     uint64 `json:"received"`
	Published    uint64 `json:"published"`
	Errors       uint64 `json:"errors"`
	Resets       uint64 `json:"resets"`
	Outbox       uint32 `json:"outbox"`
}

// MarshalJSON returns the JSON transport form.
func (s *Status) MarshalJSON() ([]byte, error) {
	j := statusJSON{V: int(s.Version), Agent: s.AgentID, TimeMs: timeMs(s.Time), Online: s.Online,
		Slots: make([]slotStatusJSON, len(s.Slots)), Sig: b64(s.Sig)}
	for i, sl := range s.Slots {
		j.Slots[i] = slotStatusJSON{Slot: sl.Slot, State: sl.State, SinceMs: timeMs(sl.Since),
			SignalDBm: sl.SignalDBm, Registration: sl.Registration, Operator: sl.Operator, ICCID: sl.ICCID,
			IMSIHash: sl.IMSIHash, LastSMSMs: timeMs(sl.LastSMS), Received: sl.Received,
			Published: sl.Published, Errors: sl.Errors, Resets: sl.Resets, Outbox: sl.OutboxDepth}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes strictly, as DecodeStatus.
func (s *Status) UnmarshalJSON(data []byte) error {
	d, err := DecodeStatus(data)
	if err != nil {
		return err
	}
	*s = *d
	return nil
}

// DecodeStatus strictly decodes a status's JSON form (signature not checked).
func DecodeStatus(data []byte) (*Status, error) {
	const k = "status"
	var j statusJSON
	if err := decodeStrict(k, data, MaxStatusJSON, &j); err != nil {
		return nil, err
	}
	if err := checkVersion(k, j.V); err != nil {
		return nil, err
	}
	if j.Slots == nil {
		return nil, fieldErr(k, "slots", "missing (use [] for none)")
	}
	if len(j.Slots) > MaxSlots {
		return nil, fieldErr(k, "slots", "%d entries exceeds the limit of %d", len(j.Slots), MaxSlots)
	}
	s := &Status{Version: uint8(j.V), AgentID: j.Agent, Online: j.Online, Slots: make([]SlotStatus, len(j.Slots))}
	var err error
	if s.Time, err = msTime(k, "time_ms", j.TimeMs); err != nil {
		return nil, err
	}
	for i, js := range j.Slots {
		f := func(name string) string { return fmt.Sprintf("slots[%d].%s", i, name) }
		sl := SlotStatus{Slot: js.Slot, State: js.State, SignalDBm: js.SignalDBm, Registration: js.Registration,
			Operator: js.Operator, ICCID: js.ICCID, IMSIHash: js.IMSIHash, Received: js.Received,
			Published: js.Published, Errors: js.Errors, Resets: js.Resets, OutboxDepth: js.Outbox}
		if sl.Since, err = msTime(k, f("since_ms"), js.SinceMs); err != nil {
			return nil, err
		}
		if sl.LastSMS, err = msTime(k, f("last_sms_ms"), js.LastSMSMs); err != nil {
			return nil, err
		}
		s.Slots[i] = sl
	}
	if s.Sig, err = sigField(k, j.Sig); err != nil {
		return nil, err
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}
