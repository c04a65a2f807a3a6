package wire

import (
	"encoding/json"
	"fmt"
	"time"
)

// Lease is the hub's signed statement that SMS to a SIM (by ICCID, not slot) go to a renter's
// X25519 key between ValidFrom and ValidUntil. For one ICCID a higher Seq replaces a lower one;
// the hub ends a lease early by issuing a higher Seq with ValidUntil at the end time.
type Lease struct {
	Version    uint8
	ICCID      string
	AgentID    string
	Renter     SealKey // SMS are sealed to this key
	Phone      string  // E.164 number of the SIM
	ValidFrom  time.Time
	ValidUntil time.Time
	Seq        uint64    // > 0; higher wins
	Hub        VerifyKey // hub key that signed; the agent checks it against its pinned keys
	Sig        []byte
}

func (l *Lease) validate() error {
	const k = "lease"
	if l.Version != Version {
		return checkVersion(k, int(l.Version))
	}
	if err := checkICCID(k, "iccid", l.ICCID); err != nil {
		return err
	}
	if err := checkAgentIDField(k, "agent", l.AgentID); err != nil {
		return err
	}
	if l.Renter.IsZero() {
		return fieldErr(k, "renter", "key is all zero")
	}
	if err := checkE164(k, "phone", l.Phone); err != nil {
		return err
	}
	if err := checkTime(k, "valid_from_ms", l.ValidFrom, true); err != nil {
		return err
	}
	if err := checkTime(k, "valid_until_ms", l.ValidUntil, true); err != nil {
		return err
	}
	if l.ValidUntil.Before(l.ValidFrom) {
		return fieldErr(k, "valid_until_ms", "is before valid_from_ms")
	}
	if l.Seq == 0 {
		return fieldErr(k, "seq", "must be at least 1 (0 means \"no lease\" in an SMS)")
	}
	if l.Hub.IsZero() {
		return fieldErr(k, "hub", "key is all zero")
	}
	return nil
}

// SignedBytes: DomainLease || u8 version || str iccid || agent (16) || renter (32) || str phone ||
// i64 valid_from_ms || i64 valid_until_ms || u64 seq || hub (32).
func (l *Lease) SignedBytes() []byte {
	w := newCanon(DomainLease, 160)
	w.u8(l.Version)
	w.str(l.ICCID)
	w.raw(fixed(agentIDBytes(l.AgentID), 16))
	w.raw(l.Renter[:])
	w.str(l.Phone)
	w.i64(timeMs(l.ValidFrom))
	w.i64(timeMs(l.ValidUntil))
	w.u64(l.Seq)
	w.raw(l.Hub[:])
	return w.b
}

// Sign sets Hub to the hub identity's key, normalises times to milliseconds and signs.
func (l *Lease) Sign(hub *Identity) error {
	if l.Version == 0 {
		l.Version = Version
	}
	l.ValidFrom = l.ValidFrom.Truncate(time.Millisecond).UTC()
	l.ValidUntil = l.ValidUntil.Truncate(time.Millisecond).UTC()
	l.Hub = hub.Verify
	if err := l.validate(); err != nil {
		return err
	}
	l.Sig = hub.SignBytes(l.SignedBytes())
	return nil
}

// VerifySignature checks the lease is well formed, signed by its Hub key, and that key is one
// of hubKeys (the agent's pinned keys).
func (l *Lease) VerifySignature(hubKeys []VerifyKey) error {
	if err := l.validate(); err != nil {
		return err
	}
	if !keyIn(l.Hub, hubKeys) {
		return fmt.Errorf("lease %s#%d: signed by hub key %s, which is not pinned", l.ICCID, l.Seq, l.Hub)
	}
	if !VerifyBytes(l.Hub, l.SignedBytes(), l.Sig) {
		return fmt.Errorf("lease %s#%d: %w", l.ICCID, l.Seq, ErrSignature)
	}
	return nil
}

// Verify is VerifySignature plus ValidFrom <= now < ValidUntil (errors wrap ErrNotYetValid or
// ErrExpired, so an agent can keep a future lease).
func (l *Lease) Verify(hubKeys []VerifyKey, now time.Time) error {
	if err := l.VerifySignature(hubKeys); err != nil {
		return err
	}
	if now.Before(l.ValidFrom) {
		return fmt.Errorf("lease %s#%d: %w until %s", l.ICCID, l.Seq, ErrNotYetValid, l.ValidFrom.Format(time.RFC3339))
	}
	if !now.Before(l.ValidUntil) {
		return fmt.Errorf("lease %s#%d: %w at %s", l.ICCID, l.Seq, ErrExpired, l.ValidUntil.Format(time.RFC3339))
	}
	return nil
}

// Active reports whether now is inside the lease's window (signature not checked).
func (l *Lease) Active(now time.Time) bool {
	return !now.Before(l.ValidFrom) && now.Before(l.ValidUntil)
}

func keyIn(k VerifyKey, set []VerifyKey) bool {
	for _, s := range set {
		if s == k {
			return true
		}
	}
	return false
}

type leaseJSON struct {
	V            int    `json:"v"`
	ICCID        string `json:"iccid"`
	Agent        string `json:"agent"`
	Renter       string `json:"renter"`
	Phone        string `json:"phone"`
	ValidFromMs  int64  `json:"valid_from_ms"`
	ValidUntilMs int64  `json:"valid_until_ms"`
	Seq          uint64 `json:"seq"`
	Hub          string `json:"hub"`
	Sig          string `json:"sig"`
}

// MarshalJSON returns the JSON transport form.
func (l *Lease) MarshalJSON() ([]byte, error) {
	return json.Marshal(leaseJSON{
		V: int(l.Version), ICCID: l.ICCID, Agent: l.AgentID, Renter: l.Renter.String(), Phone: l.Phone,
		ValidFromMs: timeMs(l.ValidFrom), ValidUntilMs: timeMs(l.ValidUntil), Seq: l.Seq,
		Hub: l.Hub.String(), Sig: b64(l.Sig),
	})
}

// UnmarshalJSON decodes strictly, as DecodeLease.
func (l *Lease) UnmarshalJSON(data []byte) error {
	d, err := DecodeLease(data)
	if err != nil {
		return err
	}
	*l = *d
	return nil
}

// DecodeLease strictly decodes a lease's JSON form (signature not checked).
func DecodeLease(data []byte) (*Lease, error) {
	const k = "lease"
	var j leaseJSON
	if err := decodeStrict(k, data, MaxSmallJSON, &j); err != nil {
		return nil, err
	}
	if err := checkVersion(k, j.V); err != nil {
		return nil, err
	}
	l := &Lease{Version: uint8(j.V), ICCID: j.ICCID, AgentID: j.Agent, Phone: j.Phone, Seq: j.Seq}
	var err error
	var key [KeySize]byte
	if key, err = keyField(k, "renter", j.Renter); err != nil {
		return nil, err
	}
	l.Renter = SealKey(key)
	if key, err = keyField(k, "hub", j.Hub); err != nil {
		return nil, err
	}
	l.Hub = VerifyKey(key)
	if l.ValidFrom, err = msTime(k, "valid_from_ms", j.ValidFromMs); err != nil {
		return nil, err
	}
	if l.ValidUntil, err = msTime(k, "valid_until_ms", j.ValidUntilMs); err != nil {
		return nil, err
	}
	if l.Sig, err = sigField(k, j.Sig); err != nil {
		return nil, err
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	return l, nil
}
