package emercoin_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// vector is one entry of testdata/signmessage.json, made by scripts/emercoin-vectors.py with
// python3-ecdsa — an implementation independent of this package.
type vector struct {
	Priv       string `json:"priv"`
	Compressed bool   `json:"compressed"`
	PubKey     string `json:"pubkey"`
	P2PKH      string `json:"p2pkh"`
	P2WPKH     string `json:"p2wpkh"`
	Message    string `json:"message"`
	Hash       string `json:"hash"`
	Signature  string `json:"signature"`
	BitcoinSig string `json:"bitcoin_magic_signature"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/signmessage.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return f.Vectors
}

// TestMessageHashReference checks the two digests in reference/emercoin.md §5.
func TestMessageHashReference(t *testing.T) {
	for msg, want := range map[string]string{
		"hello": "679844e22e1ae5c55e4192fd38024e680e448273c08f7492fd2645173e67f7dd",
		"":      "8f317e94c9be96fdc4bceacdde23ed4b0cf309edacb486029e69e43645a8513b",
	} {
		h := emercoin.MessageHash(msg)
		if got := hex.EncodeToString(h[:]); got != want {
			t.Errorf("MessageHash(%q): got %s, want %s", msg, got, want)
		}
	}
}

func TestSignedMessageVectors(t *testing.T) {
	for i, v := range loadVectors(t) {
		priv, _ := hex.DecodeString(v.Priv)
		key := secp256k1.PrivKeyFromBytes(priv)
		var pub []byte
		if v.Compressed {
			pub = key.PubKey().SerializeCompressed()
		} else {
			pub = key.PubKey().SerializeUncompressed()
		}
		if got := hex.EncodeToString(pub); got != v.PubKey {
			t.Errorf("vector %d pubkey: got %s, want %s", i, got, v.PubKey)
		}
		h := emercoin.MessageHash(v.Message)
		if got := hex.EncodeToString(h[:]); got != v.Hash {
			t.Errorf("vector %d hash of %q: got %s, want %s", i, v.Message, got, v.Hash)
		}
		p2pkh, _ := emercoin.MainNet.Encode(emercoin.Address{Kind: emercoin.P2PKH, Hash: emercoin.Hash160(pub)})
		if p2pkh != v.P2PKH {
			t.Errorf("vector %d P2PKH: got %s, want %s", i, p2pkh, v.P2PKH)
		}
		addrs := []string{v.P2PKH}
		if v.Compressed {
			w, _ := emercoin.PubKeyAddress(emercoin.MainNet, key.PubKey(), emercoin.P2WPKH)
			if w != v.P2WPKH {
				t.Errorf("vector %d P2WPKH: got %s, want %s", i, w, v.P2WPKH)
			}
			addrs = append(addrs, v.P2WPKH)
		}
		// RFC 6979 nonces on both sides: our signature is byte-identical to python-ecdsa's.
		if got := emercoin.SignMessage(key, v.Message, v.Compressed); got != v.Signature {
			t.Errorf("vector %d SignMessage: got %s, want %s", i, got, v.Signature)
		}
		for _, a := range addrs {
			ok, err := emercoin.VerifyMessage(emercoin.MainNet, a, v.Signature, v.Message)
			if err != nil || !ok {
				t.Errorf("vector %d VerifyMessage(%s): got %v %v, want true", i, a, ok, err)
			}
			ok, err = emercoin.VerifyMessage(emercoin.MainNet, a, v.Signature, v.Message+".")
			if err != nil || ok {
				t.Errorf("vector %d VerifyMessage(%s) of another message: got %v %v, want false", i, a, ok, err)
			}
			ok, err = emercoin.VerifyMessage(emercoin.MainNet, a, v.BitcoinSig, v.Message)
			if err != nil || ok {
				t.Errorf("vector %d VerifyMessage(%s) of a Bitcoin-magic signature: got %v %v, want false", i, a, ok, err)
			}
		}
		// Flipping the compressed flag in the header changes the address the key hashes to.
		sig, _ := base64.StdEncoding.DecodeString(v.Signature)
		sig[0] ^= 4
		ok, _ := emercoin.VerifyMessage(emercoin.MainNet, v.P2PKH, base64.StdEncoding.EncodeToString(sig), v.Message)
		if ok {
			t.Errorf("vector %d: signature with the compression flag flipped verified", i)
		}
	}
}

func TestVerifyMessageErrors(t *testing.T) {
	v := loadVectors(t)[1]
	p2sh, _ := emercoin.MainNet.Encode(emercoin.Address{Kind: emercoin.P2SH, Hash: make([]byte, 20)})
	cases := []struct {
		desc, addr, sig string
		wantErr         bool
	}{
		{"P2SH address", p2sh, v.Signature, true},
		{"testnet address on main", mustEncode(t, emercoin.TestNet, v.PubKey), v.Signature, true},
		{"bad base64", v.P2PKH, "***", true},
		{"short signature", v.P2PKH, base64.StdEncoding.EncodeToString([]byte("short")), false},
		{"junk address", "Ejunk", v.Signature, true},
	}
	for _, tc := range cases {
		ok, err := emercoin.VerifyMessage(emercoin.MainNet, tc.addr, tc.sig, v.Message)
		if ok || (err != nil) != tc.wantErr {
			t.Errorf("%s: got %v, %v; want false with error=%v", tc.desc, ok, err, tc.wantErr)
		}
	}
}

func mustEncode(t *testing.T, n emercoin.Network, pubHex string) string {
	t.Helper()
	pub, _ := hex.DecodeString(pubHex)
	a, err := n.Encode(emercoin.Address{Kind: emercoin.P2PKH, Hash: emercoin.Hash160(pub)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
