package client

import (
	"encoding/json"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin" // Amount only: the node's exact 6-decimal unit
)

// The hub API's JSON shapes (docs/API.md, docs/openapi.json). They mirror hub/httpapi's exported
// types field for field (a test compares them), but are declared here so the `ness` binary does
// not link the hub (SQL drivers, the MQTT broker). Responses are decoded strictly: a field the
// client does not know is an error, so a hub speaking another version is noticed, not misread.

// Account says who a token stands for.
type Account struct {
	Subject  string `json:"subject"`
	Key      string `json:"key"`
	Provider bool   `json:"provider,omitempty"`
}

// ChallengeResponse is the answer to POST /v1/auth/challenge.
type ChallengeResponse struct {
	Challenge       string    `json:"challenge"`
	Origin          string    `json:"origin"`
	Expires         time.Time `json:"expires"`
	EmercoinMessage string    `json:"emercoin_message,omitempty"`
}

// TokenRequest is the body of POST /v1/auth/token.
type TokenRequest struct {
	Key       string `json:"key"`
	Challenge string `json:"challenge"`
	Signature string `json:"signature"`
}

// TokenResponse is the answer to a successful sign-in.
type TokenResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	Account Account   `json:"account"`
}

// Prices are EMC amounts as decimal strings ("1.500000").
type Prices struct {
	Day   string `json:"day"`
	Week  string `json:"week"`
	Month string `json:"month"`
	SMS   string `json:"sms"`
}

// NumberView is a number in the catalogue.
type NumberView struct {
	Number     string   `json:"number"`
	Country    string   `json:"country"`
	Features   []string `json:"features"`
	Prices     Prices   `json:"prices"`
	Reputation int      `json:"reputation"`
	Available  bool     `json:"available"`
	Agent      string   `json:"agent"`
}

// NumberList is a page of numbers.
type NumberList struct {
	Numbers []NumberView `json:"numbers"`
	Next    string       `json:"next,omitempty"`
}

// RentalRequest is the body of POST /v1/rentals.
type RentalRequest struct {
	Number    string `json:"number"`
	Duration  string `json:"duration"`
	RenterKey string `json:"renter_key"`
	Payment   string `json:"payment,omitempty"`    // dev (default), escrow or randpay
	EscrowKey string `json:"escrow_key,omitempty"` // escrow: renter's secp256k1 public key, compressed hex
	Budget    string `json:"budget,omitempty"`     // randpay: the most the renter pays, EMC
}

// ExtendRequest is the body of POST /v1/rentals/{id}/extend.
type ExtendRequest struct {
	Duration string `json:"duration"`
}

// RentalView is a rental as its renter sees it.
type RentalView struct {
	ID        string       `json:"id"`
	Number    string       `json:"number"`
	Status    string       `json:"status"`
	From      time.Time    `json:"from"`
	Until     time.Time    `json:"until"`
	RenterKey string       `json:"renter_key"`
	LeaseSeq  uint64       `json:"lease_seq"`
	Lease     string       `json:"lease,omitempty"`
	Created   time.Time    `json:"created"`
	Paid      string       `json:"paid,omitempty"`
	Payment   string       `json:"payment,omitempty"`
	Escrow    *EscrowView  `json:"escrow,omitempty"`
	Randpay   *RandpayView `json:"randpay,omitempty"`
}

// EscrowView is a rental's 2-of-3 multisig escrow: where to pay, and what to sign to settle it.
type EscrowView struct {
	State         string     `json:"state"`
	Address       string     `json:"address"`
	Amount        string     `json:"amount"`
	Received      string     `json:"received"`
	Confirmations int64      `json:"confirmations"`
	MinConf       int        `json:"min_conf"`
	RedeemScript  string     `json:"redeem_script"`
	RenterKey     string     `json:"renter_key"`
	ProviderKey   string     `json:"provider_key"`
	ArbiterKey    string     `json:"arbiter_key"`
	FeeBps        int        `json:"fee_bps"`
	Anchor        string     `json:"anchor"`
	Deadline      time.Time  `json:"deadline,omitempty"`
	Spend         *SpendView `json:"spend,omitempty"`
	TxID          string     `json:"txid,omitempty"`
}

// SpendView is an escrow release or refund waiting for its second signature.
type SpendView struct {
	Kind   string   `json:"kind"`
	Hex    string   `json:"hex"`
	Prev   []PrevTx `json:"prev"`
	To     string   `json:"to"`
	Payout string   `json:"payout"`
	HubFee string   `json:"hub_fee"`
	TxFee  string   `json:"tx_fee"`
}

// PrevTx is an output the spend consumes, in emercoind's signrawtransaction* form.
type PrevTx struct {
	TxID         string          `json:"txid"`
	Vout         int             `json:"vout"`
	ScriptPubKey string          `json:"scriptPubKey"`
	RedeemScript string          `json:"redeemScript,omitempty"`
	Amount       emercoin.Amount `json:"amount"`
}

// RandpayView is a per-SMS RANDPAY rental's budget and the challenges to answer.
type RandpayView struct {
	Budget     string     `json:"budget"`
	Spent      string     `json:"spent"`
	Reserved   string     `json:"reserved"`
	Amount     string     `json:"amount"`
	Risk       int        `json:"risk"`
	Ended      bool       `json:"ended"`
	Challenges []ChapView `json:"challenges"`
}

// ChapView is one unanswered RANDPAY challenge.
type ChapView struct {
	Chap    string    `json:"chap"`
	Message string    `json:"message"`
	Issued  time.Time `json:"issued"`
}

// RentalList is the caller's rentals, oldest first.
type RentalList struct {
	Rentals []RentalView `json:"rentals"`
}

// MessageView is a stored SMS as the hub serves it: routing data, and the agent's exact signed
// bytes and certificate (base64), which the client verifies and opens itself (Open).
type MessageView struct {
	ID          string    `json:"id"`
	Rental      string    `json:"rental"`
	Agent       string    `json:"agent"`
	Slot        int       `json:"slot"`
	ICCID       string    `json:"iccid"`
	LeaseSeq    uint64    `json:"lease_seq"`
	Received    time.Time `json:"received"`
	Stored      time.Time `json:"stored"`
	Signed      string    `json:"signed"`
	Certificate string    `json:"certificate"`
}

// MessageList is a page of messages in store order.
type MessageList struct {
	Messages []MessageView `json:"messages"`
	Next     string        `json:"next"`
}

// StreamEvent is one WebSocket text frame of GET /v1/stream.
type StreamEvent struct {
	Type    string       `json:"type"`
	Message *MessageView `json:"message,omitempty"`
}

// AgentRequest is the body of POST /v1/provider/agents.
type AgentRequest struct {
	Certificate json.RawMessage `json:"certificate"`
}

// AgentView is an agent as its provider sees it.
type AgentView struct {
	ID       string     `json:"id"`
	Key      string     `json:"key"`
	Online   bool       `json:"online"`
	LastSeen time.Time  `json:"last_seen,omitzero"`
	Enrolled time.Time  `json:"enrolled"`
	NotAfter time.Time  `json:"cert_not_after,omitzero"`
	Slots    []SlotView `json:"slots"`
	Numbers  []string   `json:"numbers"`
}

// SlotView is one SIM slot's last reported health.
type SlotView struct {
	Slot         int       `json:"slot"`
	ICCID        string    `json:"iccid,omitempty"`
	State        string    `json:"state"`
	Signal       int       `json:"signal"`
	Registration string    `json:"registration,omitempty"`
	Operator     string    `json:"operator,omitempty"`
	Updated      time.Time `json:"updated"`
	Status       string    `json:"status,omitempty"`
}

// EnrollResponse answers POST /v1/provider/agents; the MQTT password is shown only here.
type EnrollResponse struct {
	Agent        AgentView `json:"agent"`
	MQTTUsername string    `json:"mqtt_username"`
	MQTTPassword string    `json:"mqtt_password"`
}

// AgentList is the caller's agents.
type AgentList struct {
	Agents []AgentView `json:"agents"`
}

// NumberRequest is the body of POST /v1/provider/numbers.
type NumberRequest struct {
	Number   string   `json:"number"`
	Agent    string   `json:"agent"`
	ICCID    string   `json:"iccid"`
	Country  string   `json:"country"`
	Features []string `json:"features"`
	Prices   Prices   `json:"prices"`
	// EscrowKey is the provider's secp256k1 public key (compressed hex) for escrow rentals.
	EscrowKey string `json:"escrow_key,omitempty"`
}

// NumberPatch is the body of PATCH /v1/provider/numbers/{number}; absent fields stay.
type NumberPatch struct {
	Prices   *PricesPatch `json:"prices,omitempty"`
	Features *[]string    `json:"features,omitempty"`
}

// PricesPatch holds the prices to change.
type PricesPatch struct {
	Day   *string `json:"day,omitempty"`
	Week  *string `json:"week,omitempty"`
	Month *string `json:"month,omitempty"`
	SMS   *string `json:"sms,omitempty"`
}

// ProviderNumber is a number as its provider sees it.
type ProviderNumber struct {
	Number   string    `json:"number"`
	Agent    string    `json:"agent"`
	ICCID    string    `json:"iccid"`
	Country  string    `json:"country"`
	Features []string  `json:"features"`
	Prices   Prices    `json:"prices"`
	Rented   bool      `json:"rented"`
	Updated  time.Time `json:"updated"`
}

// ProviderNumberList is the caller's numbers.
type ProviderNumberList struct {
	Numbers []ProviderNumber `json:"numbers"`
}

// Earnings is what renters paid for the caller's numbers.
type Earnings struct {
	Total    string        `json:"total"`
	Payments []PaymentView `json:"payments"`
}

// PaymentView is one payment.
type PaymentView struct {
	ID      string    `json:"id"`
	Rental  string    `json:"rental"`
	Amount  string    `json:"amount"`
	Method  string    `json:"method"`
	Ref     string    `json:"ref,omitempty"`
	Created time.Time `json:"created"`
}
