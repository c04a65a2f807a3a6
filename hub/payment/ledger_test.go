package payment_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/payment"
)

func TestFileLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	evs := []payment.Event{
		{Time: time.Unix(1_780_000_000, 0).UTC(), Rental: "r1", Escrow: "esc00001", Kind: "escrow_release", Amount: 975 * emercoin.Coin / 100, TxID: "ab"},
		{Time: time.Unix(1_780_000_001, 0).UTC(), Rental: "r1", Kind: "randpay_win", Amount: emercoin.Coin, Chap: "1.00:6:00"},
	}
	for _, e := range evs {
		// A new FileLedger each time: the file, not the value, holds the events.
		if err := (&payment.FileLedger{Path: path}).Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := payment.ReadLedger(path)
	if err != nil || !reflect.DeepEqual(got, evs) {
		t.Fatalf("ReadLedger: got %+v, %v; want %+v", got, err, evs)
	}
	if err := (&payment.FileLedger{Path: filepath.Join(path, "not-a-dir")}).Record(context.Background(), evs[0]); err == nil {
		t.Fatal("Record into an impossible path succeeded")
	}
}
