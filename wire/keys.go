package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/curve25519"
)

// KeySize is the length of every raw key and seed: 32 bytes.
const KeySize = 32

// SignatureSize is the length of an Ed25519 signature.
const SignatureSize = ed25519.SignatureSize

// VerifyKey is an Ed25519 public key (the NESS "verify" key). Its text form is padded standard
// base64; UnmarshalText accepts the standard and URL alphabets, padded or not.
type VerifyKey [KeySize]byte

// SealKey is an X25519 public key (the NESS "public" key) that sealed boxes are addressed to.
type SealKey [KeySize]byte

func (k VerifyKey) String() string { return base64.StdEncoding.EncodeToString(k[:]) }
func (k SealKey) String() string   { return base64.StdEncoding.EncodeToString(k[:]) }

// IsZero reports whether k is all zero bytes (i.e. unset).
func (k VerifyKey) IsZero() bool { return k == VerifyKey{} }

// IsZero reports whether k is all zero bytes (i.e. unset).
func (k SealKey) IsZero() bool { return k == SealKey{} }

// MarshalText returns padded standard base64.
func (k VerifyKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalText returns padded standard base64.
func (k SealKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText accepts base64 in either alphabet, padded or not, of exactly 32 bytes.
func (k *VerifyKey) UnmarshalText(b []byte) error {
	v, err := ParseKey("verify key", string(b))
	if err != nil {
		return err
	}
	*k = VerifyKey(v)
	return nil
}

// UnmarshalText accepts base64 in either alphabet, padded or not, of exactly 32 bytes.
func (k *SealKey) UnmarshalText(b []byte) error {
	v, err := ParseKey("public key", string(b))
	if err != nil {
		return err
	}
	*k = SealKey(v)
	return nil
}

// FieldError says which field of which message or input is wrong.
type FieldError struct {
	Kind  string // message or input kind, e.g. "sms", "lease", "key file"
	Field string // field name as it appears on the wire, e.g. "recipient"
	Err   error
}

func (e *FieldError) Error() string {
	if e.Kind == "" {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s: field %s: %v", e.Kind, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(kind, field string, format string, args ...any) error {
	return &FieldError{Kind: kind, Field: field, Err: fmt.Errorf(format, args...)}
}

// b64Encodings: standard padded, standard raw, URL padded, URL raw.
var b64Encodings = []*base64.Encoding{
	base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
}

// DecodeBase64 decodes s in the standard or URL alphabet, padded or not. Whitespace and mixed
// alphabets are rejected. field names the input in the error.
func DecodeBase64(field, s string) ([]byte, error) {
	if s == "" {
		return nil, fieldErr("", field, "empty base64")
	}
	var enc *base64.Encoding
	url := strings.ContainsAny(s, "-_")
	std := strings.ContainsAny(s, "+/")
	if url && std {
		return nil, fieldErr("", field, "bad base64: mixes the standard and URL alphabets")
	}
	padded := strings.HasSuffix(s, "=")
	switch {
	case url && padded:
		enc = b64Encodings[2]
	case url:
		enc = b64Encodings[3]
	case padded:
		enc = b64Encodings[0]
	default:
		enc = b64Encodings[1]
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fieldErr("", field, "bad base64: %v", err)
	}
	return b, nil
}

// ParseKey decodes a 32-byte key from base64 (standard or URL alphabet, padded or not).
// field names the input in errors, e.g. "--peer-pub-b64" or "recipient".
func ParseKey(field, s string) ([KeySize]byte, error) {
	var k [KeySize]byte
	b, err := DecodeBase64(field, strings.TrimSpace(s))
	if err != nil {
		return k, err
	}
	if len(b) != KeySize {
		return k, fieldErr("", field, "key is %d bytes, want %d", len(b), KeySize)
	}
	copy(k[:], b)
	return k, nil
}

// ParseVerifyKey parses a base64 Ed25519 public key.
func ParseVerifyKey(field, s string) (VerifyKey, error) {
	k, err := ParseKey(field, s)
	return VerifyKey(k), err
}

// ParseSealKey parses a base64 X25519 public key.
func ParseSealKey(field, s string) (SealKey, error) {
	k, err := ParseKey(field, s)
	return SealKey(k), err
}

// Identity holds one NESS key pair set: an Ed25519 signing key and an X25519 sealing key, both
// derived from one 32-byte seed the way PrivatenessTools does it (the seed is the Ed25519 seed
// and, unchanged, the X25519 secret).
type Identity struct {
	seed   [KeySize]byte
	sign   ed25519.PrivateKey
	Verify VerifyKey // Ed25519 public key
	Public SealKey   // X25519 public key
}

// GenerateIdentity makes a new identity from the operating system's random source.
func GenerateIdentity() (*Identity, error) { return GenerateIdentityFrom(rand.Reader) }

// GenerateIdentityFrom makes a new identity reading 32 seed bytes from r.
func GenerateIdentityFrom(r io.Reader) (*Identity, error) {
	seed := make([]byte, KeySize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	return IdentityFromSeed(seed)
}

// IdentityFromSeed derives an identity from a 32-byte seed with PrivatenessTools semantics:
// Ed25519 key pair from the seed (RFC 8032), X25519 public key = X25519(seed, basepoint).
func IdentityFromSeed(seed []byte) (*Identity, error) {
	if len(seed) != KeySize {
		return nil, fieldErr("", "seed", "is %d bytes, want %d", len(seed), KeySize)
	}
	id := &Identity{}
	copy(id.seed[:], seed)
	id.sign = ed25519.NewKeyFromSeed(id.seed[:])
	copy(id.Verify[:], id.sign.Public().(ed25519.PublicKey))
	pub, err := curve25519.X25519(id.seed[:], curve25519.Basepoint)
	if err != nil {
		// Only a low-order result can fail, which a clamped scalar times the basepoint never is.
		return nil, fmt.Errorf("derive x25519 public key: %w", err)
	}
	copy(id.Public[:], pub)
	return id, nil
}

// ParsePrivateKey parses a base64 private key: the 32-byte seed, or the 64-byte libsodium/Go
// form seed||Ed25519 public key (whose second half must match the seed).
func ParsePrivateKey(field, s string) (*Identity, error) {
	b, err := DecodeBase64(field, strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	switch len(b) {
	case KeySize:
		return IdentityFromSeed(b)
	case ed25519.PrivateKeySize:
		id, err := IdentityFromSeed(b[:KeySize])
		if err != nil {
			return nil, err
		}
		if string(id.Verify[:]) != string(b[KeySize:]) {
			return nil, fieldErr("", field, "64-byte private key: second half is not the public key of the first half")
		}
		return id, nil
	default:
		return nil, fieldErr("", field, "private key is %d bytes, want %d (seed) or %d (seed+public)", len(b), KeySize, ed25519.PrivateKeySize)
	}
}

// Seed returns a copy of the 32-byte seed (the NESS "private" key).
func (id *Identity) Seed() []byte { return append([]byte(nil), id.seed[:]...) }

// SignBytes signs msg as is. Protocol messages use their own Sign methods, which add the
// domain prefix; SignBytes is for the raw `ness sign` tool and tests.
func (id *Identity) SignBytes(msg []byte) []byte { return ed25519.Sign(id.sign, msg) }

// AgentID is the agent id of this identity's verify key.
func (id *Identity) AgentID() string { return AgentIDOf(id.Verify) }

// VerifyBytes checks an Ed25519 signature over msg as is.
func VerifyBytes(key VerifyKey, msg, sig []byte) bool {
	return len(sig) == SignatureSize && ed25519.Verify(key[:], msg, sig)
}

// AgentIDLen is the length of an agent id in hex characters.
const AgentIDLen = 32

// AgentIDOf returns the agent id of an Ed25519 public key: lowercase hex of the first 16 bytes
// of SHA-256(key).
func AgentIDOf(k VerifyKey) string {
	h := sha256.Sum256(k[:])
	return hex.EncodeToString(h[:16])
}

// ErrAgentID is wrapped by errors about malformed agent ids.
var ErrAgentID = errors.New("agent id must be 32 lowercase hex characters")

// CheckAgentID reports whether s is well formed (32 lowercase hex characters).
func CheckAgentID(s string) error {
	if len(s) != AgentIDLen {
		return fmt.Errorf("%w: got %d characters", ErrAgentID, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: character %d is %q", ErrAgentID, i, c)
		}
	}
	return nil
}
