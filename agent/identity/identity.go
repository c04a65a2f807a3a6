// Package identity holds what makes an agent itself and what it trusts: its device key (created
// on first start in the data directory, mode 0600), the agent certificate the provider signed
// (without which nothing is published), the enrolment request the provider signs, the pinned hub
// keys, the MQTT password, and the leases the hub sends for each SIM (see Leases).
package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/wire"
)

// File names inside the agent's data directory.
const (
	KeyFileName      = "agent.key"     // the device key (ness-key format, mode 0600)
	CertFileName     = "agent.cert"    // the agent certificate, when NESS_AGENT_CERT is not set
	LeasesFileName   = "leases.json"   // accepted leases, one per ICCID
	PasswordFileName = "mqtt.password" // the MQTT password, when NESS_AGENT_MQTT_PASSWORD is not set
)

// LoadOrCreateKey reads the device key from dir/agent.key, creating the directory (0700) and a new
// key (0600) when there is none. created says whether a new key was made. A key file readable by
// group or others is refused (wire.ErrKeyFileMode).
func LoadOrCreateKey(dir string, now time.Time) (id *wire.Identity, created bool, err error) {
	if dir == "" {
		return nil, false, errors.New("identity: NESS_AGENT_DATA_DIR is empty")
	}
	path := filepath.Join(dir, KeyFileName)
	kf, err := wire.ReadKeyFile(path)
	switch {
	case err == nil:
		if kf.Identity == nil {
			return nil, false, fmt.Errorf("identity: %s holds no private key", path)
		}
		return kf.Identity, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("identity: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("identity: create NESS_AGENT_DATA_DIR %s: %w", dir, err)
	}
	id, err = wire.GenerateIdentity()
	if err != nil {
		return nil, false, fmt.Errorf("identity: generate device key: %w", err)
	}
	if err := wire.WriteKeyFile(path, id, wire.KindAgent, "", now); err != nil {
		return nil, false, fmt.Errorf("identity: write %s: %w", path, err)
	}
	return id, true, nil
}

// CertPath is where the certificate is read from: certEnv (NESS_AGENT_CERT) when set, else
// dir/agent.cert.
func CertPath(dir, certEnv string) string {
	if certEnv != "" {
		return certEnv
	}
	return filepath.Join(dir, CertFileName)
}

// ErrNoCert is wrapped when there is no certificate file: the agent is not enrolled yet.
var ErrNoCert = errors.New("no agent certificate: run `ness-agent enroll-request`, have the provider sign it with `ness provider enroll`, and put the result in NESS_AGENT_CERT or the data directory")

// maxCertFile bounds a certificate file read from disk.
const maxCertFile = 64 << 10

// LoadCert reads and checks the agent certificate at path: strictly decoded, signed by its
// provider, issued for this device key, and valid at now.
func LoadCert(path string, id *wire.Identity, now time.Time) (*wire.AgentCert, error) {
	c, err := ReadCert(path, id)
	if err != nil {
		return nil, err
	}
	if err := c.Verify(now); err != nil {
		return nil, fmt.Errorf("identity: certificate %s: %w", path, err)
	}
	return c, nil
}

// ReadCert is LoadCert without the validity window: the agent loads its certificate at start
// even when the clock says it is not yet (or no longer) valid, because a board without a
// real-time clock starts in 1970; the pipeline checks the window before every publish.
func ReadCert(path string, id *wire.Identity) (*wire.AgentCert, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("identity: %s: %w", path, ErrNoCert)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: read certificate: %w", err)
	}
	if len(data) > maxCertFile {
		return nil, fmt.Errorf("identity: certificate %s: %d bytes exceeds the limit of %d", path, len(data), maxCertFile)
	}
	c, err := wire.DecodeAgentCert(data)
	if err != nil {
		return nil, fmt.Errorf("identity: certificate %s: %w", path, err)
	}
	if err := checkCertKey(c, id); err != nil {
		return nil, fmt.Errorf("identity: certificate %s: %w", path, err)
	}
	if err := c.VerifySignature(); err != nil {
		return nil, fmt.Errorf("identity: certificate %s: %w", path, err)
	}
	return c, nil
}

// CheckCert checks that c is signed by its provider, names this identity's key and is valid
// at now.
func CheckCert(c *wire.AgentCert, id *wire.Identity, now time.Time) error {
	if c == nil {
		return ErrNoCert
	}
	if err := checkCertKey(c, id); err != nil {
		return err
	}
	return c.Verify(now)
}

// ErrOtherAgent is wrapped when a certificate was issued for another device key.
var ErrOtherAgent = errors.New("the certificate belongs to another device")

func checkCertKey(c *wire.AgentCert, id *wire.Identity) error {
	if c.AgentKey != id.Verify {
		return fmt.Errorf("issued for agent key %s (agent %s), but this device's key is %s (agent %s): %w",
			c.AgentKey, c.AgentID, id.Verify, id.AgentID(), ErrOtherAgent)
	}
	return nil
}

// EnrollRequest is what `ness-agent enroll-request` prints and the provider signs into an
// agent certificate: the agent id and its Ed25519 public key.
type EnrollRequest struct {
	Agent    string         `json:"agent"`
	AgentKey wire.VerifyKey `json:"agent_key"`
}

// NewEnrollRequest returns the enrolment request for a device key.
func NewEnrollRequest(id *wire.Identity) EnrollRequest {
	return EnrollRequest{Agent: id.AgentID(), AgentKey: id.Verify}
}

// Marshal returns the request as one line of JSON with a trailing newline.
func (r EnrollRequest) Marshal() []byte {
	b, _ := json.Marshal(struct {
		Agent    string `json:"agent"`
		AgentKey string `json:"agent_key"`
	}{r.Agent, r.AgentKey.String()})
	return append(b, '\n')
}

// maxEnrollRequest bounds an enrolment request.
const maxEnrollRequest = 4 << 10

// DecodeEnrollRequest strictly decodes an enrolment request: exactly the two fields, a valid
// key, and an agent id that is the key's id (a request naming another id is refused).
func DecodeEnrollRequest(data []byte) (EnrollRequest, error) {
	if len(data) > maxEnrollRequest {
		return EnrollRequest{}, fmt.Errorf("enroll request: %d bytes exceeds the limit of %d", len(data), maxEnrollRequest)
	}
	var j struct {
		Agent    *string `json:"agent"`
		AgentKey *string `json:"agent_key"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return EnrollRequest{}, fmt.Errorf("enroll request: not the expected JSON object: %w", err)
	}
	if dec.More() {
		return EnrollRequest{}, errors.New("enroll request: trailing data after the JSON object")
	}
	if j.Agent == nil || j.AgentKey == nil {
		return EnrollRequest{}, errors.New(`enroll request: "agent" and "agent_key" are both required`)
	}
	k, err := wire.ParseVerifyKey("agent_key", *j.AgentKey)
	if err != nil {
		return EnrollRequest{}, fmt.Errorf("enroll request: %w", err)
	}
	if err := wire.CheckAgentID(*j.Agent); err != nil {
		return EnrollRequest{}, fmt.Errorf("enroll request: agent: %w", err)
	}
	if got := wire.AgentIDOf(k); got != *j.Agent {
		return EnrollRequest{}, fmt.Errorf("enroll request: agent %s does not match agent_key, whose id is %s", *j.Agent, got)
	}
	return EnrollRequest{Agent: *j.Agent, AgentKey: k}, nil
}

// ParseHubKeys parses NESS_AGENT_HUB_KEY: one or more base64 Ed25519 keys separated by commas
// (several during a key rotation).
func ParseHubKeys(s string) ([]wire.VerifyKey, error) {
	var keys []wire.VerifyKey
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, err := wire.ParseVerifyKey(fmt.Sprintf("NESS_AGENT_HUB_KEY[%d]", i), f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("NESS_AGENT_HUB_KEY: no hub key given (base64 Ed25519 keys, comma separated)")
	}
	return keys, nil
}

// MQTTPassword returns the broker password: env (NESS_AGENT_MQTT_PASSWORD) when set, else the
// first line of dir/mqtt.password, else "" (a broker that allows anonymous or certificate
// login). The hub issues this password at enrolment (DESIGN.md, broker credentials); until it
// does, the operator sets it by hand.
func MQTTPassword(env, dir string) (string, error) {
	if env != "" {
		return env, nil
	}
	path := filepath.Join(dir, PasswordFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identity: read MQTT password: %w", err)
	}
	st, err := os.Stat(path)
	if err == nil && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("identity: %s is readable by group or others (mode %04o): run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}
