package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the protocol version this package writes and the only one it reads.
const Version = 1

// MessageID returns the id of an SMS: lowercase hex of SHA-256(DomainMsgID || agent id (16 raw
// bytes) || uint32 len(iccid) || iccid || for each part: uint32 len || raw PDU bytes). The same
// PDUs read again after a crash give the same id.
func MessageID(agentID, iccid string, parts [][]byte) string {
	h := sha256.New()
	w := newCanon(DomainMsgID, 0)
	w.raw(fixed(agentIDBytes(agentID), 16))
	w.str(iccid)
	h.Write(w.b)
	var n [4]byte
	for _, p := range parts {
		n[0], n[1], n[2], n[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SMS is one received SMS as the agent publishes it: routing data in the clear, the text
// sealed to the renter of the SIM's lease (or to the provider when there is none), and the
// agent's signature over the canonical bytes (SignedBytes).
type SMS struct {
	Version   uint8
	ID        string    // MessageID: 64 lowercase hex
	AgentID   string    // 32 lowercase hex
	Slot      uint32    // 0-based slot the SIM sat in
	ICCID     string    // SIM the SMS arrived on
	Received  time.Time // when the agent read it (millisecond precision)
	LeaseSeq  uint64    // sequence of the lease it was sealed under; 0 = sealed to the provider
	Recipient SealKey   // X25519 key the body is sealed to
	Body      []byte    // sealed box of the JSON Plaintext
	Sig       []byte    // agent's Ed25519 signature over SignedBytes; nil until Sign
}

// SMSInput is what the agent knows when it builds an SMS.
type SMSInput struct {
	AgentID   string
	Slot      int
	ICCID     string
	Parts     [][]byte // raw PDUs of all parts in order, for the message id
	Received  time.Time
	LeaseSeq  uint64  // 0 when sealed to the provider for lack of a lease
	Recipient SealKey // renter's key, or the provider's when LeaseSeq is 0
	Plaintext *Plaintext
}

// NewSMS computes the message id, seals the plaintext to in.Recipient and returns the unsigned
// message; call Sign next.
func NewSMS(in SMSInput) (*SMS, error) {
	if in.Plaintext == nil {
		return nil, errors.New("sms: no plaintext")
	}
	if in.Slot < 0 || in.Slot > MaxSlots {
		return nil, fieldErr("sms", "slot", "%d is outside 0..%d", in.Slot, MaxSlots)
	}
	if len(in.Parts) == 0 {
		return nil, fieldErr("sms", "parts", "no PDUs to derive the message id from")
	}
	pt, err := in.Plaintext.Marshal()
	if err != nil {
		return nil, err
	}
	m := &SMS{
		Version:   Version,
		AgentID:   in.AgentID,
		Slot:      uint32(in.Slot),
		ICCID:     in.ICCID,
		Received:  in.Received.Truncate(time.Millisecond).UTC(),
		LeaseSeq:  in.LeaseSeq,
		Recipient: in.Recipient,
	}
	if err := m.validate(false); err != nil {
		return nil, err
	}
	m.ID = MessageID(in.AgentID, in.ICCID, in.Parts)
	if m.Body, err = Seal(in.Recipient, pt); err != nil {
		return nil, err
	}
	if err := m.validate(false); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *SMS) validate(needID bool) error {
	const k = "sms"
	if m.Version != Version {
		return checkVersion(k, int(m.Version))
	}
	if needID || m.ID != "" {
		if _, err := checkHex32(k, "id", m.ID); err != nil {
			return err
		}
	}
	if err := checkAgentIDField(k, "agent", m.AgentID); err != nil {
		return err
	}
	if m.Slot > MaxSlots {
		return fieldErr(k, "slot", "%d is outside 0..%d", m.Slot, MaxSlots)
	}
	if err := checkICCID(k, "iccid", m.ICCID); err != nil {
		return err
	}
	if err := checkTime(k, "received_ms", m.Received, true); err != nil {
		return err
	}
	if m.Recipient.IsZero() {
		return fieldErr(k, "recipient", "key is all zero")
	}
	if needID || m.Body != nil {
		if len(m.Body) < SealOverhead {
			return fieldErr(k, "body", "%d bytes is shorter than a sealed box (%d)", len(m.Body), SealOverhead)
		}
		if len(m.Body) > MaxSealedBody {
			return fieldErr(k, "body", "%d bytes exceeds the limit of %d", len(m.Body), MaxSealedBody)
		}
	}
	return nil
}

// SignedBytes returns the canonical bytes the agent signs:
// DomainSMS || u8 version || id (32) || agent (16) || u32 slot || str iccid || i64 received_ms ||
// u64 lease_seq || recipient (32) || bytes body.
func (m *SMS) SignedBytes() []byte {
	w := newCanon(DomainSMS, 160+len(m.Body))
	w.u8(m.Version)
	id, _ := hex.DecodeString(m.ID)
	w.raw(fixed(id, 32))
	w.raw(fixed(agentIDBytes(m.AgentID), 16))
	w.u32(m.Slot)
	w.str(m.ICCID)
	w.i64(timeMs(m.Received))
	w.u64(m.LeaseSeq)
	w.raw(m.Recipient[:])
	w.bytes(m.Body)
	return w.b
}

// fixed pads or cuts b to n bytes, so a malformed field can never shift the fields after it.
func fixed(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// Sign signs the message with the agent's identity, which must match AgentID.
func (m *SMS) Sign(agent *Identity) error {
	if got := agent.AgentID(); got != m.AgentID {
		return fmt.Errorf("sms: sign: identity is agent %s, message says agent %s", got, m.AgentID)
	}
	if err := m.validate(true); err != nil {
		return err
	}
	m.Sig = agent.SignBytes(m.SignedBytes())
	return nil
}

// ErrSignature is wrapped by every signature verification failure.
var ErrSignature = errors.New("signature does not verify")

// Verify checks that agentKey belongs to the message's agent id and signed the message.
func (m *SMS) Verify(agentKey VerifyKey) error {
	if err := m.validate(true); err != nil {
		return err
	}
	if got := AgentIDOf(agentKey); got != m.AgentID {
		return fmt.Errorf("sms: key is agent %s, message says agent %s", got, m.AgentID)
	}
	if !VerifyBytes(agentKey, m.SignedBytes(), m.Sig) {
		return fmt.Errorf("sms %s: %w", m.ID, ErrSignature)
	}
	return nil
}

// VerifyWithCert checks the certificate (see AgentCert.Verify) at time now, that it is for this
// message's agent, and the message's signature under the certified agent key.
func (m *SMS) VerifyWithCert(c *AgentCert, now time.Time) error {
	if err := c.Verify(now); err != nil {
		return err
	}
	if c.AgentID != m.AgentID {
		return fmt.Errorf("sms: certificate is for agent %s, message is from agent %s", c.AgentID, m.AgentID)
	}
	return m.Verify(c.AgentKey)
}

// Open opens the sealed body with the recipient's identity and decodes the plaintext.
func (m *SMS) Open(recipient *Identity) (*Plaintext, error) {
	if recipient.Public != m.Recipient {
		return nil, fmt.Errorf("sms %s: sealed to %s, not to this key (%s)", m.ID, m.Recipient, recipient.Public)
	}
	b, err := recipient.Open(m.Body)
	if err != nil {
		return nil, fmt.Errorf("sms %s: %w", m.ID, err)
	}
	return DecodePlaintext(b)
}

type smsJSON struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	Agent      string `json:"agent"`
	Slot       uint32 `json:"slot"`
	ICCID      string `json:"iccid"`
	ReceivedMs int64  `json:"received_ms"`
	LeaseSeq   uint64 `json:"lease_seq"`
	Recipient  string `json:"recipient"`
	Body       string `json:"body"`
	Sig        string `json:"sig"`
}

// MarshalJSON returns the JSON transport form.
func (m *SMS) MarshalJSON() ([]byte, error) {
	return json.Marshal(smsJSON{
		V: int(m.Version), ID: m.ID, Agent: m.AgentID, Slot: m.Slot, ICCID: m.ICCID,
		ReceivedMs: timeMs(m.Received), LeaseSeq: m.LeaseSeq, Recipient: m.Recipient.String(),
		Body: b64(m.Body), Sig: b64(m.Sig),
	})
}

// UnmarshalJSON decodes strictly, as DecodeSMS.
func (m *SMS) UnmarshalJSON(data []byte) error {
	d, err := DecodeSMS(data)
	if err != nil {
		return err
	}
	*m = *d
	return nil
}

// DecodeSMS strictly decodes the JSON transport form of a signed SMS. It does not verify the
// signature (call Verify or VerifyWithCert).
func DecodeSMS(data []byte) (*SMS, error) {
	const k = "sms"
	var j smsJSON
	if err := decodeStrict(k, data, MaxMessageJSON, &j); err != nil {
		return nil, err
	}
	if err := checkVersion(k, j.V); err != nil {
		return nil, err
	}
	m := &SMS{Version: uint8(j.V), ID: j.ID, AgentID: j.Agent, Slot: j.Slot, ICCID: j.ICCID, LeaseSeq: j.LeaseSeq}
	var err error
	if m.Received, err = msTime(k, "received_ms", j.ReceivedMs); err != nil {
		return nil, err
	}
	rk, err := keyField(k, "recipient", j.Recipient)
	if err != nil {
		return nil, err
	}
	m.Recipient = SealKey(rk)
	if m.Body, err = b64Field(k, "body", j.Body, true, MaxSealedBody); err != nil {
		return nil, err
	}
	if m.Sig, err = sigField(k, j.Sig); err != nil {
		return nil, err
	}
	if err := m.validate(true); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseSignedSMS decodes the canonical signed bytes (SignedBytes) back into an unsigned SMS.
// The hub hands clients these exact bytes; VerifySignedSMS checks them.
func ParseSignedSMS(signed []byte) (*SMS, error) {
	const k = "sms"
	if len(signed) > MaxMessageJSON {
		return nil, fmt.Errorf("sms: signed bytes: %d bytes exceeds the limit of %d", len(signed), MaxMessageJSON)
	}
	r := newCanonReader(k, DomainSMS, signed)
	m := &SMS{Version: r.u8("v")}
	if r.err == nil && m.Version != Version {
		r.fail("v", fmt.Errorf("unsupported version %d", m.Version))
	}
	var id [32]byte
	var agent [16]byte
	r.fixed("id", id[:])
	r.fixed("agent", agent[:])
	m.Slot = r.u32("slot")
	m.ICCID = r.str("iccid", MaxICCIDLen)
	ms := r.i64("received_ms")
	m.LeaseSeq = r.u64("lease_seq")
	r.fixed("recipient", m.Recipient[:])
	m.Body = r.bytes("body", MaxSealedBody)
	if err := r.finish(); err != nil {
		return nil, err
	}
	m.ID = hex.EncodeToString(id[:])
	m.AgentID = hex.EncodeToString(agent[:])
	var err error
	if m.Received, err = msTime(k, "received_ms", ms); err != nil {
		return nil, err
	}
	if err := m.validate(true); err != nil {
		return nil, err
	}
	return m, nil
}

// VerifySignedSMS parses canonical signed bytes and checks sig under agentKey, returning the
// message with Sig set.
func VerifySignedSMS(signed, sig []byte, agentKey VerifyKey) (*SMS, error) {
	m, err := ParseSignedSMS(signed)
	if err != nil {
		return nil, err
	}
	m.Sig = append([]byte(nil), sig...)
	if err := m.Verify(agentKey); err != nil {
		return nil, err
	}
	return m, nil
}
