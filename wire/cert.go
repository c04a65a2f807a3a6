package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotYetValid and ErrExpired are wrapped when a certificate or lease is checked outside its
// validity window.
var (
	ErrNotYetValid = errors.New("not yet valid")
	ErrExpired     = errors.New("expired")
)

// AgentCert is a provider's statement that an agent key acts for it. The hub accepts an agent's
// messages only under a valid certificate.
type AgentCert struct {
	Version        uint8
	AgentID        string    // must equal AgentIDOf(AgentKey)
	AgentKey       VerifyKey // the agent's Ed25519 key
	ProviderVerify VerifyKey // provider's Ed25519 key: signs this certificate
	ProviderPublic SealKey   // provider's X25519 key: SMS with no lease are sealed to it
	WormName       string    // optional "worm:user:ness:<name>" on Emercoin
	NotBefore      time.Time
	NotAfter       time.Time
	Sig            []byte // provider's signature over SignedBytes
}

// NewAgentCert builds and signs a certificate for agentKey with the provider's identity.
func NewAgentCert(agentKey VerifyKey, provider *Identity, wormName string, notBefore, notAfter time.Time) (*AgentCert, error) {
	c := &AgentCert{
		Version: Version, AgentID: AgentIDOf(agentKey), AgentKey: agentKey,
		WormName: wormName, NotBefore: notBefore.Truncate(time.Millisecond).UTC(),
		NotAfter: notAfter.Truncate(time.Millisecond).UTC(),
	}
	if err := c.Sign(provider); err != nil {
		return nil, err
	}
	return c, nil
}

// WormPrefix is the NVS name prefix of NESS user identities.
const WormPrefix = "worm:user:ness:"

func (c *AgentCert) validate() error {
	const k = "cert"
	if c.Version != Version {
		return checkVersion(k, int(c.Version))
	}
	if err := checkAgentIDField(k, "agent", c.AgentID); err != nil {
		return err
	}
	if c.AgentKey.IsZero() {
		return fieldErr(k, "agent_key", "key is all zero")
	}
	if c.ProviderVerify.IsZero() {
		return fieldErr(k, "provider_verify", "key is all zero")
	}
	if c.ProviderPublic.IsZero() {
		return fieldErr(k, "provider_public", "key is all zero")
	}
	if c.WormName != "" {
		if err := checkLabel(k, "worm", c.WormName, MaxWormName, false); err != nil {
			return err
		}
		if !strings.HasPrefix(c.WormName, WormPrefix) || len(c.WormName) == len(WormPrefix) {
			return fieldErr(k, "worm", "%q does not look like %s<name>", trunc(c.WormName), WormPrefix)
		}
	}
	if err := checkTime(k, "not_before_ms", c.NotBefore, true); err != nil {
		return err
	}
	if err := checkTime(k, "not_after_ms", c.NotAfter, true); err != nil {
		return err
	}
	if !c.NotAfter.After(c.NotBefore) {
		return fieldErr(k, "not_after_ms", "%s is not after not_before %s", c.NotAfter.Format(time.RFC3339), c.NotBefore.Format(time.RFC3339))
	}
	return nil
}

// SignedBytes: DomainCert || u8 version || agent (16) || agent_key (32) || provider_verify (32) ||
// provider_public (32) || str worm || i64 not_before_ms || i64 not_after_ms.
func (c *AgentCert) SignedBytes() []byte {
	w := newCanon(DomainCert, 200)
	w.u8(c.Version)
	w.raw(fixed(agentIDBytes(c.AgentID), 16))
	w.raw(c.AgentKey[:])
	w.raw(c.ProviderVerify[:])
	w.raw(c.ProviderPublic[:])
	w.str(c.WormName)
	w.i64(timeMs(c.NotBefore))
	w.i64(timeMs(c.NotAfter))
	return w.b
}

// Sign fills in the provider's keys from its identity and signs.
func (c *AgentCert) Sign(provider *Identity) error {
	c.ProviderVerify, c.ProviderPublic = provider.Verify, provider.Public
	if err := c.validate(); err != nil {
		return err
	}
	c.Sig = provider.SignBytes(c.SignedBytes())
	return nil
}

// Verify checks the certificate at time now: well formed, agent id matches the agent key,
// NotBefore <= now < NotAfter, and the provider's signature. Whether the provider is trusted
// (or registered on chain) is the caller's decision.
func (c *AgentCert) Verify(now time.Time) error {
	if err := c.VerifySignature(); err != nil {
		return err
	}
	if now.Before(c.NotBefore) {
		return fmt.Errorf("cert for agent %s: %w until %s", c.AgentID, ErrNotYetValid, c.NotBefore.Format(time.RFC3339))
	}
	if !now.Before(c.NotAfter) {
		return fmt.Errorf("cert for agent %s: %w at %s", c.AgentID, ErrExpired, c.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// VerifySignature checks everything but the validity window.
func (c *AgentCert) VerifySignature() error {
	if err := c.validate(); err != nil {
		return err
	}
	if got := AgentIDOf(c.AgentKey); got != c.AgentID {
		return fieldErr("cert", "agent", "%s does not match agent_key (whose id is %s)", c.AgentID, got)
	}
	if !VerifyBytes(c.ProviderVerify, c.SignedBytes(), c.Sig) {
		return fmt.Errorf("cert for agent %s: %w", c.AgentID, ErrSignature)
	}
	return nil
}

type certJSON struct {
	V              int    `json:"v"`
	Agent          string `json:"agent"`
	AgentKey       string `json:"agent_key"`
	ProviderVerify string `json:"provider_verify"`
	ProviderPublic string `json:"provider_public"`
	Worm           string `json:"worm,omitempty"`
	NotBeforeMs    int64  `json:"not_before_ms"`
	NotAfterMs     int64  `json:"not_after_ms"`
	Sig            string `json:"sig"`
}

// MarshalJSON returns the JSON transport form.
func (c *AgentCert) MarshalJSON() ([]byte, error) {
	return json.Marshal(certJSON{
		V: int(c.Version), Agent: c.AgentID, AgentKey: c.AgentKey.String(),
		ProviderVerify: c.ProviderVerify.String(), ProviderPublic: c.ProviderPublic.String(),
		Worm: c.WormName, NotBeforeMs: timeMs(c.NotBefore), NotAfterMs: timeMs(c.NotAfter), Sig: b64(c.Sig),
	})
}

// UnmarshalJSON decodes strictly, as DecodeAgentCert.
func (c *AgentCert) UnmarshalJSON(data []byte) error {
	d, err := DecodeAgentCert(data)
	if err != nil {
		return err
	}
	*c = *d
	return nil
}

// DecodeAgentCert strictly decodes a certificate's JSON form (signature not checked).
func DecodeAgentCert(data []byte) (*AgentCert, error) {
	const k = "cert"
	var j certJSON
	if err := decodeStrict(k, data, MaxSmallJSON, &j); err != nil {
		return nil, err
	}
	if err := checkVersion(k, j.V); err != nil {
		return nil, err
	}
	c := &AgentCert{Version: uint8(j.V), AgentID: j.Agent, WormName: j.Worm}
	var err error
	var key [KeySize]byte
	if key, err = keyField(k, "agent_key", j.AgentKey); err != nil {
		return nil, err
	}
	c.AgentKey = VerifyKey(key)
	if key, err = keyField(k, "provider_verify", j.ProviderVerify); err != nil {
		return nil, err
	}
	c.ProviderVerify = VerifyKey(key)
	if key, err = keyField(k, "provider_public", j.ProviderPublic); err != nil {
		return nil, err
	}
	c.ProviderPublic = SealKey(key)
	if c.NotBefore, err = msTime(k, "not_before_ms", j.NotBeforeMs); err != nil {
		return nil, err
	}
	if c.NotAfter, err = msTime(k, "not_after_ms", j.NotAfterMs); err != nil {
		return nil, err
	}
	if c.Sig, err = sigField(k, j.Sig); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}
