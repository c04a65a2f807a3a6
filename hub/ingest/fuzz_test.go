package ingest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/ingest"
	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/wire"
)

type nopPublisher struct{ n int }

func (p *nopPublisher) Publish(context.Context, string, byte, bool, []byte) error { p.n++; return nil }

// FuzzHandleSMS runs the whole ingest path (decode, certificate, signature, lease, store,
// receipt) on arbitrary topics and payloads against a real SQLite store holding one enrolled
// agent. Nothing may panic; every input is either accepted with a receipt or dropped with a
// known reason; only a payload signed by the agent can be accepted.
func FuzzHandleSMS(f *testing.F) {
	s, err := sqlite.OpenDir(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	key, _ := wire.GenerateIdentity()
	a := hubtest.Enroll(f, s, key, time.Now())
	pub := &nopPublisher{}
	in, err := ingest.New(ingest.Config{Store: s, Key: key, Receipts: pub})
	if err != nil {
		f.Fatal(err)
	}
	sim := "89490000000000000001"
	_, good := a.NewSMS(f, hubtest.SMS{ICCID: sim, Text: "seed"})
	topic := wire.SMSTopic(a.ID)
	f.Add(topic, good)
	f.Add(topic, []byte(`{}`))
	f.Add(topic, []byte(`{"v":1}`))
	f.Add(wire.StatusTopic(a.ID), good)
	f.Add("ness/v1/agent/+/sms", good)
	f.Add(topic, good[:len(good)-3])
	reasons := map[string]bool{}
	for _, r := range ingest.Reasons {
		reasons[r] = true
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		before := pub.n
		res, err := in.HandleSMS(context.Background(), topic, payload)
		if err != nil {
			var d *ingest.DropError
			if !errors.As(err, &d) || !reasons[d.Reason] {
				t.Fatalf("HandleSMS(%q): error %v is not a DropError with a known reason", topic, err)
			}
			return
		}
		if pub.n != before+1 || res.Receipt == nil {
			t.Fatalf("HandleSMS(%q) accepted without sending a receipt", topic)
		}
		m, derr := wire.DecodeSMS(payload)
		if derr != nil || m.Verify(a.Identity.Verify) != nil {
			t.Fatalf("HandleSMS(%q) accepted a payload the agent did not sign", topic)
		}
	})
}

// FuzzDecodeSMS: the decoding half alone, much faster per input.
func FuzzDecodeSMS(f *testing.F) {
	id, _ := wire.GenerateIdentity()
	a := &hubtest.Agent{ID: id.AgentID(), Identity: id, Provider: id}
	_, good := a.NewSMS(f, hubtest.SMS{ICCID: "89490000000000000001"})
	f.Add(wire.SMSTopic(a.ID), good)
	f.Add(wire.SMSTopic(a.ID), []byte(`{"v":1,"id":""}`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		m, err := ingest.DecodeSMS(topic, payload)
		if err != nil {
			if ingest.ReasonOf(err) == "" {
				t.Fatalf("DecodeSMS: error %v has no drop reason", err)
			}
			return
		}
		if tp, _ := wire.ParseTopic(topic); tp.AgentID != m.AgentID {
			t.Fatalf("DecodeSMS accepted agent %s on topic %s", m.AgentID, topic)
		}
	})
}
