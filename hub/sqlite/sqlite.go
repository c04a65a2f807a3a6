// Package sqlite is the hub's embedded Store: one SQLite file (modernc.org/sqlite, pure Go, no
// cgo) in WAL mode with a busy timeout and foreign keys on. Migrations run when the store is
// opened and are recorded in the schema_migrations table.
//
// Times are kept as INTEGER microseconds since the Unix epoch (UTC); 0 means "not set".
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/hub"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the database file OpenDir creates in the hub's data directory.
const FileName = "hub.db"

// Store is a hub.Store on SQLite.
type Store struct {
	db   *sql.DB
	path string
}

var _ hub.Store = (*Store)(nil)

// OpenDir opens (creating when needed, mode 0700) the data directory dir and the database file
// FileName in it.
func OpenDir(ctx context.Context, dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("sqlite: open: empty data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	return Open(ctx, filepath.Join(dir, FileName))
}

// Open opens the SQLite database file at path, creating it when missing, and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Write transactions take the write lock at BEGIN, so two of them queue on busy_timeout
	// instead of failing with SQLITE_BUSY when a read lock would need upgrading.
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, path: path}
	// A first connection switching a new file to WAL while another process or Open does the
	// same can get SQLITE_BUSY at once (the busy handler does not cover it): try again.
	for deadline := time.Now().Add(10 * time.Second); ; {
		err = s.migrate(ctx)
		if err == nil {
			return s, nil
		}
		if !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) || ctx.Err() != nil {
			db.Close()
			return nil, fmt.Errorf("sqlite: %s: %w", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// DB is the underlying database handle, for checks and tools; the hub goes through the Store methods.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for i, m := range migrations {
		version := i + 1
		if err := func() error {
			// BEGIN IMMEDIATE (the _txlock): a second process migrating at the same time waits here,
			// then sees the version recorded and skips it.
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`,
				version, time.Now().UnixMicro()); err != nil {
				return err
			}
			return tx.Commit()
		}(); err != nil {
			return fmt.Errorf("migration %d: %w", version, err)
		}
	}
	return nil
}

// migrations are applied in order; never edit one that has shipped, append a new one.
var migrations = []string{
	`
CREATE TABLE agents (
	id                 TEXT PRIMARY KEY,
	public_key         BLOB NOT NULL,
	provider_key       BLOB NOT NULL,
	certificate        BLOB NOT NULL,
	mqtt_password_hash TEXT NOT NULL,
	enrolled_at        INTEGER NOT NULL,
	last_seen          INTEGER NOT NULL,
	online             INTEGER NOT NULL
) STRICT;
CREATE TABLE slots (
	agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
	slot         INTEGER NOT NULL,
	iccid        TEXT NOT NULL,
	state        TEXT NOT NULL,
	signal       INTEGER NOT NULL,
	registration TEXT NOT NULL,
	operator     TEXT NOT NULL,
	status       BLOB NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (agent_id, slot)
) STRICT;
CREATE TABLE numbers (
	e164        TEXT PRIMARY KEY,
	iccid       TEXT NOT NULL,
	agent_id    TEXT NOT NULL REFERENCES agents(id),
	country     TEXT NOT NULL,
	price_day   INTEGER NOT NULL,
	price_week  INTEGER NOT NULL,
	price_month INTEGER NOT NULL,
	price_sms   INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX numbers_iccid ON numbers(iccid);
CREATE INDEX numbers_country ON numbers(country, e164);
CREATE TABLE number_features (
	e164    TEXT NOT NULL REFERENCES numbers(e164) ON DELETE CASCADE,
	feature TEXT NOT NULL,
	PRIMARY KEY (e164, feature)
) STRICT;
CREATE TABLE lease_seqs (
	iccid TEXT PRIMARY KEY,
	seq   INTEGER NOT NULL
) STRICT;
CREATE TABLE rentals (
	id              TEXT PRIMARY KEY,
	e164            TEXT NOT NULL REFERENCES numbers(e164),
	iccid           TEXT NOT NULL,
	renter_seal_key BLOB NOT NULL,
	renter_sign_key BLOB NOT NULL,
	valid_from      INTEGER NOT NULL,
	valid_until     INTEGER NOT NULL,
	lease_seq       INTEGER NOT NULL,
	status          TEXT NOT NULL,
	signed_lease    BLOB NOT NULL,
	created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX rentals_iccid ON rentals(iccid, status, lease_seq);
CREATE TABLE messages (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	id            TEXT NOT NULL UNIQUE,
	agent_id      TEXT NOT NULL REFERENCES agents(id),
	slot          INTEGER NOT NULL,
	iccid         TEXT NOT NULL,
	rental_id     TEXT REFERENCES rentals(id),
	lease_seq     INTEGER NOT NULL,
	recipient_key BLOB NOT NULL,
	received_at   INTEGER NOT NULL,
	stored_at     INTEGER NOT NULL,
	signed        BLOB NOT NULL,
	delivered     INTEGER NOT NULL DEFAULT 0,
	acked         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX messages_recipient ON messages(recipient_key, seq);
CREATE INDEX messages_rental ON messages(rental_id, seq);
CREATE TABLE receipts (
	message_id TEXT PRIMARY KEY REFERENCES messages(id),
	signed     BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE tokens (
	hash       BLOB PRIMARY KEY,
	subject    TEXT NOT NULL,
	scope      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
`,
	`
CREATE TABLE leases (
	iccid           TEXT NOT NULL,
	seq             INTEGER NOT NULL,
	rental_id       TEXT NOT NULL REFERENCES rentals(id),
	agent_id        TEXT NOT NULL,
	renter_seal_key BLOB NOT NULL,
	valid_from      INTEGER NOT NULL,
	valid_until     INTEGER NOT NULL,
	signed          BLOB NOT NULL,
	issued_at       INTEGER NOT NULL,
	PRIMARY KEY (iccid, seq)
) STRICT;
`,
	`
CREATE TABLE challenges (
	challenge  BLOB PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX rentals_renter ON rentals(renter_sign_key, created_at, id);
CREATE TABLE payments (
	id           TEXT PRIMARY KEY,
	rental_id    TEXT NOT NULL,
	provider_key BLOB NOT NULL,
	payer_key    BLOB NOT NULL,
	amount       INTEGER NOT NULL,
	method       TEXT NOT NULL,
	ref          TEXT NOT NULL,
	created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX payments_provider ON payments(provider_key, created_at, id);
CREATE TABLE webhooks (
	id         TEXT PRIMARY KEY,
	owner      BLOB NOT NULL,
	rental_id  TEXT NOT NULL,
	url        TEXT NOT NULL,
	secret     BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX webhooks_owner ON webhooks(owner, created_at, id);
CREATE TABLE deliveries (
	webhook_id   TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
	message_id   TEXT NOT NULL,
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	last_status  INTEGER NOT NULL,
	last_error   TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (webhook_id, message_id)
) STRICT;
CREATE INDEX deliveries_due ON deliveries(state, next_attempt);
`,
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// orNil makes an empty BLOB read back as nil, whatever the driver returns for it.
func orNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func notFound(what, key string) error {
	return fmt.Errorf("%s %q: %w", what, key, hub.ErrNotFound)
}

// UpsertAgent implements hub.Store.
func (s *Store) UpsertAgent(ctx context.Context, a hub.Agent) error {
	if err := a.Validate(); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO agents
		(id, public_key, provider_key, certificate, mqtt_password_hash, enrolled_at, last_seen, online)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET public_key = excluded.public_key, provider_key = excluded.provider_key,
			certificate = excluded.certificate, mqtt_password_hash = excluded.mqtt_password_hash,
			enrolled_at = excluded.enrolled_at, last_seen = excluded.last_seen, online = excluded.online`,
		a.ID, a.PublicKey, a.ProviderKey, nonNil(a.Certificate), a.MQTTPasswordHash,
		micros(a.EnrolledAt), micros(a.LastSeen), a.Online)
	if err != nil {
		return fmt.Errorf("upsert agent %s: %w", a.ID, err)
	}
	return nil
}

const agentCols = `id, public_key, provider_key, certificate, mqtt_password_hash, enrolled_at, last_seen, online`

func scanAgent(sc interface{ Scan(...any) error }) (hub.Agent, error) {
	var a hub.Agent
	var enrolled, seen int64
	if err := sc.Scan(&a.ID, &a.PublicKey, &a.ProviderKey, &a.Certificate, &a.MQTTPasswordHash,
		&enrolled, &seen, &a.Online); err != nil {
		return hub.Agent{}, err
	}
	a.EnrolledAt, a.LastSeen = fromMicros(enrolled), fromMicros(seen)
	a.Certificate = orNil(a.Certificate)
	return a, nil
}

// GetAgent implements hub.Store.
func (s *Store) GetAgent(ctx context.Context, id string) (hub.Agent, error) {
	a, err := scanAgent(s.db.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return hub.Agent{}, notFound("agent", id)
	}
	if err != nil {
		return hub.Agent{}, fmt.Errorf("get agent %s: %w", id, err)
	}
	return a, nil
}

// ListAgents implements hub.Store.
func (s *Store) ListAgents(ctx context.Context) ([]hub.Agent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+agentCols+` FROM agents ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	var out []hub.Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return out, nil
}

// SetAgentSeen implements hub.Store.
func (s *Store) SetAgentSeen(ctx context.Context, id string, online bool, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE agents SET online = ?, last_seen = ? WHERE id = ?`,
		online, micros(hub.StoreTime(at)), id)
	if err != nil {
		return fmt.Errorf("set agent %s seen: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("agent", id)
	}
	return nil
}

// UpsertSlotStatus implements hub.Store.
func (s *Store) UpsertSlotStatus(ctx context.Context, sl hub.Slot) error {
	if err := sl.Validate(); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO slots
		(agent_id, slot, iccid, state, signal, registration, operator, status, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(agent_id, slot) DO UPDATE SET iccid = excluded.iccid, state = excluded.state,
			signal = excluded.signal, registration = excluded.registration, operator = excluded.operator,
			status = excluded.status, updated_at = excluded.updated_at
		WHERE slots.updated_at <= excluded.updated_at`,
		sl.AgentID, sl.Slot, sl.ICCID, sl.State, sl.Signal, sl.Registration, sl.Operator,
		nonNil(sl.Status), micros(sl.UpdatedAt))
	if err != nil {
		return fmt.Errorf("upsert slot %s/%d: %w", sl.AgentID, sl.Slot, err)
	}
	return nil
}

// ListSlots implements hub.Store.
func (s *Store) ListSlots(ctx context.Context, agentID string) ([]hub.Slot, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT agent_id, slot, iccid, state, signal, registration,
		operator, status, updated_at FROM slots WHERE ? = '' OR agent_id = ? ORDER BY agent_id, slot`,
		agentID, agentID)
	if err != nil {
		return nil, fmt.Errorf("list slots: %w", err)
	}
	defer rows.Close()
	var out []hub.Slot
	for rows.Next() {
		var sl hub.Slot
		var updated int64
		if err := rows.Scan(&sl.AgentID, &sl.Slot, &sl.ICCID, &sl.State, &sl.Signal, &sl.Registration,
			&sl.Operator, &sl.Status, &updated); err != nil {
			return nil, fmt.Errorf("list slots: %w", err)
		}
		sl.UpdatedAt, sl.Status = fromMicros(updated), orNil(sl.Status)
		out = append(out, sl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list slots: %w", err)
	}
	return out, nil
}

// BindNumber implements hub.Store.
func (s *Store) BindNumber(ctx context.Context, n hub.Number) error {
	if err := n.Validate(); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bind number %s: %w", n.E164, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO numbers
		(e164, iccid, agent_id, country, price_day, price_week, price_month, price_sms, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(e164) DO UPDATE SET iccid = excluded.iccid, agent_id = excluded.agent_id,
			country = excluded.country, price_day = excluded.price_day, price_week = excluded.price_week,
			price_month = excluded.price_month, price_sms = excluded.price_sms, updated_at = excluded.updated_at`,
		n.E164, n.ICCID, n.AgentID, n.Country, n.PricePerDay, n.PricePerWeek, n.PricePerMonth,
		n.PricePerSMS, micros(n.UpdatedAt)); err != nil {
		return fmt.Errorf("bind number %s: %w", n.E164, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM number_features WHERE e164 = ?`, n.E164); err != nil {
		return fmt.Errorf("bind number %s: features: %w", n.E164, err)
	}
	for _, f := range hub.NormalFeatures(n.Features) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO number_features(e164, feature) VALUES (?, ?)`, n.E164, f); err != nil {
			return fmt.Errorf("bind number %s: feature %q: %w", n.E164, f, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("bind number %s: %w", n.E164, err)
	}
	return nil
}

const numberCols = `n.e164, n.iccid, n.agent_id, n.country, n.price_day, n.price_week, n.price_month,
	n.price_sms, n.updated_at, coalesce((SELECT group_concat(feature, ',') FROM
	(SELECT feature FROM number_features f WHERE f.e164 = n.e164 ORDER BY feature)), '')`

func scanNumber(sc interface{ Scan(...any) error }) (hub.Number, error) {
	var n hub.Number
	var updated int64
	var features string
	if err := sc.Scan(&n.E164, &n.ICCID, &n.AgentID, &n.Country, &n.PricePerDay, &n.PricePerWeek,
		&n.PricePerMonth, &n.PricePerSMS, &updated, &features); err != nil {
		return hub.Number{}, err
	}
	n.UpdatedAt = fromMicros(updated)
	if features != "" {
		n.Features = strings.Split(features, ",")
	}
	return n, nil
}

// GetNumber implements hub.Store.
func (s *Store) GetNumber(ctx context.Context, e164 string) (hub.Number, error) {
	n, err := scanNumber(s.db.QueryRowContext(ctx, `SELECT `+numberCols+` FROM numbers n WHERE n.e164 = ?`, e164))
	if errors.Is(err, sql.ErrNoRows) {
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
	if f.Country != "" {
		where, args = append(where, "n.country = ?"), append(args, f.Country)
	}
	if f.AgentID != "" {
		where, args = append(where, "n.agent_id = ?"), append(args, f.AgentID)
	}
	if f.Feature != "" {
		where = append(where, "EXISTS (SELECT 1 FROM number_features x WHERE x.e164 = n.e164 AND x.feature = ?)")
		args = append(args, f.Feature)
	}
	if f.MaxPricePerDay > 0 {
		where, args = append(where, "n.price_day <= ?"), append(args, f.MaxPricePerDay)
	}
	q := `SELECT ` + numberCols + ` FROM numbers n`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY n.e164"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list numbers: %w", err)
	}
	defer rows.Close()
	var out []hub.Number
	for rows.Next() {
		n, err := scanNumber(rows)
		if err != nil {
			return nil, fmt.Errorf("list numbers: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list numbers: %w", err)
	}
	return out, nil
}

// NextLeaseSeq implements hub.Store. One statement, so SQLite's write lock makes it atomic.
func (s *Store) NextLeaseSeq(ctx context.Context, iccid string) (uint64, error) {
	if !hub.ValidICCID(iccid) {
		return 0, &hub.InvalidError{Record: "lease sequence", Field: "ICCID", Reason: "want 18-22 digits"}
	}
	var seq int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO lease_seqs(iccid, seq) VALUES (?, 1)
		ON CONFLICT(iccid) DO UPDATE SET seq = seq + 1 RETURNING seq`, iccid).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("next lease seq %s: %w", iccid, err)
	}
	return uint64(seq), nil
}

const putRentalSQL = `INSERT INTO rentals (id, e164, iccid, renter_seal_key,
		renter_sign_key, valid_from, valid_until, lease_seq, status, signed_lease, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET e164 = excluded.e164, iccid = excluded.iccid,
			renter_seal_key = excluded.renter_seal_key, renter_sign_key = excluded.renter_sign_key,
			valid_from = excluded.valid_from, valid_until = excluded.valid_until,
			lease_seq = excluded.lease_seq, status = excluded.status,
			signed_lease = excluded.signed_lease, created_at = excluded.created_at`

func rentalArgs(r hub.Rental) []any {
	return []any{r.ID, r.E164, r.ICCID, r.RenterSealKey, r.RenterSignKey, micros(r.From), micros(r.Until),
		int64(r.LeaseSeq), string(r.Status), nonNil(r.SignedLease), micros(r.CreatedAt)}
}

// PutRental implements hub.Store.
func (s *Store) PutRental(ctx context.Context, r hub.Rental) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, putRentalSQL, rentalArgs(r)...); err != nil {
		return fmt.Errorf("put rental %s: %w", r.ID, err)
	}
	return nil
}

// PutRentalExclusive implements hub.Store. The transaction takes SQLite's write lock at BEGIN
// (_txlock=immediate), so the overlap check and the write are one step for every connection and
// process on the file.
func (s *Store) PutRentalExclusive(ctx context.Context, r hub.Rental) error {
	if err := r.Validate(); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put rental %s: %w", r.ID, err)
	}
	defer tx.Rollback()
	var other string
	err = tx.QueryRowContext(ctx, `SELECT id FROM rentals WHERE iccid = ? AND status IN (?, ?) AND id <> ?
		AND valid_from < ? AND valid_until > ? ORDER BY lease_seq DESC LIMIT 1`,
		r.ICCID, string(hub.RentalActive), string(hub.RentalPending), r.ID, micros(r.Until), micros(r.From)).Scan(&other)
	switch {
	case err == nil:
		return fmt.Errorf("put rental %s: SIM %s is rented by rental %s: %w", r.ID, r.ICCID, other, hub.ErrConflict)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("put rental %s: check SIM %s: %w", r.ID, r.ICCID, err)
	}
	if _, err := tx.ExecContext(ctx, putRentalSQL, rentalArgs(r)...); err != nil {
		return fmt.Errorf("put rental %s: %w", r.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put rental %s: commit: %w", r.ID, err)
	}
	return nil
}

// ListActiveRentals implements hub.Store.
func (s *Store) ListActiveRentals(ctx context.Context, now time.Time) ([]hub.Rental, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+rentalCols+` FROM rentals
		WHERE status = ? AND valid_until > ? ORDER BY iccid, lease_seq`, string(hub.RentalActive), micros(hub.StoreTime(now)))
	if err != nil {
		return nil, fmt.Errorf("list active rentals: %w", err)
	}
	defer rows.Close()
	var out []hub.Rental
	for rows.Next() {
		r, err := scanRental(rows)
		if err != nil {
			return nil, fmt.Errorf("list active rentals: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list active rentals: %w", err)
	}
	return out, nil
}

const rentalCols = `id, e164, iccid, renter_seal_key, renter_sign_key, valid_from, valid_until,
	lease_seq, status, signed_lease, created_at`

func scanRental(sc interface{ Scan(...any) error }) (hub.Rental, error) {
	var r hub.Rental
	var from, until, created, seq int64
	var status string
	if err := sc.Scan(&r.ID, &r.E164, &r.ICCID, &r.RenterSealKey, &r.RenterSignKey, &from, &until,
		&seq, &status, &r.SignedLease, &created); err != nil {
		return hub.Rental{}, err
	}
	r.From, r.Until, r.CreatedAt = fromMicros(from), fromMicros(until), fromMicros(created)
	r.LeaseSeq, r.Status = uint64(seq), hub.RentalStatus(status)
	r.SignedLease = orNil(r.SignedLease)
	return r, nil
}

// GetRental implements hub.Store.
func (s *Store) GetRental(ctx context.Context, id string) (hub.Rental, error) {
	r, err := scanRental(s.db.QueryRowContext(ctx, `SELECT `+rentalCols+` FROM rentals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return hub.Rental{}, notFound("rental", id)
	}
	if err != nil {
		return hub.Rental{}, fmt.Errorf("get rental %s: %w", id, err)
	}
	return r, nil
}

// ActiveLease implements hub.Store.
func (s *Store) ActiveLease(ctx context.Context, iccid string, now time.Time) (hub.Rental, error) {
	at := micros(hub.StoreTime(now))
	r, err := scanRental(s.db.QueryRowContext(ctx, `SELECT `+rentalCols+` FROM rentals
		WHERE iccid = ? AND status = ? AND valid_from <= ? AND valid_until > ?
		ORDER BY lease_seq DESC LIMIT 1`, iccid, string(hub.RentalActive), at, at))
	if errors.Is(err, sql.ErrNoRows) {
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO leases (iccid, seq, rental_id, agent_id,
		renter_seal_key, valid_from, valid_until, signed, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ICCID, int64(l.Seq), l.RentalID, l.AgentID, l.RenterSealKey, micros(hub.StoreTime(l.From)),
		micros(hub.StoreTime(l.Until)), l.Signed, micros(hub.StoreTime(l.IssuedAt)))
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
	var from, until, issued int64
	err := s.db.QueryRowContext(ctx, `SELECT rental_id, agent_id, renter_seal_key, valid_from,
		valid_until, signed, issued_at FROM leases WHERE iccid = ? AND seq = ?`, iccid, int64(seq)).
		Scan(&l.RentalID, &l.AgentID, &l.RenterSealKey, &from, &until, &l.Signed, &issued)
	if errors.Is(err, sql.ErrNoRows) {
		return hub.Lease{}, notFound("lease", fmt.Sprintf("%s#%d", iccid, seq))
	}
	if err != nil {
		return hub.Lease{}, fmt.Errorf("get lease %s#%d: %w", iccid, seq, err)
	}
	l.From, l.Until, l.IssuedAt = fromMicros(from), fromMicros(until), fromMicros(issued)
	return l, nil
}

// PutMessage implements hub.Store.
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
	res, err := s.db.ExecContext(ctx, `INSERT INTO messages (id, agent_id, slot, iccid, rental_id,
		lease_seq, recipient_key, received_at, stored_at, signed, delivered, acked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		m.ID, m.AgentID, m.Slot, m.ICCID, rental, int64(m.LeaseSeq), m.RecipientKey,
		micros(hub.StoreTime(m.ReceivedAt)), micros(hub.StoreTime(m.StoredAt)), m.Signed, m.Delivered, m.Acked)
	if err != nil {
		return false, fmt.Errorf("put message %s: %w", m.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("put message %s: %w", m.ID, err)
	}
	return n == 1, nil
}

// PutMessageReceipt implements hub.Store: both inserts in one transaction (one commit).
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
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("put message %s with receipt: %w", m.ID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO messages (id, agent_id, slot, iccid, rental_id,
		lease_seq, recipient_key, received_at, stored_at, signed, delivered, acked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		m.ID, m.AgentID, m.Slot, m.ICCID, rental, int64(m.LeaseSeq), m.RecipientKey,
		micros(hub.StoreTime(m.ReceivedAt)), micros(hub.StoreTime(m.StoredAt)), m.Signed, m.Delivered, m.Acked)
	if err != nil {
		return false, fmt.Errorf("put message %s with receipt: %w", m.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err // already stored: nothing written
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO receipts(message_id, signed, created_at) VALUES (?, ?, ?)
		ON CONFLICT(message_id) DO NOTHING`, r.MessageID, r.Signed, micros(hub.StoreTime(r.CreatedAt))); err != nil {
		return false, fmt.Errorf("put message %s with receipt: %w", m.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("put message %s with receipt: commit: %w", m.ID, err)
	}
	return true, nil
}

const messageCols = `seq, id, agent_id, slot, iccid, coalesce(rental_id, ''), lease_seq, recipient_key,
	received_at, stored_at, signed, delivered, acked, deleted`

func scanMessage(sc interface{ Scan(...any) error }) (hub.Message, error) {
	var m hub.Message
	var leaseSeq, received, stored int64
	if err := sc.Scan(&m.Seq, &m.ID, &m.AgentID, &m.Slot, &m.ICCID, &m.RentalID, &leaseSeq,
		&m.RecipientKey, &received, &stored, &m.Signed, &m.Delivered, &m.Acked, &m.Deleted); err != nil {
		return hub.Message{}, err
	}
	m.LeaseSeq, m.ReceivedAt, m.StoredAt = uint64(leaseSeq), fromMicros(received), fromMicros(stored)
	m.Signed = orNil(m.Signed)
	return m, nil
}

// GetMessage implements hub.Store.
func (s *Store) GetMessage(ctx context.Context, id string) (hub.Message, error) {
	m, err := scanMessage(s.db.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	where := []string{"seq > ?", "deleted = 0"}
	args := []any{q.After}
	if len(q.RecipientKey) > 0 {
		where, args = append(where, "recipient_key = ?"), append(args, q.RecipientKey)
	}
	if len(q.Renter) > 0 {
		where, args = append(where, "rental_id IN (SELECT id FROM rentals WHERE renter_sign_key = ?)"), append(args, q.Renter)
	}
	if q.RentalID != "" {
		where, args = append(where, "rental_id = ?"), append(args, q.RentalID)
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, `SELECT `+messageCols+` FROM messages WHERE `+
		strings.Join(where, " AND ")+` ORDER BY seq LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	var out []hub.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return out, nil
}

func (s *Store) setFlag(ctx context.Context, op, col, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE messages SET `+col+` = 1 WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO receipts(message_id, signed, created_at) VALUES (?, ?, ?)
		ON CONFLICT(message_id) DO NOTHING`, r.MessageID, r.Signed, micros(hub.StoreTime(r.CreatedAt)))
	if err != nil {
		return fmt.Errorf("put receipt %s: %w", r.MessageID, err)
	}
	return nil
}

// GetReceipt implements hub.Store.
func (s *Store) GetReceipt(ctx context.Context, messageID string) (hub.Receipt, error) {
	var r hub.Receipt
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT message_id, signed, created_at FROM receipts WHERE message_id = ?`,
		messageID).Scan(&r.MessageID, &r.Signed, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return hub.Receipt{}, notFound("receipt", messageID)
	}
	if err != nil {
		return hub.Receipt{}, fmt.Errorf("get receipt %s: %w", messageID, err)
	}
	r.CreatedAt = fromMicros(created)
	return r, nil
}

// ListReceipts implements hub.Store.
func (s *Store) ListReceipts(ctx context.Context, from, until time.Time) ([]hub.Receipt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT message_id, signed, created_at FROM receipts
		WHERE created_at >= ? AND created_at < ? ORDER BY created_at, message_id`,
		micros(hub.StoreTime(from)), micros(hub.StoreTime(until)))
	if err != nil {
		return nil, fmt.Errorf("list receipts: %w", err)
	}
	defer rows.Close()
	var out []hub.Receipt
	for rows.Next() {
		var r hub.Receipt
		var created int64
		if err := rows.Scan(&r.MessageID, &r.Signed, &created); err != nil {
			return nil, fmt.Errorf("list receipts: %w", err)
		}
		r.CreatedAt = fromMicros(created)
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens(hash, subject, scope, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, t.Hash, t.Subject, t.Scope, micros(hub.StoreTime(t.CreatedAt)), micros(hub.StoreTime(t.ExpiresAt)))
	if err != nil {
		return fmt.Errorf("put token for %s: %w", t.Subject, err)
	}
	return nil
}

// GetToken implements hub.Store.
func (s *Store) GetToken(ctx context.Context, hash []byte, now time.Time) (hub.Token, error) {
	var t hub.Token
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT hash, subject, scope, created_at, expires_at FROM tokens
		WHERE hash = ? AND expires_at > ?`, hash, micros(hub.StoreTime(now))).
		Scan(&t.Hash, &t.Subject, &t.Scope, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return hub.Token{}, fmt.Errorf("token: %w", hub.ErrNotFound)
	}
	if err != nil {
		return hub.Token{}, fmt.Errorf("get token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt = fromMicros(created), fromMicros(expires)
	return t, nil
}

// DeleteToken implements hub.Store. Deleting an unknown token is not an error.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM tokens WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	return nil
}
