package emercoin_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

func sampleTx() *emercoin.Tx {
	t := &emercoin.Tx{Version: 1, Time: 1_780_000_000}
	var rin emercoin.TxIn
	copy(rin.PrevHash[:], emercoin.RandpayOutpoint)
	rin.Sequence = 0xffffffff
	t.Inputs = []emercoin.TxIn{rin, {PrevIndex: 3, Script: []byte{1, 2, 3}, Sequence: 0xffffffff}}
	a := emercoin.Address{Kind: emercoin.P2WPKH, Hash: bytes.Repeat([]byte{7}, 20)}
	t.Outputs = []emercoin.TxOut{{Value: 1_000_000, Script: a.ScriptPubKey()}}
	return t
}

func TestTxRoundTrip(t *testing.T) {
	tx := sampleTx()
	h := hex.EncodeToString(tx.Serialize())
	back, err := emercoin.DecodeTx(h)
	if err != nil {
		t.Fatal(err)
	}
	if back.TxID() != tx.TxID() || !back.HasRandpayIn() || back.Outputs[0].Value != 1_000_000 {
		t.Fatalf("decode(serialize(tx)): got %+v, want the same tx", back)
	}
	for _, bad := range []string{"", "zz", h[:len(h)-2], h + "00"} {
		if _, err := emercoin.DecodeTx(bad); err == nil {
			t.Errorf("emercoin.DecodeTx(%.20q…): got no error", bad)
		}
	}
}

func FuzzDecodeTx(f *testing.F) {
	f.Add(hex.EncodeToString(sampleTx().Serialize()))
	f.Add("0100000000000000")
	f.Add("01000000000000000100")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		tx, err := emercoin.DecodeTx(h)
		if err != nil {
			return
		}
		if got := hex.EncodeToString(tx.Serialize()); !strings.EqualFold(got, h) {
			t.Fatalf("decode then serialize: got %s, want %s", got, h)
		}
	})
}
