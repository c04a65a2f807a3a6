package emercoin_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"testing"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{
		`{"result":"ab","error":null,"id":1}`,
		`{"result":null,"error":{"code":-4,"message":"failed to read from name DB"},"id":1}`,
		`{"result":{"name":"n","value":"dg==","txid":"00","address":"em1q","vout":0,"expires_in":1,"expires_at":2,"time":3},"error":null,"id":"x"}`,
		`{"error":{"code":"x"}}`, `[]`, `null`, `{}`, `<html>502</html>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := emercoin.DecodeResponse(b)
		if err != nil {
			if !errors.Is(err, emercoin.ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if r.Error == nil {
			var rec emercoin.NameRecord
			_ = json.Unmarshal(r.Result, &rec) // must not panic
		} else {
			_ = r.Error.Error()
			_ = errors.Is(r.Error, emercoin.ErrNameNotFound)
		}
	})
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"1", "0.000001", "1e-6", "-3.5", "10000000000", "1.0000001", "", "e", "1e20"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := emercoin.ParseAmount(s)
		if err != nil {
			return
		}
		// Whatever parses formats and parses back to the same units.
		back, err := emercoin.ParseAmount(a.String())
		if err != nil || back != a {
			t.Fatalf("ParseAmount(%q) = %d; String %q parses to %d, %v", s, a, a.String(), back, err)
		}
	})
}

func FuzzDecodeAddress(f *testing.F) {
	for _, s := range []string{"ETaRYXHaDm7h3UUzCqTj1SRNZwNNhK1csm", "em1qwf29xuw5trpay453xpxpy59vqmhggdleqlk3yw",
		"EM1QWF29XUW5TRPAY453XPXPY59VQMHGGDLEQLK3YW", "em1", "1111", "", "te1qqqqqq"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := emercoin.MainNet.Decode(s)
		if err != nil {
			return
		}
		enc, err := emercoin.MainNet.Encode(a)
		if err != nil {
			t.Fatalf("Decode(%q) gave %+v that does not encode: %v", s, a, err)
		}
		b, err := emercoin.MainNet.Decode(enc)
		if err != nil || b.Kind != a.Kind || !bytes.Equal(b.Hash, a.Hash) {
			t.Fatalf("round trip of %q: %q decodes to %+v, %v", s, enc, b, err)
		}
	})
}

func FuzzVerifyMessage(f *testing.F) {
	v := loadVectors(f)
	for _, x := range v {
		f.Add(x.P2PKH, x.Signature, x.Message)
	}
	f.Add("ETaRYXHaDm7h3UUzCqTj1SRNZwNNhK1csm", "", "")
	f.Add("em1qwf29xuw5trpay453xpxpy59vqmhggdleqlk3yw", "AAAA", "m")
	f.Fuzz(func(t *testing.T, addr, sig, msg string) {
		ok, err := emercoin.VerifyMessage(emercoin.MainNet, addr, sig, msg)
		if ok && err != nil {
			t.Fatalf("VerifyMessage returned true with error %v", err)
		}
	})
}

func FuzzParseChap(f *testing.F) {
	for _, s := range []string{"1.00:6:0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", "1:1:0", "::", "1.00:6:", "-1:6:00",
		"1:4294967296:00", "1.00:6:ffffffffffffffffffffffffffffffffffffffff", "0.1234:100:+ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := emercoin.ParseChap(s)
		if err != nil {
			var ce *emercoin.ChapError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseChap(%q): error %v is not a *ChapError", s, err)
			}
			return
		}
		if c.Amount <= 0 || c.Risk == 0 || c.Base.Sign() < 0 {
			t.Fatalf("ParseChap(%q) accepted %+v", s, c)
		}
		back, err := emercoin.ParseChap(c.String())
		if err != nil || back.Amount != c.Amount || back.Risk != c.Risk || back.Base.Cmp(c.Base) != 0 {
			t.Fatalf("round trip of %q via %q: got %+v %v", s, c.String(), back, err)
		}
	})
}

func FuzzParseMultisigScriptSig(f *testing.F) {
	var keys [][]byte
	for i := byte(1); i <= 3; i++ {
		keys = append(keys, secp256k1.PrivKeyFromBytes(bytes.Repeat([]byte{i}, 32)).PubKey().SerializeCompressed())
	}
	redeem, _ := emercoin.MultisigScript(2, keys)
	f.Add(emercoin.MultisigScriptSig([][]byte{{0x30, 1, 2, 1}}, redeem))
	f.Add(redeem)
	f.Add([]byte{0, 0x4c, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, ks, err := emercoin.ParseMultisig(b); err == nil {
			again, err := emercoin.MultisigScript(m, ks)
			if err == nil && !bytes.Equal(again, b) {
				t.Fatalf("ParseMultisig(%x) = %d of %d keys, rebuilt as %x", b, m, len(ks), again)
			}
		}
		sigs, r, err := emercoin.ParseMultisigScriptSig(b)
		if err != nil || r == nil {
			return
		}
		if again := emercoin.MultisigScriptSig(sigs, r); len(again) > len(b) {
			t.Fatalf("scriptSig %x re-encoded longer: %x", b, again)
		}
	})
}
