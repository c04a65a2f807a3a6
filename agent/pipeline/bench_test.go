package pipeline_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/agent/modemsim"
	"github.com/ness-network/ness-sms/agent/pdu"
	"github.com/ness-network/ness-sms/agent/pipeline"
	"github.com/ness-network/ness-sms/agent/pipeline/pipelinetest"
	"github.com/ness-network/ness-sms/wire"
)

// benchRig is the whole agent in this process, wired by pipeline.OpenService as ness-agent
// wires it, with the real supervisor on 32 zero-delay simulated modems (unix sockets), a
// private Mosquitto and the stand-in hub answering with receipts. Every SIM is leased, so each
// SMS is sealed to a renter as in production.
type benchRig struct {
	b       *testing.B
	sim     *modemsim.Simulator
	agentID string
	iccids  []string

	mu        sync.Mutex
	published map[string]time.Time // message id → PUBACK (agent clock)
	notify    chan struct{}
	next      int
}

func newBenchRig(b *testing.B, slots int) *benchRig {
	b.Helper()
	r := &benchRig{b: b, published: map[string]time.Time{}, notify: make(chan struct{}, 1)}
	var hubKey, provider, renter *wire.Identity
	for _, p := range []**wire.Identity{&hubKey, &provider, &renter} {
		*p, _ = wire.GenerateIdentity()
	}
	broker := pipelinetest.StartBroker(b)
	hub := pipelinetest.StartHub(b, broker.URL, hubKey)
	var err error
	r.sim, err = modemsim.New(modemsim.Config{Slots: slots, Capacity: 50, Seed: rand.Int64()})
	if err != nil {
		b.Fatal(err)
	}
	sockets, err := os.MkdirTemp("/tmp", "ness-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(sockets) })
	closer, err := r.sim.ServeSockets(sockets)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closer.Close() })

	dataDir := b.TempDir()
	id, _, err := identity.LoadOrCreateKey(dataDir, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	r.agentID = id.AgentID()
	cert, _ := wire.NewAgentCert(id.Verify, provider, "", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	cb, _ := cert.MarshalJSON()
	if err := os.WriteFile(filepath.Join(dataDir, identity.CertFileName), cb, 0o600); err != nil {
		b.Fatal(err)
	}
	hub.AddAgent(cert)
	for _, s := range r.sim.Slots() {
		r.iccids = append(r.iccids, s.Identity().ICCID)
		hub.PublishLease(pipelinetest.Lease(b, hubKey, r.agentID, s.Identity().ICCID, renter.Public, 1,
			time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)))
	}

	settings := defaults(b)
	settings.MQTTURL, settings.HubKey = broker.URL, hubKey.Verify.String()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	svc, err := pipeline.OpenService(settings, pipeline.ServiceOptions{DataDir: dataDir, Logger: log,
		OnPublished: func(m *wire.SMS, _ time.Time) {
			at := time.Now()
			r.mu.Lock()
			r.published[m.ID] = at
			r.mu.Unlock()
			select {
			case r.notify <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	var sc []agent.SlotConfig
	for n := range slots {
		sc = append(sc, agent.SlotConfig{Port: filepath.Join(sockets, fmt.Sprintf("slot%d.sock", n))})
	}
	sup, err := agent.NewSupervisor(agent.SupervisorConfig{Slots: sc, Ports: unixOpener{}, Sink: svc.Sink(), Timing: agent.DefaultTiming, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); svc.Run(ctx, sup) }()
	go func() { defer wg.Done(); sup.Run(ctx) }()
	b.Cleanup(func() { cancel(); wg.Wait(); svc.Close() })

	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := 0
		for _, st := range sup.Snapshot() {
			if st.State == agent.StateReady {
				ready++
			}
		}
		if ready == slots && svc.Link.Connected() {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d slots ready, link up %v after 60 s", ready, slots, svc.Link.Connected())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // retained leases arrive after the subscription
	return r
}

// inject delivers one single-part SMS to slot n (retrying while its storage is full) and
// returns its message id and when the simulator raised +CMTI.
func (r *benchRig) inject(n int) (string, time.Time) {
	r.next++
	pdus, err := pdu.EncodeDeliver("+4917012345"+strconv.Itoa(n%10), fmt.Sprintf("Your code is %06d", r.next), time.Now(), "+4917000000")
	if err != nil {
		r.b.Fatal(err)
	}
	id := wire.MessageID(r.agentID, r.iccids[n], pdus)
	for {
		at := time.Now()
		if _, err := r.sim.Slots()[n].InjectPDUs(pdus...); err == nil {
			return id, at
		} else if !strings.Contains(err.Error(), "full") {
			r.b.Fatalf("slot %d: inject: %v", n, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// wait waits until every id has its PUBACK and returns the PUBACK times.
func (r *benchRig) wait(ids []string, timeout time.Duration) []time.Time {
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		out := make([]time.Time, 0, len(ids))
		for _, id := range ids {
			if at, ok := r.published[id]; ok {
				out = append(out, at)
			}
		}
		r.mu.Unlock()
		if len(out) == len(ids) {
			return out
		}
		select {
		case <-r.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			r.b.Fatalf("%d of %d SMS published after %v", len(out), len(ids), timeout)
		}
	}
}

// rssSampler records the process's peak VmRSS while it runs.
func rssSampler(b *testing.B) (stop func() float64) {
	done := make(chan struct{})
	peak := make(chan float64)
	go func() {
		var p float64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			p = max(p, vmRSSMiB(b))
			select {
			case <-done:
				peak <- p
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 { close(done); return <-peak }
}

func vmRSSMiB(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkPipelineLatency32Slots: the agent's overhead from +CMTI to the broker's PUBACK, one
// SMS at a time (each waits for the previous PUBACK), rotating over 32 zero-delay simulated
// slots: read (AT+CMGR), outbox write with fsync, AT+CMGD, assembly, seal to the renter, sign,
// outbox seal with fsync, publish QoS 1, PUBACK, outbox mark with fsync.
//
//	go test -run '^$' -bench PipelineLatency32Slots -benchtime 500x ./agent/pipeline
func BenchmarkPipelineLatency32Slots(b *testing.B) {
	r := newBenchRig(b, 32)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id, at := r.inject(i % 32)
		pub := r.wait([]string{id}, 30*time.Second)
		lat = append(lat, pub[0].Sub(at))
	}
	b.StopTimer()
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.Logf("+CMTI → PUBACK over %d SMS: p50 %v, p99 %v, max %v", len(lat), p50.Round(10*time.Microsecond),
		p99.Round(10*time.Microsecond), slices.Max(lat).Round(10*time.Microsecond))
}

// BenchmarkPipelineThroughput32Slots: sustained SMS/s across 32 slots, injected as fast as the
// SIM storages take them, until the last PUBACK; and the peak RSS of this process during the
// run (the agent plus, in the same process, the 32 simulated modems and the stand-in hub's
// client; the broker runs in its own process).
//
//	go test -run '^$' -bench PipelineThroughput32Slots -benchtime 3000x ./agent/pipeline
func BenchmarkPipelineThroughput32Slots(b *testing.B) {
	r := newBenchRig(b, 32)
	runtime.GC()
	base := vmRSSMiB(b)
	stopRSS := rssSampler(b)
	ids := make([]string, 0, b.N)
	ats := make([]time.Time, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		id, at := r.inject(i % 32)
		ids, ats = append(ids, id), append(ats, at)
	}
	pubs := r.wait(ids, 10*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	peak := stopRSS()
	lat := make([]time.Duration, len(ids))
	for i := range ids {
		lat[i] = pubs[i].Sub(ats[i])
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "SMS/s")
	b.ReportMetric(peak, "MiB-RSS-peak")
	b.Logf("%d SMS over 32 slots in %v: %.0f SMS/s; +CMTI → PUBACK under load p50 %v p99 %v; RSS %.1f MiB before, peak %.1f MiB",
		b.N, elapsed.Round(time.Millisecond), rate, percentile(lat, .5).Round(time.Millisecond), percentile(lat, .99).Round(time.Millisecond), base, peak)
}
