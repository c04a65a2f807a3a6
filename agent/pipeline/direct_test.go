package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/pdu"
	"github.com/ness-network/ness-sms/agent/pipeline"
	"github.com/ness-network/ness-sms/wire"
)

// TestDirectDeliveryStored: a +CMT delivery (the supervisor hands it on with Index -1 and no
// storage: it exists nowhere but in that URC) is stored and published like any other SMS. A
// refusal loses it for good, because nothing is left on the SIM to read again.
func TestDirectDeliveryStored(t *testing.T) {
	pub := &capture{sms: map[string]*wire.SMS{}, seen: make(chan struct{}, 1)}
	pl, _, provider := newPipeline(t, pub, pipeline.Config{})
	now := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	<-pl.Started()
	defer func() { cancel(); <-done }()

	const iccid = "89490000000000000077"
	pdus, err := pdu.EncodeDeliver("+4917000000", "direct delivery", now, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.StorePart(ctx, agent.ReceivedPart{Slot: 1, ICCID: iccid, Storage: "", Index: -1, PDU: pdus[0], ReceivedAt: now}); err != nil {
		t.Fatalf("StorePart(+CMT delivery, index -1): got %v, want nil (the SMS is on no SIM)", err)
	}
	select {
	case <-pub.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("direct delivery never published")
	}
	pub.mu.Lock()
	m := pub.sms[iccid]
	pub.mu.Unlock()
	pt, err := m.Open(provider)
	if err != nil {
		t.Fatal(err)
	}
	if pt.Text != "direct delivery" {
		t.Errorf("text %q, want %q", pt.Text, "direct delivery")
	}
}
