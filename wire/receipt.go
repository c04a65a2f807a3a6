package wire

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Receipt is the hub's signed acknowledgement that it stored a message; on it the agent drops
// the message from its outbox. A redelivered message gets a receipt again with Duplicate set.
type Receipt struct {
	Version   uint8
	MessageID string // 64 lowercase hex
	AgentID   string
	Received  time.Time // when the hub first stored the message
	Duplicate bool      // the hub already had this message
	Hub       VerifyKey
	Sig       []byte
}

func (r *Receipt) validate() error {
	const k = "receipt"
	if r.Version != Version {
		return checkVersion(k, int(r.Version))
	}
	if _, err := checkHex32(k, "id", r.MessageID); err != nil {
		return err
	}
	if err := checkAgentIDField(k, "agent", r.AgentID); err != nil {
		return err
	}
	if err := checkTime(k, "received_ms", r.Received, true); err != nil {
		return err
	}
	if r.Hub.IsZero() {
		return fieldErr(k, "hub", "key is all zero")
	}
	return nil
}

// SignedBytes: DomainReceipt || u8 version || id (32) || agent (16) || i64 received_ms ||
// u8 duplicate (0|1) || hub (32).
func (r *Receipt) SignedBytes() []byte {
	w := newCanon(DomainReceipt, 100)
	w.u8(r.Version)
	id, _ := hex.DecodeString(r.MessageID)
	w.raw(fixed(id, 32))
	w.raw(fixed(agentIDBytes(r.AgentID), 16))
	w.i64(timeMs(r.Received))
	w.boolean(r.Duplicate)
	w.raw(r.Hub[:])
	return w.b
}

// Sign sets Hub and signs.
func (r *Receipt) Sign(hub *Identity) error {
	if r.Version == 0 {
		r.Version = Version
	}
	r.Received = r.Received.Truncate(time.Millisecond).UTC()
	r.Hub = hub.Verify
	if err := r.validate(); err != nil {
		return err
	}
	r.Sig = hub.SignBytes(r.SignedBytes())
	return nil
}

// Verify checks the receipt is well formed, its Hub key is one of hubKeys, and the signature.
func (r *Receipt) Verify(hubKeys []VerifyKey) error {
	if err := r.validate(); err != nil {
		return err
	}
	if !keyIn(r.Hub, hubKeys) {
		return fmt.Errorf("receipt %s: signed by hub key %s, which is not pinned", r.MessageID, r.Hub)
	}
	if !VerifyBytes(r.Hub, r.SignedBytes(), r.Sig) {
		return fmt.Errorf("receipt %s: %w", r.MessageID, ErrSignature)
	}
	return nil
}

type receiptJSON struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	Agent      string `json:"agent"`
	ReceivedMs int64  `json:"received_ms"`
	Duplicate  bool   `json:"duplicate"`
	Hub        string `json:"hub"`
	Sig        string `json:"sig"`
}

// MarshalJSON returns the JSON transport form.
func (r *Receipt) MarshalJSON() ([]byte, error) {
	return json.Marshal(receiptJSON{V: int(r.Version), ID: r.MessageID, Agent: r.AgentID,
		ReceivedMs: timeMs(r.Received), Duplicate: r.Duplicate, Hub: r.Hub.String(), Sig: b64(r.Sig)})
}

// UnmarshalJSON decodes strictly, as DecodeReceipt.
func (r *Receipt) UnmarshalJSON(data []byte) error {
	d, err := DecodeReceipt(data)
	if err != nil {
		return err
	}
	*r = *d
	return nil
}

// DecodeReceipt strictly decodes a receipt's JSON form (signature not checked).
func DecodeReceipt(data []byte) (*Receipt, error) {
	const k = "receipt"
	var j receiptJSON
	if err := decodeStrict(k, data, MaxSmallJSON, &j); err != nil {
		return nil, err
	}
	if err := checkVersion(k, j.V); err != nil {
		return nil, err
	}
	r := &Receipt{Version: uint8(j.V), MessageID: j.ID, AgentID: j.Agent, Duplicate: j.Duplicate}
	var err error
	if r.Received, err = msTime(k, "received_ms", j.ReceivedMs); err != nil {
		return nil, err
	}
	key, err := keyField(k, "hub", j.Hub)
	if err != nil {
		return nil, err
	}
	r.Hub = VerifyKey(key)
	if r.Sig, err = sigField(k, j.Sig); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return r, nil
}
