package identity_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/wire"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newID(t testing.TB) *wire.Identity {
	t.Helper()
	id, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	id, created, err := identity.LoadOrCreateKey(dir, t0)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateKey: got created %v, %v; want a new key", created, err)
	}
	path := filepath.Join(dir, identity.KeyFileName)
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{path, 0o600}, {dir, 0o700}} {
		st, err := os.Stat(c.path)
		if err != nil || st.Mode().Perm() != c.want {
			t.Errorf("%s: got mode %v (%v), want %04o", c.path, st.Mode().Perm(), err, c.want)
		}
	}
	again, created, err := identity.LoadOrCreateKey(dir, t0)
	if err != nil || created || again.AgentID() != id.AgentID() {
		t.Fatalf("second LoadOrCreateKey: got agent %v, created %v, %v; want the same key %s", again.AgentID(), created, err, id.AgentID())
	}
	// A key readable by group or others is refused, not silently used or replaced.
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, _, err := identity.LoadOrCreateKey(dir, t0); !errors.Is(err, wire.ErrKeyFileMode) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("key mode %04o: got %v, want wire.ErrKeyFileMode with a chmod 600 hint", mode, err)
		}
	}
	os.Chmod(path, 0o600)
	if _, _, err := identity.LoadOrCreateKey("", t0); err == nil || !strings.Contains(err.Error(), "NESS_AGENT_DATA_DIR") {
		t.Errorf("empty dir: got %v, want an error naming NESS_AGENT_DATA_DIR", err)
	}
	// A public-only key file is not a device key.
	pubDir := t.TempDir()
	pub, _ := wire.MarshalPublicKeyFile(id.Verify, id.Public, wire.KindAgent, "")
	os.WriteFile(filepath.Join(pubDir, identity.KeyFileName), pub, 0o600)
	if _, _, err := identity.LoadOrCreateKey(pubDir, t0); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Errorf("public-only key file: got %v, want an error saying it holds no private key", err)
	}
}

func writeCert(t *testing.T, dir string, c *wire.AgentCert) string {
	t.Helper()
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, identity.CertFileName)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadCert(t *testing.T) {
	agentKey, other, provider := newID(t), newID(t), newID(t)
	cert := func(key *wire.Identity, from, until time.Time) *wire.AgentCert {
		c, err := wire.NewAgentCert(key.Verify, provider, "", from, until)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tampered := cert(agentKey, t0.Add(-time.Hour), t0.Add(time.Hour))
	tampered.NotAfter = t0.Add(100 * 24 * time.Hour) // extended without the provider's signature
	tests := []struct {
		name       string
		file       func(dir string) string
		want       error  // errors.Is target; nil = valid
		wantText   string // substring when want is nil but an error is expected
		readCertOK bool   // ReadCert (no validity window) accepts it
	}{
		{"valid", func(d string) string { return writeCert(t, d, cert(agentKey, t0.Add(-time.Hour), t0.Add(time.Hour))) }, nil, "", true},
		{"missing", func(d string) string { return filepath.Join(d, identity.CertFileName) }, identity.ErrNoCert, "", false},
		{"another agent's", func(d string) string { return writeCert(t, d, cert(other, t0.Add(-time.Hour), t0.Add(time.Hour))) }, identity.ErrOtherAgent, "", false},
		{"expired", func(d string) string {
			return writeCert(t, d, cert(agentKey, t0.Add(-2*time.Hour), t0.Add(-time.Hour)))
		}, wire.ErrExpired, "", true},
		{"not yet valid", func(d string) string { return writeCert(t, d, cert(agentKey, t0.Add(time.Hour), t0.Add(2*time.Hour))) }, wire.ErrNotYetValid, "", true},
		{"bad signature", func(d string) string { return writeCert(t, d, tampered) }, wire.ErrSignature, "", false},
		{"not JSON", func(d string) string {
			p := filepath.Join(d, "c")
			os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----"), 0o644)
			return p
		}, nil, "certificate", false},
		{"too big", func(d string) string {
			p := filepath.Join(d, "c")
			os.WriteFile(p, make([]byte, 65<<10), 0o644)
			return p
		}, nil, "exceeds the limit", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file(t.TempDir())
			c, err := identity.LoadCert(path, agentKey, t0)
			switch {
			case tt.want == nil && tt.wantText == "":
				if err != nil || c.AgentID != agentKey.AgentID() {
					t.Fatalf("LoadCert: got %v, want the certificate of agent %s", err, agentKey.AgentID())
				}
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("LoadCert: got %v, want an error wrapping %v", err, tt.want)
			case tt.wantText != "" && (err == nil || !strings.Contains(err.Error(), tt.wantText)):
				t.Errorf("LoadCert: got %v, want an error containing %q", err, tt.wantText)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("LoadCert error %q does not name the file %s", err, path)
			}
			if _, err := identity.ReadCert(path, agentKey); (err == nil) != tt.readCertOK {
				t.Errorf("ReadCert: got %v, want ok=%v", err, tt.readCertOK)
			}
		})
	}
	if err := identity.CheckCert(nil, agentKey, t0); !errors.Is(err, identity.ErrNoCert) {
		t.Errorf("CheckCert(nil): got %v, want ErrNoCert", err)
	}
}

func TestParseHubKeys(t *testing.T) {
	a, b := newID(t), newID(t)
	tests := []struct {
		in   string
		n    int
		want string // error substring
	}{
		{a.Verify.String(), 1, ""},
		{a.Verify.String() + ", " + b.Verify.String(), 2, ""},
		{" " + a.Verify.String() + ",,", 1, ""},
		{"", 0, "NESS_AGENT_HUB_KEY: no hub key"},
		{" , ", 0, "NESS_AGENT_HUB_KEY: no hub key"},
		{"AAAA", 0, "NESS_AGENT_HUB_KEY[0]"},
		{a.Verify.String() + ",not base64!", 0, "NESS_AGENT_HUB_KEY[1]"},
	}
	for _, tt := range tests {
		keys, err := identity.ParseHubKeys(tt.in)
		if tt.want == "" && (err != nil || len(keys) != tt.n) {
			t.Errorf("ParseHubKeys(%q): got %d keys, %v; want %d", tt.in, len(keys), err, tt.n)
		}
		if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ParseHubKeys(%q): got %v, want an error naming %s", tt.in, err, tt.want)
		}
	}
}

func TestMQTTPassword(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		file    string // "" = no file
		mode    os.FileMode
		want    string
		wantErr string
	}{
		{"env wins", "from-env", "from-file\n", 0o600, "from-env", ""},
		{"file first line", "", "s3cret\r\nsecond line\n", 0o600, "s3cret", ""},
		{"no file", "", "", 0, "", ""},
		{"group-readable file", "", "s3cret\n", 0o640, "", "chmod 600"},
		{"world-readable file", "", "s3cret\n", 0o644, "", "readable by group or others"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "" {
				p := filepath.Join(dir, identity.PasswordFileName)
				os.WriteFile(p, []byte(tt.file), tt.mode)
				os.Chmod(p, tt.mode)
			}
			got, err := identity.MQTTPassword(tt.env, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestEnrollRequest(t *testing.T) {
	id, other := newID(t), newID(t)
	good := identity.NewEnrollRequest(id).Marshal()
	got, err := identity.DecodeEnrollRequest(good)
	if err != nil || got.Agent != id.AgentID() || got.AgentKey != id.Verify {
		t.Fatalf("round trip: got %+v, %v; want agent %s", got, err, id.AgentID())
	}
	obj := func(agent, key string, extra string) []byte {
		return []byte(`{"agent":"` + agent + `","agent_key":"` + key + `"` + extra + `}`)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"other agent's id", obj(other.AgentID(), id.Verify.String(), ""), "does not match agent_key"},
		{"unknown field", obj(id.AgentID(), id.Verify.String(), `,"provider":"x"`), "unknown field"},
		{"missing key", []byte(`{"agent":"` + id.AgentID() + `"}`), "both required"},
		{"bad key", obj(id.AgentID(), "AAAA", ""), "agent_key"},
		{"bad id", obj("XYZ", id.Verify.String(), ""), "agent"},
		{"trailing data", append(append([]byte{}, good...), []byte(`{"x":1}`)...), "trailing data"},
		{"too big", make([]byte, 5000), "exceeds the limit"},
		{"not JSON", []byte("hello"), "not the expected JSON object"},
	}
	for _, tt := range tests {
		if _, err := identity.DecodeEnrollRequest(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func FuzzDecodeEnrollRequest(f *testing.F) {
	id, _ := wire.GenerateIdentity()
	good := identity.NewEnrollRequest(id).Marshal()
	for _, s := range [][]byte{good, []byte(`{}`), []byte(`null`), []byte(`{"agent":"","agent_key":""}`),
		[]byte(`{"agent":"00","agent_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`), []byte(`[1,2]`), []byte(`{"agent":1}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := identity.DecodeEnrollRequest(data)
		if err != nil {
			return
		}
		// Anything accepted is self-consistent and survives a round trip.
		if wire.AgentIDOf(r.AgentKey) != r.Agent {
			t.Fatalf("accepted %q: agent %s is not the key's id", data, r.Agent)
		}
		again, err := identity.DecodeEnrollRequest(r.Marshal())
		if err != nil || again != r {
			t.Fatalf("accepted %q, but its Marshal does not decode to it: %v", data, err)
		}
	})
}

// leaseFile is the leases.json shape, for tests that write one by hand.
func leaseFile(t testing.TB, ls ...*wire.Lease) []byte {
	t.Helper()
	b, err := json.Marshal(struct {
		Leases []*wire.Lease `json:"leases"`
	}{ls})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
