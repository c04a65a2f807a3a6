package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ness-network/ness-sms/hub"
)

// PutChallenge implements hub.Store.
func (s *Store) PutChallenge(ctx context.Context, challenge []byte, expires time.Time) error {
	if len(challenge) == 0 {
		return &hub.InvalidError{Record: "challenge", Field: "Challenge", Reason: "empty"}
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO challenges(challenge, expires_at) VALUES ($1, $2)`,
		challenge, hub.StoreTime(expires)); err != nil {
		return fmt.Errorf("put challenge: %w", err)
	}
	return nil
}

// UseChallenge implements hub.Store.
func (s *Store) UseChallenge(ctx context.Context, challenge []byte, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM challenges WHERE challenge = $1 AND expires_at > $2`,
		challenge, hub.StoreTime(now))
	if err != nil {
		return fmt.Errorf("use challenge: %w", err)
	}
	// Expired challenges are swept on the way; there are never many.
	if _, err := s.pool.Exec(ctx, `DELETE FROM challenges WHERE expires_at <= $1`, hub.StoreTime(now)); err != nil {
		return fmt.Errorf("use challenge: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("challenge: %w", hub.ErrNotFound)
	}
	return nil
}

// ListRentals implements hub.Store.
func (s *Store) ListRentals(ctx context.Context, renter []byte) ([]hub.Rental, error) {
	return collect(ctx, s, "list rentals", scanRental, `SELECT `+rentalCols+` FROM rentals
		WHERE renter_sign_key = $1 ORDER BY created_at, id`, renter)
}

// DeleteMessage implements hub.Store.
func (s *Store) DeleteMessage(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE messages SET deleted = true, signed = ''::bytea WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete message %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
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
	_, err := s.pool.Exec(ctx, `INSERT INTO payments(id, rental_id, provider_key, payer_key, amount,
		method, ref, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, p.ID, p.RentalID, p.ProviderKey,
		p.PayerKey, int64(p.Amount), p.Method, p.Ref, ts(p.CreatedAt))
	if err != nil {
		return fmt.Errorf("put payment %s: %w", p.ID, err)
	}
	return nil
}

// ListPayments implements hub.Store.
func (s *Store) ListPayments(ctx context.Context, provider []byte) ([]hub.Payment, error) {
	return collect(ctx, s, "list payments", func(sc scanner) (hub.Payment, error) {
		var p hub.Payment
		var amount int64
		var created *time.Time
		err := sc.Scan(&p.ID, &p.RentalID, &p.ProviderKey, &p.PayerKey, &amount, &p.Method, &p.Ref, &created)
		p.Amount, p.CreatedAt = hub.Micro(amount), fromTS(created)
		return p, err
	}, `SELECT id, rental_id, provider_key, payer_key, amount, method, ref, created_at FROM payments
		WHERE provider_key = $1 ORDER BY created_at, id`, provider)
}

// PutWebhook implements hub.Store.
func (s *Store) PutWebhook(ctx context.Context, w hub.Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO webhooks(id, owner, rental_id, url, secret, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, w.ID, w.Owner, w.RentalID, w.URL, w.Secret, ts(w.CreatedAt))
	if err != nil {
		return fmt.Errorf("put webhook %s: %w", w.ID, err)
	}
	return nil
}

const webhookCols = `id, owner, rental_id, url, secret, created_at`

func scanWebhook(sc scanner) (hub.Webhook, error) {
	var w hub.Webhook
	var created *time.Time
	err := sc.Scan(&w.ID, &w.Owner, &w.RentalID, &w.URL, &w.Secret, &created)
	w.CreatedAt = fromTS(created)
	return w, err
}

// GetWebhook implements hub.Store.
func (s *Store) GetWebhook(ctx context.Context, id string) (hub.Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return hub.Webhook{}, notFound("webhook", id)
	}
	if err != nil {
		return hub.Webhook{}, fmt.Errorf("get webhook %s: %w", id, err)
	}
	return w, nil
}

// ListWebhooks implements hub.Store.
func (s *Store) ListWebhooks(ctx context.Context, owner []byte) ([]hub.Webhook, error) {
	return collect(ctx, s, "list webhooks", scanWebhook, `SELECT `+webhookCols+` FROM webhooks
		WHERE owner = $1 ORDER BY created_at, id`, owner)
}

// DeleteWebhook implements hub.Store; its deliveries go with it (ON DELETE CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("webhook", id)
	}
	return nil
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
	tag, err := s.pool.Exec(ctx, `INSERT INTO deliveries(webhook_id, message_id, state, attempts,
		next_attempt, last_status, last_error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (webhook_id, message_id) DO NOTHING`, d.WebhookID, d.MessageID, string(d.State), d.Attempts,
		ts(d.NextAttempt), d.LastStatus, d.LastError, ts(d.CreatedAt), ts(d.UpdatedAt))
	if err != nil {
		return false, fmt.Errorf("create delivery %s/%s: %w", d.WebhookID, d.MessageID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// UpdateDelivery implements hub.Store.
func (s *Store) UpdateDelivery(ctx context.Context, d hub.Delivery) error {
	if err := d.Validate(); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET state = $1, attempts = $2, next_attempt = $3,
		last_status = $4, last_error = $5, updated_at = $6 WHERE webhook_id = $7 AND message_id = $8`,
		string(d.State), d.Attempts, ts(d.NextAttempt), d.LastStatus, d.LastError, ts(d.UpdatedAt),
		d.WebhookID, d.MessageID)
	if err != nil {
		return fmt.Errorf("update delivery %s/%s: %w", d.WebhookID, d.MessageID, err)
	}
	if tag.RowsAffected() == 0 {
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
	tag, err := s.pool.Exec(ctx, `UPDATE deliveries SET next_attempt = $1, updated_at = $2
		WHERE webhook_id = $3 AND message_id = $4 AND state = $5 AND next_attempt = $6`,
		ts(until), ts(updatedAt(d)), d.WebhookID, d.MessageID, string(hub.DeliveryPending), ts(prev))
	if err != nil {
		return false, fmt.Errorf("claim delivery %s/%s: %w", d.WebhookID, d.MessageID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ListDeliveries implements hub.Store.
func (s *Store) ListDeliveries(ctx context.Context, q hub.DeliveryQuery) ([]hub.Delivery, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	where := []string{"true"}
	if q.WebhookID != "" {
		where = append(where, "webhook_id = "+arg(q.WebhookID))
	}
	if q.State != "" {
		where = append(where, "state = "+arg(string(q.State)))
	}
	if !q.DueBy.IsZero() {
		where = append(where, "coalesce(next_attempt, '-infinity') <= "+arg(hub.StoreTime(q.DueBy)))
	}
	return collect(ctx, s, "list deliveries", func(sc scanner) (hub.Delivery, error) {
		var d hub.Delivery
		var state string
		var next, created, updated *time.Time
		err := sc.Scan(&d.WebhookID, &d.MessageID, &state, &d.Attempts, &next, &d.LastStatus, &d.LastError,
			&created, &updated)
		d.State, d.NextAttempt, d.CreatedAt, d.UpdatedAt = hub.DeliveryState(state), fromTS(next),
			fromTS(created), fromTS(updated)
		return d, err
	}, `SELECT webhook_id, message_id, state, attempts, next_attempt, last_status, last_error, created_at,
		updated_at FROM deliveries WHERE `+strings.Join(where, " AND ")+
		` ORDER BY next_attempt NULLS FIRST, webhook_id, message_id LIMIT `+arg(q.LimitOrDefault()), args...)
}

// ListMissingDeliveries implements hub.Store.
func (s *Store) ListMissingDeliveries(ctx context.Context, after int64, limit int) ([]hub.MissingDelivery, int64, error) {
	// The newest Seq first: PutMessage assigns Seq under a lock held until commit, so every
	// message with a lower Seq is committed.
	var hi int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM messages`).Scan(&hi); err != nil {
		return nil, 0, fmt.Errorf("list missing deliveries: %w", err)
	}
	out, err := collect(ctx, s, "list missing deliveries", func(sc scanner) (hub.MissingDelivery, error) {
		var d hub.MissingDelivery
		err := sc.Scan(&d.WebhookID, &d.MessageID, &d.MessageSeq)
		return d, err
	}, `SELECT w.id, m.id, m.seq FROM webhooks w
		JOIN rentals r ON r.renter_sign_key = w.owner AND (w.rental_id = '' OR w.rental_id = r.id)
		JOIN messages m ON m.rental_id = r.id
		WHERE m.seq > $1 AND m.seq <= $2 AND NOT m.deleted AND m.stored_at >= w.created_at
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = w.id AND d.message_id = m.id)
		ORDER BY m.seq, w.id LIMIT $3`, after, hi, limit)
	if err != nil {
		return nil, 0, err
	}
	if len(out) < limit {
		return out, max(after, hi), nil
	}
	return out, max(after, out[len(out)-1].MessageSeq-1), nil
}
