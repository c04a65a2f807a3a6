package ingest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/postgres"
	"github.com/ness-network/ness-sms/hub/postgres/pgtest"
	"github.com/ness-network/ness-sms/wire"
)

// BenchmarkIngest measures SMS per second verified + stored + receipted (the agent has the
// receipt) through a private Mosquitto, with SQLite and with PostgreSQL, and in the same run the
// raw Mosquitto relay rate of the same payloads (publish → subscriber receives, no processing),
// the ceiling. Payloads are built before the timer: 160-character texts sealed and signed.
//
//	go test ./hub/ingest -run '^$' -bench Ingest -benchtime 2000x
func BenchmarkIngest(b *testing.B) {
	mq := hubtest.StartMosquitto(b)
	b.Run("relay", func(b *testing.B) { benchRelay(b, mq) })
	b.Run("sqlite", func(b *testing.B) {
		benchHub(b, mq, hubtest.Options{BrokerURL: mq.URL, HubUser: mq.HubUser, HubPassword: mq.HubPassword})
	})
	b.Run("postgres", func(b *testing.B) {
		s, err := postgres.Open(context.Background(), pgtest.NewDatabase(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		benchHub(b, mq, hubtest.Options{Store: s, BrokerURL: mq.URL, HubUser: mq.HubUser, HubPassword: mq.HubPassword})
	})
}

const text160 = "Your verification code is 482913. It expires in 10 minutes. Do not share this code with anyone. If you did not request it, ignore this message. Thanks!!!!"

func payloads(b *testing.B, a *hubtest.Agent, l *wire.Lease, n int) [][]byte {
	out := make([][]byte, n)
	base := time.Now().Add(-time.Minute)
	for i := range out {
		_, out[i] = a.NewSMS(b, hubtest.SMS{ICCID: l.ICCID, Lease: l, Text: text160, Received: base.Add(time.Duration(i) * time.Microsecond)})
	}
	return out
}

func benchHub(b *testing.B, mq *hubtest.Mosquitto, o hubtest.Options) {
	h := hubtest.Start(b, o)
	a := h.Enroll(b)
	mq.Sync(b, h.Store)
	a.Connect(b, mq.URL)
	renter, _ := wire.GenerateIdentity()
	sim := fmt.Sprintf("8949%015d", time.Now().UnixNano()%1e15)
	r := h.Rent(b, a, sim, "+491706666666", renter)
	l := a.WaitLease(b, sim, r.LeaseSeq, wait)
	ps := payloads(b, a, l, b.N)
	start := len(a.Receipts())
	b.ResetTimer()
	t0 := time.Now()
	for _, p := range ps {
		a.Client.Publish(wire.SMSTopic(a.ID), 1, false, p) // the agent does not wait per message
	}
	a.WaitReceipts(b, start+b.N, 5*time.Minute)
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "sms/s")
	ms, err := h.Store.ListMessages(context.Background(), hub.MessageQuery{RentalID: r.ID, Limit: hub.MaxListLimit})
	if err != nil || (b.N <= hub.MaxListLimit && len(ms) != b.N) {
		b.Fatalf("stored: got %d, %v; want %d", len(ms), err, b.N)
	}
}

func benchRelay(b *testing.B, mq *hubtest.Mosquitto) {
	// The agent's own subtree is all an agent credential may use, so the relay runs on the hub
	// credential (no agent password needed), same payload sizes, same QoS.
	dial := func(id string) mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID(id).
			SetUsername(mq.HubUser).SetPassword(mq.HubPassword).SetCleanSession(true))
		if tok := c.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
			b.Fatalf("connect: %v", tok.Error())
		}
		b.Cleanup(func() { c.Disconnect(100) })
		return c
	}
	id, _ := wire.GenerateIdentity()
	a := &hubtest.Agent{ID: id.AgentID(), Identity: id, Provider: id}
	l := &wire.Lease{ICCID: "89490000000000000009", Seq: 1, Renter: id.Public}
	ps := payloads(b, a, l, b.N)
	topic := wire.SMSTopic(a.ID)
	var got atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	sub := dial("relay-sub-" + hubtest.UniqueID(b))
	if tok := sub.Subscribe(topic, 1, func(mqtt.Client, mqtt.Message) {
		if got.Add(1) == n {
			close(done)
		}
	}); !tok.WaitTimeout(wait) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
	pub := dial("relay-pub-" + hubtest.UniqueID(b))
	b.ResetTimer()
	t0 := time.Now()
	for _, p := range ps {
		pub.Publish(topic, 1, false, p)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("relay: got %d of %d", got.Load(), n)
	}
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "sms/s")
}
