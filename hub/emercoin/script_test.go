package emercoin_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

func testKey(b byte) *secp256k1.PrivateKey {
	return secp256k1.PrivKeyFromBytes(bytes.Repeat([]byte{b}, 32))
}

// TestMultisigSignVerify: two of three keys in any signing order make a valid input; one key,
// a foreign key, a changed output or swapped signatures do not.
func TestMultisigSignVerify(t *testing.T) {
	keys := []*secp256k1.PrivateKey{testKey(1), testKey(2), testKey(3)}
	var pubs [][]byte
	for _, k := range keys {
		pubs = append(pubs, k.PubKey().SerializeCompressed())
	}
	redeem, err := emercoin.MultisigScript(2, pubs)
	if err != nil {
		t.Fatal(err)
	}
	hash := emercoin.Hash160(redeem)
	newTx := func() *emercoin.Tx {
		return &emercoin.Tx{Version: 1, Time: 1_780_000_000,
			Inputs:  []emercoin.TxIn{{PrevIndex: 0, Sequence: 0xffffffff}, {PrevIndex: 3, Sequence: 0xffffffff}},
			Outputs: []emercoin.TxOut{{Value: 5_000_000, Script: []byte{0x76, 0xa9}}}}
	}
	cases := []struct {
		name    string
		signers []int
		tamper  func(tx *emercoin.Tx)
		ok      bool
	}{
		{"0+1", []int{0, 1}, nil, true},
		{"2+0", []int{2, 0}, nil, true},
		{"1+2", []int{1, 2}, nil, true},
		{"one signer", []int{1}, nil, false},
		{"same signer twice", []int{1, 1}, nil, false},
		{"output changed after signing", []int{0, 2}, func(tx *emercoin.Tx) { tx.Outputs[0].Value++ }, false},
		{"nTime changed after signing", []int{0, 2}, func(tx *emercoin.Tx) { tx.Time++ }, false},
		{"signatures swapped", []int{0, 2}, func(tx *emercoin.Tx) {
			sigs, r, _ := emercoin.ParseMultisigScriptSig(tx.Inputs[0].Script)
			tx.Inputs[0].Script = emercoin.MultisigScriptSig([][]byte{sigs[1], sigs[0]}, r)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := newTx()
			for _, s := range tc.signers {
				for i := range tx.Inputs {
					if _, err := emercoin.SignMultisigInput(tx, i, redeem, keys[s]); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.tamper != nil {
				tc.tamper(tx)
			}
			// Through the wire form, as the node sees it.
			back, err := emercoin.DecodeTx(string(bytes.ToLower([]byte(hexOf(tx.Serialize())))))
			if err != nil {
				t.Fatal(err)
			}
			_, err = emercoin.VerifyMultisigInput(back, 0, hash)
			if (err == nil) != tc.ok {
				t.Fatalf("signers %v: VerifyMultisigInput = %v, want ok=%v", tc.signers, err, tc.ok)
			}
			if err != nil && !errors.Is(err, emercoin.ErrBadSignature) {
				t.Fatalf("error %v is not ErrBadSignature", err)
			}
		})
	}
	if _, err := emercoin.SignMultisigInput(newTx(), 0, redeem, testKey(9)); err == nil {
		t.Fatal("a key outside the script signed")
	}
	if _, err := emercoin.VerifyMultisigInput(newTx(), 0, hash); !errors.Is(err, emercoin.ErrBadScriptSig) {
		t.Fatalf("unsigned input: got %v, want ErrBadScriptSig", err)
	}
}

func hexOf(b []byte) string {
	const d = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, d[c>>4], d[c&15])
	}
	return string(out)
}
