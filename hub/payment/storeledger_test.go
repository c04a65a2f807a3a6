package payment_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/payment"
	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/hub/storetest"
)

// TestStoreLedgerEarnings: RANDPAY wins and escrow payouts of a rental become payments to the
// provider whose agent holds the rental's number (what GET /v1/provider/earnings lists); losses,
// challenges, fees and events of unknown rentals do not, and every event still reaches Next.
func TestStoreLedgerEarnings(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.OpenDir(ctx, filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a := storetest.Agent("earner")
	if err := s.UpsertAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	n := hub.Number{E164: "+4915100000051", ICCID: storetest.ICCID(51), AgentID: a.ID, Country: "DE", UpdatedAt: time.Now()}
	if err := s.BindNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	renter := make([]byte, 32)
	renter[0] = 7
	r := hub.Rental{ID: "rnt_pay", E164: n.E164, ICCID: n.ICCID, RenterSealKey: renter, RenterSignKey: renter,
		From: time.Now(), Until: time.Now().Add(time.Hour), LeaseSeq: 1, Status: hub.RentalActive, CreatedAt: time.Now()}
	if err := s.PutRental(ctx, r); err != nil {
		t.Fatal(err)
	}

	p, payer, all, _ := setup(t)
	p.Ledger = &payment.StoreLedger{Store: s, Next: all}
	p.Open(r.ID, 3*emercoin.Coin)
	for range 1000 {
		chap, err := p.Challenge(ctx, r.ID)
		if err != nil {
			break // budget spent: 3 wins
		}
		tx, err := payer.RandpayMktx(ctx, chap, time.Hour, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Accept(ctx, r.ID, chap, tx); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []payment.Event{
		{Rental: r.ID, Escrow: "esc1", Kind: "escrow_release", Amount: 10_100_000, TxID: "tx1"},
		{Rental: r.ID, Escrow: "esc1", Kind: "provider_payout", Amount: 10_000_000, TxID: "tx1"},
		{Rental: r.ID, Escrow: "esc1", Kind: "hub_fee", Amount: 100_000, TxID: "tx1"},
		{Rental: "rnt_unknown", Kind: "randpay_win", Amount: emercoin.Coin, Chap: "x"},
	} {
		if err := p.Ledger.Record(ctx, e); err != nil {
			t.Fatalf("Record(%s): %v", e.Kind, err)
		}
	}

	ps, err := s.ListPayments(ctx, a.ProviderKey)
	if err != nil {
		t.Fatal(err)
	}
	var randpay, multisig int
	var total hub.Micro
	for _, x := range ps {
		total += x.Amount
		switch {
		case x.Method == "randpay" && x.Amount == hub.Micro(emercoin.Coin) && x.Ref != "" && x.RentalID == r.ID:
			randpay++
		case x.Method == "multisig" && x.Amount == 10_000_000 && x.Ref == "tx1":
			multisig++
		default:
			t.Errorf("unexpected payment %+v", x)
		}
	}
	if randpay != 3 || multisig != 1 || total != 13_000_000 {
		t.Errorf("provider's payments: %d randpay, %d multisig, total %s; want 3, 1, 13.000000", randpay, multisig, total)
	}
	if wins, _ := all.count("randpay_win"); wins != 4 {
		t.Errorf("Next ledger: %d randpay_win events, want 4 (3 won + 1 of an unknown rental)", wins)
	}
	if n, _ := all.count("hub_fee"); n != 1 {
		t.Errorf("Next ledger: %d hub_fee events, want 1", n)
	}
}
