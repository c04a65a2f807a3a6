package emercoin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Coin is one EMC in Amount units: Emercoin has 6 decimals (COIN = 1,000,000).
const Coin Amount = 1_000_000

// Amount is an EMC amount in millionths, the node's own integer unit. It encodes to JSON as a
// number with exactly six decimals (as ValueFromAmount prints it) and decodes a JSON number or
// string without going through float64, so no amount is ever rounded.
type Amount int64

// String formats a as "%d.%06d", e.g. "1.500000".
func (a Amount) String() string {
	neg := a < 0
	u := uint64(a)
	if neg {
		u = uint64(-a)
	}
	s := fmt.Sprintf("%d.%06d", u/uint64(Coin), u%uint64(Coin))
	if neg {
		return "-" + s
	}
	return s
}

// MarshalJSON writes a as a JSON number with six decimals.
func (a Amount) MarshalJSON() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON reads a JSON number or a JSON string holding a decimal amount.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ErrAmount is wrapped by ParseAmount's errors.
var ErrAmount = errors.New("invalid amount")

// maxMoney is MAX_MONEY: 1e10 EMC.
const maxMoney = 10_000_000_000 * Coin

// ParseAmount parses a decimal EMC amount ("1", "0.5", "1.250000", "1e-2") with at most six
// decimals, as AmountFromValue does. More precision, a value beyond MAX_MONEY or junk is an error.
func ParseAmount(s string) (Amount, error) {
	orig := s
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrAmount)
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 20 || e < -20 {
			return 0, fmt.Errorf("%w: %q", ErrAmount, orig)
		}
		exp = e
		s = s[:i]
	}
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("%w: %q", ErrAmount, orig)
	}
	digits := intPart + frac
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q", ErrAmount, orig)
		}
	}
	// value = digits × 10^(exp - len(frac)); we want units = value × 10^6.
	shift := exp - len(frac) + 6
	digits = strings.TrimLeft(digits, "0")
	if shift < 0 {
		cut := len(digits) + shift
		var tail string
		if cut < 0 {
			tail = digits
			digits = ""
		} else {
			tail = digits[cut:]
			digits = digits[:cut]
		}
		if strings.Trim(tail, "0") != "" {
			return 0, fmt.Errorf("%w: %q has more than 6 decimals", ErrAmount, orig)
		}
	} else {
		digits += strings.Repeat("0", shift)
	}
	if digits == "" {
		return 0, nil
	}
	if len(digits) > 18 {
		return 0, fmt.Errorf("%w: %q out of range", ErrAmount, orig)
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || Amount(v) > maxMoney {
		return 0, fmt.Errorf("%w: %q out of range", ErrAmount, orig)
	}
	if neg {
		v = -v
	}
	return Amount(v), nil
}

// FormatMoney formats a as Emercoin's FormatMoney does (used in RANDPAY challenges): trailing
// zeros removed but at least two decimals kept: 1 → "1.00", 0.1 → "0.10", 0.1234 → "0.1234".
func FormatMoney(a Amount) string {
	s := a.String()
	for strings.HasSuffix(s, "0") && len(s)-strings.IndexByte(s, '.') > 3 {
		s = s[:len(s)-1]
	}
	return s
}
