package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/agent/mqttlink"
	"github.com/ness-network/ness-sms/agent/outbox"
	"github.com/ness-network/ness-sms/wire"
)

// Settings are the pipeline's part of the agent's configuration, read with envconfig under
// agent.EnvPrefix (NESS_AGENT_MQTT_URL, …). `ness-agent --help` lists them.
type Settings struct {
	MQTTURL      string        `envconfig:"MQTT_URL" default:"tcp://127.0.0.1:1883" desc:"broker URL: tcp://host:port, or ssl://host:port for TLS (use TLS off loopback)"`
	MQTTPassword string        `envconfig:"MQTT_PASSWORD" desc:"broker password (username = client id = agent id); empty: first line of <data dir>/mqtt.password (mode 0600) if it exists"`
	MQTTCA       string        `envconfig:"MQTT_CA" desc:"PEM CA bundle for ssl:// (default: the system roots)"`
	MQTTCert     string        `envconfig:"MQTT_CERT" desc:"PEM client certificate for ssl:// (with NESS_AGENT_MQTT_KEY)"`
	MQTTKey      string        `envconfig:"MQTT_KEY" desc:"PEM client key for ssl:// (with NESS_AGENT_MQTT_CERT)"`
	MQTTBackoff  time.Duration `envconfig:"MQTT_BACKOFF_MIN" default:"500ms" desc:"first reconnect delay ceiling (jittered exponential backoff)"`
	MQTTBackoffM time.Duration `envconfig:"MQTT_BACKOFF_MAX" default:"60s" desc:"reconnect delay ceiling"`

	HubKey string `envconfig:"HUB_KEY" desc:"pinned hub Ed25519 key(s), base64, comma separated during a rotation; REQUIRED TO PUBLISH: without it the agent runs store-only"`
	Cert   string `envconfig:"CERT" desc:"agent certificate from 'ness provider enroll' (default <data dir>/agent.cert); without a valid one the agent runs store-only"`

	RepublishTimeout  time.Duration `envconfig:"REPUBLISH_TIMEOUT" default:"60s" desc:"a published SMS without the hub's receipt is published again after this"`
	PublishTimeout    time.Duration `envconfig:"PUBLISH_TIMEOUT" default:"30s" desc:"wait for one PUBACK"`
	MaxInFlight       int           `envconfig:"MAX_INFLIGHT" default:"32" desc:"publishes waiting for a PUBACK at once (back-pressure)"`
	ShutdownGrace     time.Duration `envconfig:"SHUTDOWN_GRACE" default:"10s" desc:"at exit, wait this long for in-flight publishes; the rest stays in the outbox"`
	ReassemblyTimeout time.Duration `envconfig:"REASSEMBLY_TIMEOUT" default:"10m" desc:"a multipart SMS with parts missing is delivered, marked incomplete, after this"`
	StatusInterval    time.Duration `envconfig:"STATUS_INTERVAL" default:"60s" desc:"retained agent status heartbeat"`

	OutboxMaxCount     int           `envconfig:"OUTBOX_MAX_COUNT" default:"10000" desc:"outbox limit in records (parts + unacknowledged SMS); when full, SMS wait on the SIMs and an alarm is raised"`
	OutboxMaxBytes     int64         `envconfig:"OUTBOX_MAX_BYTES" default:"67108864" desc:"outbox limit in bytes of those records"`
	OutboxAckRetention time.Duration `envconfig:"OUTBOX_ACK_RETENTION" default:"24h" desc:"acknowledged SMS are remembered (without content) this long, so a re-read is not sent twice"`
}

// Validate checks what envconfig cannot; errors name the variable.
func (s *Settings) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s_%s: %s", agent.EnvPrefix, name, fmt.Sprintf(format, a...)))
	}
	if u, err := url.Parse(s.MQTTURL); err != nil || u.Host == "" || (u.Scheme != "tcp" && u.Scheme != "ssl") {
		bad("MQTT_URL", "%q: want tcp://host:port or ssl://host:port", s.MQTTURL)
	} else if u.Scheme == "tcp" && (s.MQTTCA != "" || s.MQTTCert != "" || s.MQTTKey != "") {
		bad("MQTT_URL", "%s is plain tcp://, but TLS files (NESS_AGENT_MQTT_CA/CERT/KEY) are set: use ssl://", s.MQTTURL)
	}
	if (s.MQTTCert == "") != (s.MQTTKey == "") {
		bad("MQTT_CERT", "NESS_AGENT_MQTT_CERT and NESS_AGENT_MQTT_KEY must be set together")
	}
	if strings.TrimSpace(s.HubKey) != "" {
		if _, err := identity.ParseHubKeys(s.HubKey); err != nil {
			errs = append(errs, err) // names NESS_AGENT_HUB_KEY[i]
		}
	}
	durs := []struct {
		name     string
		v        time.Duration
		min, max time.Duration
	}{
		{"MQTT_BACKOFF_MIN", s.MQTTBackoff, 10 * time.Millisecond, time.Hour},
		{"MQTT_BACKOFF_MAX", s.MQTTBackoffM, 10 * time.Millisecond, 24 * time.Hour},
		{"REPUBLISH_TIMEOUT", s.RepublishTimeout, time.Second, 24 * time.Hour},
		{"PUBLISH_TIMEOUT", s.PublishTimeout, 100 * time.Millisecond, time.Hour},
		{"SHUTDOWN_GRACE", s.ShutdownGrace, 0, time.Hour},
		{"REASSEMBLY_TIMEOUT", s.ReassemblyTimeout, time.Second, 7 * 24 * time.Hour},
		{"STATUS_INTERVAL", s.StatusInterval, time.Second, 24 * time.Hour},
		{"OUTBOX_ACK_RETENTION", s.OutboxAckRetention, time.Minute, 365 * 24 * time.Hour},
	}
	for _, d := range durs {
		if d.v < d.min || d.v > d.max {
			bad(d.name, "%v: want %v to %v", d.v, d.min, d.max)
		}
	}
	if s.MQTTBackoffM < s.MQTTBackoff {
		bad("MQTT_BACKOFF_MAX", "%v is below NESS_AGENT_MQTT_BACKOFF_MIN %v", s.MQTTBackoffM, s.MQTTBackoff)
	}
	if s.MaxInFlight < 1 || s.MaxInFlight > 1000 {
		bad("MAX_INFLIGHT", "%d: want 1 to 1000", s.MaxInFlight)
	}
	if s.OutboxMaxCount < 100 || s.OutboxMaxCount > 10_000_000 {
		bad("OUTBOX_MAX_COUNT", "%d: want 100 to 10000000", s.OutboxMaxCount)
	}
	if s.OutboxMaxBytes < 1<<20 || s.OutboxMaxBytes > 64<<30 {
		bad("OUTBOX_MAX_BYTES", "%d: want 1 MiB (1048576) to 64 GiB", s.OutboxMaxBytes)
	}
	return errors.Join(errs...)
}

// Service is the agent's whole pipeline as ness-agent runs it: device key, certificate, pinned
// hub keys, outbox, leases, the MQTT link, the pipeline and the status publisher. ness-agent
// and the tests that run an agent process build it with OpenService, so there is one wiring.
//
// Without a valid agent certificate or without NESS_AGENT_HUB_KEY the service runs store-only:
// it never connects to the broker, but every SMS is still written to the outbox and deleted
// from the SIM, so nothing is lost; it says so at start and every hour in the log, and the
// ness_agent_publishing gauge is 0. Enrol (or set the hub key) and restart to publish.
type Service struct {
	ID        *wire.Identity
	Cert      *wire.AgentCert // nil in store-only mode
	Outbox    *outbox.Outbox
	Pipeline  *Pipeline
	Link      *mqttlink.Link // nil in store-only mode
	Metrics   *Metrics
	StoreOnly string // why the service does not publish; "" when it does

	settings Settings
	log      *slog.Logger
	sup      atomic.Pointer[agent.Supervisor]
}

// ServiceOptions are what OpenService needs besides the settings.
type ServiceOptions struct {
	DataDir    string                // NESS_AGENT_DATA_DIR
	Registerer prometheus.Registerer // nil: metrics not registered
	Logger     *slog.Logger
	Now        func() time.Time // default time.Now
	// OnPublished is passed to the pipeline (benchmarks).
	OnPublished func(m *wire.SMS, at time.Time)
}

// OpenService opens everything the pipeline needs in dataDir. Close releases it.
func OpenService(s Settings, o ServiceOptions) (*Service, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger
	id, created, err := identity.LoadOrCreateKey(o.DataDir, o.Now())
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("new device key created; enrol this agent with `ness-agent enroll-request`", "agent", id.AgentID(),
			"key", filepath.Join(o.DataDir, identity.KeyFileName))
	}
	svc := &Service{ID: id, settings: s, log: log, Metrics: NewMetrics(o.Registerer)}
	certPath := identity.CertPath(o.DataDir, s.Cert)
	cert, err := identity.ReadCert(certPath, id)
	switch {
	case err != nil:
		svc.StoreOnly = fmt.Sprintf("no usable agent certificate (%s_CERT or %s): %v", agent.EnvPrefix, certPath, err)
	case strings.TrimSpace(s.HubKey) == "":
		svc.StoreOnly = agent.EnvPrefix + "_HUB_KEY is not set: receipts and leases cannot be checked"
	default:
		svc.Cert = cert
		if err := cert.Verify(o.Now()); err != nil {
			log.Warn("agent certificate is not valid now; publishing waits until it is (check the clock)", "cert", certPath, "err", err)
		}
	}
	svc.Outbox, err = outbox.Open(filepath.Join(o.DataDir, outbox.FileName), outbox.Options{
		MaxCount: s.OutboxMaxCount, MaxBytes: s.OutboxMaxBytes, AckRetention: s.OutboxAckRetention, Now: o.Now, Logger: log.With("component", "outbox")})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Service, error) {
		svc.Outbox.Close()
		return nil, err
	}
	cfg := Config{Identity: id, Cert: svc.Cert, Outbox: svc.Outbox, Now: o.Now,
		ReassemblyTimeout: s.ReassemblyTimeout, RepublishTimeout: s.RepublishTimeout, PublishTimeout: s.PublishTimeout,
		MaxInFlight: s.MaxInFlight, ShutdownGrace: s.ShutdownGrace, Logger: log, Metrics: svc.Metrics,
		OnPublished: o.OnPublished, OnDecodeError: svc.decodeError}
	if svc.StoreOnly != "" {
		cfg.StoreOnly, cfg.StoreOnlyReason = true, svc.StoreOnly
		if svc.Pipeline, err = New(cfg); err != nil {
			return fail(err)
		}
		return svc, nil
	}
	if cfg.HubKeys, err = identity.ParseHubKeys(s.HubKey); err != nil {
		return fail(err)
	}
	leases, err := identity.OpenLeases(filepath.Join(o.DataDir, identity.LeasesFileName), id.AgentID(), cfg.HubKeys, o.Now, log)
	if err != nil {
		return fail(err)
	}
	cfg.Leases = leases
	password, err := identity.MQTTPassword(s.MQTTPassword, o.DataDir)
	if err != nil {
		return fail(fmt.Errorf("%s_MQTT_PASSWORD: %w", agent.EnvPrefix, err))
	}
	will, err := OfflineStatus(id, o.Now())
	if err != nil {
		return fail(err)
	}
	svc.Link, err = mqttlink.New(mqttlink.Config{
		URL: s.MQTTURL, ClientID: id.AgentID(), Password: password,
		CAFile: s.MQTTCA, CertFile: s.MQTTCert, KeyFile: s.MQTTKey,
		MinBackoff: s.MQTTBackoff, MaxBackoff: s.MQTTBackoffM,
		Will:          &mqttlink.Will{Topic: wire.StatusTopic(id.AgentID()), Payload: will, Retained: true},
		Subscriptions: wire.AgentSubscriptions(id.AgentID()),
		OnMessage: func(topic string, payload []byte) {
			if pl := svc.Pipeline; pl != nil {
				pl.HandleMessage(topic, payload)
			}
		},
		Logger: log.With("component", "mqtt"),
	})
	if err != nil {
		return fail(err)
	}
	cfg.Publisher = svc.Link
	if svc.Pipeline, err = New(cfg); err != nil {
		return fail(err)
	}
	return svc, nil
}

func (svc *Service) decodeError(slot int) {
	if sup := svc.sup.Load(); sup != nil {
		sup.RecordDecodeError(slot)
	}
}

// Sink is where the supervisor hands every PDU.
func (svc *Service) Sink() agent.PartSink { return svc.Pipeline }

// Run runs the MQTT link, the pipeline and the status publisher (the slots from sup, nil for
// none) until ctx ends; the link outlives the others so the last PUBACKs and the offline status
// get out. It returns nil on cancel.
func (svc *Service) Run(ctx context.Context, sup *agent.Supervisor) error {
	if sup != nil {
		svc.sup.Store(sup)
	}
	if svc.Link == nil {
		return svc.Pipeline.Run(ctx)
	}
	linkCtx, stopLink := context.WithCancel(context.WithoutCancel(ctx))
	linkDone := make(chan struct{})
	go func() { svc.Link.Run(linkCtx); close(linkDone) }()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
			}
		}()
	}
	run("pipeline", svc.Pipeline.Run)
	var slots SlotSource
	if sup != nil {
		slots = supervisorSlots{sup}
	}
	run("status", func(ctx context.Context) error {
		return RunStatus(ctx, StatusConfig{Identity: svc.ID, Publisher: svc.Link, Slots: slots, Outbox: svc.Outbox,
			Metrics: svc.Metrics, Heartbeat: svc.settings.StatusInterval, Logger: svc.log})
	})
	wg.Wait()
	stopLink()
	<-linkDone
	return errors.Join(errs...)
}

// Close closes the outbox (after Run returned).
func (svc *Service) Close() error { return svc.Outbox.Close() }

// supervisorSlots adapts the supervisor to SlotSource.
type supervisorSlots struct{ s *agent.Supervisor }

func (a supervisorSlots) Snapshot() []wire.SlotStatus { return agent.WireStatuses(a.s.Snapshot()) }
func (a supervisorSlots) Changes() <-chan struct{}    { return a.s.Changes() }
