package emercoin_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// recorder is a loopback JSON-RPC server that records request bodies and answers from a table.
type recorder struct {
	mu      sync.Mutex
	bodies  []string
	answers map[string]string // method → reply body
	status  map[string]int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	r.mu.Unlock()
	method := ""
	if i := strings.Index(string(b), `"method":"`); i >= 0 {
		method = strings.SplitN(string(b)[i+10:], `"`, 2)[0]
	}
	ans, ok := r.answers[method]
	if !ok {
		ans = `{"result":null,"error":null,"id":1}`
	}
	if s := r.status[method]; s != 0 {
		w.WriteHeader(s)
	}
	io.WriteString(w, ans)
}

func newRecorder(t *testing.T, answers map[string]string) (*recorder, *emercoin.Client) {
	t.Helper()
	r := &recorder{answers: answers, status: map[string]int{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	c, err := emercoin.New(emercoin.Config{URL: srv.URL + "/", User: "u", Password: "p",
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

// TestWireFormat pins the exact request body of every method: positional params, JSON integers
// for days/risk/timeouts (get_int), "" rather than null for optional strings the NVS handlers
// read with get_str, amounts as 6-decimal numbers, and trailing optional wallet arguments left
// out rather than sent empty.
func TestWireFormat(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		call func(c *emercoin.Client) error
		want string // params JSON of the last request
		meth string
	}{
		{func(c *emercoin.Client) error { _, err := c.NameNew(ctx, "n", []byte("v\x00"), 30, ""); return err }, `["n","dgA=",30,"","base64"]`, "name_new"},
		{func(c *emercoin.Client) error {
			_, err := c.NameUpdate(ctx, "n", []byte("w"), 0, "em1qxyz")
			return err
		}, `["n","dw==",0,"em1qxyz","base64"]`, "name_update"},
		{func(c *emercoin.Client) error { _, err := c.NameDelete(ctx, "n"); return err }, `["n"]`, "name_delete"},
		{func(c *emercoin.Client) error { _, err := c.NameShow(ctx, "worm:user:ness:alice"); return err }, `["worm:user:ness:alice","base64"]`, "name_show"},
		{func(c *emercoin.Client) error { _, err := c.NameHistory(ctx, "n", true); return err }, `["n",true,"base64"]`, "name_history"},
		{func(c *emercoin.Client) error {
			_, err := c.NameFilter(ctx, "^worm:node:ness:.+", emercoin.FilterOptions{})
			return err
		}, `["^worm:node:ness:.+",0,0,0,"","base64"]`, "name_filter"},
		{func(c *emercoin.Client) error { _, err := c.NameScan(ctx, "a", 10); return err }, `["a",10,0,"base64"]`, "name_scan"},
		{func(c *emercoin.Client) error { _, err := c.NameList(ctx, ""); return err }, `["","base64"]`, "name_list"},
		{func(c *emercoin.Client) error { _, err := c.NameMempool(ctx); return err }, `["base64"]`, "name_mempool"},
		{func(c *emercoin.Client) error { _, err := c.GetWalletInfo(ctx); return err }, `[]`, "getwalletinfo"},
		{func(c *emercoin.Client) error { return c.WalletPassphrase(ctx, "pw", 90*time.Second) }, `["pw",90]`, "walletpassphrase"},
		{func(c *emercoin.Client) error { _, err := c.GetNewAddress(ctx, "", ""); return err }, `[""]`, "getnewaddress"},
		{func(c *emercoin.Client) error { _, err := c.GetNewAddress(ctx, "l", "legacy"); return err }, `["l","legacy"]`, "getnewaddress"},
		{func(c *emercoin.Client) error { _, err := c.ValidateAddress(ctx, "E1"); return err }, `["E1"]`, "validateaddress"},
		{func(c *emercoin.Client) error { _, err := c.ListReceivedByAddress(ctx, 1, false); return err }, `[1,false]`, "listreceivedbyaddress"},
		{func(c *emercoin.Client) error { _, err := c.GetTransaction(ctx, "ab"); return err }, `["ab"]`, "gettransaction"},
		{func(c *emercoin.Client) error { _, err := c.SendToAddress(ctx, "E1", 1_500_000); return err }, `["E1",1.500000]`, "sendtoaddress"},
		{func(c *emercoin.Client) error {
			_, err := c.CreateMultisig(ctx, 2, []string{"02aa", "02bb"}, "")
			return err
		}, `[2,["02aa","02bb"]]`, "createmultisig"},
		{func(c *emercoin.Client) error {
			_, err := c.AddMultisigAddress(ctx, 2, []string{"02aa"}, "escrow", "legacy")
			return err
		}, `[2,["02aa"],"escrow","legacy"]`, "addmultisigaddress"},
		{func(c *emercoin.Client) error {
			_, err := c.CreateRawTransaction(ctx, []emercoin.Outpoint{{TxID: "ab", Vout: 1}},
				[]emercoin.Output{{Address: "E2", Amount: 9_750_000}, {Address: "E1", Amount: 250_000}})
			return err
		}, `[[{"txid":"ab","vout":1}],[{"E2":9.750000},{"E1":0.250000}]]`, "createrawtransaction"},
		{func(c *emercoin.Client) error {
			_, err := c.SignRawTransactionWithKey(ctx, "00", []string{"5K"}, []emercoin.PrevTx{{TxID: "ab", Vout: 1, ScriptPubKey: "a9", RedeemScript: "52", Amount: emercoin.Coin}})
			return err
		}, `["00",["5K"],[{"txid":"ab","vout":1,"scriptPubKey":"a9","redeemScript":"52","amount":1.000000}]]`, "signrawtransactionwithkey"},
		{func(c *emercoin.Client) error { _, err := c.SignRawTransactionWithWallet(ctx, "00", nil); return err }, `["00",[]]`, "signrawtransactionwithwallet"},
		{func(c *emercoin.Client) error { _, err := c.SendRawTransaction(ctx, "00"); return err }, `["00"]`, "sendrawtransaction"},
		{func(c *emercoin.Client) error { _, err := c.GetAddressInfo(ctx, "E1"); return err }, `["E1"]`, "getaddressinfo"},
		{func(c *emercoin.Client) error { _, err := c.DumpPrivKey(ctx, "E1"); return err }, `["E1"]`, "dumpprivkey"},
		{func(c *emercoin.Client) error { return c.ImportAddress(ctx, "e1", "escrow:x") }, `["e1","escrow:x",false]`, "importaddress"},
		{func(c *emercoin.Client) error { _, _, err := c.ReceivedBy(ctx, "e1", 0); return err }, `[0,false,true,"e1"]`, "listreceivedbyaddress"},
		{func(c *emercoin.Client) error { _, err := c.GetWatchedTransaction(ctx, "ab"); return err }, `["ab",true]`, "gettransaction"},
		{func(c *emercoin.Client) error {
			_, err := c.RandpayMkchap(ctx, emercoin.Coin, 6, 6*time.Hour)
			return err
		}, `[1.000000,6,21600]`, "randpay_mkchap"},
		{func(c *emercoin.Client) error { _, err := c.RandpayMktx(ctx, "1.00:6:00", time.Minute, 0); return err }, `["1.00:6:00",60,0]`, "randpay_mktx"},
		{func(c *emercoin.Client) error {
			_, err := c.RandpayAccept(ctx, "00", emercoin.RandpayExactOrMore)
			return err
		}, `["00",1]`, "randpay_accept"},
		{func(c *emercoin.Client) error { _, err := c.VerifyMessage(ctx, "E1", "c2ln", "m"); return err }, `["E1","c2ln","m"]`, "verifymessage"},
		{func(c *emercoin.Client) error { _, err := c.GetBlockchainInfo(ctx); return err }, `[]`, "getblockchaininfo"},
	}
	for _, tc := range cases {
		t.Run(tc.meth, func(t *testing.T) {
			r, c := newRecorder(t, map[string]string{
				"getwalletinfo": `{"result":{"walletname":"","balance":1.000000},"error":null,"id":1}`,
			})
			if err := tc.call(c); err != nil {
				t.Fatalf("%s: %v", tc.meth, err)
			}
			last := r.bodies[len(r.bodies)-1]
			want := `"method":"` + tc.meth + `","params":` + tc.want + `}`
			if !strings.HasPrefix(last, `{"jsonrpc":"1.0","id":`) || !strings.HasSuffix(last, want) {
				t.Fatalf("%s body: got %s, want {\"jsonrpc\":\"1.0\",\"id\":N,%s", tc.meth, last, want)
			}
		})
	}
}

// TestWritesCheckWallet: a write first asks getwalletinfo, and a locked wallet stops it before
// the node sees the write.
func TestWritesCheckWallet(t *testing.T) {
	ctx := context.Background()
	r, c := newRecorder(t, map[string]string{
		"getwalletinfo": `{"result":{"balance":1.000000,"unlocked_until":0},"error":null,"id":1}`,
	})
	_, err := c.NameNew(ctx, "n", []byte("v"), 1, "")
	if !errors.Is(err, emercoin.ErrWalletLocked) {
		t.Fatalf("name_new with unlocked_until 0: got %v, want ErrWalletLocked", err)
	}
	if len(r.bodies) != 1 || !strings.Contains(r.bodies[0], `"getwalletinfo"`) {
		t.Fatalf("requests: got %q, want only getwalletinfo", r.bodies)
	}
}

// TestRetries: reads are retried after transport failures; writes and node errors never are.
func TestRetries(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		desc      string
		status    int
		body      string
		call      func(c *emercoin.Client) error
		method    string
		wantCalls int
		wantErr   error
	}{
		{"read, 502 without a JSON body", 502, "Bad Gateway", func(c *emercoin.Client) error { _, err := c.NameShow(ctx, "n"); return err }, "name_show", 3, emercoin.ErrUnreachable},
		{"read, node error", 500, `{"result":null,"error":{"code":-4,"message":"failed to read from name DB"},"id":1}`, func(c *emercoin.Client) error { _, err := c.NameShow(ctx, "n"); return err }, "name_show", 1, emercoin.ErrNameNotFound},
		{"write, 502 without a JSON body", 502, "Bad Gateway", func(c *emercoin.Client) error { _, err := c.NameNew(ctx, "n", []byte("v"), 1, ""); return err }, "name_new", 1, emercoin.ErrUnreachable},
		{"randpay_accept, 502", 502, "", func(c *emercoin.Client) error { _, err := c.RandpayAccept(ctx, "00", 0); return err }, "randpay_accept", 1, emercoin.ErrUnreachable},
		{"401", 401, "", func(c *emercoin.Client) error { _, err := c.GetBlockchainInfo(ctx); return err }, "getblockchaininfo", 1, emercoin.ErrUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			r, c := newRecorder(t, map[string]string{
				"getwalletinfo": `{"result":{"balance":1.000000},"error":null,"id":1}`,
				tc.method:       tc.body,
			})
			r.status[tc.method] = tc.status
			err := tc.call(c)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			calls := 0
			for _, b := range r.bodies {
				if strings.Contains(b, `"method":"`+tc.method+`"`) {
					calls++
				}
			}
			if calls != tc.wantCalls {
				t.Fatalf("%s sent %d times, want %d", tc.method, calls, tc.wantCalls)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var slept []time.Duration
	c, _ := emercoin.New(emercoin.Config{URL: "http://" + addr + "/", Sleep: func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}})
	_, err = c.NameShow(context.Background(), "n")
	if !errors.Is(err, emercoin.ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	if len(slept) != 2 || slept[1] != 2*slept[0] {
		t.Fatalf("backoff: got pauses %v, want two, doubling", slept)
	}
}

// TestErrorKinds classifies the node's codes and messages from reference/emercoin.md.
func TestErrorKinds(t *testing.T) {
	cases := []struct {
		code int
		msg  string
		want error
	}{
		{-4, "failed to read from name DB", emercoin.ErrNameNotFound},
		{-20, "failed to read from name DB", emercoin.ErrNameNotFound},
		{-32603, "name_new on an unexpired name", emercoin.ErrNameExists},
		{-32603, "name_update on an inactive name", emercoin.ErrNameInactive},
		{-32603, "name_delete on an inactive name", emercoin.ErrNameInactive},
		{-1, "record for this name exists, but this name is not active", emercoin.ErrNameInactive},
		{-32603, "prev name tx is not yours or is not spendable", emercoin.ErrNotOwner},
		{-32603, "there are 1 pending operations on that name, including ab12", emercoin.ErrPendingOperation},
		{-32603, "value is too long.\n", emercoin.ErrValueTooLong},
		{-32603, "name is too long.\nvalue is too long.\n", emercoin.ErrNameTooLong},
		{-32603, "name is too long.\nvalue is too long.\n", emercoin.ErrValueTooLong},
		{-32603, "value must not be empty", emercoin.ErrValueEmpty},
		{-13, "Error: Please enter the wallet passphrase with walletpassphrase first.", emercoin.ErrWalletLocked},
		{-4, "Error: Wallet unlocked for block minting only, unable to create transaction.", emercoin.ErrWalletLocked},
		{-6, "Insufficient funds", emercoin.ErrInsufficientFunds},
		{-32603, "Error: This transaction requires a transaction fee of at least 0.01", emercoin.ErrInsufficientFunds},
		{-5, "emercoin address is invalid", emercoin.ErrInvalidAddress},
		{-5, "Invalid address", emercoin.ErrInvalidAddress},
		{-32601, "Method not found (wallet method is disabled because no wallet is loaded)", emercoin.ErrMethodNotFound},
		{-10, "Emercoin is downloading blocks...", emercoin.ErrDownloading},
		{-5, "Address in the vout[0] does not match any available challenge, unable to sign randpay-in", emercoin.ErrNoChallenge},
		{-14, "Error: The wallet passphrase entered was incorrect.", emercoin.ErrPassphrase},
	}
	all := []error{emercoin.ErrNameNotFound, emercoin.ErrNameExists, emercoin.ErrNameInactive, emercoin.ErrNotOwner,
		emercoin.ErrPendingOperation, emercoin.ErrValueTooLong, emercoin.ErrNameTooLong, emercoin.ErrValueEmpty,
		emercoin.ErrWalletLocked, emercoin.ErrInsufficientFunds, emercoin.ErrInvalidAddress, emercoin.ErrMethodNotFound,
		emercoin.ErrDownloading, emercoin.ErrNoChallenge, emercoin.ErrPassphrase, emercoin.ErrUnreachable}
	for _, tc := range cases {
		e := &emercoin.RPCError{Method: "m", Code: tc.code, Message: tc.msg}
		if !errors.Is(e, tc.want) {
			t.Errorf("%d %q: does not match %v", tc.code, tc.msg, tc.want)
		}
		// Exactly the expected kinds match (the two-message case matches both of its kinds).
		for _, k := range all {
			if k != tc.want && errors.Is(e, k) && !strings.Contains(tc.msg, "\nvalue is too long") {
				t.Errorf("%d %q: also matches %v", tc.code, tc.msg, k)
			}
		}
	}
}
