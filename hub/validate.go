package hub

import (
	"slices"
	"strings"
	"time"
)

// StoreTime is t as every Store keeps it: UTC, truncated to microseconds. The zero time stays zero.
func StoreTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func invalid(record, field, reason string) error {
	return &InvalidError{Record: record, Field: field, Reason: reason}
}

// ValidAgentID reports whether id has the agent id form: 32 lowercase hex digits.
func ValidAgentID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func validKey(b []byte) bool { return len(b) == KeySize }

// ValidE164 reports whether s is "+" followed by 2 to 15 digits, the first not 0.
func ValidE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidICCID reports whether s looks like an ICCID: 18 to 22 digits, a trailing F allowed.
func ValidICCID(s string) bool {
	s = strings.TrimSuffix(strings.TrimSuffix(s, "F"), "f")
	if len(s) < 18 || len(s) > 22 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Validate checks the fields a Store needs.
func (a Agent) Validate() error {
	switch {
	case !ValidAgentID(a.ID):
		return invalid("agent", "ID", "want 32 lowercase hex digits")
	case !validKey(a.PublicKey):
		return invalid("agent", "PublicKey", "want 32 bytes")
	case !validKey(a.ProviderKey):
		return invalid("agent", "ProviderKey", "want 32 bytes")
	}
	return nil
}

// Validate checks the fields a Store needs.
func (s Slot) Validate() error {
	switch {
	case !ValidAgentID(s.AgentID):
		return invalid("slot", "AgentID", "want 32 lowercase hex digits")
	case s.Slot < 0 || s.Slot > 255:
		return invalid("slot", "Slot", "want 0..255")
	case s.ICCID != "" && !ValidICCID(s.ICCID):
		return invalid("slot", "ICCID", "want 18-22 digits")
	}
	return nil
}

// Validate checks the fields a Store needs.
func (n Number) Validate() error {
	switch {
	case !ValidE164(n.E164):
		return invalid("number", "E164", "want + and 2-15 digits")
	case !ValidICCID(n.ICCID):
		return invalid("number", "ICCID", "want 18-22 digits")
	case !ValidAgentID(n.AgentID):
		return invalid("number", "AgentID", "want 32 lowercase hex digits")
	case n.PricePerDay < 0 || n.PricePerWeek < 0 || n.PricePerMonth < 0 || n.PricePerSMS < 0:
		return invalid("number", "Price", "must not be negative")
	}
	for _, f := range n.Features {
		if f == "" || len(f) > 64 {
			return invalid("number", "Features", "each feature must be 1-64 bytes")
		}
	}
	return nil
}

// Validate checks the fields a Store needs.
func (r Rental) Validate() error {
	switch {
	case r.ID == "" || len(r.ID) > 128:
		return invalid("rental", "ID", "want 1-128 bytes")
	case !ValidE164(r.E164):
		return invalid("rental", "E164", "want + and 2-15 digits")
	case !ValidICCID(r.ICCID):
		return invalid("rental", "ICCID", "want 18-22 digits")
	case !validKey(r.RenterSealKey):
		return invalid("rental", "RenterSealKey", "want 32 bytes")
	case !validKey(r.RenterSignKey):
		return invalid("rental", "RenterSignKey", "want 32 bytes")
	case r.From.IsZero() || !r.Until.After(r.From):
		return invalid("rental", "Until", "want From set and Until after From")
	case !r.Status.Valid():
		return invalid("rental", "Status", "unknown status "+string(r.Status))
	case r.LeaseSeq > 1<<63-1:
		return invalid("rental", "LeaseSeq", "too large")
	}
	return nil
}

// Validate checks the fields a Store needs.
func (l Lease) Validate() error {
	switch {
	case !ValidICCID(l.ICCID):
		return invalid("lease", "ICCID", "want 18-22 digits")
	case l.Seq == 0 || l.Seq > 1<<63-1:
		return invalid("lease", "Seq", "want 1..2^63-1")
	case l.RentalID == "" || len(l.RentalID) > 128:
		return invalid("lease", "RentalID", "want 1-128 bytes")
	case !ValidAgentID(l.AgentID):
		return invalid("lease", "AgentID", "want 32 lowercase hex digits")
	case !validKey(l.RenterSealKey):
		return invalid("lease", "RenterSealKey", "want 32 bytes")
	case l.From.IsZero() || l.Until.Before(l.From):
		return invalid("lease", "Until", "want From set and Until not before From")
	case len(l.Signed) == 0:
		return invalid("lease", "Signed", "empty")
	}
	return nil
}

// Validate checks the fields a Store needs.
func (m Message) Validate() error {
	switch {
	case m.ID == "" || len(m.ID) > 128:
		return invalid("message", "ID", "want 1-128 bytes")
	case !ValidAgentID(m.AgentID):
		return invalid("message", "AgentID", "want 32 lowercase hex digits")
	case m.Slot < 0 || m.Slot > 255:
		return invalid("message", "Slot", "want 0..255")
	case !ValidICCID(m.ICCID):
		return invalid("message", "ICCID", "want 18-22 digits")
	case !validKey(m.RecipientKey):
		return invalid("message", "RecipientKey", "want 32 bytes")
	case len(m.Signed) == 0:
		return invalid("message", "Signed", "empty")
	case m.LeaseSeq > 1<<63-1:
		return invalid("message", "LeaseSeq", "too large")
	}
	return nil
}

// Validate checks q and returns the limit to use.
func (q MessageQuery) Validate() (limit int, err error) {
	if len(q.RecipientKey) == 0 && q.RentalID == "" && len(q.Renter) == 0 {
		return 0, invalid("message query", "RecipientKey", "set RecipientKey, RentalID or Renter")
	}
	if len(q.Renter) != 0 && !validKey(q.Renter) {
		return 0, invalid("message query", "Renter", "want 32 bytes")
	}
	if len(q.RecipientKey) != 0 && !validKey(q.RecipientKey) {
		return 0, invalid("message query", "RecipientKey", "want 32 bytes")
	}
	if q.After < 0 {
		return 0, invalid("message query", "After", "must not be negative")
	}
	switch {
	case q.Limit <= 0:
		return DefaultListLimit, nil
	case q.Limit > MaxListLimit:
		return MaxListLimit, nil
	}
	return q.Limit, nil
}

// Validate checks the fields a Store needs.
func (r Receipt) Validate() error {
	switch {
	case r.MessageID == "":
		return invalid("receipt", "MessageID", "empty")
	case len(r.Signed) == 0:
		return invalid("receipt", "Signed", "empty")
	}
	return nil
}

// Validate checks the fields a Store needs.
func (t Token) Validate() error {
	switch {
	case len(t.Hash) != 32:
		return invalid("token", "Hash", "want 32 bytes (SHA-256)")
	case t.Subject == "":
		return invalid("token", "Subject", "empty")
	case t.ExpiresAt.IsZero():
		return invalid("token", "ExpiresAt", "must be set")
	}
	return nil
}

// NormalFeatures returns the features sorted with duplicates dropped.
func NormalFeatures(fs []string) []string {
	out := slices.Clone(fs)
	slices.Sort(out)
	return slices.Compact(out)
}
