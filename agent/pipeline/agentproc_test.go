package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/agent/mqttlink"
	"github.com/ness-network/ness-sms/agent/outbox"
	"github.com/ness-network/ness-sms/agent/pipeline"
	"github.com/ness-network/ness-sms/wire"
)

// agentModeEnv makes the test binary run as a ness-agent process (so tests can SIGKILL it).
const agentModeEnv = "NESS_PIPELINE_TEST_AGENT"

func TestMain(m *testing.M) {
	if os.Getenv(agentModeEnv) == "1" {
		os.Exit(agentMain())
	}
	os.Exit(m.Run())
}

// unixOpener opens ness-modemsim's unix sockets as AT ports.
type unixOpener struct{}

func (unixOpener) OpenPort(port string, _ int) (io.ReadWriteCloser, string, error) {
	c, err := net.Dial("unix", port)
	return c, port, err
}

// slotSource adapts the supervisor to pipeline.SlotSource.
type slotSource struct{ s *agent.Supervisor }

func (a slotSource) Snapshot() []wire.SlotStatus { return agent.WireStatuses(a.s.Snapshot()) }
func (a slotSource) Changes() <-chan struct{}    { return a.s.Changes() }

// agentMain is the agent as ness-agent wires it: device key, certificate, outbox, leases, MQTT
// link, pipeline, status and the real slot supervisor on the simulator's sockets.
func agentMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fail := func(err error) int { log.Error("agent", "err", err); return 2 }
	dir := os.Getenv("NESS_AGENT_DATA_DIR")
	slots, _ := strconv.Atoi(os.Getenv("NESS_TEST_SLOTS"))
	id, _, err := identity.LoadOrCreateKey(dir, time.Now())
	if err != nil {
		return fail(err)
	}
	cert, err := identity.LoadCert(identity.CertPath(dir, os.Getenv("NESS_AGENT_CERT")), id, time.Now())
	if err != nil {
		return fail(err)
	}
	hubKeys, err := identity.ParseHubKeys(os.Getenv("NESS_AGENT_HUB_KEY"))
	if err != nil {
		return fail(err)
	}
	ob, err := outbox.Open(filepath.Join(dir, outbox.FileName), outbox.Options{Logger: log})
	if err != nil {
		return fail(err)
	}
	defer ob.Close()
	leases, err := identity.OpenLeases(filepath.Join(dir, identity.LeasesFileName), id.AgentID(), hubKeys, nil, log)
	if err != nil {
		return fail(err)
	}
	will, err := pipeline.OfflineStatus(id, time.Now())
	if err != nil {
		return fail(err)
	}
	var pl *pipeline.Pipeline
	link, err := mqttlink.New(mqttlink.Config{
		URL: os.Getenv("NESS_AGENT_MQTT_URL"), ClientID: id.AgentID(), MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second,
		Will:          &mqttlink.Will{Topic: wire.StatusTopic(id.AgentID()), Payload: will, Retained: true},
		Subscriptions: wire.AgentSubscriptions(id.AgentID()),
		OnMessage:     func(topic string, payload []byte) { pl.HandleMessage(topic, payload) },
		Logger:        log,
	})
	if err != nil {
		return fail(err)
	}
	pl, err = pipeline.New(pipeline.Config{Identity: id, Cert: cert, HubKeys: hubKeys, Outbox: ob, Leases: leases,
		Publisher: link, RepublishTimeout: 5 * time.Second, PublishTimeout: 3 * time.Second, ReassemblyTimeout: time.Minute, Logger: log})
	if err != nil {
		return fail(err)
	}
	var sc []agent.SlotConfig
	for n := range slots {
		sc = append(sc, agent.SlotConfig{Port: filepath.Join(os.Getenv("NESS_TEST_SOCKETS"), fmt.Sprintf("slot%d.sock", n))})
	}
	timing := agent.DefaultTiming
	timing.SweepInterval = 2 * time.Second
	timing.HealthInterval = 10 * time.Second
	timing.ShutdownTimeout = 2 * time.Second
	sup, err := agent.NewSupervisor(agent.SupervisorConfig{Slots: sc, Ports: unixOpener{}, Sink: pl, Timing: timing, Logger: log})
	if err != nil {
		return fail(err)
	}
	var wg sync.WaitGroup
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				log.Error("agent part failed", "err", err)
			}
		}()
	}
	// The link outlives the others: the pipeline's last PUBACKs and the offline status need it.
	linkCtx, stopLink := context.WithCancel(context.Background())
	linkDone := make(chan struct{})
	go func() { link.Run(linkCtx); close(linkDone) }()
	run(pl.Run)
	run(sup.Run)
	run(func(ctx context.Context) error {
		return pipeline.RunStatus(ctx, pipeline.StatusConfig{Identity: id, Publisher: link, Slots: slotSource{sup}, Outbox: ob, Logger: log})
	})
	wg.Wait()
	stopLink()
	<-linkDone
	return 0
}
