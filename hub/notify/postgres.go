package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ness-network/ness-sms/hub"
)

// Channel is the PostgreSQL notification channel.
const Channel = "ness_hub_messages"

// Postgres notifies through PostgreSQL LISTEN/NOTIFY: Publish runs pg_notify on the pool, Run
// keeps one connection listening and hands every notification (its own included) to
// subscribers.
type Postgres struct {
	pool *pgxpool.Pool
	url  string
	log  *slog.Logger
	f    fanout

	ready chan struct{} // closed once the first LISTEN is in place
}

// NewPostgres returns a notifier publishing on pool; Run listens on its own connection to url.
func NewPostgres(pool *pgxpool.Pool, url string, log *slog.Logger) *Postgres {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Postgres{pool: pool, url: url, log: log, ready: make(chan struct{})}
}

// Publish implements ingest.Notifier.
func (p *Postgres) Publish(ctx context.Context, m hub.Message) error {
	b, err := json.Marshal(EventOf(m))
	if err != nil {
		return fmt.Errorf("notify %s: %w", m.ID, err)
	}
	if _, err := p.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, string(b)); err != nil {
		return fmt.Errorf("notify %s: %w", m.ID, err)
	}
	return nil
}

// Subscribe returns a channel of events from every instance, and a function ending the
// subscription.
func (p *Postgres) Subscribe() (<-chan Event, func()) { return p.f.subscribe() }

// Dropped returns how many events slow subscribers missed.
func (p *Postgres) Dropped() int { return p.f.Dropped() }

// Ready is closed once Run listens, so a test can publish knowing it will be heard.
func (p *Postgres) Ready() <-chan struct{} { return p.ready }

// Run listens until ctx ends (returning nil), reconnecting with jittered backoff (from 100 ms
// again once a LISTEN succeeded). Notifications sent while the listener is down are lost, so
// every LISTEN, the first and each after a reconnect (a PostgreSQL restart, a dropped
// connection), is followed by a synthetic Event with Resync set: subscribers re-read the Store
// from their cursors and find what they missed.
func (p *Postgres) Run(ctx context.Context) error {
	const minBackoff = 100 * time.Millisecond
	backoff := minBackoff
	first := true
	for {
		listened, err := p.listen(ctx, &first)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = minBackoff
		}
		p.log.Warn("notify: listen failed, reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff/2 + rand.N(backoff)):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// listen connects, LISTENs, announces a resync and hands notifications to subscribers until
// the connection fails; listened reports whether the LISTEN was in place.
func (p *Postgres) listen(ctx context.Context, first *bool) (listened bool, err error) {
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+Channel); err != nil {
		return false, err
	}
	if *first {
		*first = false
		close(p.ready)
	} else {
		p.log.Info("notify: listening again; subscribers resync from the store")
	}
	p.f.send(Event{Resync: true})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		var e Event
		if err := json.Unmarshal([]byte(n.Payload), &e); err != nil || e.MessageID == "" {
			p.log.Warn("notify: bad notification payload", "err", errors.Join(err, errors.New("no id")))
			continue
		}
		p.f.send(e)
	}
}
