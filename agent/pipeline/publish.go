package pipeline

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/agent/outbox"
	"github.com/ness-network/ness-sms/wire"
)

// publisher publishes due messages until ctx ends, then waits for its in-flight publishes. Each
// PUBACK wait runs on drainCtx (which outlives ctx until Run's ShutdownGrace ends) and is bounded
// by PublishTimeout.
func (p *Pipeline) publisher(ctx, drainCtx context.Context) {
	sem := make(chan struct{}, p.cfg.MaxInFlight)
	defer func() { // wait for every in-flight publish to return its slot
		for range p.cfg.MaxInFlight {
			sem <- struct{}{}
		}
	}()
	tick := time.NewTicker(p.cfg.ScanInterval)
	defer tick.Stop()
	ls, _ := p.cfg.Publisher.(linkState)
	republishEvery := max(p.cfg.RepublishTimeout/4, p.cfg.ScanInterval)
	var lastRepublishScan time.Time
	for {
		var changed <-chan struct{}
		up := true
		if ls != nil {
			changed = ls.Changed()
			up = ls.Connected()
		}
		if up && p.certOK() {
			now := p.cfg.Now()
			p.scan(ctx, drainCtx, sem, outbox.Sealed, now)
			if now.Sub(lastRepublishScan) >= republishEvery || now.Before(lastRepublishScan) {
				lastRepublishScan = now
				p.scan(ctx, drainCtx, sem, outbox.Published, now)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-p.sealed:
		case <-tick.C:
		case <-changed:
			lastRepublishScan = time.Time{} // back online: look at everything
			if ls != nil && ls.Connected() {
				// The broker may have lost what it acknowledged before (a restart without
				// persistence, or no hub subscribed to take it): send again what has no receipt.
				p.markReady()
			}
		case <-p.ready:
			lastRepublishScan = time.Time{}
		}
	}
}

// certOK reports whether the agent certificate allows publishing now (logged once a minute
// when it does not).
func (p *Pipeline) certOK() bool {
	err := identity.CheckCert(p.cfg.Cert, p.cfg.Identity, p.cfg.Now())
	if err == nil {
		p.m.Publishing.Set(1)
		return true
	}
	p.m.Publishing.Set(0)
	p.m.Errors.WithLabelValues("cert").Inc()
	if now := time.Now(); now.Sub(p.certWarned) > time.Minute {
		p.certWarned = now
		p.log.Error("not publishing: no valid agent certificate; messages wait in the outbox", "err", err)
	}
	return false
}

// scan publishes the messages in state s that are due, page by page, blocking on sem; the
// publishes run on drainCtx.
func (p *Pipeline) scan(ctx, drainCtx context.Context, sem chan struct{}, s outbox.State, now time.Time) {
	for m, err := range p.cfg.Outbox.Pending(s) {
		if err != nil {
			p.m.Errors.WithLabelValues("outbox").Inc()
			p.log.Error("outbox scan failed", "state", s, "err", err)
			return
		}
		if s == outbox.Published {
			if age := now.Sub(m.LastPublish); age >= 0 && age < p.cfg.RepublishTimeout && !m.LastPublish.Before(p.readySince()) {
				continue
			}
		}
		p.mu.Lock()
		_, busy := p.inflight[m.ID]
		if !busy {
			p.inflight[m.ID] = struct{}{}
		}
		p.mu.Unlock()
		if busy {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			p.done(m.ID)
			return
		}
		p.m.InFlight.Inc()
		go func() {
			defer func() {
				p.done(m.ID)
				p.m.InFlight.Dec()
				<-sem
			}()
			p.publish(drainCtx, m, s == outbox.Published)
		}()
	}
}

// markReady records that everything sent until now and without a receipt is to be published
// again at once (a hub has just subscribed, or the link has just come back), and wakes the
// publisher.
func (p *Pipeline) markReady() {
	p.mu.Lock()
	p.readyAt = p.cfg.Now()
	p.mu.Unlock()
	p.kickReady()
}

// hubReadyCoalesce: a hub's ready within this long of the previous one publishes nothing again.
// Once one hub has subscribed the broker drops nothing more, so the second hub's ready after a
// broker restart (or a third) would only send the backlog again.
const hubReadyCoalesce = 5 * time.Second

// hubReadyDue reports whether a hub's ready should publish again (and records it).
func (p *Pipeline) hubReadyDue() bool {
	now := p.cfg.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.lastHubReady.IsZero() && now.Sub(p.lastHubReady) >= 0 && now.Sub(p.lastHubReady) < hubReadyCoalesce {
		return false
	}
	p.lastHubReady = now
	return true
}

func (p *Pipeline) kickReady() {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func (p *Pipeline) readySince() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readyAt
}

func (p *Pipeline) done(id string) {
	p.mu.Lock()
	delete(p.inflight, id)
	p.mu.Unlock()
}

// publish sends one sealed message and records the PUBACK. A failure leaves the message as it
// was: a Sealed one is tried at the next scan, a Published one after RepublishTimeout.
func (p *Pipeline) publish(ctx context.Context, m outbox.Message, again bool) {
	// ctx is Run's drain context: the PUBACK wait survives the shutdown signal until the grace
	// period ends.
	pctx, cancel := context.WithTimeout(ctx, p.cfg.PublishTimeout)
	defer cancel()
	start := time.Now()
	// The message's publish time is when it was sent, not when the PUBACK came: a hub's ready
	// that arrives between the two must still cover it.
	sentAt := p.cfg.Now()
	err := p.cfg.Publisher.Publish(pctx, wire.SMSTopic(p.agentID), m.Sealed, false)
	if err != nil {
		p.m.Published.WithLabelValues("error").Inc()
		if errors.Is(err, context.DeadlineExceeded) {
			p.log.Warn("publish: no PUBACK in time", "id", m.ID, "timeout", p.cfg.PublishTimeout)
		} else {
			p.log.Debug("publish failed", "id", m.ID, "err", err)
		}
		return
	}
	p.m.PublishSeconds.Observe(time.Since(start).Seconds())
	at := p.cfg.Now()
	if err := p.cfg.Outbox.MarkPublished(m.ID, sentAt); err != nil && !errors.Is(err, outbox.ErrNotFound) {
		p.m.Errors.WithLabelValues("outbox").Inc()
		p.log.Error("mark published failed", "id", m.ID, "err", err)
	}
	if sentAt.Before(p.readySince()) {
		p.kickReady() // a ready came while this one was in flight: the scan that followed skipped it
	}
	if again {
		p.m.Published.WithLabelValues("republished").Inc()
	} else {
		p.m.Published.WithLabelValues("ok").Inc()
	}
	if len(m.Parts) > 0 {
		p.m.ReadToPubackSeconds.Observe(at.Sub(m.Parts[0].Received).Seconds())
	}
	if p.cfg.OnPublished != nil {
		if s, err := wire.DecodeSMS(m.Sealed); err == nil {
			p.cfg.OnPublished(s, at)
		}
	}
}

// HandleMessage takes one message from the broker: a receipt or a lease for this agent. It is
// safe for concurrent use (mqttlink calls it from paho's goroutines). Payloads are outside
// bytes: decoded strictly, signatures checked against the pinned hub keys.
func (p *Pipeline) HandleMessage(topic string, payload []byte) {
	t, err := wire.ParseTopic(topic)
	if err != nil || t.AgentID != p.agentID {
		p.m.Receipts.WithLabelValues("bad_topic").Inc()
		p.log.Warn("message on an unexpected topic ignored", "topic", topic, "err", err)
		return
	}
	switch t.Kind {
	case wire.TopicReceipt:
		p.handleReceipt(payload)
	case wire.TopicReady:
		// Payload informative only (the hub's client id), not parsed.
		p.m.HubReady.Inc()
		if !p.hubReadyDue() {
			return // another hub's ready just did it: after one hub subscribed, nothing is dropped
		}
		p.log.Info("a hub subscribed; publishing again what has no receipt", "hub", truncateID(payload))
		p.markReady()
	case wire.TopicLease:
		if len(payload) == 0 {
			p.log.Info("retained lease cleared on the broker; the stored lease stays until a newer one", "iccid", t.ICCID)
			return
		}
		accepted, err := p.cfg.Leases.Offer(t.ICCID, payload)
		switch {
		case err != nil:
			p.m.Leases.WithLabelValues("rejected").Inc()
		case accepted:
			p.m.Leases.WithLabelValues("accepted").Inc()
		default:
			p.m.Leases.WithLabelValues("repeat").Inc()
		}
	default:
		p.log.Warn("message on an unexpected topic ignored", "topic", topic)
	}
}

func (p *Pipeline) handleReceipt(payload []byte) {
	r, err := wire.DecodeReceipt(payload)
	if err == nil {
		err = r.Verify(p.cfg.HubKeys)
	}
	if err == nil && r.AgentID != p.agentID {
		err = errors.New("receipt names agent " + r.AgentID)
	}
	if err != nil {
		p.m.Receipts.WithLabelValues("invalid").Inc()
		p.log.Warn("receipt rejected", "err", err)
		return
	}
	acked, err := p.cfg.Outbox.Ack(r.MessageID)
	if err != nil {
		p.m.Errors.WithLabelValues("outbox").Inc()
		p.log.Error("ack failed; the message will be published again", "id", r.MessageID, "err", err)
		return
	}
	if acked {
		p.m.Receipts.WithLabelValues("acked").Inc()
	} else {
		p.m.Receipts.WithLabelValues("repeat").Inc()
	}
}

// truncateID returns at most 64 bytes of b, for logs.
func truncateID(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.ToValidUTF8(string(b), "?")
}
