package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/wire"
)

// buildAgent builds the real ness-agent binary.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ness-agent")
	out, err := exec.Command("go", "build", "-o", bin, "../../../agent/cmd/ness-agent").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ness-agent: %v\n%s", err, out)
	}
	return bin
}

func providerKey(t *testing.T, dir string) (string, *wire.Identity) {
	t.Helper()
	id, err := wire.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "provider.key")
	if err := wire.WriteKeyFile(path, id, wire.KindProvider, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	return path, id
}

// TestEnrollFlow: `ness-agent enroll-request` (the real binary) → `ness provider enroll` → the
// agent loads the certificate.
func TestEnrollFlow(t *testing.T) {
	bin := buildAgent(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "agent-data")
	cmd := exec.Command(bin, "enroll-request")
	cmd.Env = append(os.Environ(), "NESS_AGENT_DATA_DIR="+dataDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	req, err := cmd.Output()
	if err != nil {
		t.Fatalf("ness-agent enroll-request: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "created the device key") {
		t.Errorf("first enroll-request stderr: got %q, want it to say a device key was created", stderr.String())
	}
	// A second run keeps the key: the same request.
	cmd = exec.Command(bin, "enroll-request", "--data-dir", dataDir)
	again, err := cmd.Output()
	if err != nil || !bytes.Equal(again, req) {
		t.Fatalf("second enroll-request: got %q (%v), want the same request %q", again, err, req)
	}
	keyPath, provider := providerKey(t, dir)
	certPath := filepath.Join(dir, "agent.cert")
	code, _, errOut := runNess(t, string(req), "provider", "enroll", "-", "--key", keyPath, "--out", certPath, "--valid", "30d", "--worm", "alice")
	if code != 0 {
		t.Fatalf("ness provider enroll: exit %d: %s", code, errOut)
	}
	kf, err := wire.ReadKeyFile(filepath.Join(dataDir, identity.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := identity.LoadCert(certPath, kf.Identity, time.Now())
	if err != nil {
		t.Fatalf("identity.LoadCert of the signed certificate: %v", err)
	}
	if cert.ProviderVerify != provider.Verify || cert.ProviderPublic != provider.Public {
		t.Errorf("certificate provider keys: got %s/%s, want %s/%s", cert.ProviderVerify, cert.ProviderPublic, provider.Verify, provider.Public)
	}
	if cert.WormName != "worm:user:ness:alice" {
		t.Errorf("worm: got %q, want worm:user:ness:alice", cert.WormName)
	}
	if d := time.Until(cert.NotAfter); d < 29*24*time.Hour || d > 30*24*time.Hour {
		t.Errorf("not_after: got %s from now, want about 30 days", d)
	}
	// Without --out (and with the flag order reversed) the certificate goes to stdout.
	reqFile := writeFile(t, filepath.Join(dir, "req.json"), req, 0o644)
	code, out, errOut := runNess(t, "", "provider", "enroll", "--key", keyPath, reqFile)
	if code != 0 {
		t.Fatalf("ness provider enroll to stdout: exit %d: %s", code, errOut)
	}
	if c, err := wire.DecodeAgentCert(bytes.TrimSpace([]byte(out))); err != nil || c.AgentID != kf.Identity.AgentID() {
		t.Errorf("stdout certificate: got %v (%v), want one for agent %s", c, err, kf.Identity.AgentID())
	}
}

func TestProviderEnrollErrors(t *testing.T) {
	dir := t.TempDir()
	keyPath, _ := providerKey(t, dir)
	agentKey, _ := wire.GenerateIdentity()
	other, _ := wire.GenerateIdentity()
	good := string(identity.NewEnrollRequest(agentKey).Marshal())
	forged := strings.Replace(good, agentKey.AgentID(), other.AgentID(), 1)
	pub, _ := wire.MarshalPublicKeyFile(agentKey.Verify, agentKey.Public, wire.KindProvider, "")
	pubPath := writeFile(t, filepath.Join(dir, "public.key"), pub, 0o644)
	looseKey, _ := wire.MarshalKeyFile(other, wire.KindProvider, "", time.Now())
	loosePath := writeFile(t, filepath.Join(dir, "loose.key"), looseKey, 0o644)
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"no request", "", []string{"--key", keyPath}, 2, "need REQUEST"},
		{"no key", good, []string{"-"}, 2, "need REQUEST"},
		{"two requests", good, []string{"-", "x", "--key", keyPath}, 2, "want one REQUEST"},
		{"bad validity", good, []string{"-", "--key", keyPath, "--valid", "forever"}, 2, "--valid"},
		{"validity too short", good, []string{"-", "--key", keyPath, "--valid", "1m"}, 2, "--valid"},
		{"bad hub URL", good, []string{"-", "--key", keyPath, "--hub", "ftp://x"}, 2, "--hub"},
		{"request not JSON", "agent please", []string{"-", "--key", keyPath}, 1, "REQUEST -: enroll request"},
		{"request id of another key", forged, []string{"-", "--key", keyPath}, 1, "does not match agent_key"},
		{"request file missing", "", []string{filepath.Join(dir, "nope.json"), "--key", keyPath}, 1, "nope.json"},
		{"public-only key", good, []string{"-", "--key", pubPath}, 1, "holds no private key"},
		{"group-readable key", good, []string{"-", "--key", loosePath}, 1, "chmod 600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runNess(t, tt.stdin, append([]string{"provider", "enroll"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("ness provider enroll %q: got exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
			}
		})
	}
}

func TestProviderEnrollHub(t *testing.T) {
	dir := t.TempDir()
	keyPath, _ := providerKey(t, dir)
	agentKey, _ := wire.GenerateIdentity()
	req := string(identity.NewEnrollRequest(agentKey).Marshal())
	var got struct {
		Certificate json.RawMessage `json:"certificate"`
	}
	var auth string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/provider/agents", func(w http.ResponseWriter, r *http.Request) {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"code":"invalid","message":"bad body"}}`)
			return
		}
		auth = r.Header.Get("Authorization")
		if auth != "Bearer tok123" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"unauthenticated","message":"sign in first"}}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"agent":{"id":"`+agentKey.AgentID()+`"},"mqtt_username":"`+agentKey.AgentID()+`","mqtt_password":"pw-123"}`)
	})
	withAPI := httptest.NewServer(mux)
	defer withAPI.Close()
	withoutAPI := httptest.NewServer(http.NotFoundHandler())
	defer withoutAPI.Close()

	code, _, stderr := runNess(t, req, "provider", "enroll", "-", "--key", keyPath, "--out", filepath.Join(dir, "a.cert"), "--hub", withoutAPI.URL)
	if code != 2 || !strings.Contains(stderr, "not available yet") {
		t.Errorf("hub without the endpoint: got exit %d, stderr %q; want exit 2 and \"not available yet\"", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.cert")); err != nil {
		t.Errorf("certificate not written when the upload is not available: %v", err)
	}
	code, _, stderr = runNess(t, req, "provider", "enroll", "-", "--key", keyPath, "--hub", withAPI.URL)
	if code != 1 || !strings.Contains(stderr, "HTTP 401: sign in first") {
		t.Errorf("hub refusing: got exit %d, stderr %q; want exit 1 and the hub's message", code, stderr)
	}
	pwFile := filepath.Join(dir, "mqtt.password")
	code, out, stderr := runNess(t, req, "provider", "enroll", "-", "--key", keyPath, "--hub", withAPI.URL+"/", "--token", "tok123", "--password-out", pwFile)
	if code != 0 {
		t.Fatalf("hub with the endpoint: exit %d: %s", code, stderr)
	}
	if !bytes.Equal(bytes.TrimSpace(got.Certificate), bytes.TrimSpace([]byte(out))) {
		t.Errorf("uploaded certificate: got %q, want the printed certificate %q", got.Certificate, out)
	}
	b, err := os.ReadFile(pwFile)
	st, _ := os.Stat(pwFile)
	if err != nil || string(b) != "pw-123\n" || st.Mode().Perm() != 0o600 {
		t.Errorf("--password-out: got %q (%v), mode %v; want \"pw-123\\n\" with mode 0600", b, err, st.Mode().Perm())
	}
	// Without --password-out the password is shown on stderr, never on stdout (the certificate).
	code, out, stderr = runNess(t, req, "provider", "enroll", "-", "--key", keyPath, "--hub", withAPI.URL, "--token", "tok123")
	if code != 0 || !strings.Contains(stderr, "pw-123") || strings.Contains(out, "pw-123") {
		t.Errorf("password shown: exit %d, stdout %q, stderr %q; want it on stderr only", code, out, stderr)
	}
}
