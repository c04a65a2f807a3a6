package broker

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Password hashing.
//
// The hub gives every agent a random 256-bit MQTT password (NewPassword). A password that random
// cannot be guessed or brute-forced from its hash whatever the hash costs, so a deliberately slow
// hash (bcrypt, argon2id) would only slow down every connect. What matters is that one stored hash
// serves both brokers without the hub ever keeping the password: HashPassword writes Mosquitto's
// own "$7$" format (PBKDF2-HMAC-SHA512, what mosquitto_passwd writes since Mosquitto 2.0), which
// the embedded broker checks with CheckPassword and which goes into Mosquitto's password_file as
// it is.
const (
	// HashIterations is mosquitto_passwd's default PBKDF2 iteration count.
	HashIterations = 101
	saltSize       = 12 // mosquitto_passwd's salt length
	hashSize       = sha512.Size
	// maxIterations bounds the work a stored hash can ask of CheckPassword.
	maxIterations = 1_000_000
)

// NewPassword returns a new random MQTT password: 32 random bytes, base64url without padding
// (43 characters, safe in files, URLs and shells).
func NewPassword() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new mqtt password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashPassword returns the password's hash in Mosquitto's password file format:
// "$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>".
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("hash mqtt password: empty password")
	}
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash mqtt password: %w", err)
	}
	sum, err := pbkdf2.Key(sha512.New, password, salt, HashIterations, hashSize)
	if err != nil {
		return "", fmt.Errorf("hash mqtt password: %w", err)
	}
	return fmt.Sprintf("$7$%d$%s$%s", HashIterations, base64.StdEncoding.EncodeToString(salt),
		base64.StdEncoding.EncodeToString(sum)), nil
}

// parsedHash is a password hash in one of Mosquitto's formats.
type parsedHash struct {
	kind       string // "6": salted SHA-512 (Mosquitto 1.x), "7": PBKDF2-HMAC-SHA512
	iterations int
	salt, sum  []byte
}

func parseHash(h string) (parsedHash, error) {
	parts := strings.Split(h, "$")
	// "$7$101$salt$hash" splits into "", "7", "101", salt, hash; "$6$salt$hash" into "", "6", salt, hash.
	var p parsedHash
	var salt, sum string
	switch {
	case len(parts) == 5 && parts[0] == "" && parts[1] == "7":
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 || n > maxIterations {
			return p, fmt.Errorf("password hash: iterations %q: want 1..%d", parts[2], maxIterations)
		}
		p.kind, p.iterations, salt, sum = "7", n, parts[3], parts[4]
	case len(parts) == 4 && parts[0] == "" && parts[1] == "6":
		p.kind, salt, sum = "6", parts[2], parts[3]
	default:
		return p, errors.New(`password hash: want "$7$<iterations>$<salt>$<hash>" or "$6$<salt>$<hash>"`)
	}
	var err error
	if p.salt, err = base64.StdEncoding.DecodeString(salt); err != nil || len(p.salt) == 0 {
		return p, errors.New("password hash: salt is not base64")
	}
	if p.sum, err = base64.StdEncoding.DecodeString(sum); err != nil || len(p.sum) != hashSize {
		return p, fmt.Errorf("password hash: hash is not %d bytes of base64", hashSize)
	}
	return p, nil
}

// ValidHash reports whether h is a password hash CheckPassword can check.
func ValidHash(h string) error {
	_, err := parseHash(h)
	return err
}

// CheckPassword reports whether password matches hash, which is in Mosquitto's "$7$" (PBKDF2-SHA512)
// or older "$6$" (salted SHA-512) format. A malformed hash matches nothing.
func CheckPassword(hash, password string) bool {
	p, err := parseHash(hash)
	if err != nil || password == "" {
		return false
	}
	var sum []byte
	switch p.kind {
	case "7":
		sum, err = pbkdf2.Key(sha512.New, password, p.salt, p.iterations, hashSize)
		if err != nil {
			return false
		}
	case "6":
		h := sha512.New()
		h.Write([]byte(password))
		h.Write(p.salt)
		sum = h.Sum(nil)
	}
	return subtle.ConstantTimeCompare(sum, p.sum) == 1
}
