package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/pdu"
	"github.com/ness-network/ness-sms/agent/pipeline"
)

// stuckPublisher never gets a PUBACK: Publish returns only when its context ends.
type stuckPublisher struct{ started chan struct{} }

func (s stuckPublisher) Publish(ctx context.Context, _ string, _ []byte, _ bool) error {
	select {
	case s.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestShutdownGraceBoundsPublishes: once ShutdownGrace has passed after cancel, Run returns
// even while a publish still waits for its PUBACK (the message stays in the outbox).
func TestShutdownGraceBoundsPublishes(t *testing.T) {
	pub := stuckPublisher{started: make(chan struct{}, 1)}
	const grace = 200 * time.Millisecond
	pl, ob, _ := newPipeline(t, pub, pipeline.Config{PublishTimeout: time.Minute, ShutdownGrace: grace})
	now := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	<-pl.Started()
	pdus, _ := pdu.EncodeDeliver("+4917000000", "stuck", now, "")
	if err := pl.StorePart(ctx, agent.ReceivedPart{Slot: 0, ICCID: "89490000000000000078", Storage: "SM", PDU: pdus[0], ReceivedAt: now}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pub.started:
	case <-time.After(10 * time.Second):
		t.Fatal("never published")
	}
	cancel()
	start := time.Now()
	select {
	case <-done:
		if d := time.Since(start); d > 5*grace {
			t.Errorf("Run returned %v after cancel, want about the grace %v", d, grace)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run still waiting 10 s after cancel with ShutdownGrace %v (PublishTimeout 1 min)", grace)
	}
	if st, _ := ob.Stats(); st.Sealed+st.Published != 1 {
		t.Errorf("outbox: %d sealed + %d published, want the message kept", st.Sealed, st.Published)
	}
}
