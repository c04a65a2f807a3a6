package systest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkE2ELatency measures modem → renter latency through the whole network of TestE2E
// (ness-modemsim 32 slots → ness-agent → Mosquitto → two ness-hub on PostgreSQL → renters on
// WebSocket), with no faults: SMS are injected into random slots at NESS_BENCH_RATES (default
// "100,1000") SMS/s for NESS_BENCH_SECONDS (default 10) each; the clock starts when the
// simulator accepts the SMS (it raises +CMTI at once) and stops when the renter's WebSocket
// frame arrives and opens to the injected text. It reports p50/p99 per offered rate, the rate
// actually delivered, and the peak resident memory of the agent and of each hub.
//
//	NESS_E2E=1 go test -run '^$' -bench E2ELatency -benchtime 1x ./scripts/systest
func BenchmarkE2ELatency(b *testing.B) {
	requireSystem(b, "mosquitto", "runuser")
	rates := []int{100, 1000}
	if v := os.Getenv("NESS_BENCH_RATES"); v != "" {
		rates = nil
		for _, f := range strings.Split(v, ",") {
			var r int
			if _, err := fmt.Sscan(f, &r); err != nil || r <= 0 {
				b.Fatalf("NESS_BENCH_RATES=%q: want positive integers", v)
			}
			rates = append(rates, r)
		}
	}
	secs := envInt(b, "NESS_BENCH_SECONDS", 10)
	const slots, renters = 32, 8
	nw := startNetwork(b, slots, renters, false)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for _, rt := range nw.renters {
		wg.Add(1)
		go func() { defer wg.Done(); streamLoop(ctx, rt, nw.hubs, nw.led) }()
	}
	defer func() { cancel(); wg.Wait() }()

	// Peak RSS of the agent and the hubs, sampled every 100 ms.
	var peakAgent, peakHub atomic.Int64
	idleAgent, idleHub := rssKiB(nw.agent.pid()), max(rssKiB(nw.hubs[0].pid()), rssKiB(nw.hubs[1].pid()))
	stopRSS := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopRSS:
				return
			case <-t.C:
			}
			if v := int64(rssKiB(nw.agent.pid())); v > peakAgent.Load() {
				peakAgent.Store(v)
			}
			for _, h := range nw.hubs {
				if v := int64(rssKiB(h.pid())); v > peakHub.Load() {
					peakHub.Store(v)
				}
			}
		}
	}()
	defer close(stopRSS)

	k := 0
	b.ResetTimer()
	for range b.N {
		for _, rate := range rates {
			first := k
			var refused atomic.Int64
			start := time.Now()
			n := rate * secs
			// Several injectors so the control API's round trip does not cap the rate.
			var iwg sync.WaitGroup
			const injectors = 8
			for w := range injectors {
				iwg.Add(1)
				go func() {
					defer iwg.Done()
					for i := w; i < n; i += injectors {
						at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
						time.Sleep(time.Until(at))
						kk := first + i
						slot := rand.IntN(slots)
						in := &injected{k: kk, slot: slot, renter: nw.renterOfSlot[slot], from: fmt.Sprintf("+4917%08d", kk),
							text: fmt.Sprintf("e2e %d bench", kk)}
						nw.led.mu.Lock()
						nw.led.sms[kk] = in
						nw.led.mu.Unlock()
						in.at = time.Now()
						st, err := nw.sim.post(fmt.Sprintf("/slots/%d/sms", slot), map[string]string{"from": in.from, "text": in.text})
						if err != nil || st != http.StatusOK {
							nw.led.mu.Lock()
							delete(nw.led.sms, kk)
							nw.led.mu.Unlock()
							refused.Add(1)
						}
					}
				}()
			}
			iwg.Wait()
			injEnd := time.Now()
			k = first + n
			// Wait for everything injected at this rate (at most 2 minutes).
			deadline := time.Now().Add(2 * time.Minute)
			var lat []time.Duration
			var last time.Time
			for {
				lat, last = lat[:0], time.Time{}
				missing := 0
				nw.led.mu.Lock()
				for kk := first; kk < first+n; kk++ {
					in := nw.led.sms[kk]
					if in == nil {
						continue
					}
					at, ok := nw.led.firstLive[kk]
					if !ok {
						missing++
						continue
					}
					lat = append(lat, at.Sub(in.at))
					if at.After(last) {
						last = at
					}
				}
				nw.led.mu.Unlock()
				if missing == 0 || time.Now().After(deadline) {
					if missing > 0 {
						b.Errorf("rate %d: %d SMS not delivered within 2 minutes", rate, missing)
					}
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if len(lat) == 0 {
				b.Fatalf("rate %d: nothing delivered", rate)
			}
			slices.Sort(lat)
			p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			accepted := n - int(refused.Load())
			injRate := float64(accepted) / injEnd.Sub(start).Seconds()
			delRate := float64(len(lat)) / last.Sub(start).Seconds()
			b.ReportMetric(p(0.50), fmt.Sprintf("p50-ms@%d/s", rate))
			b.ReportMetric(p(0.99), fmt.Sprintf("p99-ms@%d/s", rate))
			b.ReportMetric(delRate, fmt.Sprintf("delivered-sms/s@%d/s", rate))
			b.Logf("offered %d SMS/s for %ds: %d accepted by the SIMs (%d refused: storage full), injected at %.0f/s, delivered %d at %.0f/s; modem → renter p50 %.1f ms, p99 %.1f ms, max %.1f ms",
				rate, secs, accepted, refused.Load(), injRate, len(lat), delRate, p(0.50), p(0.99), float64(lat[len(lat)-1].Microseconds())/1000)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peakAgent.Load())/1024, "agent-MiB-RSS-peak")
	b.ReportMetric(float64(peakHub.Load())/1024, "hub-MiB-RSS-peak")
	b.Logf("resident memory: agent %.1f MiB idle → %.1f MiB peak; hub %.1f MiB idle → %.1f MiB peak (largest of the two instances)",
		float64(idleAgent)/1024, float64(peakAgent.Load())/1024, float64(idleHub)/1024, float64(peakHub.Load())/1024)
	nw.led.mu.Lock()
	bad := nw.led.bad
	nw.led.mu.Unlock()
	for _, x := range bad {
		b.Errorf("bad message: %s", x)
	}
}
