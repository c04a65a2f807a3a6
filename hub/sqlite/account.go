package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

// PutChallenge implements hub.Store.
func (s *Store) PutChallenge(ctx context.Context, challenge []byte, expires time.Time) error {
	if len(challenge) == 0 {
		return &hub.InvalidError{Record: "challenge", Field: "Challenge", Reason: "empty"}
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO challenges(challenge, expires_at) VALUES (?, ?)`,
		challenge, micros(hub.StoreTime(expires))); err != nil {
		return fmt.Errorf("put challenge: %w", err)
	}
	return nil
}

// UseChallenge implements hub.Store.
func (s *Store) UseChallenge(ctx context.Context, challenge []byte, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM challenges WHERE challenge = ? AND expires_at > ?`,
		challenge, micros(hub.StoreTime(now)))
	if err != nil {
		return fmt.Errorf("use challenge: %w", err)
	}
	n, _ := res.RowsAffected()
	// Expired challenges are swept on the way; there are never many.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM challenges WHERE expires_at <= ?`, micros(hub.StoreTime(now))); err != nil {
		return fmt.Errorf("use challenge: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("challenge: %w", hub.ErrNotFound)
	}
	return nil
}

// ListRentals implements hub.Store.
func (s *Store) ListRentals(ctx context.Context, renter []byte) ([]hub.Rental, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+rentalCols+` FROM rentals WHERE renter_sign_key = ?
		ORDER BY created_at, id`, renter)
	if err != nil {
		return nil, fmt.Errorf("list rentals: %w", err)
	}
	return collectRows(rows, "list rentals", scanRental)
}

func collectRows[T any](rows *sql.Rows, op string, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
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

// DeleteMessage implements hub.Store.
func (s *Store) DeleteMessage(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE messages SET deleted = 1, signed = X'' WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete message %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("message", id)
	}
	return nil
}

// PutPayment implements hub.Store.
func (s *Store) PutPayment(ctx context.Context, p hub.Payment) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO payments(id, rental_id, provider_key, payer_key, amount,
		method, ref, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.RentalID, p.ProviderKey, p.PayerKey,
		int64(p.Amount), p.Method, p.Ref, micros(hub.StoreTime(p.CreatedAt)))
	if err != nil {
		return fmt.Errorf("put payment %s: %w", p.ID, err)
	}
	return nil
}

// ListPayments implements hub.Store.
func (s *Store) ListPayments(ctx context.Context, provider []byte) ([]hub.Payment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, rental_id, provider_key, payer_key, amount, method, ref,
		created_at FROM payments WHERE provider_key = ? ORDER BY created_at, id`, provider)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return collectRows(rows, "list payments", func(sc interface{ Scan(...any) error }) (hub.Payment, error) {
		var p hub.Payment
		var amount, created int64
		err := sc.Scan(&p.ID, &p.RentalID, &p.ProviderKey, &p.PayerKey, &amount, &p.Method, &p.Ref, &created)
		p.Amount, p.CreatedAt = hub.Micro(amount), fromMicros(created)
		return p, err
	})
}

// PutWebhook implements hub.Store.
func (s *Store) PutWebhook(ctx context.Context, w hub.Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO webhooks(id, owner, rental_id, url, secret, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, w.ID, w.Owner, w.RentalID, w.URL, w.Secret, micros(hub.StoreTime(w.CreatedAt)))
	if err != nil {
		return fmt.Errorf("put webhook %s: %w", w.ID, err)
	}
	return nil
}

const webhookCols = `id, owner, rental_id, url, secret, created_at`

func scanWebhook(sc interface{ Scan(...any) error }) (hub.Webhook, error) {
	var w hub.Webhook
	var created int64
	err := sc.Scan(&w.ID, &w.Owner, &w.RentalID, &w.URL, &w.Secret, &created)
	w.CreatedAt = fromMicros(created)
	return w, err
}

// GetWebhook implements hub.Store.
func (s *Store) GetWebhook(ctx context.Context, id string) (hub.Webhook, error) {
	w, err := scanWebhook(s.db.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return hub.Webhook{}, notFound("webhook", id)
	}
	if err != nil {
		return hub.Webhook{}, fmt.Errorf("get webhook %s: %w", id, err)
	}
	return w, nil
}

// ListWebhooks implements hub.Store.
func (s *Store) ListWebhooks(ctx context.Context, owner []byte) ([]hub.Webhook, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE owner = ? ORDER BY created_at, id`, owner)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return collectRows(rows, "list webhooks", scanWebhook)
}

// DeleteWebhook implements hub.Store.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE webhook_id = ?`, id); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("webhook", id)
	}
	return tx.Commit()
}

// CreateDelivery implements hub.Store.
func (s *Store) CreateDelivery(ctx context.Context, d hub.Delivery) (bool, error) {
	if err := d.Validate(); err != nil {
		return false, err
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = time.Now()
	}
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = d.CreatedAt
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO deliveries(webhook_id, message_id, state, attempts,
		next_attempt, last_status, last_error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(webhook_id, message_id) DO NOTHING`, d.WebhookID, d.MessageID, string(d.State), d.Attempts,
		micros(hub.StoreTime(d.NextAttempt)), d.LastStatus, d.LastError, micros(hub.StoreTime(d.CreatedAt)),
		micros(hub.StoreTime(d.UpdatedAt)))
	if err != nil {
		return false, fmt.Errorf("create delivery %s/%s: %w", d.WebhookID, d.MessageID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("create delivery %s/%s: %w", d.WebhookID, d.MessageID, err)
	}
	return n == 1, nil
}

// UpdateDelivery implements hub.Store.
func (s *Store) UpdateDelivery(ctx context.Context, d hub.Delivery) error {
	if err := d.Validate(); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET state = ?, attempts = ?, next_attempt = ?,
		last_status = ?, last_error = ?, updated_at = ? WHERE webhook_id = ? AND message_id = ?`,
		string(d.State), d.Attempts, micros(hub.StoreTime(d.NextAttempt)), d.LastStatus, d.LastError,
		micros(hub.StoreTime(d.UpdatedAt)), d.WebhookID, d.MessageID)
	if err != nil {
		return fmt.Errorf("update delivery %s/%s: %w", d.WebhookID, d.MessageID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("delivery", d.WebhookID+"/"+d.MessageID)
	}
	return nil
}

// updatedAt is d.UpdatedAt, or now when it is zero.
func updatedAt(d hub.Delivery) time.Time {
	if d.UpdatedAt.IsZero() {
		return time.Now()
	}
	return d.UpdatedAt
}

// ClaimDelivery implements hub.Store: one conditional UPDATE; UpdatedAt is d.UpdatedAt (now when zero).
func (s *Store) ClaimDelivery(ctx context.Context, d hub.Delivery, prev, until time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET next_attempt = ?, updated_at = ?
		WHERE webhook_id = ? AND message_id = ? AND state = ? AND next_attempt = ?`,
		micros(hub.StoreTime(until)), micros(hub.StoreTime(updatedAt(d))), d.WebhookID, d.MessageID,
		string(hub.DeliveryPending), micros(hub.StoreTime(prev)))
	if err != nil {
		return false, fmt.Errorf("claim delivery %s/%s: %w", d.WebhookID, d.MessageID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim delivery %s/%s: %w", d.WebhookID, d.MessageID, err)
	}
	return n == 1, nil
}

// ListDeliveries implements hub.Store.
func (s *Store) ListDeliveries(ctx context.Context, q hub.DeliveryQuery) ([]hub.Delivery, error) {
	where, args := []string{"1 = 1"}, []any{}
	if q.WebhookID != "" {
		where, args = append(where, "webhook_id = ?"), append(args, q.WebhookID)
	}
	if q.State != "" {
		where, args = append(where, "state = ?"), append(args, string(q.State))
	}
	if !q.DueBy.IsZero() {
		where, args = append(where, "next_attempt <= ?"), append(args, micros(hub.StoreTime(q.DueBy)))
	}
	args = append(args, q.LimitOrDefault())
	rows, err := s.db.QueryContext(ctx, `SELECT webhook_id, message_id, state, attempts, next_attempt,
		last_status, last_error, created_at, updated_at FROM deliveries WHERE `+strings.Join(where, " AND ")+
		` ORDER BY next_attempt, webhook_id, message_id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return collectRows(rows, "list deliveries", func(sc interface{ Scan(...any) error }) (hub.Delivery, error) {
		var d hub.Delivery
		var state string
		var next, created, updated int64
		err := sc.Scan(&d.WebhookID, &d.MessageID, &state, &d.Attempts, &next, &d.LastStatus, &d.LastError,
			&created, &updated)
		d.State, d.NextAttempt, d.CreatedAt, d.UpdatedAt = hub.DeliveryState(state), fromMicros(next),
			fromMicros(created), fromMicros(updated)
		return d, err
	})
}

// ListMissingDeliveries implements hub.Store.
func (s *Store) ListMissingDeliveries(ctx context.Context, after int64, limit int) ([]hub.MissingDelivery, int64, error) {
	// The newest Seq first: a message with a lower Seq is committed (one writer at a time).
	var hi int64
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM messages`).Scan(&hi); err != nil {
		return nil, 0, fmt.Errorf("list missing deliveries: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT w.id, m.id, m.seq FROM webhooks w
		JOIN rentals r ON r.renter_sign_key = w.owner AND (w.rental_id = '' OR w.rental_id = r.id)
		JOIN messages m ON m.rental_id = r.id
		WHERE m.seq > ? AND m.seq <= ? AND m.deleted = 0 AND m.stored_at >= w.created_at
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = w.id AND d.message_id = m.id)
		ORDER BY m.seq, w.id LIMIT ?`, after, hi, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list missing deliveries: %w", err)
	}
	defer rows.Close()
	var out []hub.MissingDelivery
	for rows.Next() {
		var d hub.MissingDelivery
		if err := rows.Scan(&d.WebhookID, &d.MessageID, &d.MessageSeq); err != nil {
			return nil, 0, fmt.Errorf("list missing deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list missing deliveries: %w", err)
	}
	return out, missingUpTo(out, limit, after, hi), nil
}

// missingUpTo is ListMissingDeliveries' cursor: hi when the answer was short, else just before
// the last message listed (its other pairs may not have fitted).
func missingUpTo(out []hub.MissingDelivery, limit int, after, hi int64) int64 {
	if len(out) < limit {
		return max(after, hi)
	}
	return max(after, out[len(out)-1].MessageSeq-1)
}
