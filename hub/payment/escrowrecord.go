package payment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// EscrowPrefix is the NVS namespace of escrow anchors: ness:escrow:<opaque id>.
const EscrowPrefix = "ness:escrow:"

// ErrMalformedEscrow is the error for an escrow record or name that does not parse.
var ErrMalformedEscrow = errors.New("malformed escrow record")

var (
	opaqueID   = regexp.MustCompile(`^[A-Za-z0-9_-]{8,128}$`)
	descriptor = regexp.MustCompile(`^sh\(multi\(2,(0[23][0-9a-f]{64}),(0[23][0-9a-f]{64}),(0[23][0-9a-f]{64})\)\)$`)
	hex64      = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// EscrowName is the anchor name of escrow id (8–128 of [A-Za-z0-9_-], like listing ids).
func EscrowName(id string) (string, error) {
	if !opaqueID.MatchString(id) {
		return "", fmt.Errorf("%w: escrow id %q", ErrMalformedEscrow, id)
	}
	return EscrowPrefix + id, nil
}

// EscrowPolicy is the release policy the seed's record carries.
type EscrowPolicy struct {
	Release string `json:"release"`  // always "2of3"
	FeesBps int    `json:"fees_bps"` // the hub's fee on release, basis points
}

// EscrowRecord is the value of ness:escrow:<id>, in one of the seed's two forms: the
// descriptor of the 2-of-3 multisig (renter, provider, arbiter keys in that order) with its
// policy, or only the SHA-256 commitment to an off-chain policy document.
type EscrowRecord struct {
	Descriptor string        `json:"descriptor,omitempty"`
	Policy     *EscrowPolicy `json:"policy,omitempty"`
	Commitment string        `json:"escrow_commitment,omitempty"`
}

// Descriptor is the output descriptor of a legacy-P2SH 2-of-3 multisig over hex public keys
// (0.19 descriptors: sh(multi(…)); no checksum, which 0.19 accepts on input).
func Descriptor(renter, provider, arbiter string) string {
	return fmt.Sprintf("sh(multi(2,%s,%s,%s))", renter, provider, arbiter)
}

// Keys returns the renter, provider and arbiter keys of a descriptor record.
func (r EscrowRecord) Keys() (renter, provider, arbiter string, ok bool) {
	m := descriptor.FindStringSubmatch(r.Descriptor)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}

// Value is the record's exact on-chain bytes.
func (r EscrowRecord) Value() []byte {
	b, _ := json.Marshal(r)
	return b
}

// ParseEscrowRecord reads an escrow value strictly: exactly one of the two forms, compressed
// lowercase-hex keys, release "2of3", fees 0–10000 bps, no other keys.
func ParseEscrowRecord(b []byte) (EscrowRecord, error) {
	var r EscrowRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return EscrowRecord{}, fmt.Errorf("%w: %v", ErrMalformedEscrow, err)
	}
	if dec.More() {
		return EscrowRecord{}, fmt.Errorf("%w: trailing data", ErrMalformedEscrow)
	}
	switch {
	case r.Commitment != "":
		if r.Descriptor != "" || r.Policy != nil || !hex64.MatchString(r.Commitment) {
			return EscrowRecord{}, fmt.Errorf("%w: commitment form holds only a 64-hex escrow_commitment", ErrMalformedEscrow)
		}
	case r.Descriptor != "":
		if _, _, _, ok := r.Keys(); !ok {
			return EscrowRecord{}, fmt.Errorf("%w: descriptor %q is not sh(multi(2,renter,provider,arbiter))", ErrMalformedEscrow, r.Descriptor)
		}
		if r.Policy == nil || r.Policy.Release != "2of3" || r.Policy.FeesBps < 0 || r.Policy.FeesBps > 10000 {
			return EscrowRecord{}, fmt.Errorf("%w: policy must be {release: 2of3, fees_bps: 0..10000}", ErrMalformedEscrow)
		}
	default:
		return EscrowRecord{}, fmt.Errorf("%w: neither descriptor nor escrow_commitment", ErrMalformedEscrow)
	}
	if !strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		return EscrowRecord{}, fmt.Errorf("%w: not an object", ErrMalformedEscrow)
	}
	return r, nil
}
