package payment_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/payment"
)

type ledger struct {
	mu     sync.Mutex
	events []payment.Event
}

func (l *ledger) Record(_ context.Context, e payment.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return nil
}

func (l *ledger) count(kind string) (n int, sum emercoin.Amount) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.Kind == kind {
			n++
			sum += e.Amount
		}
	}
	return n, sum
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func setup(t *testing.T) (*payment.Payee, *emercoin.Client, *ledger, *clock) {
	t.Helper()
	clk := &clock{t: time.Unix(1_780_000_000, 0)}
	node, err := emulator.New(emulator.Config{Balance: 100_000 * emercoin.Coin, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	url, err := node.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	c, _ := emercoin.New(emercoin.Config{URL: url, Now: clk.Now})
	l := &ledger{}
	return &payment.Payee{Node: c, Ledger: l, Now: clk.Now}, c, l, clk
}

// TestBudgetEnforcedExactly: SMS after SMS is paid at risk 6 until the budget is spent; the
// renter is charged exactly the limit, never more, and the ledger agrees.
func TestBudgetEnforcedExactly(t *testing.T) {
	ctx := context.Background()
	p, renter, l, _ := setup(t)
	const limit = 10 * emercoin.Coin
	p.Open("rental-1", limit)
	attempts := 0
	for ; attempts < 1000; attempts++ {
		chap, err := p.Challenge(ctx, "rental-1")
		if errors.Is(err, payment.ErrBudgetExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tx, err := renter.RandpayMktx(ctx, chap, time.Hour, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Accept(ctx, "rental-1", chap, tx); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := p.Budget("rental-1")
	wins, sum := l.count("randpay_win")
	losses, _ := l.count("randpay_loss")
	if b.Spent != limit || b.Reserved != 0 || wins != 10 || sum != limit || wins+losses != attempts {
		t.Fatalf("after %d payments: got budget %+v, %d wins summing %s, %d losses; want spent %s exactly, 10 wins, none reserved",
			attempts, b, wins, sum, losses, limit)
	}
	if attempts < 10 || attempts > 200 {
		t.Fatalf("10 wins at risk 6 took %d payments; want about 60", attempts)
	}
}

// TestOutstandingChallengesReserve: challenges in flight each hold a win's worth of budget, so
// even if all of them win the limit holds; expiry and use release them.
func TestOutstandingChallengesReserve(t *testing.T) {
	ctx := context.Background()
	p, renter, _, clk := setup(t)
	p.Open("r", 3*emercoin.Coin)
	var chaps []string
	for i := 0; i < 3; i++ {
		c, err := p.Challenge(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		chaps = append(chaps, c)
	}
	if _, err := p.Challenge(ctx, "r"); !errors.Is(err, payment.ErrBudgetExhausted) {
		t.Fatalf("4th challenge with 3 outstanding on a 3 EMC budget: got %v, want ErrBudgetExhausted", err)
	}
	// A payment for challenge 0 presented as challenge 1 is refused before the node sees it.
	tx0, _ := renter.RandpayMktx(ctx, chaps[0], time.Hour, 0)
	if _, err := p.Accept(ctx, "r", chaps[1], tx0); !errors.Is(err, payment.ErrWrongChallenge) {
		t.Fatalf("payment for another challenge: got %v, want ErrWrongChallenge", err)
	}
	if _, err := p.Accept(ctx, "r", chaps[1], tx0); !errors.Is(err, payment.ErrUnknownChallenge) {
		t.Fatalf("reusing a spent challenge: got %v, want ErrUnknownChallenge", err)
	}
	if _, err := p.Accept(ctx, "other", chaps[0], tx0); !errors.Is(err, payment.ErrUnknownChallenge) {
		t.Fatalf("challenge of another rental: got %v, want ErrUnknownChallenge", err)
	}
	if b, _ := p.Budget("r"); b.Reserved != 2*emercoin.Coin {
		t.Fatalf("reserved after one refused payment: got %s, want 2 EMC", b.Reserved)
	}
	clk.Add(payment.DefaultTimeout + time.Second)
	if b, _ := p.Budget("r"); b.Reserved != 0 {
		t.Fatalf("reserved after the challenges expired: got %s, want 0", b.Reserved)
	}
	if _, err := p.Challenge(ctx, "nobody"); !errors.Is(err, payment.ErrUnknownRental) {
		t.Fatalf("unknown rental: got %v, want ErrUnknownRental", err)
	}
}

// TestUnderpaymentRefused: a payment below the challenge amount never reaches the node.
func TestUnderpaymentRefused(t *testing.T) {
	ctx := context.Background()
	p, renter, _, _ := setup(t)
	p.Open("r", 5*emercoin.Coin)
	chap, err := p.Challenge(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := emercoin.ParseChap(chap)
	c.Amount /= 2
	tx, err := renter.RandpayMktx(ctx, c.String(), time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Accept(ctx, "r", chap, tx); !errors.Is(err, payment.ErrWrongChallenge) {
		t.Fatalf("half payment: got %v, want ErrWrongChallenge", err)
	}
}
