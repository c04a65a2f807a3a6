package emulator

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

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
		`{"method":"createrawtransaction","params":[[{"txid":"` + strings.Repeat("ab", 32) + `","vout":0}],[{"EdFwYw4Mo2Zq6CFM2yNJgXvE2DTJxgdBRX":1.5}]],"id":1}`,
		`{"method":"signrawtransactionwithkey","params":["00",["5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"],[{"txid":"` + strings.Repeat("ab", 32) + `","vout":0,"scriptPubKey":"a914` + strings.Repeat("00", 20) + `87","redeemScript":"5121` + strings.Repeat("02", 33) + `51ae","amount":1}]],"id":1}`,
		`{"method":"signrawtransactionwithwallet","params":["0100"],"id":1}`,
		`{"method":"sendrawtransaction","params":["0100000000"],"id":1}`,
		`{"method":"importaddress","params":["x","",false],"id":1}`,
		`{"method":"getaddressinfo","params":["x"],"id":1}`,
		`{"method":"listreceivedbyaddress","params":[0,false,true,"x"],"id":1}`,
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
