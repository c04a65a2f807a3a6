package broker_test

import (
	"testing"

	"github.com/ness-network/ness-sms/hub/broker"
	"github.com/ness-network/ness-sms/hub/broker/brokertest"
)

func BenchmarkRelayEmbedded(b *testing.B) {
	agents := brokertest.NewAgents(b, 1)
	hashes := map[string]string{}
	for _, a := range agents {
		h, err := broker.HashPassword(a.Password)
		if err != nil {
			b.Fatal(err)
		}
		hashes[a.ID] = h
	}
	hubPass, _ := broker.NewPassword()
	hubHash, _ := broker.HashPassword(hubPass)
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", HubPasswordHash: hubHash,
		Lookup: func(id string) (string, bool) { h, ok := hashes[id]; return h, ok }})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	brokertest.BenchRelay(b, brokertest.Target{AgentURL: br.URL(), HubURL: br.URL(),
		HubUser: broker.DefaultHubUsername, HubPassword: hubPass, Agents: agents})
}

func BenchmarkRelayMosquitto(b *testing.B) {
	m := startMosquitto(b, brokertest.NewAgents(b, 1))
	brokertest.BenchRelay(b, m.target)
}
