package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

// StoreLedger is the Ledger that puts a provider's earnings into the hub's store, so
// GET /v1/provider/earnings shows them: a RANDPAY win (the hub's wallet won the payment on the
// provider's behalf; method "randpay", the full amount) and the provider's share of a released
// escrow (method "multisig", the provider_payout amount, the hub's fee excluded) become
// hub.Payment rows. The provider is found from the event's rental: its number, the agent the
// number is bound to, that agent's provider key. Other events, and events whose provider cannot
// be found, are left to Next only.
type StoreLedger struct {
	Store hub.Store
	Next  Ledger           // every event is also recorded here first (e.g. a FileLedger); nil: none
	Now   func() time.Time // time of events that carry none; default time.Now
	Log   *slog.Logger     // default discards
}

// Record implements Ledger.
func (l *StoreLedger) Record(ctx context.Context, e Event) error {
	if l.Next != nil {
		if err := l.Next.Record(ctx, e); err != nil {
			return err
		}
	}
	var id, method string
	switch e.Kind {
	case "randpay_win":
		id, method = "randpay:"+e.Chap, "randpay" // a challenge is single use
	case "provider_payout":
		id, method = "escrow:"+e.Escrow+":"+e.TxID, "multisig"
	default:
		return nil
	}
	provider, renter, err := l.parties(ctx, e.Rental)
	if errors.Is(err, hub.ErrNotFound) {
		l.log().Warn("payment event not in the earnings: provider unknown", "kind", e.Kind, "rental", e.Rental, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("ledger %s of rental %s: %w", e.Kind, e.Rental, err)
	}
	at := e.Time
	if at.IsZero() {
		at = l.now()
	}
	p := hub.Payment{ID: id, RentalID: e.Rental, ProviderKey: provider, PayerKey: renter,
		Amount: hub.Micro(e.Amount), Method: method, Ref: e.TxID, CreatedAt: at}
	if err := l.Store.PutPayment(ctx, p); err != nil {
		return fmt.Errorf("ledger %s of rental %s: %w", e.Kind, e.Rental, err)
	}
	return nil
}

// parties returns the provider key (rental → number → agent → provider) and the renter's key.
func (l *StoreLedger) parties(ctx context.Context, rentalID string) (provider, renter []byte, err error) {
	r, err := l.Store.GetRental(ctx, rentalID)
	if err != nil {
		return nil, nil, err
	}
	n, err := l.Store.GetNumber(ctx, r.E164)
	if err != nil {
		return nil, nil, err
	}
	a, err := l.Store.GetAgent(ctx, n.AgentID)
	if err != nil {
		return nil, nil, err
	}
	return a.ProviderKey, r.RenterSignKey, nil
}

func (l *StoreLedger) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

func (l *StoreLedger) log() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}
