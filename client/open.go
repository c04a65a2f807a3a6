package client

import (
	"fmt"
	"time"

	"github.com/ness-network/ness-sms/wire"
)

// Opened is a message the client verified and opened itself.
type Opened struct {
	View      MessageView
	SMS       *wire.SMS
	Cert      *wire.AgentCert
	Plaintext *wire.Plaintext
}

// Open verifies a message as served by the hub and opens it with the renter's identity,
// trusting nothing the hub says on its own:
//
//   - the agent certificate is checked (provider's signature, validity at now) and must be for
//     the agent that signed the message;
//   - the message signature is checked under the certified agent key;
//   - the routing fields the hub shows (id, agent, slot, ICCID, lease sequence, received time)
//     must equal the signed ones;
//   - when provider is not zero, the certificate must be signed by that provider key;
//   - the body is opened with the renter's X25519 key (a sealed box: only the renter can).
func Open(v MessageView, renter *wire.Identity, provider wire.VerifyKey, now time.Time) (*Opened, error) {
	signed, err := wire.DecodeBase64("signed", v.Signed)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", v.ID, err)
	}
	certBytes, err := wire.DecodeBase64("certificate", v.Certificate)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", v.ID, err)
	}
	cert, err := wire.DecodeAgentCert(certBytes)
	if err != nil {
		return nil, fmt.Errorf("message %s: agent certificate: %w", v.ID, err)
	}
	m, err := wire.DecodeSMS(signed)
	if err != nil {
		return nil, fmt.Errorf("message %s: signed SMS: %w", v.ID, err)
	}
	if err := m.VerifyWithCert(cert, now); err != nil {
		return nil, fmt.Errorf("message %s: %w", v.ID, err)
	}
	if provider != (wire.VerifyKey{}) && cert.ProviderVerify != provider {
		return nil, fmt.Errorf("message %s: agent certificate signed by provider %s, not the expected %s", v.ID, cert.ProviderVerify, provider)
	}
	switch {
	case m.ID != v.ID:
		return nil, fmt.Errorf("message %s: the hub lists id %s but the agent signed id %s", v.ID, v.ID, m.ID)
	case m.AgentID != v.Agent:
		return nil, fmt.Errorf("message %s: the hub lists agent %s but agent %s signed it", v.ID, v.Agent, m.AgentID)
	case int(m.Slot) != v.Slot:
		return nil, fmt.Errorf("message %s: the hub lists slot %d but the agent signed slot %d", v.ID, v.Slot, m.Slot)
	case m.ICCID != v.ICCID:
		return nil, fmt.Errorf("message %s: the hub lists SIM %s but the agent signed SIM %s", v.ID, v.ICCID, m.ICCID)
	case m.LeaseSeq != v.LeaseSeq:
		return nil, fmt.Errorf("message %s: the hub lists lease #%d but the agent signed lease #%d", v.ID, v.LeaseSeq, m.LeaseSeq)
	case !m.Received.Equal(v.Received):
		return nil, fmt.Errorf("message %s: the hub lists received %s but the agent signed %s", v.ID,
			v.Received.Format(time.RFC3339Nano), m.Received.Format(time.RFC3339Nano))
	}
	pt, err := m.Open(renter)
	if err != nil {
		return nil, fmt.Errorf("message %s: open: %w", v.ID, err)
	}
	return &Opened{View: v, SMS: m, Cert: cert, Plaintext: pt}, nil
}
