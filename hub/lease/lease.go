// Package lease issues the hub-signed leases that tell an agent whose key to seal a SIM's SMS to,
// and publishes them retained on ness/v1/agent/<agent>/lease/<iccid>.
//
// Every lease gets a new sequence from Store.NextLeaseSeq, so for one ICCID a later lease always
// has a higher sequence, also across hub instances sharing a database; each is kept with
// Store.PutLease, so ingest can check an SMS sealed under any lease the hub issued.
//
// A rental that begins or changes (new renter key, new end) gets a new lease. A rental that ends
// gets an *ended lease*: the same renter, a higher sequence and valid_until set to the end time.
// The retained message is never cleared with an empty payload: an agent that receives the ended
// lease replaces the running one (higher sequence wins, docs/PROTOCOL.md) and stops sealing to
// the renter at once, and the retained ended lease keeps a later-connecting agent from reviving
// an older one. An agent that does receive an empty (cleared) lease topic must treat it as "no
// renter" for that SIM; this hub never sends one.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/wire"
)

// Publisher publishes one MQTT message and waits for the broker (ingest.MQTTPublisher).
type Publisher interface {
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
}

// Issuer signs, records and publishes leases.
//
// A lease that was recorded but could not be published (broker down) is not lost: the Issuer
// remembers its topic and Run publishes it again until the broker takes it. At start a hub calls
// RepublishActive, so the leases of every active rental are retained on the broker again (an
// embedded broker keeps retained messages in memory only).
type Issuer struct {
	Store hub.Store
	Key   *wire.Identity // the hub key
	MQTT  Publisher
	Now   func() time.Time // default time.Now
	Log   *slog.Logger     // default discards
	// RetryEvery is how often Run publishes again the leases that failed; default 5s.
	RetryEvery time.Duration

	mu      sync.Mutex
	pending map[string]string // lease topic → rental whose lease is still to be published there
}

func (is *Issuer) now() time.Time {
	if is.Now == nil {
		return time.Now()
	}
	return is.Now()
}

func (is *Issuer) log() *slog.Logger {
	if is.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return is.Log
}

// Begin makes r active and publishes its lease: r is stored with Status active, its new
// LeaseSeq and SignedLease. Call it again after changing a rental (renter key, end time) to
// publish the changed lease under a new sequence.
func (is *Issuer) Begin(ctx context.Context, r hub.Rental) (hub.Rental, error) {
	r.Status = hub.RentalActive
	return is.issue(ctx, r, r.Until, true)
}

// End ends the rental at the given time (now when zero; never before its start) and publishes
// the ended lease, whose valid_until is the end time. The rental is stored with Status ended and
// Until = the end time.
func (is *Issuer) End(ctx context.Context, rentalID string, at time.Time) (hub.Rental, error) {
	r, err := is.Store.GetRental(ctx, rentalID)
	if err != nil {
		return hub.Rental{}, fmt.Errorf("end rental %s: %w", rentalID, err)
	}
	if at.IsZero() {
		at = is.now()
	}
	at = at.Truncate(time.Millisecond)
	if at.Before(r.From) {
		at = r.From
	}
	until := r.Until
	if at.Before(until) {
		until = at
	}
	if until.After(r.From) {
		r.Until = until // a rental ended before it began keeps its Until: its status says it ended
	}
	r.Status = hub.RentalEnded
	return is.issue(ctx, r, until, false)
}

// issue signs, records and publishes r's lease. With exclusive (a rental coming into force) the
// rental is stored with Store.PutRentalExclusive, so a second active rental of the SIM made at
// the same moment by another hub instance is refused with hub.ErrConflict before any lease is
// recorded or published.
func (is *Issuer) issue(ctx context.Context, r hub.Rental, until time.Time, exclusive bool) (hub.Rental, error) {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = is.now()
	}
	r.LeaseSeq = 1 // placeholder so Validate can run before a sequence is spent
	if err := r.Validate(); err != nil {
		return hub.Rental{}, fmt.Errorf("issue lease: %w", err)
	}
	n, err := is.Store.GetNumber(ctx, r.E164)
	if err != nil {
		return hub.Rental{}, fmt.Errorf("issue lease for rental %s: number %s: %w", r.ID, r.E164, err)
	}
	if n.ICCID != r.ICCID {
		return hub.Rental{}, fmt.Errorf("issue lease for rental %s: number %s is on SIM %s, rental names SIM %s", r.ID, r.E164, n.ICCID, r.ICCID)
	}
	seq, err := is.Store.NextLeaseSeq(ctx, r.ICCID)
	if err != nil {
		return hub.Rental{}, fmt.Errorf("issue lease for rental %s: %w", r.ID, err)
	}
	l := &wire.Lease{ICCID: r.ICCID, AgentID: n.AgentID, Renter: wire.SealKey(r.RenterSealKey),
		Phone: r.E164, ValidFrom: r.From, ValidUntil: until, Seq: seq}
	if err := l.Sign(is.Key); err != nil {
		return hub.Rental{}, fmt.Errorf("issue lease for rental %s: %w", r.ID, err)
	}
	body, err := l.MarshalJSON()
	if err != nil {
		return hub.Rental{}, fmt.Errorf("issue lease for rental %s: %w", r.ID, err)
	}
	// The lease is recorded before it is published: an SMS sealed under it can arrive the moment
	// the agent has it.
	rec := hub.Lease{ICCID: r.ICCID, Seq: seq, RentalID: r.ID, AgentID: n.AgentID,
		RenterSealKey: r.RenterSealKey, From: l.ValidFrom, Until: l.ValidUntil, Signed: body, IssuedAt: is.now()}
	r.LeaseSeq, r.SignedLease = seq, body
	put := is.Store.PutRental
	if exclusive {
		put = is.Store.PutRentalExclusive
	}
	if err := put(ctx, r); err != nil {
		return hub.Rental{}, fmt.Errorf("issue lease for rental %s: %w", r.ID, err)
	}
	if err := is.Store.PutLease(ctx, rec); err != nil {
		return hub.Rental{}, fmt.Errorf("issue lease for rental %s: %w", r.ID, err)
	}
	topic := wire.LeaseTopic(n.AgentID, r.ICCID)
	if err := is.publish(ctx, topic, r.ID, body); err != nil {
		return r, fmt.Errorf("issue lease for rental %s: recorded as %s#%d but not published (Run retries it): %w", r.ID, r.ICCID, seq, err)
	}
	is.log().Info("lease published", "rental", r.ID, "agent", n.AgentID, "iccid", r.ICCID, "seq", seq,
		"status", r.Status, "valid_until", l.ValidUntil)
	return r, nil
}

// publish publishes a rental's signed lease retained on topic. On failure the topic is marked
// pending with this rental, so Run tries again; on success any pending retry of the topic is
// dropped (this lease is the newest the Issuer has for it).
func (is *Issuer) publish(ctx context.Context, topic, rentalID string, body []byte) error {
	err := is.MQTT.Publish(ctx, topic, 1, true, body)
	is.mu.Lock()
	defer is.mu.Unlock()
	if err != nil {
		if is.pending == nil {
			is.pending = map[string]string{}
		}
		is.pending[topic] = rentalID
	} else {
		delete(is.pending, topic)
	}
	return err
}

// Pending returns how many lease topics wait for a retry.
func (is *Issuer) Pending() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return len(is.pending)
}

// RetryPending publishes again every lease whose publication failed, reading the rental's
// current signed lease from the store. Those that fail again stay pending; it returns how many
// were published.
func (is *Issuer) RetryPending(ctx context.Context) int {
	is.mu.Lock()
	todo := make(map[string]string, len(is.pending))
	for topic, id := range is.pending {
		todo[topic] = id
	}
	is.mu.Unlock()
	done := 0
	for topic, id := range todo {
		r, err := is.Store.GetRental(ctx, id)
		if err != nil {
			is.log().Warn("lease retry: rental not readable; retrying later", "rental", id, "err", err)
			continue
		}
		is.mu.Lock()
		current := is.pending[topic] == id // a newer lease for the topic may have replaced it
		is.mu.Unlock()
		if !current {
			continue
		}
		if err := is.publish(ctx, topic, id, r.SignedLease); err != nil {
			is.log().Warn("lease retry: not published; retrying later", "rental", id, "topic", topic, "err", err)
			continue
		}
		done++
		is.log().Info("lease published on retry", "rental", id, "topic", topic, "seq", r.LeaseSeq)
	}
	return done
}

// RepublishActive publishes again the signed lease of every active rental not yet over, as a hub
// does at start. A lease that cannot be published now is left pending for Run. It returns how many
// were published.
func (is *Issuer) RepublishActive(ctx context.Context) (int, error) {
	rs, err := is.Store.ListActiveRentals(ctx, is.now())
	if err != nil {
		return 0, fmt.Errorf("republish active leases: %w", err)
	}
	n := 0
	for _, r := range rs {
		l, err := wire.DecodeLease(r.SignedLease)
		if err != nil {
			is.log().Warn("active rental has no valid lease; not republished", "rental", r.ID, "err", err)
			continue
		}
		if err := is.publish(ctx, wire.LeaseTopic(l.AgentID, l.ICCID), r.ID, r.SignedLease); err != nil {
			is.log().Warn("lease not republished; retrying later", "rental", r.ID, "err", err)
			continue
		}
		n++
	}
	is.log().Info("active leases republished", "published", n, "active", len(rs))
	return n, nil
}

// Run retries pending leases every RetryEvery until ctx ends; it returns nil then.
func (is *Issuer) Run(ctx context.Context) error {
	every := is.RetryEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if is.Pending() > 0 {
				is.RetryPending(ctx)
			}
		}
	}
}

// Republish publishes again the signed lease of every rental in ids (e.g. after a restart of an
// embedded broker, which keeps retained messages in memory only). It stops at the first error.
func (is *Issuer) Republish(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		r, err := is.Store.GetRental(ctx, id)
		if err != nil {
			return fmt.Errorf("republish lease of rental %s: %w", id, err)
		}
		if len(r.SignedLease) == 0 {
			return fmt.Errorf("republish lease of rental %s: %w", id, errors.New("no lease issued yet"))
		}
		l, err := wire.DecodeLease(r.SignedLease)
		if err != nil {
			return fmt.Errorf("republish lease of rental %s: %w", id, err)
		}
		if err := is.MQTT.Publish(ctx, wire.LeaseTopic(l.AgentID, l.ICCID), 1, true, r.SignedLease); err != nil {
			return fmt.Errorf("republish lease of rental %s: %w", id, err)
		}
	}
	return nil
}
