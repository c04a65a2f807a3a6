package httpapi

import (
	"context"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

// Payments takes a renter's payment for a rental period. Pay returns once the hub may issue the
// lease (the payment is recorded with Store.PutPayment); an error means no lease is issued and
// the client sees 402 payment_required with the error's text. The Emercoin engineer plugs in
// RANDPAY or a 2-of-3 multisig escrow here; DevPayments is the development chain.
type Payments interface {
	Pay(ctx context.Context, req PaymentRequest) (hub.Payment, error)
}

// PaymentRequest is one payment the hub asks for.
type PaymentRequest struct {
	RentalID string
	Number   string // E.164
	Period   string // "daily", "weekly", "monthly"
	Renter   []byte // renter's account key
	Provider []byte // provider's Ed25519 key (payee)
	Amount   hub.Micro
}

// DevPayments records every payment as paid at once (method "dev"): the development chain.
type DevPayments struct {
	Store hub.Store
	Now   func() time.Time // default time.Now
}

// Pay implements Payments.
func (d DevPayments) Pay(ctx context.Context, req PaymentRequest) (hub.Payment, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	p := hub.Payment{ID: randomID("pay_"), RentalID: req.RentalID, ProviderKey: req.Provider, PayerKey: req.Renter,
		Amount: req.Amount, Method: "dev", CreatedAt: now()}
	if err := d.Store.PutPayment(ctx, p); err != nil {
		return hub.Payment{}, err
	}
	return p, nil
}
