package emulator

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

func sampleTx() *rawTx {
	t := &rawTx{Version: 1, Time: 1_780_000_000}
	var rin txIn
	copy(rin.PrevHash[:], randpayOutpoint)
	rin.Sequence = 0xffffffff
	t.Inputs = []txIn{rin, {PrevIndex: 3, Script: []byte{1, 2, 3}, Sequence: 0xffffffff}}
	a := emercoin.Address{Kind: emercoin.P2WPKH, Hash: bytes.Repeat([]byte{7}, 20)}
	t.Outputs = []txOut{{Value: 1_000_000, Script: a.ScriptPubKey()}}
	return t
}

func TestTxRoundTrip(t *testing.T) {
	tx := sampleTx()
	h := hex.EncodeToString(tx.serialize())
	back, err := decodeTx(h)
	if err != nil {
		t.Fatal(err)
	}
	if back.txid() != tx.txid() || !back.hasRandpayIn() || back.Outputs[0].Value != 1_000_000 {
		t.Fatalf("decode(serialize(tx)): got %+v, want the same tx", back)
	}
	for _, bad := range []string{"", "zz", h[:len(h)-2], h + "00"} {
		if _, err := decodeTx(bad); err == nil {
			t.Errorf("decodeTx(%.20q…): got no error", bad)
		}
	}
}

func FuzzDecodeTx(f *testing.F) {
	f.Add(hex.EncodeToString(sampleTx().serialize()))
	f.Add("0100000000000000")
	f.Add("01000000000000000100")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		tx, err := decodeTx(h)
		if err != nil {
			return
		}
		if got := hex.EncodeToString(tx.serialize()); !strings.EqualFold(got, h) {
			t.Fatalf("decode then serialize: got %s, want %s", got, h)
		}
	})
}

func TestParseChap(t *testing.T) {
	cases := []struct {
		in   string
		amt  emercoin.Amount
		risk int64
		msg  string
	}{
		{"1.00:6:" + strings.Repeat("0", 39) + "1", emercoin.Coin, 6, ""},
		{"0.1234:100:ff", 123_400, 100, ""},
		{"1.00", 0, 0, "Invalid chap format, must be amount[:]dec:hex"},
		{"1.00:6", 0, 0, "Invalid chap format, must be amount:dec[:]hex"},
		{"x:6:00", 0, 0, "Invalid amount for send"},
		{"0:6:00", 0, 0, "Invalid amount for send"},
		{"1.00:0:00", 0, 0, "Invalid chap, risk must not be zero"},
		{"1.00:6:xyz", 0, 0, "Invalid chap format, must be amount:dec[:]hex"},
	}
	for _, tc := range cases {
		amt, risk, _, e := parseChap(tc.in)
		msg := ""
		if e != nil {
			msg = e.Message
		}
		if msg != tc.msg || amt != tc.amt || risk != tc.risk {
			t.Errorf("parseChap(%q): got %d %d %q, want %d %d %q", tc.in, amt, risk, msg, tc.amt, tc.risk, tc.msg)
		}
	}
}

func FuzzParseChap(f *testing.F) {
	for _, s := range []string{"1.00:6:0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", "1:1:0", "::", "1.00:6:", "-1:6:00", "1:4294967296:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		amt, risk, q, e := parseChap(s)
		if e != nil {
			return
		}
		if amt <= 0 || risk <= 0 || q.Sign() < 0 || q.Cmp(two160) >= 0 {
			t.Fatalf("parseChap(%q) accepted amount %d risk %d hex %x", s, amt, risk, q)
		}
	})
}

// FuzzServeRPC: any request body gets a JSON-RPC reply (never a panic, never a non-JSON body)
// with the HTTP status rule of JSONErrorReply.
func FuzzServeRPC(f *testing.F) {
	for _, s := range []string{
		`{"method":"name_show","params":["n"],"id":1}`,
		`{"method":"name_new","params":["n","v",1,"","base64"],"id":1}`,
		`{"method":"name_new","params":{"name":"n","value":"v","days":1},"id":1}`,
		`{"method":"name_filter","params":["(",0,0,0,"","base64"],"id":1}`,
		`{"method":"randpay_accept","params":["00",0],"id":1}`,
		`{"method":"randpay_mkchap","params":[1,6,60],"id":1}`,
		`{"method":"generate","params":[1],"id":1}`,
		`{"method":7}`, `[]`, `[{"method":"getblockcount"}]`, `nonsense`, `{"method":"nope"}`,
	} {
		f.Add([]byte(s))
	}
	clk := time.Unix(1_780_000_000, 0)
	n, err := New(Config{Now: func() time.Time { return clk }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		n.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("body %q: reply %q is not JSON", body, rec.Body.String())
		}
		if m, ok := v.(map[string]any); ok {
			e, _ := m["error"].(map[string]any)
			switch {
			case e == nil && rec.Code != 200:
				t.Fatalf("success with HTTP %d", rec.Code)
			case e != nil && rec.Code == 200:
				t.Fatalf("error %v with HTTP 200", e)
			}
		}
	})
}

func TestUint160(t *testing.T) {
	b := make([]byte, 20)
	b[0] = 1 // little-endian: the lowest byte first
	if got := uint160(b); got.Cmp(big.NewInt(1)) != 0 {
		t.Fatalf("uint160(01 00…): got %v, want 1", got)
	}
	if got := uint160Bytes(big.NewInt(258)); got[0] != 2 || got[1] != 1 {
		t.Fatalf("uint160Bytes(258): got %x, want 0201…", got)
	}
}
