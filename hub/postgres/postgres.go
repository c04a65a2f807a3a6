// Package postgres is the hub's Store on PostgreSQL (github.com/jackc/pgx/v5 pool), for running
// several hub instances on one database. The schema is the SQLite one in PostgreSQL's dialect.
// Migrations run on Open under a session advisory lock, so hubs starting at the same moment
// apply each migration exactly once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ness-network/ness-sms/hub"
)

// Advisory lock keys (pg_advisory_lock's bigint space, shared by everything on the database).
const (
	migrateLockKey int64 = 0x6e657373_00000001 // "ness" 1: schema migrations
	messageLockKey int64 = 0x6e657373_00000002 // "ness" 2: message insert order
)

// Store is a hub.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ hub.Store = (*Store)(nil)

// Open connects to the database at url (postgres://…), checks it answers and migrates it.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port,
			cfg.ConnConfig.Database, err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// Pool is the connection pool, for LISTEN/NOTIFY and checks; the hub goes through the Store methods.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes every connection.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func (s *Store) migrate(ctx context.Context) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must go even when ctx has ended.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrateLockKey); uerr != nil {
			conn.Conn().Close(uctx) // closing the session releases the lock too
			if err == nil {
				err = fmt.Errorf("migrate: release advisory lock: %w", uerr)
			}
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for i, m := range migrations {
		version := i + 1
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.Exec(ctx, m); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations(version) VALUES ($1)`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", version, err)
		}
	}
	return nil
}

// migrations are applied in order; never edit one that has shipped, append a new one.
var migrations = []string{
	`
CREATE TABLE agents (
	id                 text PRIMARY KEY,
	public_key         bytea NOT NULL,
	provider_key       bytea NOT NULL,
	certificate        bytea NOT NULL,
	mqtt_password_hash text NOT NULL,
	enrolled_at        timestamptz,
	last_seen          timestamptz,
	online             boolean NOT NULL
);
CREATE TABLE slots (
	agent_id     text NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
	slot         integer NOT NULL,
	iccid        text NOT NULL,
	state        text NOT NULL,
	signal       integer NOT NULL,
	registration text NOT NULL,
	operator     text NOT NULL,
	status       bytea NOT NULL,
	updated_at   timestamptz,
	PRIMARY KEY (agent_id, slot)
);
CREATE TABLE numbers (
	e164        text PRIMARY KEY,
	iccid       text NOT NULL,
	agent_id    text NOT NULL REFERENCES agents(id),
	country     text NOT NULL,
	price_day   bigint NOT NULL,
	price_week  bigint NOT NULL,
	price_month bigint NOT NULL,
	price_sms   bigint NOT NULL,
	updated_at  timestamptz
);
CREATE INDEX numbers_iccid ON numbers(iccid);
CREATE INDEX numbers_country ON numbers(country, e164);
CREATE TABLE number_features (
	e164    text NOT NULL REFERENCES numbers(e164) ON DELETE CASCADE,
	feature text NOT NULL,
	PRIMARY KEY (e164, feature)
);
CREATE TABLE lease_seqs (
	iccid text PRIMARY KEY,
	seq   bigint NOT NULL
);
CREATE TABLE rentals (
	id              text PRIMARY KEY,
	e164            text NOT NULL REFERENCES numbers(e164),
	iccid           text NOT NULL,
	renter_seal_key bytea NOT NULL,
	renter_sign_key bytea NOT NULL,
	valid_from      timestamptz NOT NULL,
	valid_until     timestamptz NOT NULL,
	lease_seq       bigint NOT NULL,
	status          text NOT NULL,
	signed_lease    bytea NOT NULL,
	created_at      timestamptz
);
CREATE INDEX rentals_iccid ON rentals(iccid, status, lease_seq);
CREATE TABLE messages (
	seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id            text NOT NULL UNIQUE,
	agent_id      text NOT NULL REFERENCES agents(id),
	slot          integer NOT NULL,
	iccid         text NOT NULL,
	rental_id     text REFERENCES rentals(id),
	lease_seq     bigint NOT NULL,
	recipient_key bytea NOT NULL,
	received_at   timestamptz,
	stored_at     timestamptz NOT NULL,
	signed        bytea NOT NULL,
	delivered     boolean NOT NULL DEFAULT false,
	acked         boolean NOT NULL DEFAULT false
);
CREATE INDEX messages_recipient ON messages(recipient_key, seq);
CREATE INDEX messages_rental ON messages(rental_id, seq);
CREATE TABLE receipts (
	message_id text PRIMARY KEY REFERENCES messages(id),
	signed     bytea NOT NULL,
	created_at timestamptz NOT NULL
);
CREATE TABLE tokens (
	hash       bytea PRIMARY KEY,
	subject    text NOT NULL,
	scope      text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);
`,
	`
CREATE TABLE leases (
	iccid           text NOT NULL,
	seq             bigint NOT NULL,
	rental_id       text NOT NULL REFERENCES rentals(id),
	agent_id        text NOT NULL,
	renter_seal_key bytea NOT NULL,
	valid_from      timestamptz NOT NULL,
	valid_until     timestamptz NOT NULL,
	signed          bytea NOT NULL,
	issued_at       timestamptz,
	PRIMARY KEY (iccid, seq)
);
`,
	`
CREATE TABLE challenges (
	challenge  bytea PRIMARY KEY,
	expires_at timestamptz NOT NULL
);
ALTER TABLE messages ADD COLUMN deleted boolean NOT NULL DEFAULT false;
CREATE INDEX rentals_renter ON rentals(renter_sign_key, created_at, id);
CREATE TABLE payments (
	id           text PRIMARY KEY,
	rental_id    text NOT NULL,
	provider_key bytea NOT NULL,
	payer_key    bytea NOT NULL,
	amount       bigint NOT NULL,
	method       text NOT NULL,
	ref          text NOT NULL,
	created_at   timestamptz
);
CREATE INDEX payments_provider ON payments(provider_key, created_at, id);
CREATE TABLE webhooks (
	id         text PRIMARY KEY,
	owner      bytea NOT NULL,
	rental_id  text NOT NULL,
	url        text NOT NULL,
	secret     bytea NOT NULL,
	created_at timestamptz
);
CREATE INDEX webhooks_owner ON webhooks(owner, created_at, id);
CREATE TABLE deliveries (
	webhook_id   text NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
	message_id   text NOT NULL,
	state        text NOT NULL,
	attempts     integer NOT NULL,
	next_attempt timestamptz,
	last_status  integer NOT NULL,
	last_error   text NOT NULL,
	created_at   timestamptz,
	updated_at   timestamptz,
	PRIMARY KEY (webhook_id, message_id)
);
CREATE INDEX deliveries_due ON deliveries(state, next_attempt);
`,
}

// ts is t as a query argument: NULL for the zero time.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return hub.StoreTime(t)
}

func fromTS(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func orNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func notFound(what, key string) error {
	return fmt.Errorf("%s %q: %w", what, key, hub.ErrNotFound)
}

type scanner interface{ Scan(...any) error }

// UpsertAgent implements hub.Store.
func (s *Store) UpsertAgent(ctx context.Context, a hub.Agent) error {
	if err := a.Validate(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO agents
		(id, public_key, provider_key, certificate, mqtt_password_hash, enrolled_at, last_seen, online)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET public_key = excluded.public_key, provider_key = excluded.provider_key,
			certificate = excluded.certificate, mqtt_password_hash = excluded.mqtt_password_hash,
			enrolled_at = excluded.enrolled_at, last_seen = excluded.last_seen, online = excluded.online`,
		a.ID, a.PublicKey, a.ProviderKey, nonNil(a.Certificate), a.MQTTPasswordHash,
		ts(a.EnrolledAt), ts(a.LastSeen), a.Online)
	if err != nil {
		return fmt.Errorf("upsert agent %s: %w", a.ID, err)
	}
	return nil
}

const agentCols = `id, public_key, provider_key, certificate, mqtt_password_hash, enrolled_at, last_seen, online`

func scanAgent(sc scanner) (hub.Agent, error) {
	var a hub.Agent
	var enrolled, seen *time.Time
	if err := sc.Scan(&a.ID, &a.PublicKey, &a.ProviderKey, &a.Certificate, &a.MQTTPasswordHash,
		&enrolled, &seen, &a.Online); err != nil {
		return hub.Agent{}, err
	}
	a.EnrolledAt, a.LastSeen, a.Certificate = fromTS(enrolled), fromTS(seen), orNil(a.Certificate)
	return a, nil
}

// GetAgent implements hub.Store.
func (s *Store) GetAgent(ctx context.Context, id string) (hub.Agent, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentCols+` FROM agents WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Agent{}, notFound("agent", id)
	}
	if err != nil {
		return hub.Agent{}, fmt.Errorf("get agent %s: %w", id, err)
	}
	return a, nil
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// ListAgents implements hub.Store.
func (s *Store) ListAgents(ctx context.Context) ([]hub.Agent, error) {
	return collect(ctx, s, "list agents", scanAgent, `SELECT `+agentCols+` FROM agents ORDER BY id`)
}

// SetAgentSeen implements hub.Store.
func (s *Store) SetAgentSeen(ctx context.Context, id string, online bool, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE agents SET online = $1, last_seen = $2 WHERE id = $3`, online, ts(at), id)
	if err != nil {
		return fmt.Errorf("set agent %s seen: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("agent", id)
	}
	return nil
}

// UpsertSlotStatus implements hub.Store.
func (s *Store) UpsertSlotStatus(ctx context.Context, sl hub.Slot) error {
	if err := sl.Validate(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO slots
		(agent_id, slot, iccid, state, signal, registration, operator, status, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (agent_id, slot) DO UPDATE SET iccid = excluded.iccid, state = excluded.state,
			signal = excluded.signal, registration = excluded.registration, operator = excluded.operator,
			status = excluded.status, updated_at = excluded.updated_at
		WHERE slots.updated_at IS NULL OR slots.updated_at <= excluded.updated_at`,
		sl.AgentID, sl.Slot, sl.ICCID, sl.State, sl.Signal, sl.Registration, sl.Operator,
		nonNil(sl.Status), ts(sl.UpdatedAt))
	if err != nil {
		return fmt.Errorf("upsert slot %s/%d: %w", sl.AgentID, sl.Slot, err)
	}
	return nil
}

func scanSlot(sc scanner) (hub.Slot, error) {
	var sl hub.Slot
	var updated *time.Time
	if err := sc.Scan(&sl.AgentID, &sl.Slot, &sl.ICCID, &sl.State, &sl.Signal, &sl.Registration,
		&sl.Operator, &sl.Status, &updated); err != nil {
		return hub.Slot{}, err
	}
	sl.UpdatedAt, sl.Status = fromTS(updated), orNil(sl.Status)
	return sl, nil
}

// ListSlots implements hub.Store.
func (s *Store) ListSlots(ctx context.Context, agentID string) ([]hub.Slot, error) {
	return collect(ctx, s, "list slots", scanSlot, `SELECT agent_id, slot, iccid, state, signal,
		registration, operator, status, updated_at FROM slots WHERE $1 = '' OR agent_id = $1
		ORDER BY agent_id, slot`, agentID)
}

// BindNumber implements hub.Store.
func (s *Store) BindNumber(ctx context.Context, n hub.Number) error {
	if err := n.Validate(); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO numbers
			(e164, iccid, agent_id, country, price_day, price_week, price_month, price_sms, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (e164) DO UPDATE SET iccid = excluded.iccid, agent_id = excluded.agent_id,
				country = excluded.country, price_day = excluded.price_day, price_week = excluded.price_week,
				price_month = excluded.price_month, price_sms = excluded.price_sms, updated_at = excluded.updated_at`,
			n.E164, n.ICCID, n.AgentID, n.Country, int64(n.PricePerDay), int64(n.PricePerWeek),
			int64(n.PricePerMonth), int64(n.PricePerSMS), ts(n.UpdatedAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM number_features WHERE e164 = $1`, n.E164); err != nil {
			return fmt.Errorf("features: %w", err)
		}
		for _, f := range hub.NormalFeatures(n.Features) {
			if _, err := tx.Exec(ctx, `INSERT INTO number_features(e164, feature) VALUES ($1, $2)`, n.E164, f); err != nil {
				return fmt.Errorf("feature %q: %w", f, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bind number %s: %w", n.E164, err)
	}
	return nil
}

const numberCols = `n.e164, n.iccid, n.agent_id, n.country, n.price_day, n.price_week, n.price_month,
	n.price_sms, n.updated_at, ARRAY(SELECT feature FROM number_features f WHERE f.e164 = n.e164 ORDER BY feature)`

func scanNumber(sc scanner) (hub.Number, error) {
	var n hub.Number
	var updated *time.Time
	var day, week, month, sms int64
	if err := sc.Scan(&n.E164, &n.ICCID, &n.AgentID, &n.Country, &day, &week, &month, &sms,
		&updated, &n.Features); err != nil {
		return hub.Number{}, err
	}
	n.PricePerDay, n.PricePerWeek, n.PricePerMonth, n.PricePerSMS = hub.Micro(day), hub.Micro(week), hub.Micro(month), hub.Micro(sms)
	n.UpdatedAt = fromTS(updated)
	if len(n.Features) == 0 {
		n.Features = nil
	}
	return n, nil
}

// GetNumber implements hub.Store.
func (s *Store) GetNumber(ctx context.Context, e164 string) (hub.Number, error) {
	n, err := scanNumber(s.pool.QueryRow(ctx, `SELECT `+numberCols+` FROM numbers n WHERE n.e164 = $1`, e164))
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Number{}, notFound("number", e164)
	}
	if err != nil {
		return hub.Number{}, fmt.Errorf("get number %s: %w", e164, err)
	}
	return n, nil
}

// ListNumbers implements hub.Store.
func (s *Store) ListNumbers(ctx context.Context, f hub.NumberFilter) ([]hub.Number, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.Country != "" {
		where = append(where, "n.country = "+arg(f.Country))
	}
	if f.AgentID != "" {
		where = append(where, "n.agent_id = "+arg(f.AgentID))
	}
	if f.Feature != "" {
		where = append(where, "EXISTS (SELECT 1 FROM number_features x WHERE x.e164 = n.e164 AND x.feature = "+arg(f.Feature)+")")
	}
	if f.MaxPricePerDay > 0 {
		where = append(where, "n.price_day <= "+arg(int64(f.MaxPricePerDay)))
	}
	q := `SELECT ` + numberCols + ` FROM numbers n`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += ` ORDER BY n.e164 COLLATE "C"`
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	return collect(ctx, s, "list numbers", scanNumber, q, args...)
}

// NextLeaseSeq implements hub.Store. The upsert takes the row lock, so concurrent callers, also
// in other hub instances, queue and each gets its own value.
func (s *Store) NextLeaseSeq(ctx context.Context, iccid string) (uint64, error) {
	if !hub.ValidICCID(iccid) {
		return 0, &hub.InvalidError{Record: "lease sequence", Field: "ICCID", Reason: "want 18-22 digits"}
	}
	var seq int64
	err := s.pool.QueryRow(ctx, `INSERT INTO lease_seqs(iccid, seq) VALUES ($1, 1)
		ON CONFLICT (iccid) DO UPDATE SET seq = lease_seqs.seq + 1 RETURNING seq`, iccid).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("next lease seq %s: %w", iccid, err)
	}
	return uint64(seq), nil
}

const putRentalSQL = `INSERT INTO rentals (id, e164, iccid, renter_seal_key,
		renter_sign_key, valid_from, valid_until, lease_seq, status, signed_lease, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET e164 = excluded.e164, iccid = excluded.iccid,
			renter_seal_key = excluded.renter_seal_key, renter_sign_key = excluded.renter_sign_key,
			valid_from = excluded.valid_from, valid_until = excluded.valid_until,
			lease_seq = excluded.lease_seq, status = excluded.status,
			signed_lease = excluded.signed_lease, created_at = excluded.created_at`

func rentalArgs(r hub.Rental) []any {
	return []any{r.ID, r.E164, r.ICCID, r.RenterSealKey, r.RenterSignKey, ts(r.From), ts(r.Until),
		int64(r.LeaseSeq), string(r.Status), nonNil(r.SignedLease), ts(r.CreatedAt)}
}

// PutRental implements hub.Store.
func (s *Store) PutRental(ctx context.Context, r hub.Rental) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, putRentalSQL, rentalArgs(r)...); err != nil {
		return fmt.Errorf("put rental %s: %w", r.ID, err)
	}
	return nil
}

// PutRentalExclusive implements hub.Store. A transaction advisory lock keyed by the SIM
// serialises the overlap check and the write across every connection to the database (READ
// COMMITTED alone would let two transactions both see no overlap); it is released at commit.
func (s *Store) PutRentalExclusive(ctx context.Context, r hub.Rental) (err error) {
	if err := r.Validate(); err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("put rental %s: %w", r.ID, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ness:rental:' || $1, 0))`, r.ICCID); err != nil {
		return fmt.Errorf("put rental %s: lock SIM %s: %w", r.ID, r.ICCID, err)
	}
	var other string
	err = tx.QueryRow(ctx, `SELECT id FROM rentals WHERE iccid = $1 AND status IN ($2, $3) AND id <> $4
		AND valid_from < $5 AND valid_until > $6 ORDER BY lease_seq DESC LIMIT 1`,
		r.ICCID, string(hub.RentalActive), string(hub.RentalPending), r.ID, ts(r.Until), ts(r.From)).Scan(&other)
	switch {
	case err == nil:
		return fmt.Errorf("put rental %s: SIM %s is rented by rental %s: %w", r.ID, r.ICCID, other, hub.ErrConflict)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("put rental %s: check SIM %s: %w", r.ID, r.ICCID, err)
	}
	if _, err := tx.Exec(ctx, putRentalSQL, rentalArgs(r)...); err != nil {
		return fmt.Errorf("put rental %s: %w", r.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("put rental %s: commit: %w", r.ID, err)
	}
	return nil
}

// ListActiveRentals implements hub.Store.
func (s *Store) ListActiveRentals(ctx context.Context, now time.Time) ([]hub.Rental, error) {
	return collect(ctx, s, "list active rentals", scanRental, `SELECT `+rentalCols+` FROM rentals
		WHERE status = $1 AND valid_until > $2 ORDER BY iccid, lease_seq`, string(hub.RentalActive), hub.StoreTime(now))
}

const rentalCols = `id, e164, iccid, renter_seal_key, renter_sign_key, valid_from, valid_until,
	lease_seq, status, signed_lease, created_at`

func scanRental(sc scanner) (hub.Rental, error) {
	var r hub.Rental
	var from, until, created *time.Time
	var seq int64
	var status string
	if err := sc.Scan(&r.ID, &r.E164, &r.ICCID, &r.RenterSealKey, &r.RenterSignKey, &from, &until,
		&seq, &status, &r.SignedLease, &created); err != nil {
		return hub.Rental{}, err
	}
	r.From, r.Until, r.CreatedAt = fromTS(from), fromTS(until), fromTS(created)
	r.LeaseSeq, r.Status, r.SignedLease = uint64(seq), hub.RentalStatus(status), orNil(r.SignedLease)
	return r, nil
}

// GetRental implements hub.Store.
func (s *Store) GetRental(ctx context.Context, id string) (hub.Rental, error) {
	r, err := scanRental(s.pool.QueryRow(ctx, `SELECT `+rentalCols+` FROM rentals WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Rental{}, notFound("rental", id)
	}
	if err != nil {
		return hub.Rental{}, fmt.Errorf("get rental %s: %w", id, err)
	}
	return r, nil
}

// ActiveLease implements hub.Store.
func (s *Store) ActiveLease(ctx context.Context, iccid string, now time.Time) (hub.Rental, error) {
	r, err := scanRental(s.pool.QueryRow(ctx, `SELECT `+rentalCols+` FROM rentals
		WHERE iccid = $1 AND status = $2 AND valid_from <= $3 AND valid_until > $3
		ORDER BY lease_seq DESC LIMIT 1`, iccid, string(hub.RentalActive), hub.StoreTime(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Rental{}, notFound("active lease for SIM", iccid)
	}
	if err != nil {
		return hub.Rental{}, fmt.Errorf("active lease %s: %w", iccid, err)
	}
	return r, nil
}

// PutLease implements hub.Store.
func (s *Store) PutLease(ctx context.Context, l hub.Lease) error {
	if err := l.Validate(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO leases (iccid, seq, rental_id, agent_id,
		renter_seal_key, valid_from, valid_until, signed, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		l.ICCID, int64(l.Seq), l.RentalID, l.AgentID, l.RenterSealKey, ts(l.From), ts(l.Until), l.Signed, ts(l.IssuedAt))
	if err != nil {
		return fmt.Errorf("put lease %s#%d: %w", l.ICCID, l.Seq, err)
	}
	return nil
}

// GetLease implements hub.Store.
func (s *Store) GetLease(ctx context.Context, iccid string, seq uint64) (hub.Lease, error) {
	if seq > 1<<63-1 {
		return hub.Lease{}, notFound("lease", fmt.Sprintf("%s#%d", iccid, seq))
	}
	l := hub.Lease{ICCID: iccid, Seq: seq}
	var from, until, issued *time.Time
	err := s.pool.QueryRow(ctx, `SELECT rental_id, agent_id, renter_seal_key, valid_from,
		valid_until, signed, issued_at FROM leases WHERE iccid = $1 AND seq = $2`, iccid, int64(seq)).
		Scan(&l.RentalID, &l.AgentID, &l.RenterSealKey, &from, &until, &l.Signed, &issued)
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Lease{}, notFound("lease", fmt.Sprintf("%s#%d", iccid, seq))
	}
	if err != nil {
		return hub.Lease{}, fmt.Errorf("get lease %s#%d: %w", iccid, seq, err)
	}
	l.From, l.Until, l.IssuedAt = fromTS(from), fromTS(until), fromTS(issued)
	return l, nil
}

// PutMessage implements hub.Store.
//
// Inserts are serialised with a transaction advisory lock: an identity value is taken inside
// the lock and the row is committed before the lock is released, so Seq order is commit order
// and a reader following the ListMessages cursor never has a message appear behind it. (Without
// the lock, a transaction holding seq 7 can commit after another holding seq 8 was already read.)
func (s *Store) PutMessage(ctx context.Context, m hub.Message) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	if m.StoredAt.IsZero() {
		m.StoredAt = time.Now()
	}
	var rental any
	if m.RentalID != "" {
		rental = m.RentalID
	}
	// One statement, so one round trip: the CTE takes the lock before the row (and its identity
	// value) is produced, and the implicit transaction releases it after the commit.
	tag, err := s.pool.Exec(ctx, `WITH serial AS (SELECT pg_advisory_xact_lock($1))
		INSERT INTO messages (id, agent_id, slot, iccid, rental_id, lease_seq, recipient_key,
			received_at, stored_at, signed, delivered, acked)
		SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM serial
		ON CONFLICT (id) DO NOTHING`,
		messageLockKey, m.ID, m.AgentID, m.Slot, m.ICCID, rental, int64(m.LeaseSeq), m.RecipientKey,
		ts(m.ReceivedAt), ts(m.StoredAt), m.Signed, m.Delivered, m.Acked)
	if err != nil {
		return false, fmt.Errorf("put message %s: %w", m.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// PutMessageReceipt implements hub.Store: one statement, so one round trip and one commit. The
// data-modifying CTEs all run; the receipt is inserted only from the message row just inserted.
func (s *Store) PutMessageReceipt(ctx context.Context, m hub.Message, r hub.Receipt) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	if r.MessageID != m.ID {
		return false, &hub.InvalidError{Record: "receipt", Field: "MessageID", Reason: "not the message's id"}
	}
	if m.StoredAt.IsZero() {
		m.StoredAt = time.Now()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = m.StoredAt
	}
	var rental any
	if m.RentalID != "" {
		rental = m.RentalID
	}
	var n int
	err := s.pool.QueryRow(ctx, `WITH serial AS (SELECT pg_advisory_xact_lock($1)),
		msg AS (INSERT INTO messages (id, agent_id, slot, iccid, rental_id, lease_seq, recipient_key,
				received_at, stored_at, signed, delivered, acked)
			SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM serial
			ON CONFLICT (id) DO NOTHING RETURNING id),
		rcpt AS (INSERT INTO receipts (message_id, signed, created_at) SELECT id, $14, $15 FROM msg
			ON CONFLICT (message_id) DO NOTHING)
		SELECT count(*) FROM msg`,
		messageLockKey, m.ID, m.AgentID, m.Slot, m.ICCID, rental, int64(m.LeaseSeq), m.RecipientKey,
		ts(m.ReceivedAt), ts(m.StoredAt), m.Signed, m.Delivered, m.Acked, r.Signed, ts(r.CreatedAt)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("put message %s with receipt: %w", m.ID, err)
	}
	return n == 1, nil
}

const messageCols = `seq, id, agent_id, slot, iccid, coalesce(rental_id, ''), lease_seq, recipient_key,
	received_at, stored_at, signed, delivered, acked, deleted`

func scanMessage(sc scanner) (hub.Message, error) {
	var m hub.Message
	var leaseSeq int64
	var received, stored *time.Time
	if err := sc.Scan(&m.Seq, &m.ID, &m.AgentID, &m.Slot, &m.ICCID, &m.RentalID, &leaseSeq,
		&m.RecipientKey, &received, &stored, &m.Signed, &m.Delivered, &m.Acked, &m.Deleted); err != nil {
		return hub.Message{}, err
	}
	m.LeaseSeq, m.ReceivedAt, m.StoredAt = uint64(leaseSeq), fromTS(received), fromTS(stored)
	m.Signed = orNil(m.Signed)
	return m, nil
}

// GetMessage implements hub.Store.
func (s *Store) GetMessage(ctx context.Context, id string) (hub.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageCols+` FROM messages WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Message{}, notFound("message", id)
	}
	if err != nil {
		return hub.Message{}, fmt.Errorf("get message %s: %w", id, err)
	}
	return m, nil
}

// ListMessages implements hub.Store.
func (s *Store) ListMessages(ctx context.Context, q hub.MessageQuery) ([]hub.Message, error) {
	limit, err := q.Validate()
	if err != nil {
		return nil, err
	}
	args := []any{q.After}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	where := []string{"seq > $1", "NOT deleted"}
	if len(q.RecipientKey) > 0 {
		where = append(where, "recipient_key = "+arg(q.RecipientKey))
	}
	if len(q.Renter) > 0 {
		where = append(where, "rental_id IN (SELECT id FROM rentals WHERE renter_sign_key = "+arg(q.Renter)+")")
	}
	if q.RentalID != "" {
		where = append(where, "rental_id = "+arg(q.RentalID))
	}
	return collect(ctx, s, "list messages", scanMessage, `SELECT `+messageCols+` FROM messages WHERE `+
		strings.Join(where, " AND ")+` ORDER BY seq LIMIT `+arg(limit), args...)
}

func (s *Store) setFlag(ctx context.Context, op, col, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE messages SET `+col+` = true WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, id, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("message", id)
	}
	return nil
}

// MarkDelivered implements hub.Store.
func (s *Store) MarkDelivered(ctx context.Context, id string) error {
	return s.setFlag(ctx, "mark delivered", "delivered", id)
}

// MarkAcked implements hub.Store.
func (s *Store) MarkAcked(ctx context.Context, id string) error {
	return s.setFlag(ctx, "mark acked", "acked", id)
}

// PutReceipt implements hub.Store.
func (s *Store) PutReceipt(ctx context.Context, r hub.Receipt) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO receipts(message_id, signed, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (message_id) DO NOTHING`, r.MessageID, r.Signed, ts(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("put receipt %s: %w", r.MessageID, err)
	}
	return nil
}

// GetReceipt implements hub.Store.
func (s *Store) GetReceipt(ctx context.Context, messageID string) (hub.Receipt, error) {
	var r hub.Receipt
	var created *time.Time
	err := s.pool.QueryRow(ctx, `SELECT message_id, signed, created_at FROM receipts WHERE message_id = $1`,
		messageID).Scan(&r.MessageID, &r.Signed, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Receipt{}, notFound("receipt", messageID)
	}
	if err != nil {
		return hub.Receipt{}, fmt.Errorf("get receipt %s: %w", messageID, err)
	}
	r.CreatedAt = fromTS(created)
	return r, nil
}

// ListReceipts implements hub.Store.
func (s *Store) ListReceipts(ctx context.Context, from, until time.Time) ([]hub.Receipt, error) {
	rows, err := s.pool.Query(ctx, `SELECT message_id, signed, created_at FROM receipts
		WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, message_id`, ts(from), ts(until))
	if err != nil {
		return nil, fmt.Errorf("list receipts: %w", err)
	}
	defer rows.Close()
	var out []hub.Receipt
	for rows.Next() {
		var r hub.Receipt
		var created *time.Time
		if err := rows.Scan(&r.MessageID, &r.Signed, &created); err != nil {
			return nil, fmt.Errorf("list receipts: %w", err)
		}
		r.CreatedAt = fromTS(created)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list receipts: %w", err)
	}
	return out, nil
}

// PutToken implements hub.Store.
func (s *Store) PutToken(ctx context.Context, t hub.Token) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens(hash, subject, scope, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, t.Hash, t.Subject, t.Scope, ts(t.CreatedAt), ts(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put token for %s: %w", t.Subject, err)
	}
	return nil
}

// GetToken implements hub.Store.
func (s *Store) GetToken(ctx context.Context, hash []byte, now time.Time) (hub.Token, error) {
	var t hub.Token
	var created, expires *time.Time
	err := s.pool.QueryRow(ctx, `SELECT hash, subject, scope, created_at, expires_at FROM tokens
		WHERE hash = $1 AND expires_at > $2`, hash, hub.StoreTime(now)).
		Scan(&t.Hash, &t.Subject, &t.Scope, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Token{}, fmt.Errorf("token: %w", hub.ErrNotFound)
	}
	if err != nil {
		return hub.Token{}, fmt.Errorf("get token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt = fromTS(created), fromTS(expires)
	return t, nil
}

// DeleteToken implements hub.Store. Deleting an unknown token is not an error.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	return nil
}
