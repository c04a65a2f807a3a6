package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/wire"
)

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustRun(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	code, out, errOut := runNess(t, "", args...)
	if code != wantCode {
		t.Fatalf("ness %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
	}
	return out + errOut
}

func TestKeygenEncryptDecryptSignVerify(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "me.key")
	out := mustRun(t, 0, "keygen", "--out", keyPath, "--kind", "renter")
	st, err := os.Stat(keyPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v mode %v, want 0600", err, st.Mode().Perm())
	}
	kf, err := wire.ReadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, kf.Verify.String()) || !strings.Contains(out, kf.Public.String()) {
		t.Fatalf("keygen output %q does not show the public keys %s / %s", out, kf.Verify, kf.Public)
	}
	mustRun(t, 1, "keygen", "--out", keyPath) // refuses to overwrite
	seed := base64.RawURLEncoding.EncodeToString(kf.Identity.Seed())
	full := base64.StdEncoding.EncodeToString(append(kf.Identity.Seed(), kf.Verify[:]...))

	msg := writeFile(t, filepath.Join(dir, "sms.txt"), []byte("Your code is 123456"), 0o644)
	enc, dec, sig := filepath.Join(dir, "sms.enc"), filepath.Join(dir, "sms.out"), filepath.Join(dir, "sms.sig")

	for _, encArgs := range [][]string{
		{"--peer-pub-b64", kf.Public.String()},
		{"--peer-pub-b64", base64.RawURLEncoding.EncodeToString(kf.Public[:])},
		{"--key", keyPath},
	} {
		mustRun(t, 0, append([]string{"encrypt", "--in", msg, "--out", enc}, encArgs...)...)
		for _, decArgs := range [][]string{{"--priv-b64", seed}, {"--priv-b64", full}, {"--key", keyPath}} {
			os.Remove(dec)
			mustRun(t, 0, append([]string{"decrypt", "--in", enc, "--out", dec}, decArgs...)...)
			got, _ := os.ReadFile(dec)
			if string(got) != "Your code is 123456" {
				t.Fatalf("decrypt %v after encrypt %v: got %q", decArgs, encArgs, got)
			}
		}
	}
	other, _ := wire.GenerateIdentity()
	mustRun(t, 1, "decrypt", "--in", enc, "--out", dec, "--priv-b64", base64.StdEncoding.EncodeToString(other.Seed()))

	mustRun(t, 0, "sign", "--in", enc, "--out", sig, "--priv-b64", seed)
	s, _ := os.ReadFile(sig)
	if len(s) != 64 {
		t.Fatalf("signature file: got %d bytes, want 64", len(s))
	}
	if out := mustRun(t, 0, "verify", "--in", enc, "--sig", sig, "--pub-b64", kf.Verify.String()); !strings.Contains(out, "OK") {
		t.Fatalf("verify output: %q", out)
	}
	mustRun(t, 0, "verify", "--in", enc, "--sig", sig, "--key", keyPath)
	mustRun(t, 1, "verify", "--in", enc, "--sig", sig, "--pub-b64", other.Verify.String())
	encBytes, _ := os.ReadFile(enc)
	tampered := bytes.Clone(encBytes)
	tampered[len(tampered)/2] ^= 0x01
	bad := writeFile(t, filepath.Join(dir, "tampered.enc"), tampered, 0o644)
	mustRun(t, 1, "verify", "--in", bad, "--sig", sig, "--pub-b64", kf.Verify.String())
	mustRun(t, 1, "decrypt", "--in", bad, "--out", dec, "--key", keyPath)
	badSig := writeFile(t, filepath.Join(dir, "short.sig"), s[:63], 0o644)
	mustRun(t, 1, "verify", "--in", enc, "--sig", badSig, "--pub-b64", kf.Verify.String())
}

func TestSignRefusesProtocolPrefixes(t *testing.T) {
	dir := t.TempDir()
	id, _ := wire.GenerateIdentity()
	priv := base64.StdEncoding.EncodeToString(id.Seed())
	for _, p := range append(wire.DomainPrefixes(), "NESS-SMS/v9/future\x00") {
		in := writeFile(t, filepath.Join(dir, "in"), []byte(p+"payload"), 0o644)
		out := mustRun(t, 1, "sign", "--in", in, "--out", filepath.Join(dir, "out.sig"), "--priv-b64", priv)
		if !strings.Contains(out, "domain prefix") {
			t.Errorf("sign of %q: output %q does not explain the refusal", p, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "out.sig")); err == nil {
			t.Fatalf("sign of %q wrote a signature", p)
		}
	}
}

func TestCryptoUsageErrors(t *testing.T) {
	dir := t.TempDir()
	id, _ := wire.GenerateIdentity()
	priv := base64.StdEncoding.EncodeToString(id.Seed())
	keyPath := filepath.Join(dir, "k")
	wire.WriteKeyFile(keyPath, id, "user", "", time.Time{})
	in := writeFile(t, filepath.Join(dir, "in"), []byte("x"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"encrypt", "--in", in, "--out", "o"}, 2, "exactly one of --peer-pub-b64 and --key"},
		{[]string{"sign", "--in", in, "--out", "o", "--priv-b64", priv, "--key", keyPath}, 2, "exactly one"},
		{[]string{"sign", "--out", "o", "--priv-b64", priv}, 2, "need --in"},
		{[]string{"verify", "--in", in, "--pub-b64", id.Verify.String()}, 2, "need --sig"},
		{[]string{"encrypt", "--in", in, "--out", "o", "--peer-pub-b64", "AAAA"}, 1, "--peer-pub-b64"},
		{[]string{"sign", "--in", in, "--out", "o", "--priv-b64", "!!"}, 1, "--priv-b64"},
		{[]string{"keygen"}, 2, "need --out"},
		{[]string{"sign", "--bogus"}, 2, "bogus"},
		{[]string{"sign", "--help"}, 0, "Usage: ness sign"},
	}
	for _, c := range cases {
		code, out, errOut := runNess(t, "", c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("ness %s: exit %d output %q; want exit %d and %q", strings.Join(c.args, " "), code, out+errOut, c.code, c.want)
		}
	}
	os.Chmod(keyPath, 0o644)
	code, _, errOut := runNess(t, "", "sign", "--in", in, "--out", filepath.Join(dir, "s"), "--key", keyPath)
	if code != 1 || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("sign with a world-readable key file: exit %d, stderr %q; want 1 and a chmod 600 hint", code, errOut)
	}
}

func TestPrivatenessKeyFileWorksWithCLI(t *testing.T) {
	dir := t.TempDir()
	// reference/emercoin.md §8 vector identity, in a PrivatenessTools user key file.
	pt := `{"filedata":{"vendor":"Privateness","type":"key","for":"user"},"username":"alice",` +
		`"private":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","public":"j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=",` +
		`"verify":"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=","nonce":"AAECAwQFBgcICQoLDA0ODw==","signatures":{}}`
	key := writeFile(t, filepath.Join(dir, "alice.key.json"), []byte(pt), 0o600)
	in := writeFile(t, filepath.Join(dir, "m"), []byte("hello"), 0o644)
	mustRun(t, 0, "encrypt", "--in", in, "--out", filepath.Join(dir, "m.enc"), "--peer-pub-b64", "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8")
	mustRun(t, 0, "decrypt", "--in", filepath.Join(dir, "m.enc"), "--out", filepath.Join(dir, "m.out"), "--key", key)
	mustRun(t, 0, "sign", "--in", in, "--out", filepath.Join(dir, "m.sig"), "--key", key)
	mustRun(t, 0, "verify", "--in", in, "--sig", filepath.Join(dir, "m.sig"), "--pub-b64", "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")
}
