package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/agent/pdu"
	"github.com/ness-network/ness-sms/agent/pipeline"
	"github.com/ness-network/ness-sms/wire"
)

// defaults returns the settings envconfig gives with nothing set.
func defaults(t testing.TB) pipeline.Settings {
	t.Helper()
	var s pipeline.Settings
	if err := envconfig.Process(agent.EnvPrefix, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSettingsValidate(t *testing.T) {
	key, _ := wire.GenerateIdentity()
	tests := []struct {
		name string
		edit func(*pipeline.Settings)
		want string // "" = valid
	}{
		{"defaults", func(*pipeline.Settings) {}, ""},
		{"hub key", func(s *pipeline.Settings) { s.HubKey = key.Verify.String() }, ""},
		{"ssl with files", func(s *pipeline.Settings) {
			s.MQTTURL, s.MQTTCA, s.MQTTCert, s.MQTTKey = "ssl://hub:8883", "ca.pem", "c.pem", "k.pem"
		}, ""},
		{"bad scheme", func(s *pipeline.Settings) { s.MQTTURL = "http://hub:1883" }, "NESS_AGENT_MQTT_URL"},
		{"no host", func(s *pipeline.Settings) { s.MQTTURL = "tcp://" }, "NESS_AGENT_MQTT_URL"},
		{"tls files on tcp", func(s *pipeline.Settings) { s.MQTTCA = "ca.pem" }, "NESS_AGENT_MQTT_URL"},
		{"cert without key", func(s *pipeline.Settings) { s.MQTTURL, s.MQTTCert = "ssl://h:8883", "c.pem" }, "NESS_AGENT_MQTT_CERT"},
		{"bad hub key", func(s *pipeline.Settings) { s.HubKey = "nope" }, "NESS_AGENT_HUB_KEY[0]"},
		{"second hub key bad", func(s *pipeline.Settings) { s.HubKey = key.Verify.String() + ",AAAA" }, "NESS_AGENT_HUB_KEY[1]"},
		{"inflight 0", func(s *pipeline.Settings) { s.MaxInFlight = 0 }, "NESS_AGENT_MAX_INFLIGHT"},
		{"republish 1ms", func(s *pipeline.Settings) { s.RepublishTimeout = time.Millisecond }, "NESS_AGENT_REPUBLISH_TIMEOUT"},
		{"backoff inverted", func(s *pipeline.Settings) { s.MQTTBackoff, s.MQTTBackoffM = time.Minute, time.Second }, "NESS_AGENT_MQTT_BACKOFF_MAX"},
		{"outbox tiny", func(s *pipeline.Settings) { s.OutboxMaxBytes = 10 }, "NESS_AGENT_OUTBOX_MAX_BYTES"},
		{"outbox count", func(s *pipeline.Settings) { s.OutboxMaxCount = 1 }, "NESS_AGENT_OUTBOX_MAX_COUNT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaults(t)
			tt.edit(&s)
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: got %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate: got %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestServiceModes: without a certificate or without a hub key the service is store-only (no
// broker link) and still stores every PDU durably; enrolled with a hub key it publishes.
func TestServiceModes(t *testing.T) {
	provider, _ := wire.GenerateIdentity()
	hub, _ := wire.GenerateIdentity()
	other, _ := wire.GenerateIdentity()
	now := time.Now()
	enrol := func(t *testing.T, dir string, agentKey *wire.Identity, from, until time.Time) {
		t.Helper()
		c, err := wire.NewAgentCert(agentKey.Verify, provider, "", from, until)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := c.MarshalJSON()
		if err := os.WriteFile(filepath.Join(dir, identity.CertFileName), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T, dir string, id *wire.Identity)
		hubKey    string
		storeOnly string // substring of the reason; "" = publishes
	}{
		{"no certificate", func(*testing.T, string, *wire.Identity) {}, hub.Verify.String(), "no usable agent certificate"},
		{"no hub key", func(t *testing.T, dir string, id *wire.Identity) {
			enrol(t, dir, id, now.Add(-time.Hour), now.Add(time.Hour))
		}, "", "NESS_AGENT_HUB_KEY is not set"},
		{"certificate of another agent", func(t *testing.T, dir string, _ *wire.Identity) {
			enrol(t, dir, other, now.Add(-time.Hour), now.Add(time.Hour))
		}, hub.Verify.String(), "another device"},
		{"enrolled", func(t *testing.T, dir string, id *wire.Identity) {
			enrol(t, dir, id, now.Add(-time.Hour), now.Add(time.Hour))
		}, hub.Verify.String(), ""},
		// A board without a clock starts in 1970: an expired-looking certificate is loaded, and
		// the publisher checks the window before each publish.
		{"enrolled, clock off", func(t *testing.T, dir string, id *wire.Identity) {
			enrol(t, dir, id, now.Add(24*time.Hour), now.Add(48*time.Hour))
		}, hub.Verify.String(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			id, _, err := identity.LoadOrCreateKey(dir, now)
			if err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir, id)
			s := defaults(t)
			s.HubKey = tt.hubKey
			svc, err := pipeline.OpenService(s, pipeline.ServiceOptions{DataDir: dir})
			if err != nil {
				t.Fatalf("OpenService: %v", err)
			}
			defer svc.Close()
			if tt.storeOnly == "" {
				if svc.StoreOnly != "" || svc.Link == nil || svc.Cert == nil {
					t.Fatalf("got store-only %q (link %v), want publishing", svc.StoreOnly, svc.Link != nil)
				}
				return
			}
			if !strings.Contains(svc.StoreOnly, tt.storeOnly) || svc.Link != nil {
				t.Fatalf("store-only reason: got %q (link %v), want %q and no link", svc.StoreOnly, svc.Link != nil, tt.storeOnly)
			}
			// Store-only still takes SMS off the SIM into the outbox, and Run returns on cancel.
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- svc.Run(ctx, nil) }()
			pdus, _ := pdu.EncodeDeliver("+15551234567", "kept while not enrolled", now, "")
			if err := svc.Sink().StorePart(ctx, agent.ReceivedPart{Slot: 0, ICCID: "8949000000000000001", Storage: "SM", PDU: pdus[0], ReceivedAt: now}); err != nil {
				t.Fatalf("StorePart in store-only mode: %v", err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: got %v, want nil on cancel", err)
			}
			parts, err := svc.Outbox.Parts()
			if err != nil || len(parts) != 1 {
				t.Errorf("outbox parts after a store-only StorePart: got %d (%v), want 1", len(parts), err)
			}
		})
	}
}
