package wire

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/nacl/box"
)

// SealOverhead is how many bytes a sealed box adds to its plaintext: a 32-byte ephemeral
// X25519 public key and a 16-byte Poly1305 tag (libsodium crypto_box_SEALBYTES).
const SealOverhead = box.AnonymousOverhead

// ErrOpen is returned when a sealed box does not open: wrong key, or the box was altered.
var ErrOpen = errors.New("sealed box does not open with this key (wrong key or altered data)")

// Seal encrypts plaintext to the holder of the X25519 key `to` as a libsodium sealed box
// (crypto_box_seal: ephemeral X25519 + XSalsa20-Poly1305, nonce = BLAKE2b(epk||pk)).
func Seal(to SealKey, plaintext []byte) ([]byte, error) {
	return SealFrom(rand.Reader, to, plaintext)
}

// SealFrom is Seal with the ephemeral key drawn from r (tests use a fixed reader).
func SealFrom(r io.Reader, to SealKey, plaintext []byte) ([]byte, error) {
	if to.IsZero() {
		return nil, errors.New("seal: recipient key is all zero")
	}
	k := [KeySize]byte(to)
	out, err := box.SealAnonymous(nil, plaintext, &k, r)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return out, nil
}

// Open decrypts a sealed box addressed to this identity's X25519 key.
func (id *Identity) Open(sealed []byte) ([]byte, error) {
	if len(sealed) < SealOverhead {
		return nil, fmt.Errorf("open: sealed box is %d bytes, shorter than the %d-byte overhead", len(sealed), SealOverhead)
	}
	pub := [KeySize]byte(id.Public)
	out, ok := box.OpenAnonymous(nil, sealed, &pub, &id.seed)
	if !ok {
		return nil, ErrOpen
	}
	return out, nil
}
