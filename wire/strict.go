package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxJSONDepth bounds object/array nesting in any decoded message.
const maxJSONDepth = 8

// decodeStrict decodes one JSON object from data into v (a struct with lowercase json tags):
// size limit, exactly one value with no trailing data, no duplicate keys, keys exactly as
// spelled in the schema (encoding/json alone would match keys case-insensitively), no unknown
// fields.
func decodeStrict(kind string, data []byte, max int, v any) error {
	if len(data) > max {
		return fmt.Errorf("%s: %d bytes exceeds the limit of %d", kind, len(data), max)
	}
	if err := checkJSONShape(data); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	return nil
}

// checkJSONShape walks the token stream: a single top-level object, no trailing data, keys
// unique per object and made of [a-z0-9_], nesting at most maxJSONDepth.
func checkJSONShape(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*jsonFrame
	started := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !started {
				return errors.New("empty input")
			}
			if len(stack) != 0 {
				return errors.New("unexpected end of JSON")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("bad JSON: %w", err)
		}
		if !started {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errors.New("not a JSON object")
			}
			started = true
		} else if len(stack) == 0 {
			return errors.New("trailing data after the JSON object")
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			top := stack[n-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				valueDone(stack)
				continue
			}
			k, _ := tok.(string)
			if !validKey(k) {
				return fmt.Errorf("field %q: unknown field (field names are lowercase [a-z0-9_])", trunc(k))
			}
			if top.keys[k] {
				return fmt.Errorf("field %s: appears twice", k)
			}
			top.keys[k] = true
			top.wantKey = false
			continue
		}
		switch d, _ := tok.(json.Delim); d {
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
			}
			f := &jsonFrame{obj: d == '{', wantKey: d == '{'}
			if f.obj {
				f.keys = map[string]bool{}
			}
			stack = append(stack, f)
		case ']', '}':
			stack = stack[:len(stack)-1]
			valueDone(stack)
		default:
			valueDone(stack)
		}
	}
}

type jsonFrame struct {
	obj     bool
	keys    map[string]bool
	wantKey bool // the next token in this object is a key (or its closing brace)
}

func valueDone(stack []*jsonFrame) {
	if n := len(stack); n > 0 && stack[n-1].obj {
		stack[n-1].wantKey = true
	}
}

func validKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Limits on variable-length fields.
const (
	MaxSealedBody  = 128 << 10 // sealed plaintext of one (possibly concatenated) SMS
	MaxText        = 96 << 10  // decoded SMS text, bytes of UTF-8
	MaxLabel       = 64        // short labels: states, operator names, senders
	MaxICCIDLen    = 22
	MinICCIDLen    = 6
	MaxWormName    = 255
	MaxOrigin      = 255
	MaxChallenge   = 1024
	MaxSlots       = 256
	MaxMessageJSON = 256 << 10
	MaxSmallJSON   = 16 << 10
	MaxStatusJSON  = 128 << 10
)

// maxTimeMs is 9999-12-31T23:59:59.999Z: times are whole milliseconds in [0, maxTimeMs].
const maxTimeMs = 253402300799999

// msTime converts wire milliseconds to a time; 0 is the zero time ("unset").
func msTime(kind, field string, ms int64) (time.Time, error) {
	if ms < 0 || ms > maxTimeMs {
		return time.Time{}, fieldErr(kind, field, "time %d ms is outside 0..%d", ms, int64(maxTimeMs))
	}
	if ms == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(ms).UTC(), nil
}

// timeMs converts a time to wire milliseconds; the zero time is 0.
func timeMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func checkTime(kind, field string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return fieldErr(kind, field, "missing")
		}
		return nil
	}
	ms := t.UnixMilli()
	if ms <= 0 || ms > maxTimeMs {
		return fieldErr(kind, field, "time %s is outside 1970..9999", t.Format(time.RFC3339))
	}
	return nil
}

func checkICCID(kind, field, s string) error {
	if len(s) < MinICCIDLen || len(s) > MaxICCIDLen {
		return fieldErr(kind, field, "ICCID %q has %d characters, want %d..%d digits", trunc(s), len(s), MinICCIDLen, MaxICCIDLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fieldErr(kind, field, "ICCID %q: character %d is not a digit", trunc(s), i)
		}
	}
	return nil
}

// CheckICCID reports whether s is an ICCID as the protocol carries it: 6..22 decimal digits
// (a modem's trailing 'F' filler must be removed first).
func CheckICCID(s string) error { return checkICCID("", "iccid", s) }

// CheckE164 reports whether s is an E.164 number: '+', a non-zero digit, up to 15 digits.
func CheckE164(s string) error { return checkE164("", "phone", s) }

func checkE164(kind, field, s string) error {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return fieldErr(kind, field, "%q is not an E.164 number (+ then 2..15 digits, no leading 0)", trunc(s))
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fieldErr(kind, field, "%q is not an E.164 number: character %d is not a digit", trunc(s), i)
		}
	}
	return nil
}

// checkLabel: valid UTF-8, at most max bytes, no control characters.
func checkLabel(kind, field, s string, max int, required bool) error {
	if s == "" && required {
		return fieldErr(kind, field, "missing")
	}
	if len(s) > max {
		return fieldErr(kind, field, "%d bytes exceeds the limit of %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return fieldErr(kind, field, "not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fieldErr(kind, field, "contains control character %U", r)
		}
	}
	return nil
}

func checkAgentIDField(kind, field, s string) error {
	if err := CheckAgentID(s); err != nil {
		return &FieldError{Kind: kind, Field: field, Err: err}
	}
	return nil
}

// checkHex32: a 64-character lowercase hex string (a SHA-256).
func checkHex32(kind, field, s string) ([32]byte, error) {
	var out [32]byte
	if len(s) != 64 || strings.ToLower(s) != s {
		return out, fieldErr(kind, field, "want 64 lowercase hex characters, got %d characters", len(s))
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return out, fieldErr(kind, field, "bad hex: %v", err)
	}
	return out, nil
}

func agentIDBytes(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

func b64Field(kind, field, s string, required bool, max int) ([]byte, error) {
	if s == "" {
		if required {
			return nil, fieldErr(kind, field, "missing")
		}
		return nil, nil
	}
	if len(s) > max/3*4+8 {
		return nil, fieldErr(kind, field, "base64 of %d characters exceeds the limit of %d bytes", len(s), max)
	}
	b, err := DecodeBase64(field, s)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.Kind = kind
		}
		return nil, err
	}
	if len(b) > max {
		return nil, fieldErr(kind, field, "%d bytes exceeds the limit of %d", len(b), max)
	}
	return b, nil
}

func keyField(kind, field, s string) ([KeySize]byte, error) {
	if s == "" {
		return [KeySize]byte{}, fieldErr(kind, field, "missing")
	}
	k, err := ParseKey(field, s)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.Kind = kind
		}
		return k, err
	}
	if k == ([KeySize]byte{}) {
		return k, fieldErr(kind, field, "key is all zero")
	}
	return k, nil
}

func sigField(kind, s string) ([]byte, error) {
	b, err := b64Field(kind, "sig", s, true, SignatureSize)
	if err != nil {
		return nil, err
	}
	if len(b) != SignatureSize {
		return nil, fieldErr(kind, "sig", "signature is %d bytes, want %d", len(b), SignatureSize)
	}
	return b, nil
}

func checkVersion(kind string, v int) error {
	if v != 1 {
		return fieldErr(kind, "v", "unsupported version %d (this build speaks version 1)", v)
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func b64(b []byte) string {
	if b == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}
