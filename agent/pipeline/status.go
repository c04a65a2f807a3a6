package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/ness-network/ness-sms/agent/outbox"
	"github.com/ness-network/ness-sms/wire"
)

// SlotSource is what the slot supervisor offers the status publisher: a snapshot of every
// slot and a channel that receives (or is closed and replaced) when something changed.
type SlotSource interface {
	Snapshot() []wire.SlotStatus
	Changes() <-chan struct{}
}

// StatusConfig configures RunStatus.
type StatusConfig struct {
	Identity  *wire.Identity
	Publisher Publisher
	Slots     SlotSource // nil: the status carries no slots
	Outbox    *outbox.Outbox
	Metrics   *Metrics
	Now       func() time.Time
	// MinInterval rate-limits publishing on changes; default 5 s.
	MinInterval time.Duration
	// Heartbeat republishes the agent status (and refreshes the outbox metrics) this often
	// without changes; default 60 s.
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// OfflineStatus returns the signed "offline" agent status (no slots): the MQTT last will, and
// what a clean shutdown publishes.
func OfflineStatus(id *wire.Identity, now time.Time) ([]byte, error) {
	s := &wire.Status{Version: wire.Version, AgentID: id.AgentID(), Time: now, Online: false, Slots: []wire.SlotStatus{}}
	if err := s.Sign(id); err != nil {
		return nil, err
	}
	return s.MarshalJSON()
}

// RunStatus publishes the retained, signed agent status (every slot, with each slot's outbox
// depth) and each changed slot's retained status: at start, on a slot change (at most once per
// MinInterval), on every Heartbeat, and when the link comes back. It updates the outbox gauges
// and logs the outbox-full alarm when it is raised and cleared. When ctx ends it publishes the
// offline status (bounded to 2 s) and returns nil. It runs on its own goroutine and owns all of
// its state.
func RunStatus(ctx context.Context, cfg StatusConfig) error {
	if cfg.Identity == nil || cfg.Publisher == nil || cfg.Outbox == nil {
		return errors.New("status: identity, publisher and outbox are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = 5 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	log := cfg.Logger.With("component", "status")
	agentID := cfg.Identity.AgentID()
	ls, _ := cfg.Publisher.(linkState)
	published := map[uint32]wire.SlotStatus{} // last published per-slot status
	full := false
	var last time.Time
	publish := func(force bool) {
		st, err := cfg.Outbox.Stats()
		if err != nil {
			cfg.Metrics.Errors.WithLabelValues("status").Inc()
			log.Error("outbox stats failed", "err", err)
		} else {
			m := cfg.Metrics
			m.OutboxRecords.WithLabelValues("parts").Set(float64(st.Parts))
			m.OutboxRecords.WithLabelValues("assembled").Set(float64(st.Assembled))
			m.OutboxRecords.WithLabelValues("sealed").Set(float64(st.Sealed))
			m.OutboxRecords.WithLabelValues("published").Set(float64(st.Published))
			m.OutboxOldestSeconds.Set(st.OldestAge.Seconds())
			if st.Full {
				m.OutboxFull.Set(1)
			} else {
				m.OutboxFull.Set(0)
			}
			if st.Full != full {
				full = st.Full
				if full {
					log.Error("ALARM outbox full: new SMS wait on the SIMs until the hub acknowledges", "count", st.Count, "max_count", st.MaxCount, "bytes", st.Bytes, "max_bytes", st.MaxBytes)
				} else {
					log.Info("outbox alarm cleared", "count", st.Count)
				}
			}
		}
		var slots []wire.SlotStatus
		if cfg.Slots != nil {
			slots = slices.Clone(cfg.Slots.Snapshot())
		}
		depth := depthBySlot(cfg.Outbox)
		for i := range slots {
			slots[i].OutboxDepth = depth[int(slots[i].Slot)]
		}
		now := cfg.Now()
		s := &wire.Status{Version: wire.Version, AgentID: agentID, Time: now, Online: true, Slots: slots}
		if s.Slots == nil {
			s.Slots = []wire.SlotStatus{}
		}
		if err := sendStatus(ctx, cfg, s, wire.StatusTopic(agentID)); err != nil {
			log.Debug("status not published", "err", err)
			return
		}
		last = now
		for _, sl := range slots {
			if prev, ok := published[sl.Slot]; ok && !force && prev == sl {
				continue
			}
			one := &wire.Status{Version: wire.Version, AgentID: agentID, Time: now, Online: true, Slots: []wire.SlotStatus{sl}}
			if err := sendStatus(ctx, cfg, one, wire.SlotStatusTopic(agentID, int(sl.Slot))); err != nil {
				log.Debug("slot status not published", "slot", sl.Slot, "err", err)
				return
			}
			published[sl.Slot] = sl
		}
	}
	publish(true)
	beat := time.NewTicker(cfg.Heartbeat)
	defer beat.Stop()
	var pending <-chan time.Time
	for {
		var changes <-chan struct{}
		if cfg.Slots != nil && pending == nil {
			changes = cfg.Slots.Changes()
		}
		var linkChanged <-chan struct{}
		if ls != nil {
			linkChanged = ls.Changed()
		}
		select {
		case <-ctx.Done():
			b, err := OfflineStatus(cfg.Identity, cfg.Now())
			if err == nil {
				octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				err = cfg.Publisher.Publish(octx, wire.StatusTopic(agentID), b, true)
				cancel()
			}
			if err != nil {
				log.Warn("offline status not published; the broker's last will says it", "err", err)
			}
			return nil
		case <-beat.C:
			publish(false)
		case <-linkChanged:
			if ls.Connected() {
				publish(true)
			}
		case <-changes:
			if pending == nil {
				wait := cfg.MinInterval - cfg.Now().Sub(last)
				pending = time.After(max(wait, 0))
			}
		case <-pending:
			pending = nil
			publish(false)
		}
	}
}

func sendStatus(ctx context.Context, cfg StatusConfig, s *wire.Status, topic string) error {
	if err := s.Sign(cfg.Identity); err != nil {
		return err
	}
	b, err := s.MarshalJSON()
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cfg.Publisher.Publish(pctx, topic, b, true)
}

// depthBySlot counts the SMS waiting in the outbox by slot: unassembled parts and messages not
// yet acknowledged. It reads page by page.
func depthBySlot(o *outbox.Outbox) map[int]uint32 {
	d := map[int]uint32{}
	if parts, err := o.Parts(); err == nil {
		for _, p := range parts {
			d[p.Slot]++
		}
	}
	for _, s := range []outbox.State{outbox.Assembled, outbox.Sealed, outbox.Published} {
		for m, err := range o.Pending(s) {
			if err != nil {
				break
			}
			d[m.Slot]++
		}
	}
	return d
}
