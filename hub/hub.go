// Package hub holds the domain of the NESS SMS hub: the records it keeps (agents, SIM slots, phone
// numbers, rentals and their leases, sealed messages, receipts, sign-in tokens) and the small
// interfaces the rest of the hub is written against. It imports no database, broker or web
// package; hub/sqlite and hub/postgres implement Store, hub/storetest is the contract suite both
// pass, and hub/broker is the embedded MQTT broker.
//
// The hub is blind: a Message carries the agent's exact signed bytes, whose SMS text and sender are
// sealed to the renter. Nothing in this package has a field for plaintext.
package hub

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// KeySize is the length of every raw Ed25519 public key and X25519 public key the hub stores.
const KeySize = 32

// ErrNotFound is returned (wrapped) by Store lookups that find no record. Test with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (wrapped) when the database refuses a write because of another record,
// e.g. a second active rental of a SIM (Store.PutRentalExclusive). Test with errors.Is.
var ErrConflict = errors.New("conflict")

// InvalidError reports a record a Store refused before touching the database, naming the field.
type InvalidError struct {
	Record string // "agent", "message", …
	Field  string // "ID", "PublicKey", …
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid %s: %s: %s", e.Record, e.Field, e.Reason)
}

// Micro is an amount of EMC in millionths (6 decimals), the unit of every price the hub keeps.
// Integers keep sums exact; 1 EMC = 1_000_000 Micro.
type Micro int64

// String formats m as a decimal EMC amount with six decimals, e.g. "1.250000".
func (m Micro) String() string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = uint64(-m)
	}
	s := strconv.FormatUint(u/1_000_000, 10) + "." + fmt.Sprintf("%06d", u%1_000_000)
	if neg {
		return "-" + s
	}
	return s
}

// Agent is an enrolled ness-agent board.
type Agent struct {
	ID          string // lowercase hex of the first 16 bytes of SHA-256(PublicKey)
	PublicKey   []byte // Ed25519, KeySize bytes
	ProviderKey []byte // provider's Ed25519 key, KeySize bytes
	Certificate []byte // the provider-signed agent certificate, exact bytes
	// MQTTPasswordHash is the broker password hash in Mosquitto's "$7$" PBKDF2-SHA512 form
	// (see hub/broker). The password itself is never stored.
	MQTTPasswordHash string
	EnrolledAt       time.Time
	LastSeen         time.Time // zero: never seen
	Online           bool
}

// Slot is the last known state of one SIM slot of an agent. Slots are numbered from 0.
type Slot struct {
	AgentID      string
	Slot         int
	ICCID        string // empty when no SIM is present
	State        string // agent's slot state, e.g. "ready", "no-sim", "resetting"
	Signal       int    // as reported by the agent (CSQ 0–31, 99 unknown)
	Registration string // e.g. "home", "roaming", "searching", "denied"
	Operator     string
	Status       []byte // the agent's last signed status message, exact bytes
	UpdatedAt    time.Time
}

// Number binds a phone number (E.164, "+" and digits) to the SIM (ICCID) that receives it.
type Number struct {
	E164          string
	ICCID         string
	AgentID       string
	Country       string   // ISO 3166-1 alpha-2, upper case
	Features      []string // e.g. "sms", "long-sms"; order is not kept, duplicates are dropped
	PricePerDay   Micro
	PricePerWeek  Micro
	PricePerMonth Micro
	PricePerSMS   Micro
	UpdatedAt     time.Time
}

// NumberFilter selects numbers for ListNumbers; zero fields do not filter.
type NumberFilter struct {
	Country        string
	AgentID        string
	Feature        string // numbers having this feature
	MaxPricePerDay Micro  // > 0: only numbers whose PricePerDay is at most this
	Limit          int    // <= 0: no limit
}

// RentalStatus is where a rental is in its life.
type RentalStatus string

// Rental states. Only an active rental yields a lease (Store.ActiveLease).
const (
	RentalPending   RentalStatus = "pending"   // created, not yet paid or confirmed
	RentalActive    RentalStatus = "active"    // the lease is in force between From and Until
	RentalEnded     RentalStatus = "ended"     // ran out or was ended by a party
	RentalCancelled RentalStatus = "cancelled" // never became active
)

// Valid reports whether s is one of the defined states.
func (s RentalStatus) Valid() bool {
	switch s {
	case RentalPending, RentalActive, RentalEnded, RentalCancelled:
		return true
	}
	return false
}

// Rental is one renter's right to a number's SMS for a period; its lease is what the hub signs and
// sends to the agent. Leases are bound to the SIM (ICCID), not to a slot.
type Rental struct {
	ID            string
	E164          string
	ICCID         string
	RenterSealKey []byte // renter's X25519 key, the agent seals SMS to it
	RenterSignKey []byte // renter's Ed25519 sign-in key
	From, Until   time.Time
	LeaseSeq      uint64 // from Store.NextLeaseSeq(ICCID); a newer lease has a higher one
	Status        RentalStatus
	SignedLease   []byte // the hub-signed lease, exact bytes (empty until issued)
	CreatedAt     time.Time
}

// Lease is one lease the hub signed for a SIM. Every issued lease is kept, also after a newer
// one replaced it or the rental ended, so an SMS sealed under it can still be checked.
type Lease struct {
	ICCID         string
	Seq           uint64 // from Store.NextLeaseSeq(ICCID)
	RentalID      string
	AgentID       string // the agent the lease was published to
	RenterSealKey []byte // X25519 key SMS under this lease are sealed to
	From, Until   time.Time
	Signed        []byte // the lease as published (JSON transport form), exact bytes
	IssuedAt      time.Time
}

// Message is one sealed, agent-signed SMS as the hub stores it: ciphertext and routing only.
type Message struct {
	ID           string // the agent-computed message id (hex); unique
	AgentID      string
	Slot         int
	ICCID        string
	RentalID     string    // the rental whose lease it was sealed under; empty: none (sealed to provider)
	LeaseSeq     uint64    // the lease sequence the agent named; 0: none
	RecipientKey []byte    // X25519 key the message is sealed to
	ReceivedAt   time.Time // when the agent received it (agent's clock)
	StoredAt     time.Time // when the hub stored it; the Store sets it when zero
	Signed       []byte    // the agent's signed message, exact bytes
	Delivered    bool      // pushed to the renter (WebSocket or webhook)
	Acked        bool      // the renter acknowledged it
	Deleted      bool      // the renter deleted it (Signed is then empty); see Store.DeleteMessage

	// Seq is the store's cursor position, assigned by PutMessage, increasing in commit order.
	// ListMessages returns messages in Seq order; pass the last Seq as After to continue.
	Seq int64
}

// MessageQuery selects messages for ListMessages. At least one of RecipientKey, RentalID and
// Renter must be set; when several are, a message must match all.
type MessageQuery struct {
	RecipientKey []byte
	RentalID     string
	Renter       []byte // messages of rentals whose RenterSignKey is Renter
	After        int64  // cursor: only messages with Seq > After
	Limit        int    // 1..MaxListLimit; <= 0 means DefaultListLimit
}

// List limits for ListMessages.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Receipt is the hub-signed receipt for a stored message; it is sent again on redelivery.
type Receipt struct {
	MessageID string
	Signed    []byte
	CreatedAt time.Time
}

// Token is a bearer token the hub issued, kept only as a hash.
type Token struct {
	Hash      []byte // SHA-256 of the token; the token itself is never stored
	Subject   string // who it stands for, e.g. the renter's sign-in key in base64
	Scope     string // e.g. "renter", "provider", "admin"
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Store is everything the hub keeps. Implementations run their migrations when opened, are safe for
// concurrent use and keep times with microsecond precision in UTC.
type Store interface {
	// UpsertAgent inserts the agent or replaces every field of the one with the same ID.
	UpsertAgent(ctx context.Context, a Agent) error
	GetAgent(ctx context.Context, id string) (Agent, error)
	ListAgents(ctx context.Context) ([]Agent, error) // ordered by ID
	// SetAgentSeen records the agent's connection state: Online, and LastSeen = at.
	SetAgentSeen(ctx context.Context, id string, online bool, at time.Time) error

	// UpsertSlotStatus inserts or replaces the slot (AgentID, Slot), unless the stored status is
	// newer (UpdatedAt): statuses handled out of order, by concurrent ingest workers or hubs,
	// never replace a newer one with an older one.
	UpsertSlotStatus(ctx context.Context, s Slot) error
	// ListSlots returns the agent's slots ordered by slot number; agentID "" lists every agent's.
	ListSlots(ctx context.Context, agentID string) ([]Slot, error)

	// BindNumber inserts the number or rebinds it (ICCID, agent, prices, features) when it exists.
	BindNumber(ctx context.Context, n Number) error
	GetNumber(ctx context.Context, e164 string) (Number, error)
	ListNumbers(ctx context.Context, f NumberFilter) ([]Number, error) // ordered by E164

	// NextLeaseSeq returns the next lease sequence for the SIM: 1 first, then strictly increasing,
	// never the same value twice, also across hub instances sharing the database.
	NextLeaseSeq(ctx context.Context, iccid string) (uint64, error)
	// PutRental inserts the rental or replaces the one with the same ID.
	PutRental(ctx context.Context, r Rental) error
	GetRental(ctx context.Context, id string) (Rental, error)
	// PutRentalExclusive is PutRental for a rental that is to be in force (or a pending rental
	// claiming the SIM while it is paid for): it fails with ErrConflict, writing nothing, when
	// another active or pending rental of the same SIM overlaps r's
	// [From, Until). The check and the write are one step in the database, so two hub instances
	// renting the same number at once cannot both succeed.
	PutRentalExclusive(ctx context.Context, r Rental) error
	// ListActiveRentals returns the active rentals whose Until is after now, ordered by ICCID,
	// LeaseSeq: the leases a hub publishes again when it starts.
	ListActiveRentals(ctx context.Context, now time.Time) ([]Rental, error)
	// ActiveLease returns the active rental of the SIM whose [From, Until) holds now, the one
	// with the highest LeaseSeq when several do; ErrNotFound when there is none.
	ActiveLease(ctx context.Context, iccid string, now time.Time) (Rental, error)

	// PutLease records a lease the hub issued; a second lease with the same (ICCID, Seq) fails.
	PutLease(ctx context.Context, l Lease) error
	// GetLease returns the lease issued for the SIM with this sequence; ErrNotFound when none.
	GetLease(ctx context.Context, iccid string, seq uint64) (Lease, error)

	// PutMessage stores m exactly once. A message whose ID is already stored is left as it is
	// and PutMessage returns stored=false with no error, so the receipt can be sent again.
	PutMessage(ctx context.Context, m Message) (stored bool, err error)
	// PutMessageReceipt is PutMessage followed, when it stored m, by PutReceipt(r), in one
	// transaction (one commit instead of two): either both are kept or neither. A message already
	// stored is left as it is, r is not written and stored is false.
	PutMessageReceipt(ctx context.Context, m Message, r Receipt) (stored bool, err error)
	GetMessage(ctx context.Context, id string) (Message, error)
	ListMessages(ctx context.Context, q MessageQuery) ([]Message, error)
	MarkDelivered(ctx context.Context, id string) error
	MarkAcked(ctx context.Context, id string) error

	// PutReceipt keeps the first receipt for a message; later ones are ignored (no error).
	PutReceipt(ctx context.Context, r Receipt) error
	GetReceipt(ctx context.Context, messageID string) (Receipt, error)
	// ListReceipts returns the receipts whose CreatedAt is in [from, until), ordered by
	// CreatedAt, MessageID: the daily proof tree is built from them in this order.
	ListReceipts(ctx context.Context, from, until time.Time) ([]Receipt, error)

	PutToken(ctx context.Context, t Token) error
	// GetToken returns the token with this hash; ErrNotFound when unknown or expired at now.
	GetToken(ctx context.Context, hash []byte, now time.Time) (Token, error)
	DeleteToken(ctx context.Context, hash []byte) error

	// PutChallenge records a sign-in challenge valid until expires.
	PutChallenge(ctx context.Context, challenge []byte, expires time.Time) error
	// UseChallenge consumes the challenge: it succeeds once, for a challenge that was put and
	// has not expired at now (also across hub instances); otherwise ErrNotFound.
	UseChallenge(ctx context.Context, challenge []byte, now time.Time) error

	// ListRentals returns the rentals whose RenterSignKey is renter, ordered by CreatedAt, ID.
	ListRentals(ctx context.Context, renter []byte) ([]Rental, error)
	// DeleteMessage forgets a message's signed bytes and marks it Deleted: GetMessage still
	// returns it (so a redelivery is recognised and not stored again), ListMessages skips it.
	DeleteMessage(ctx context.Context, id string) error

	// PutPayment records a payment; a second one with the same ID fails.
	PutPayment(ctx context.Context, p Payment) error
	// ListPayments returns the payments to provider, ordered by CreatedAt, ID.
	ListPayments(ctx context.Context, provider []byte) ([]Payment, error)

	// PutWebhook inserts the webhook; a second one with the same ID fails.
	PutWebhook(ctx context.Context, w Webhook) error
	GetWebhook(ctx context.Context, id string) (Webhook, error)
	// ListWebhooks returns the owner's webhooks ordered by CreatedAt, ID.
	ListWebhooks(ctx context.Context, owner []byte) ([]Webhook, error)
	// DeleteWebhook deletes the webhook and its deliveries; ErrNotFound when unknown.
	DeleteWebhook(ctx context.Context, id string) error
	// CreateDelivery inserts d unless a delivery of the same message to the same webhook
	// exists; created reports whether this call inserted it.
	CreateDelivery(ctx context.Context, d Delivery) (created bool, err error)
	// UpdateDelivery replaces state, attempts, times and last result of an existing delivery.
	UpdateDelivery(ctx context.Context, d Delivery) error
	// ClaimDelivery takes the pending delivery (d's webhook and message) for one attempt: it
	// sets NextAttempt to until only when the delivery is still pending with NextAttempt prev
	// (as the caller listed or last claimed it), and reports whether it did. Of several hub
	// instances that listed the same due delivery, one gets it.
	ClaimDelivery(ctx context.Context, d Delivery, prev, until time.Time) (bool, error)
	// ListDeliveries returns deliveries ordered by NextAttempt, WebhookID, MessageID.
	ListDeliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
	// ListMissingDeliveries returns, ordered by message Seq then webhook ID, at most limit
	// (webhook, message) pairs that have no delivery yet: each message with Seq > after, not
	// deleted, of a rental whose renter owns a webhook for all their rentals or for that one,
	// stored at or after the webhook was created. upTo is the cursor to pass as after next time:
	// every message with Seq <= upTo was considered (the newest message's Seq when fewer than
	// limit pairs came back). The webhook dispatcher creates deliveries from it, so a dropped live
	// event or a restart loses no message.
	ListMissingDeliveries(ctx context.Context, after int64, limit int) (missing []MissingDelivery, upTo int64, err error)

	Close() error
}
