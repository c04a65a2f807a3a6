package brokertest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub/broker"
)

// BenchRelay measures the broker relaying QoS 1 messages (1 KiB) from one agent to one hub
// subscriber: b.N publishes, the agent keeping up to 64 unacknowledged, timed until the hub has
// received all of them. It reports msgs/s.
func BenchRelay(b *testing.B, tg Target) {
	r := &run{Target: tg, id: fmt.Sprintf("bench%d", time.Now().UnixNano())}
	var got atomic.Int64
	all := make(chan struct{})
	want := int64(b.N)
	hubOpts := paho.NewClientOptions().AddBroker(tg.HubURL).SetClientID("ness-hub-" + r.id).
		SetUsername(tg.HubUser).SetPassword(tg.HubPassword).SetAutoReconnect(false).SetTLSConfig(tg.TLS).
		SetOrderMatters(false)
	h := paho.NewClient(hubOpts)
	if tok := h.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		b.Fatalf("hub connect: %v", tok.Error())
	}
	defer h.Disconnect(50)
	a := tg.Agents[0]
	topic := broker.AgentTopicRoot + a.ID + "/" + r.id + "/msg"
	if tok := h.Subscribe(topic, 1, func(paho.Client, paho.Message) {
		if got.Add(1) == want {
			close(all)
		}
	}); !tok.WaitTimeout(wait) || tok.Error() != nil {
		b.Fatalf("hub subscribe: %v", tok.Error())
	}
	agOpts := paho.NewClientOptions().AddBroker(tg.AgentURL).SetClientID(a.ID).SetUsername(a.ID).
		SetPassword(a.Password).SetAutoReconnect(false).SetTLSConfig(tg.TLS)
	ag := paho.NewClient(agOpts)
	if tok := ag.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		b.Fatalf("agent connect: %v", tok.Error())
	}
	defer ag.Disconnect(50)
	payload := make([]byte, 1024)
	window := make(chan paho.Token, 64)
	done := make(chan error, 1)
	go func() {
		for tok := range window {
			if !tok.WaitTimeout(2*wait) || tok.Error() != nil {
				done <- fmt.Errorf("publish: %v", tok.Error())
				return
			}
		}
		done <- nil
	}()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		window <- ag.Publish(topic, 1, false, payload)
	}
	close(window)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		b.Fatalf("hub received %d of %d messages", got.Load(), want)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
