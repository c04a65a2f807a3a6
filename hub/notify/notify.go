// Package notify tells every hub instance that a message was stored, so the instance holding a
// renter's live connection (WebSocket, webhook worker) can deliver it at once, whichever
// instance ingested it.
//
// Local fans out inside one process (the SQLite, single-instance hub). Postgres sends each event
// with pg_notify on a channel and LISTENs on it from every instance, so two hubs on one database
// both hear every message. An event carries routing data only (message id, rental, recipient
// key, cursor), never content; subscribers read the message from the Store.
package notify

import (
	"context"
	"sync"

	"github.com/ness-network/ness-sms/hub"
)

// Event says a message was stored (or, with Resync, that events may have been missed).
type Event struct {
	MessageID    string `json:"id"`
	RentalID     string `json:"rental,omitempty"` // "" for messages sealed to the provider
	RecipientKey []byte `json:"recipient"`        // X25519 key it is sealed to
	Seq          int64  `json:"seq"`              // store cursor (hub.Message.Seq) when known, else 0
	// Resync is set on a synthetic event that names no message: events may have been missed
	// (the PostgreSQL listener was reconnecting, or the subscriber fell behind), so every
	// subscriber should re-read the Store from its cursor (streams) and scan for messages
	// without deliveries (webhooks). Never sent between instances.
	Resync bool `json:"-"`
}

// EventOf is the event for a stored message.
func EventOf(m hub.Message) Event {
	return Event{MessageID: m.ID, RentalID: m.RentalID, RecipientKey: m.RecipientKey, Seq: m.Seq}
}

// SubscriberBuffer is how many events a subscriber may fall behind before events to it are
// dropped (it then catches up from the Store with its cursor).
const SubscriberBuffer = 256

// fanout delivers events to subscribers; shared by Local and Postgres.
type fanout struct {
	mu sync.Mutex // guards subs and dropped
	// subs maps each subscriber to whether it owes it a resync: an event was dropped because it
	// was full; the resync goes out before the next event that fits.
	subs map[chan Event]bool
	// dropped counts events not delivered to a slow subscriber.
	dropped int
}

func (f *fanout) subscribe() (<-chan Event, func()) {
	ch := make(chan Event, SubscriberBuffer)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[chan Event]bool{}
	}
	f.subs[ch] = false
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.subs, ch)
			f.mu.Unlock()
			close(ch)
		})
	}
}

func (f *fanout) send(e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch, owed := range f.subs {
		if owed && !e.Resync {
			select {
			case ch <- Event{Resync: true}:
				f.subs[ch] = false
			default:
			}
		}
		select {
		case ch <- e:
			if e.Resync {
				f.subs[ch] = false
			}
		default:
			f.dropped++
			f.subs[ch] = true
		}
	}
}

// Dropped returns how many events were not delivered to slow subscribers.
func (f *fanout) Dropped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

// Local is an in-process notifier.
type Local struct{ f fanout }

// NewLocal returns an in-process notifier.
func NewLocal() *Local { return &Local{} }

// Publish implements ingest.Notifier.
func (l *Local) Publish(_ context.Context, m hub.Message) error {
	l.f.send(EventOf(m))
	return nil
}

// Subscribe returns a channel of events and a function that ends the subscription (and closes
// the channel). A subscriber that falls SubscriberBuffer events behind misses events; it gets a
// Resync event before the next one that fits.
func (l *Local) Subscribe() (<-chan Event, func()) { return l.f.subscribe() }

// Dropped returns how many events slow subscribers missed.
func (l *Local) Dropped() int { return l.f.Dropped() }
