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
	"syscall"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/pipeline"
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

// agentMain is an agent process wired exactly as ness-agent wires it (pipeline.OpenService and
// Service.Run, configured from the same NESS_AGENT_* variables), with the real slot supervisor
// on the simulator's unix sockets instead of ptys and a power driver.
func agentMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fail := func(err error) int { log.Error("agent", "err", err); return 2 }
	var settings pipeline.Settings
	if err := envconfig.Process(agent.EnvPrefix, &settings); err != nil {
		return fail(err)
	}
	if err := settings.Validate(); err != nil {
		return fail(err)
	}
	svc, err := pipeline.OpenService(settings, pipeline.ServiceOptions{DataDir: os.Getenv("NESS_AGENT_DATA_DIR"), Logger: log})
	if err != nil {
		return fail(err)
	}
	defer svc.Close()
	slots, _ := strconv.Atoi(os.Getenv("NESS_TEST_SLOTS"))
	var sc []agent.SlotConfig
	for n := range slots {
		sc = append(sc, agent.SlotConfig{Port: filepath.Join(os.Getenv("NESS_TEST_SOCKETS"), fmt.Sprintf("slot%d.sock", n))})
	}
	timing := agent.DefaultTiming
	timing.SweepInterval = 2 * time.Second
	timing.HealthInterval = 10 * time.Second
	timing.ShutdownTimeout = 2 * time.Second
	sup, err := agent.NewSupervisor(agent.SupervisorConfig{Slots: sc, Ports: unixOpener{}, Sink: svc.Sink(), Timing: timing, Logger: log})
	if err != nil {
		return fail(err)
	}
	plDone := make(chan error, 1)
	go func() { plDone <- svc.Run(ctx, sup) }()
	if err := sup.Run(ctx); err != nil {
		log.Error("supervisor", "err", err)
	}
	if err := <-plDone; err != nil {
		log.Error("pipeline", "err", err)
	}
	return 0
}

// agentEnv is the environment of an agent process: the pipeline's settings for a fast test.
func agentEnv(dataDir, brokerURL, hubKey, sockets string, slots int) []string {
	return append(os.Environ(), agentModeEnv+"=1",
		"NESS_AGENT_DATA_DIR="+dataDir, "NESS_AGENT_MQTT_URL="+brokerURL, "NESS_AGENT_HUB_KEY="+hubKey,
		"NESS_AGENT_REPUBLISH_TIMEOUT=5s", "NESS_AGENT_PUBLISH_TIMEOUT=3s", "NESS_AGENT_REASSEMBLY_TIMEOUT=1m",
		"NESS_AGENT_MQTT_BACKOFF_MIN=100ms", "NESS_AGENT_MQTT_BACKOFF_MAX=2s",
		"NESS_TEST_SOCKETS="+sockets, fmt.Sprintf("NESS_TEST_SLOTS=%d", slots))
}
