package hub

import (
	"strings"
	"time"
)

// Payment is money a renter paid for a rental, owed to the provider whose agent holds the
// number. Earnings are the sum of a provider's payments. Method says how it was paid: "dev" (the
// development chain: paid at once), "randpay" or "multisig" once those land.
type Payment struct {
	ID          string
	RentalID    string
	ProviderKey []byte // provider's Ed25519 key (the agent certificate's signer)
	PayerKey    []byte // renter's sign-in key (RenterSignKey)
	Amount      Micro
	Method      string
	Ref         string // chain reference (txid), "" for the development chain
	CreatedAt   time.Time
}

// Validate checks the fields a Store needs.
func (p Payment) Validate() error {
	switch {
	case p.ID == "" || len(p.ID) > 128:
		return invalid("payment", "ID", "want 1-128 bytes")
	case p.RentalID == "":
		return invalid("payment", "RentalID", "empty")
	case !validKey(p.ProviderKey):
		return invalid("payment", "ProviderKey", "want 32 bytes")
	case !validKey(p.PayerKey):
		return invalid("payment", "PayerKey", "want 32 bytes")
	case p.Amount < 0:
		return invalid("payment", "Amount", "must not be negative")
	case p.Method == "":
		return invalid("payment", "Method", "empty")
	}
	return nil
}

// Webhook is a renter's HTTPS endpoint that receives their messages: all of the owner's
// (RentalID "") or one rental's.
type Webhook struct {
	ID        string
	Owner     []byte // the renter's account key (RenterSignKey of their rentals)
	RentalID  string // "" = every rental of Owner
	URL       string
	Secret    []byte // HMAC-SHA256 key; shown to the owner once, kept to sign deliveries
	CreatedAt time.Time
}

// Validate checks the fields a Store needs.
func (w Webhook) Validate() error {
	switch {
	case w.ID == "" || len(w.ID) > 128:
		return invalid("webhook", "ID", "want 1-128 bytes")
	case !validKey(w.Owner):
		return invalid("webhook", "Owner", "want 32 bytes")
	case !strings.HasPrefix(w.URL, "https://") && !strings.HasPrefix(w.URL, "http://"):
		return invalid("webhook", "URL", "want an http(s) URL")
	case len(w.URL) > 2048:
		return invalid("webhook", "URL", "longer than 2048 bytes")
	case len(w.Secret) < 16:
		return invalid("webhook", "Secret", "want at least 16 bytes")
	}
	return nil
}

// DeliveryState is where a webhook delivery is.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "pending"   // to be (re)tried at NextAttempt
	DeliveryDelivered DeliveryState = "delivered" // the receiver answered 2xx
	DeliveryDead      DeliveryState = "dead"      // retries exhausted: dead-lettered
)

// Delivery is one message's delivery to one webhook; (WebhookID, MessageID) is unique, so the
// hub instances that all hear of a message create it once.
type Delivery struct {
	WebhookID   string
	MessageID   string
	State       DeliveryState
	Attempts    int
	NextAttempt time.Time
	LastStatus  int    // last HTTP status, 0 when the request failed
	LastError   string // last failure, "" when none
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Validate checks the fields a Store needs.
func (d Delivery) Validate() error {
	switch {
	case d.WebhookID == "":
		return invalid("delivery", "WebhookID", "empty")
	case d.MessageID == "":
		return invalid("delivery", "MessageID", "empty")
	case d.State != DeliveryPending && d.State != DeliveryDelivered && d.State != DeliveryDead:
		return invalid("delivery", "State", "unknown state "+string(d.State))
	case d.Attempts < 0:
		return invalid("delivery", "Attempts", "must not be negative")
	}
	return nil
}

// MissingDelivery is a message that a webhook should receive and that has no Delivery yet
// (Store.ListMissingDeliveries).
type MissingDelivery struct {
	WebhookID  string
	MessageID  string
	MessageSeq int64
}

// DeliveryQuery selects deliveries for ListDeliveries; zero fields do not filter.
type DeliveryQuery struct {
	WebhookID string
	State     DeliveryState
	DueBy     time.Time // non-zero: only those with NextAttempt <= DueBy
	Limit     int       // 1..MaxListLimit; <= 0 means DefaultListLimit
}

// LimitOrDefault returns the limit to use for q: DefaultListLimit when unset, at most MaxListLimit.
func (q DeliveryQuery) LimitOrDefault() int {
	switch {
	case q.Limit <= 0:
		return DefaultListLimit
	case q.Limit > MaxListLimit:
		return MaxListLimit
	}
	return q.Limit
}
