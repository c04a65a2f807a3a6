package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/ness-network/ness-sms/wire"
)

// State is where a slot is in its life cycle.
//
//	off → powering → waiting_at → initialising → ready ⇄ degraded
//	                     ↑                          │
//	                     └──────── recovering ←─────┘ (silent or erroring modem)
//	                                    │
//	                                 blocked (still probed, recovers by itself)
type State string

// Slot states.
const (
	StateOff          State = "off"          // not started, port missing, or powered down
	StatePowering     State = "powering"     // power-on sequence on the slot's lines
	StateWaitingAT    State = "waiting_at"   // polling AT until the modem answers
	StateInitialising State = "initialising" // identify, SIM check, AT init
	StateReady        State = "ready"        // reading SMS, SIM ready, registered at home
	StateDegraded     State = "degraded"     // modem answers but SIM or network is not usable (Reason says why)
	StateRecovering   State = "recovering"   // escalation in progress (Reason says which step)
	StateBlocked      State = "blocked"      // escalation exhausted; probed at the capped backoff
)

// States lists every state, in life-cycle order (metrics export one gauge per state).
var States = []State{StateOff, StatePowering, StateWaitingAT, StateInitialising, StateReady, StateDegraded, StateRecovering, StateBlocked}

// SlotStatus is one slot's state as the supervisor last saw it. It never holds the IMSI itself:
// only its SHA-256, so a status can leave the board as it is.
type SlotStatus struct {
	Slot   int       `json:"slot"`
	State  State     `json:"state"`
	Since  time.Time `json:"since"`            // when State began
	Reason string    `json:"reason,omitempty"` // why degraded, recovering or blocked; last error otherwise
	Port   string    `json:"port,omitempty"`   // device path the port resolved to

	SignalDBm    int    `json:"signal_dbm,omitempty"` // 0 = unknown
	Registration string `json:"registration,omitempty"`
	Operator     string `json:"operator,omitempty"`
	SIM          string `json:"sim,omitempty"` // AT+CPIN? state: READY, SIM PIN, NOT INSERTED…
	ICCID        string `json:"iccid,omitempty"`
	IMSIHash     string `json:"imsi_hash,omitempty"` // lowercase hex SHA-256 of the IMSI
	Model        string `json:"model,omitempty"`
	IMEI         string `json:"imei,omitempty"`

	LastSMS      time.Time `json:"last_sms,omitzero"`
	Received     uint64    `json:"received"`      // PDUs stored by the sink and deleted from the SIM
	DecodeErrors uint64    `json:"decode_errors"` // reported by the pipeline (RecordDecodeError)
	StoreErrors  uint64    `json:"store_errors"`  // sink refusals (the PDU stayed on the SIM)
	Resets       uint64    `json:"resets"`        // re-initialisations and AT+CFUN=1,1 resets
	PowerCycles  uint64    `json:"power_cycles"`
	Errors       uint64    `json:"errors"` // failed modem commands and escalations
}

// HashIMSI returns the lowercase hex SHA-256 of an IMSI ("" for ""), the only form in which the
// IMSI leaves the supervisor.
func HashIMSI(imsi string) string {
	if imsi == "" {
		return ""
	}
	h := sha256.Sum256([]byte(imsi))
	return hex.EncodeToString(h[:])
}

// Wire converts the status to the shape published over MQTT. The wire state is one of wire's
// suggested labels when one fits (registered, no_sim, searching, denied, off, powering, error),
// else the supervisor's own state name.
func (s SlotStatus) Wire() wire.SlotStatus {
	w := wire.SlotStatus{
		Slot:         uint32(max(s.Slot, 0)),
		State:        s.wireState(),
		Since:        s.Since,
		Registration: s.Registration,
		Operator:     s.Operator,
		ICCID:        s.ICCID,
		IMSIHash:     s.IMSIHash,
		LastSMS:      s.LastSMS,
		Received:     s.Received,
		Errors:       s.Errors,
		Resets:       s.Resets + s.PowerCycles,
	}
	if s.SignalDBm < 0 && s.SignalDBm >= -200 {
		w.SignalDBm = int32(s.SignalDBm)
	}
	return w
}

func (s SlotStatus) wireState() string {
	switch s.State {
	case StateOff:
		return wire.SlotOff
	case StatePowering, StateWaitingAT, StateInitialising:
		return wire.SlotPowering
	case StateReady:
		return wire.SlotRegistered
	case StateDegraded:
		switch {
		case s.SIM != "" && s.SIM != "READY":
			return wire.SlotNoSIM
		case s.Registration == "roaming":
			return wire.SlotRegistered
		case s.Registration == "denied":
			return wire.SlotDenied
		}
		return wire.SlotSearching
	case StateBlocked:
		return wire.SlotError
	}
	return string(s.State)
}

// WireStatuses converts a Snapshot for wire.Status.Slots.
func WireStatuses(ss []SlotStatus) []wire.SlotStatus {
	out := make([]wire.SlotStatus, len(ss))
	for i, s := range ss {
		out[i] = s.Wire()
	}
	return out
}
