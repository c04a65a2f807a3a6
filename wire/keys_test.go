package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestIdentityFromSeedPrivatenessVector(t *testing.T) {
	// reference/emercoin.md §8: PrivatenessTools derivation from seed 00..1f.
	id := seedIdentity(t, 0)
	if got, want := base64.StdEncoding.EncodeToString(id.Seed()), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; got != want {
		t.Errorf("private: got %s, want %s", got, want)
	}
	if got, want := id.Public.String(), "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8="; got != want {
		t.Errorf("public (X25519): got %s, want %s", got, want)
	}
	if got, want := id.Verify.String(), "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="; got != want {
		t.Errorf("verify (Ed25519): got %s, want %s", got, want)
	}
}

func TestAgentID(t *testing.T) {
	id := seedIdentity(t, 0)
	got := id.AgentID()
	if err := CheckAgentID(got); err != nil {
		t.Fatalf("AgentID %q: %v", got, err)
	}
	other := seedIdentity(t, 1).AgentID()
	if got == other {
		t.Fatalf("two keys gave the same agent id %s", got)
	}
	for _, bad := range []string{"", strings.ToUpper(got), got[:31], got + "0", "g" + got[1:]} {
		if err := CheckAgentID(bad); !errors.Is(err, ErrAgentID) {
			t.Errorf("CheckAgentID(%q): got %v, want ErrAgentID", bad, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(250 - i*7) // gives both '+' '/' in std and '-' '_' in URL form
	}
	cases := []struct {
		name, in, wantErr string
	}{
		{"std padded", base64.StdEncoding.EncodeToString(raw), ""},
		{"std raw", base64.RawStdEncoding.EncodeToString(raw), ""},
		{"url padded", base64.URLEncoding.EncodeToString(raw), ""},
		{"url raw", base64.RawURLEncoding.EncodeToString(raw), ""},
		{"surrounding newline", base64.StdEncoding.EncodeToString(raw) + "\n", ""},
		{"empty", "", "empty base64"},
		{"31 bytes", base64.StdEncoding.EncodeToString(raw[:31]), "key is 31 bytes, want 32"},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw, 1)), "key is 33 bytes, want 32"},
		{"not base64", "!!!!", "bad base64"},
		{"mixed alphabets", "ab+_" + base64.RawStdEncoding.EncodeToString(raw)[4:], "mixes"},
		{"inner space", base64.StdEncoding.EncodeToString(raw)[:10] + " " + base64.StdEncoding.EncodeToString(raw)[10:], "bad base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParseKey("--peer-pub-b64", c.in)
			if c.wantErr == "" {
				if err != nil || !bytes.Equal(k[:], raw) {
					t.Fatalf("ParseKey(%q): got %x, %v; want %x", c.in, k, err, raw)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "--peer-pub-b64") {
				t.Fatalf("ParseKey(%q): got error %v, want one naming --peer-pub-b64 and containing %q", c.in, err, c.wantErr)
			}
		})
	}
}

func TestParsePrivateKey(t *testing.T) {
	id := seedIdentity(t, 9)
	long := append(id.Seed(), id.Verify[:]...)
	for _, in := range []string{base64.StdEncoding.EncodeToString(id.Seed()), base64.RawURLEncoding.EncodeToString(long)} {
		got, err := ParsePrivateKey("--priv-b64", in)
		if err != nil || got.Verify != id.Verify || got.Public != id.Public {
			t.Errorf("ParsePrivateKey(%q): got %v, %v; want identity %s", in, got, err, id.Verify)
		}
	}
	bad := append(id.Seed(), seedIdentity(t, 10).Verify[:]...)
	if _, err := ParsePrivateKey("--priv-b64", base64.StdEncoding.EncodeToString(bad)); err == nil || !strings.Contains(err.Error(), "second half") {
		t.Errorf("64-byte key with a foreign public half: got %v, want a mismatch error", err)
	}
	if _, err := ParsePrivateKey("--priv-b64", base64.StdEncoding.EncodeToString(make([]byte, 48))); err == nil || !strings.Contains(err.Error(), "48 bytes") {
		t.Errorf("48-byte key: got %v, want a length error", err)
	}
}

func TestKeyTextRoundTrip(t *testing.T) {
	id := seedIdentity(t, 3)
	b, _ := id.Verify.MarshalText()
	var v VerifyKey
	if err := v.UnmarshalText(b); err != nil || v != id.Verify {
		t.Fatalf("VerifyKey text round trip: got %s, %v; want %s", v, err, id.Verify)
	}
	var s SealKey
	if err := s.UnmarshalText([]byte(base64.RawURLEncoding.EncodeToString(id.Public[:]))); err != nil || s != id.Public {
		t.Fatalf("SealKey from URL base64: got %s, %v; want %s", s, err, id.Public)
	}
}
