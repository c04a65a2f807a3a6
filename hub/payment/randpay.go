// Package payment is the hub's side of paying providers per SMS with Emercoin's RANDPAY
// (reference/emercoin.md §4): the hub's wallet is the payee on the provider's behalf, issues one
// challenge per SMS, accepts the renter's probabilistic payment, and counts wins against the
// rental's budget so a renter is never charged past it. Every outcome is written to a Ledger.
package payment

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// Defaults for per-SMS RANDPAY (issue 8): 1 EMC at risk 6, challenges valid 6 h.
const (
	DefaultAmount  = emercoin.Coin
	DefaultRisk    = 6
	DefaultTimeout = 6 * time.Hour
)

// Node is what the payee needs from emercoind.
type Node interface {
	RandpayMkchap(ctx context.Context, amount emercoin.Amount, risk int, timeout time.Duration) (string, error)
	RandpayAccept(ctx context.Context, txHex string, flags emercoin.RandpayAcceptFlags) (emercoin.RandpayAccept, error)
}

// Event is one ledger line.
type Event struct {
	Time   time.Time
	Rental string
	Escrow string // escrow id, for escrow events
	// Kind: "randpay_challenge", "randpay_win", "randpay_loss", "randpay_expired";
	// "escrow_opened", "escrow_funded", "escrow_release", "provider_payout", "hub_fee", "escrow_refund".
	Kind   string
	Amount emercoin.Amount
	TxID   string
	Chap   string
}

// Ledger records payment events; the hub stores them (a slice in tests).
type Ledger interface {
	Record(ctx context.Context, e Event) error
}

// Errors callers test with errors.Is.
var (
	ErrBudgetExhausted  = errors.New("rental budget exhausted")
	ErrUnknownRental    = errors.New("unknown rental")
	ErrUnknownChallenge = errors.New("challenge not issued for this rental")
	ErrWrongChallenge   = errors.New("payment does not answer this challenge")
)

// Payee issues and accepts RANDPAY payments per rental. Safe for concurrent use.
type Payee struct {
	Node    Node
	Ledger  Ledger
	Now     func() time.Time // nil: time.Now
	Amount  emercoin.Amount  // 0: DefaultAmount
	Risk    int              // 0: DefaultRisk
	Timeout time.Duration    // 0: DefaultTimeout

	mu      sync.Mutex
	rentals map[string]*budget
	chaps   map[string]issued // by chap string
}

type budget struct {
	limit    emercoin.Amount
	spent    emercoin.Amount // won and sent
	reserved emercoin.Amount // outstanding challenges, each could win
}

type issued struct {
	rental string
	chap   emercoin.Chap
	expire time.Time
}

// Budget is a rental's state.
type Budget struct {
	Limit, Spent, Reserved emercoin.Amount
}

func (p *Payee) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Payee) params() (emercoin.Amount, int, time.Duration) {
	a, r, t := p.Amount, p.Risk, p.Timeout
	if a == 0 {
		a = DefaultAmount
	}
	if r == 0 {
		r = DefaultRisk
	}
	if t == 0 {
		t = DefaultTimeout
	}
	return a, r, t
}

// Open starts (or raises) a rental's budget: the most its renter can be charged in total.
func (p *Payee) Open(rental string, limit emercoin.Amount) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rentals == nil {
		p.rentals = map[string]*budget{}
		p.chaps = map[string]issued{}
	}
	if b, ok := p.rentals[rental]; ok {
		b.limit = limit
		return
	}
	p.rentals[rental] = &budget{limit: limit}
}

// Budget returns a rental's budget.
func (p *Payee) Budget(rental string) (Budget, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire()
	b, ok := p.rentals[rental]
	if !ok {
		return Budget{}, fmt.Errorf("%w: %s", ErrUnknownRental, rental)
	}
	return Budget{b.limit, b.spent, b.reserved}, nil
}

// expire releases the reservations of challenges past their timeout. Called with mu held.
func (p *Payee) expire() {
	now := p.now()
	for s, is := range p.chaps {
		if now.After(is.expire) {
			if b := p.rentals[is.rental]; b != nil {
				b.reserved -= is.chap.Amount
			}
			delete(p.chaps, s)
		}
	}
}

// Challenge issues a challenge for one SMS of rental. It reserves the amount a win would cost, so
// that spent + reserved never exceeds the limit: the budget holds whatever the dice say.
func (p *Payee) Challenge(ctx context.Context, rental string) (string, error) {
	amount, risk, timeout := p.params()
	p.mu.Lock()
	p.expire()
	b, ok := p.rentals[rental]
	if !ok {
		p.mu.Unlock()
		return "", fmt.Errorf("%w: %s", ErrUnknownRental, rental)
	}
	if b.spent+b.reserved+amount > b.limit {
		p.mu.Unlock()
		return "", fmt.Errorf("rental %s: %w: spent %s, reserved %s, limit %s", rental, ErrBudgetExhausted, b.spent, b.reserved, b.limit)
	}
	b.reserved += amount
	p.mu.Unlock()

	s, err := p.Node.RandpayMkchap(ctx, amount, risk, timeout)
	var c emercoin.Chap
	if err == nil {
		c, err = emercoin.ParseChap(s)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		b.reserved -= amount
		return "", fmt.Errorf("rental %s: challenge: %w", rental, err)
	}
	p.chaps[s] = issued{rental: rental, chap: c, expire: p.now().Add(timeout)}
	return s, p.record(ctx, Event{Time: p.now(), Rental: rental, Kind: "randpay_challenge", Amount: amount, Chap: s})
}

func (p *Payee) record(ctx context.Context, e Event) error {
	if p.Ledger == nil {
		return nil
	}
	if err := p.Ledger.Record(ctx, e); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Accept takes the renter's payment for a challenge issued to rental. The transaction must pay
// vout[0] into the challenge's address range (checked here before the node sees it). A win is
// sent when it pays at least the challenge amount and counted against the budget; either way the
// challenge is used up.
func (p *Payee) Accept(ctx context.Context, rental, chap, txHex string) (emercoin.RandpayAccept, error) {
	p.mu.Lock()
	is, ok := p.chaps[chap]
	if !ok || is.rental != rental {
		p.mu.Unlock()
		return emercoin.RandpayAccept{}, fmt.Errorf("rental %s: %w", rental, ErrUnknownChallenge)
	}
	delete(p.chaps, chap) // single use, like the node's own record
	p.mu.Unlock()

	release := func() {
		p.mu.Lock()
		if b := p.rentals[rental]; b != nil {
			b.reserved -= is.chap.Amount
		}
		p.mu.Unlock()
	}
	if err := answers(txHex, is.chap); err != nil {
		release()
		return emercoin.RandpayAccept{}, fmt.Errorf("rental %s: %w", rental, err)
	}
	res, err := p.Node.RandpayAccept(ctx, txHex, emercoin.RandpayExactOrMore)
	if err != nil {
		release()
		return emercoin.RandpayAccept{}, fmt.Errorf("rental %s: randpay_accept: %w", rental, err)
	}
	p.mu.Lock()
	b := p.rentals[rental]
	b.reserved -= is.chap.Amount
	kind := "randpay_loss"
	amount := emercoin.Amount(0)
	if res.Won && res.Sent {
		kind, amount = "randpay_win", is.chap.Amount
		b.spent += amount // the budget counts what the challenge priced, whatever was overpaid
	}
	p.mu.Unlock()
	return res, p.record(ctx, Event{Time: p.now(), Rental: rental, Kind: kind, Amount: amount, TxID: res.TxID, Chap: chap})
}

// answers checks that tx's vout[0] pays at least the challenge amount to a P2PKH or P2WPKH
// address inside the challenge's range [Base·Risk, Base·Risk+Risk).
func answers(txHex string, c emercoin.Chap) error {
	tx, err := emercoin.DecodeTx(txHex)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWrongChallenge, err)
	}
	a, ok := emercoin.AddressFromScript(tx.Outputs[0].Script)
	if !ok || (a.Kind != emercoin.P2PKH && a.Kind != emercoin.P2WPKH) {
		return fmt.Errorf("%w: vout[0] is not P2PKH or P2WPKH", ErrWrongChallenge)
	}
	if emercoin.Amount(tx.Outputs[0].Value) < c.Amount {
		return fmt.Errorf("%w: vout[0] pays %s, challenge asks %s", ErrWrongChallenge, emercoin.Amount(tx.Outputs[0].Value), c.Amount)
	}
	le := make([]byte, len(a.Hash))
	for i := range a.Hash {
		le[len(a.Hash)-1-i] = a.Hash[i]
	}
	x := new(big.Int).SetBytes(le) // uint160 is little-endian
	lo := new(big.Int).Mul(c.Base, big.NewInt(int64(c.Risk)))
	hi := new(big.Int).Add(lo, big.NewInt(int64(c.Risk)))
	if x.Cmp(lo) < 0 || x.Cmp(hi) >= 0 {
		return fmt.Errorf("%w: vout[0] is outside the challenge's range", ErrWrongChallenge)
	}
	return nil
}
