package pipeline_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/agent/outbox"
	"github.com/ness-network/ness-sms/agent/pipeline"
	"github.com/ness-network/ness-sms/wire"
)

// newPipeline returns a pipeline on a fresh outbox and lease store, with a valid agent
// certificate (so an SMS without a lease is sealed to provider), publishing through pub.
// cfg's identity, certificate, keys, outbox, leases and publisher are filled in.
func newPipeline(t *testing.T, pub pipeline.Publisher, cfg pipeline.Config) (pl *pipeline.Pipeline, ob *outbox.Outbox, provider *wire.Identity) {
	t.Helper()
	agentKey, _ := wire.GenerateIdentity()
	hub, _ := wire.GenerateIdentity()
	provider, _ = wire.GenerateIdentity()
	now := time.Now()
	cert, err := wire.NewAgentCert(agentKey.Verify, provider, "", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ob, err = outbox.Open(filepath.Join(dir, outbox.FileName), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	leases, err := identity.OpenLeases(filepath.Join(dir, identity.LeasesFileName), agentKey.AgentID(), []wire.VerifyKey{hub.Verify}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity, cfg.Cert, cfg.HubKeys, cfg.Outbox, cfg.Leases, cfg.Publisher = agentKey, cert, []wire.VerifyKey{hub.Verify}, ob, leases, pub
	if cfg.ScanInterval == 0 {
		cfg.ScanInterval = 20 * time.Millisecond
	}
	pl, err = pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return pl, ob, provider
}
