package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// SignInBytes returns what a client signs to sign in to a hub:
// DomainSignIn || str origin || bytes challenge. origin is the hub's web origin
// ("https://hub.example"), so a signature for one hub cannot be replayed at another.
func SignInBytes(origin string, challenge []byte) []byte {
	w := newCanon(DomainSignIn, 8+len(origin)+len(challenge))
	w.str(origin)
	w.bytes(challenge)
	return w.b
}

func checkSignIn(origin string, challenge []byte) error {
	if err := checkLabel("signin", "origin", origin, MaxOrigin, true); err != nil {
		return err
	}
	if len(challenge) < 16 || len(challenge) > MaxChallenge {
		return fieldErr("signin", "challenge", "%d bytes is outside 16..%d", len(challenge), MaxChallenge)
	}
	return nil
}

// SignIn signs the sign-in bytes for origin and challenge.
func SignIn(id *Identity, origin string, challenge []byte) ([]byte, error) {
	if err := checkSignIn(origin, challenge); err != nil {
		return nil, err
	}
	return id.SignBytes(SignInBytes(origin, challenge)), nil
}

// VerifySignIn checks a sign-in signature.
func VerifySignIn(key VerifyKey, origin string, challenge, sig []byte) error {
	if err := checkSignIn(origin, challenge); err != nil {
		return err
	}
	if len(sig) != SignatureSize {
		return fieldErr("signin", "sig", "signature is %d bytes, want %d", len(sig), SignatureSize)
	}
	if !VerifyBytes(key, SignInBytes(origin, challenge), sig) {
		return fmt.Errorf("signin: %w", ErrSignature)
	}
	return nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
