// Package listing reads and writes the marketplace's records on Emercoin NVS.
//
// The default is the blind listing ness:sms:listing:<opaque id>, whose value holds only a WORM
// reference to the provider, a commitment (SHA-256 of the exact bytes of the provider-signed
// off-chain record the hub serves), a capabilities bitfield and a revision. A provider may
// instead publish the public sms:+E164 record with the seed architecture's schema, minus
// anything about the renter: the type has no field for rented_to or rental_expires, so it cannot
// be written. Any hub rebuilds the same catalogue from name_filter scans (Scan), and providers
// are identified by their worm:user:ness:<name> records (ParseWORM).
package listing

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Capabilities is the blind listing's bitfield.
type Capabilities uint32

// The capability bits (seed architecture, "Blind listing").
const (
	NonVoIP  Capabilities = 1
	Instant  Capabilities = 2
	RegionUS Capabilities = 4
	VoiceFwd Capabilities = 8

	knownCaps = NonVoIP | Instant | RegionUS | VoiceFwd
)

// Name prefixes; anchor them (^) in name_filter, whose match is partial.
const (
	BlindPrefix    = "ness:sms:listing:"
	PublicPrefix   = "sms:"
	WORMUserPrefix = "worm:user:ness:"
)

// Errors callers can test with errors.Is.
var (
	ErrInvalid    = errors.New("invalid listing")
	ErrCommitment = errors.New("off-chain record does not match the commitment")
)

var (
	opaqueIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,128}$`)
	wormRefRE  = regexp.MustCompile(`^worm:user:ness:[^\s]{1,200}$`)
	hexHashRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	e164RE     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// Blind is the blind listing record.
type Blind struct {
	ID           string       `json:"-"` // the opaque id after the prefix
	WormRef      string       `json:"worm_ref"`
	Commitment   string       `json:"commitment"`
	Capabilities Capabilities `json:"capabilities"`
	Rev          int64        `json:"rev"`
}

// Commit is the commitment to an off-chain record: lowercase hex SHA-256 of its exact bytes.
func Commit(offChain []byte) string {
	s := sha256.Sum256(offChain)
	return hex.EncodeToString(s[:])
}

// Name is the record's NVS name.
func (b Blind) Name() string { return BlindPrefix + b.ID }

// Validate checks every field.
func (b Blind) Validate() error {
	switch {
	case !opaqueIDRE.MatchString(b.ID):
		return fmt.Errorf("%w: opaque id %q: want 8-128 of [A-Za-z0-9_-]", ErrInvalid, b.ID)
	case !wormRefRE.MatchString(b.WormRef):
		return fmt.Errorf("%w: worm_ref %q: want worm:user:ness:<name>", ErrInvalid, b.WormRef)
	case !hexHashRE.MatchString(b.Commitment):
		return fmt.Errorf("%w: commitment %q: want 64 lowercase hex", ErrInvalid, b.Commitment)
	case b.Capabilities&^knownCaps != 0:
		return fmt.Errorf("%w: capabilities %d has unknown bits", ErrInvalid, b.Capabilities)
	case b.Rev < 1:
		return fmt.Errorf("%w: rev %d: want ≥ 1", ErrInvalid, b.Rev)
	}
	return nil
}

// Value is the exact on-chain value: compact JSON, keys in the documented order.
func (b Blind) Value() ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(b)
}

// CheckOffChain verifies that offChain is the record the commitment names.
func (b Blind) CheckOffChain(offChain []byte) error {
	if Commit(offChain) != b.Commitment {
		return fmt.Errorf("%s: %w", b.Name(), ErrCommitment)
	}
	return nil
}

func decodeStrict(value []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// ParseBlind reads a blind listing from its NVS name and value. Unknown keys are refused: the
// record is meant to hold nothing else.
func ParseBlind(name string, value []byte) (Blind, error) {
	id, ok := strings.CutPrefix(name, BlindPrefix)
	if !ok {
		return Blind{}, fmt.Errorf("%w: name %q lacks %q", ErrInvalid, name, BlindPrefix)
	}
	var b Blind
	if err := decodeStrict(value, &b); err != nil {
		return Blind{}, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	b.ID = id
	if err := b.Validate(); err != nil {
		return Blind{}, err
	}
	return b, nil
}

// Public is the public sms:+E164 record: the seed's schema without rented_to and
// rental_expires, which would reveal the renter.
type Public struct {
	Number          string   `json:"-"` // E.164, "+1234567890"
	Owner           string   `json:"owner"`
	PubKey          string   `json:"pubkey"`
	PricePerSMS     string   `json:"price_per_sms"`
	RentalDaily     string   `json:"rental_daily,omitempty"`
	RentalWeekly    string   `json:"rental_weekly,omitempty"`
	RentalMonthly   string   `json:"rental_monthly,omitempty"`
	Status          string   `json:"status"` // "available" or "rented"
	Reputation      int64    `json:"reputation"`
	TotalSMS        int64    `json:"total_sms"`
	SuccessfulSMS   int64    `json:"successful_sms"`
	FailedSMS       int64    `json:"failed_sms"`
	AvgDeliveryTime float64  `json:"avg_delivery_time"`
	GatewayURL      string   `json:"gateway_url"`
	Features        []string `json:"features"`
	LastSeen        int64    `json:"last_seen"`
	Created         int64    `json:"created"`
}

// Name is the record's NVS name, "sms:+E164".
func (p Public) Name() string { return PublicPrefix + p.Number }

// Validate checks the fields a reader depends on.
func (p Public) Validate() error {
	switch {
	case !e164RE.MatchString(p.Number):
		return fmt.Errorf("%w: number %q is not E.164", ErrInvalid, p.Number)
	case p.Status != "available" && p.Status != "rented":
		return fmt.Errorf("%w: status %q: want available or rented", ErrInvalid, p.Status)
	case p.Owner == "" || p.PubKey == "":
		return fmt.Errorf("%w: owner and pubkey are required", ErrInvalid)
	}
	return nil
}

// Value is the on-chain value (no renter fields, by construction).
func (p Public) Value() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// ParsePublic reads a public record. Records written by other software may carry rented_to or
// rental_expires; they are read past and never kept, so the hub never repeats a renter's
// identity. Other unknown keys are ignored for forward compatibility.
func ParsePublic(name string, value []byte) (Public, error) {
	num, ok := strings.CutPrefix(name, PublicPrefix)
	if !ok {
		return Public{}, fmt.Errorf("%w: name %q lacks %q", ErrInvalid, name, PublicPrefix)
	}
	var p Public
	if err := json.Unmarshal(value, &p); err != nil {
		return Public{}, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	p.Number = num
	if err := p.Validate(); err != nil {
		return Public{}, err
	}
	return p, nil
}
