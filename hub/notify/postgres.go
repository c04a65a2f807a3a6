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

// Run listens until ctx ends (returning nil), reconnecting with jittered backoff. Events
// published while it was reconnecting are missed; subscribers catch up from the Store.
func (p *Postgres) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	first := true
	for {
		err := p.listen(ctx, &first)
		if ctx.Err() != nil {
			return nil
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

func (p *Postgres) listen(ctx context.Context, first *bool) error {
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+Channel); err != nil {
		return err
	}
	if *first {
		*first = false
		close(p.ready)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var e Event
		if err := json.Unmarshal([]byte(n.Payload), &e); err != nil || e.MessageID == "" {
			p.log.Warn("notify: bad notification payload", "err", errors.Join(err, errors.New("no id")))
			continue
		}
		p.f.send(e)
	}
}
