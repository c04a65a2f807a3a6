package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/wire"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkStreamLatency measures ingest → WebSocket delivery: NESS_BENCH_RENTERS renters
// (default 1000) each rent a number through the API and keep a stream open; the agent publishes
// NESS_BENCH_RATE SMS/s (default 1000) for NESS_BENCH_SECONDS (default 10), round-robin over
// the renters' leases, through the embedded broker, ingest (verify, store, receipt) and
// notify. Latency is from the agent's publish call to the renter's read of the frame.
// NESS_BENCH_STORE=postgres runs on PostgreSQL. Run with -benchtime=1x.
func BenchmarkStreamLatency(b *testing.B) {
	renters, rate, secs := envInt("NESS_BENCH_RENTERS", 1000), envInt("NESS_BENCH_RATE", 1000), envInt("NESS_BENCH_SECONDS", 10)
	be := backends[0]
	if os.Getenv("NESS_BENCH_STORE") == "postgres" {
		be = backends[1]
	}
	e := startEnv(b, be, func(c *httpapi.Config) { c.IPRate, c.TokenRate = -1, -1 })
	prov := e.enrol(b, e.signIn(b))
	type renter struct {
		c     *client
		lease *wire.Lease
		ws    *websocket.Conn
	}
	rs := make([]*renter, renters)
	for i := range rs {
		number, iccid := fmt.Sprintf("+491510%07d", i), fmt.Sprintf("894900000000%07d", i)
		prov.bind(b, number, iccid)
		c := e.signIn(b)
		rent := c.rent(b, number)
		rs[i] = &renter{c: c}
		rs[i].lease = &wire.Lease{ICCID: iccid, Seq: rent.LeaseSeq, Renter: c.id.Public}
	}
	for _, r := range rs {
		ws, err := r.c.stream(b, "")
		if err != nil {
			b.Fatalf("open stream: %v", err)
		}
		ws.SetReadLimit(1 << 20)
		r.ws = ws
		defer ws.CloseNow()
	}
	total := rate * secs
	msgs := make([][]byte, total)
	ids := make([]string, total)
	for i := range msgs {
		m, payload := prov.agent.NewSMS(b, hubtest.SMS{ICCID: rs[i%renters].lease.ICCID, Lease: rs[i%renters].lease,
			Text: fmt.Sprintf("code %06d", i), PDU: []byte(fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i))})
		msgs[i], ids[i] = payload, m.ID
	}
	sent := make(map[string]int, total)
	for i, id := range ids {
		sent[id] = i
	}
	start := make([]atomic.Int64, total)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, total)
	var got atomic.Int64
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, data, err := r.ws.Read(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				var ev httpapi.StreamEvent
				if json.Unmarshal(data, &ev) != nil || ev.Message == nil {
					continue
				}
				i, ok := sent[ev.Message.ID]
				if !ok {
					continue
				}
				mu.Lock()
				lat = append(lat, now.Sub(time.Unix(0, start[i].Load())))
				mu.Unlock()
				if got.Add(1) == int64(total) {
					close(done)
				}
			}
		}()
	}
	b.ResetTimer()
	t0 := time.Now()
	interval := time.Second / time.Duration(rate)
	for i, p := range msgs {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		start[i].Store(time.Now().UnixNano())
		prov.mqtt.Publish(wire.SMSTopic(prov.agent.ID), 1, false, p) // async: the broker acks on its own
	}
	pubDur := time.Since(t0)
	select {
	case <-done:
	case <-time.After(120 * time.Second):
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	cancel()
	mu.Lock()
	slices.Sort(lat)
	n := len(lat)
	mu.Unlock()
	if n == 0 {
		b.Fatal("no message delivered")
	}
	q := func(p float64) time.Duration { return lat[min(n-1, int(float64(n)*p))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(lat[n-1].Microseconds())/1000, "max_ms")
	b.ReportMetric(float64(total)/pubDur.Seconds(), "offered_sms/s")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "delivered_sms/s")
	b.ReportMetric(float64(n), "delivered")
	if n != total {
		b.Errorf("delivered %d of %d SMS within 120s", n, total)
	}
}
