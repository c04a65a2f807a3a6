// Package emercointest is the contract suite for an emercoind behind hub/emercoin.Client: the
// NVS life cycle (pending → confirmed, cumulative expiry, delete, re-register), limits, error
// kinds, wallet locking, signed messages and RANDPAY, checked through the client's wire format.
// The emulator runs it in its tests; a real node can run it through the same entry point.
package emercointest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// Options asks the factory for a particular node.
type Options struct {
	// Passphrase, when set, asks for an encrypted wallet that starts locked.
	Passphrase string
}

// Node is what the factory hands the suite: a client for a fresh chain and a way to mine.
type Node struct {
	Client  *emercoin.Client
	Network emercoin.Network
	// Mine mines n blocks (on the emulator at once; a real test chain may take its time).
	Mine func(t *testing.T, n int)
}

// Factory makes a fresh node for one subtest.
type Factory func(t *testing.T, opt Options) Node

// Run runs the whole contract against nodes made by f.
func Run(t *testing.T, f Factory) {
	t.Run("NameLifeCycle", func(t *testing.T) { testNameLifeCycle(t, f(t, Options{})) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, f(t, Options{})) })
	t.Run("Limits", func(t *testing.T) { testLimits(t, f(t, Options{})) })
	t.Run("FilterAndScan", func(t *testing.T) { testFilterAndScan(t, f(t, Options{})) })
	t.Run("BinaryValue", func(t *testing.T) { testBinaryValue(t, f(t, Options{})) })
	t.Run("LockedWallet", func(t *testing.T) { testLockedWallet(t, f(t, Options{Passphrase: "correct horse"})) })
	t.Run("Wallet", func(t *testing.T) { testWallet(t, f(t, Options{})) })
	t.Run("SignedMessage", func(t *testing.T) { testSignedMessage(t, f(t, Options{})) })
	t.Run("Multisig", func(t *testing.T) { testMultisig(t, f(t, Options{})) })
	t.Run("Randpay", func(t *testing.T) { testRandpay(t, f(t, Options{})) })
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must[T any](t *testing.T, what string) func(T, error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func wantErr(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got error %v, want one matching %v", what, err, kind)
	}
}

func height(t *testing.T, n Node) int64 {
	t.Helper()
	bi := must[emercoin.BlockchainInfo](t, "getblockchaininfo")(n.Client.GetBlockchainInfo(ctxT(t)))
	return bi.Blocks
}

func testNameLifeCycle(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	name := "ness:test:life:" + fmt.Sprint(time.Now().UnixNano())
	if _, err := c.NameShow(ctx, name); !errors.Is(err, emercoin.ErrNameNotFound) {
		t.Fatalf("name_show %q before name_new: got %v, want ErrNameNotFound", name, err)
	}
	txid := must[string](t, "name_new")(c.NameNew(ctx, name, []byte("v1"), 2, ""))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(txid) {
		t.Fatalf("name_new result: got %q, want a 64-hex txid", txid)
	}
	// Pending: not visible to name_show, visible in name_mempool, blocks a second op.
	if _, err := c.NameShow(ctx, name); !errors.Is(err, emercoin.ErrNameNotFound) {
		t.Fatalf("name_show of a pending name: got %v, want ErrNameNotFound (only confirmed state is visible)", err)
	}
	mp := must[[]emercoin.NameOp](t, "name_mempool")(c.NameMempool(ctx))
	if len(mp) != 1 || mp[0].Name != name || mp[0].TxID != txid || mp[0].Operation != "name_new" || string(mp[0].Value) != "v1" || mp[0].DaysAdded != 2 || !mp[0].AddressIsMine {
		t.Fatalf("name_mempool: got %+v, want one name_new of %q, txid %s, value v1, 2 days, mine", mp, name, txid)
	}
	_, err := c.NameUpdate(ctx, name, []byte("v2"), 0, "")
	wantErr(t, "name_update on a pending name", err, emercoin.ErrPendingOperation)
	if !strings.Contains(err.Error(), txid) {
		t.Fatalf("pending error %q does not name the pending txid %s", err, txid)
	}
	n.Mine(t, 1)
	h := height(t, n)
	r := must[emercoin.NameRecord](t, "name_show")(c.NameShow(ctx, name))
	if string(r.Value) != "v1" || r.TxID != txid || r.ExpiresAt != h+2*emercoin.BlocksPerDay || r.ExpiresIn != 2*emercoin.BlocksPerDay || !r.Active() {
		t.Fatalf("name_show after 1 block: got %+v, want value v1, txid %s, expires_at %d, expires_in %d", r, txid, h+350, 350)
	}
	if _, err := c.NameNew(ctx, name, []byte("again"), 1, ""); !errors.Is(err, emercoin.ErrNameExists) {
		t.Fatalf("name_new on an active name: got %v, want ErrNameExists", err)
	}
	// Days accumulate: update 3 → expires_at + 3×175 from the same start.
	must[string](t, "name_update")(c.NameUpdate(ctx, name, []byte("v2"), 3, ""))
	n.Mine(t, 1)
	r = must[emercoin.NameRecord](t, "name_show")(c.NameShow(ctx, name))
	if string(r.Value) != "v2" || r.ExpiresAt != h+5*emercoin.BlocksPerDay {
		t.Fatalf("after name_update +3 days: got value %q expires_at %d, want v2 and %d (cumulative)", r.Value, r.ExpiresAt, h+5*emercoin.BlocksPerDay)
	}
	hist := must[[]emercoin.NameOp](t, "name_history")(c.NameHistory(ctx, name, false))
	if len(hist) != 2 || hist[0].Operation != "name_new" || hist[1].Operation != "name_update" || hist[1].DaysAdded != 3 || string(hist[1].Value) != "v2" || hist[0].Height != h {
		t.Fatalf("name_history: got %+v, want name_new at %d then name_update +3 with v2", hist, h)
	}
	must[string](t, "name_delete")(c.NameDelete(ctx, name))
	n.Mine(t, 1)
	r = must[emercoin.NameRecord](t, "name_show")(c.NameShow(ctx, name))
	if !r.Deleted || r.ExpiresAt != 0 || len(r.Value) != 0 || r.Active() {
		t.Fatalf("name_show after delete: got %+v, want deleted, expires_at 0, empty value", r)
	}
	if _, err := c.NameHistory(ctx, name, false); !errors.Is(err, emercoin.ErrNameInactive) {
		t.Fatalf("name_history of a deleted name: got %v, want ErrNameInactive", err)
	}
	if _, err := c.NameUpdate(ctx, name, []byte("x"), 1, ""); !errors.Is(err, emercoin.ErrNameInactive) {
		t.Fatalf("name_update of a deleted name: got %v, want ErrNameInactive", err)
	}
	got := must[[]emercoin.NameEntry](t, "name_filter")(c.NameFilter(ctx, "^"+regexp.QuoteMeta(name)+"$", emercoin.FilterOptions{}))
	if len(got) != 0 {
		t.Fatalf("name_filter after delete: got %+v, want nothing (deleted names are omitted)", got)
	}
	// Anyone may register a deleted name again; a new active chain starts.
	must[string](t, "name_new after delete")(c.NameNew(ctx, name, []byte("v3"), 1, ""))
	n.Mine(t, 1)
	hist = must[[]emercoin.NameOp](t, "name_history")(c.NameHistory(ctx, name, false))
	full := must[[]emercoin.NameOp](t, "name_history full")(c.NameHistory(ctx, name, true))
	if len(hist) != 1 || len(full) != 4 {
		t.Fatalf("history after re-register: got %d active ops and %d in full, want 1 and 4", len(hist), len(full))
	}
	r = must[emercoin.NameRecord](t, "name_show")(c.NameShow(ctx, name))
	if r.ExpiresAt != height(t, n)+emercoin.BlocksPerDay {
		t.Fatalf("re-registered expires_at: got %d, want %d (days of the old chain do not count)", r.ExpiresAt, height(t, n)+emercoin.BlocksPerDay)
	}
}

func testExpiry(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	name := "ness:test:expiry"
	must[string](t, "name_new")(c.NameNew(ctx, name, []byte("v"), 1, ""))
	n.Mine(t, 1)
	start := height(t, n)
	n.Mine(t, emercoin.BlocksPerDay-1)
	r := must[emercoin.NameRecord](t, "name_show")(c.NameShow(ctx, name))
	if r.ExpiresIn != 1 || r.Expired {
		t.Fatalf("one block before expiry: got expires_in %d expired %v, want 1 false", r.ExpiresIn, r.Expired)
	}
	n.Mine(t, 1)
	r = must[emercoin.NameRecord](t, "name_show")(c.NameShow(ctx, name))
	if r.ExpiresIn != 0 || !r.Expired {
		t.Fatalf("at expiry: got expires_in %d expired %v, want 0 true (RPC says expired at 0)", r.ExpiresIn, r.Expired)
	}
	// NameActive still holds at expires_in == 0, so an update is accepted…
	must[string](t, "name_update at expires_in 0")(c.NameUpdate(ctx, name, []byte("v"), 0, ""))
	n.Mine(t, 1) // …and mined one block later the name has expired.
	if h := height(t, n); h != start+emercoin.BlocksPerDay+1 {
		t.Fatalf("height: got %d, want %d", h, start+emercoin.BlocksPerDay+1)
	}
	if _, err := c.NameUpdate(ctx, name, []byte("w"), 1, ""); !errors.Is(err, emercoin.ErrNameInactive) {
		t.Fatalf("name_update after expiry: got %v, want ErrNameInactive", err)
	}
	f := must[[]emercoin.NameEntry](t, "name_filter")(c.NameFilter(ctx, "^ness:test:expiry$", emercoin.FilterOptions{}))
	if len(f) != 1 || !f[0].Expired {
		t.Fatalf("name_filter of an expired name: got %+v, want it listed with expired", f)
	}
	must[string](t, "name_new on an expired name")(c.NameNew(ctx, name, []byte("new owner"), 1, ""))
}

func testLimits(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	long := strings.Repeat("n", emercoin.MaxNameLength)
	big := bytes.Repeat([]byte("v"), emercoin.MaxValueLength)
	cases := []struct {
		desc  string
		name  string
		value []byte
		days  int
		want  error
	}{
		{"name of 512 bytes", long, []byte("v"), 1, nil},
		{"name of 513 bytes", long + "x", []byte("v"), 1, emercoin.ErrNameTooLong},
		{"value of 20480 bytes", "ness:test:bigvalue", big, 1, nil},
		{"value of 20481 bytes", "ness:test:toobig", append(big, 'x'), 1, emercoin.ErrValueTooLong},
		{"empty value", "ness:test:empty", nil, 1, emercoin.ErrValueEmpty},
	}
	for _, tc := range cases {
		_, err := c.NameNew(ctx, tc.name, tc.value, tc.days, "")
		if tc.want == nil && err != nil {
			t.Errorf("%s: got %v, want success", tc.desc, err)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.desc, err, tc.want)
		}
	}
	_, err := c.NameNew(ctx, "ness:test:zero", []byte("v"), 0, "")
	var re *emercoin.RPCError
	if !errors.As(err, &re) || re.Code != emercoin.CodeInternalError || re.Message != "rental days must be greater than 0.\n" {
		t.Errorf("name_new with 0 days: got %v, want -32603 \"rental days must be greater than 0.\\n\"", err)
	}
	_, err = c.NameNew(ctx, "ness:test:badaddr", []byte("v"), 1, "EbadAddress")
	wantErr(t, "name_new to a bad address", err, emercoin.ErrInvalidAddress)
	n.Mine(t, 1)
	r := must[emercoin.NameRecord](t, "name_show big")(c.NameShow(ctx, "ness:test:bigvalue"))
	if !bytes.Equal(r.Value, big) {
		t.Errorf("value of 20480 bytes: got %d bytes back, want the same %d", len(r.Value), len(big))
	}
}

func testFilterAndScan(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	names := []string{"ness:sms:listing:b", "ness:sms:listing:aa", "x-ness:sms:listing:c", "ness:sms:listing:a"}
	for _, nm := range names {
		must[string](t, "name_new "+nm)(c.NameNew(ctx, nm, []byte("v:"+nm), 1, ""))
	}
	n.Mine(t, 1)
	partial := must[[]emercoin.NameEntry](t, "name_filter")(c.NameFilter(ctx, "ness:sms:listing:", emercoin.FilterOptions{}))
	anchored := must[[]emercoin.NameEntry](t, "name_filter")(c.NameFilter(ctx, "^ness:sms:listing:", emercoin.FilterOptions{}))
	if len(partial) != 4 || len(anchored) != 3 {
		t.Fatalf("name_filter: unanchored got %d, anchored got %d; want 4 and 3 (regex_search is a partial match)", len(partial), len(anchored))
	}
	for _, e := range anchored {
		if string(e.Value) != "v:"+e.Name || e.RegisteredAt != height(t, n) || e.ExpiresIn != emercoin.BlocksPerDay {
			t.Errorf("name_filter element %+v: want value v:%s, registered_at %d, expires_in 175", e, e.Name, height(t, n))
		}
	}
	page := must[[]emercoin.NameEntry](t, "name_filter page")(c.NameFilter(ctx, "^ness:sms:listing:", emercoin.FilterOptions{From: 1, Count: 1}))
	if len(page) != 1 {
		t.Fatalf("name_filter from 1 nb 1: got %d entries, want 1", len(page))
	}
	// name_scan: index order is length first, then bytes.
	scan := must[[]emercoin.NameEntry](t, "name_scan")(c.NameScan(ctx, "ness:sms:listing:", 0))
	var got []string
	for _, e := range scan {
		got = append(got, e.Name)
	}
	want := []string{"ness:sms:listing:a", "ness:sms:listing:b", "ness:sms:listing:aa", "x-ness:sms:listing:c"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("name_scan order: got %v, want %v (length first, then bytes)", got, want)
	}
	lst := must[[]emercoin.NameEntry](t, "name_list")(c.NameList(ctx, ""))
	if len(lst) != 4 || lst[0].Name != "ness:sms:listing:a" || lst[0].Address == "" {
		t.Fatalf("name_list: got %+v, want the 4 names in bytewise order with addresses", lst)
	}
}

func testBinaryValue(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	v := make([]byte, 256)
	for i := range v {
		v[i] = byte(i)
	}
	sum := sha256.Sum256(v)
	must[string](t, "name_new")(c.NameNew(ctx, "ness:test:binary", v, 1, ""))
	n.Mine(t, 1)
	r := must[emercoin.NameRecord](t, "name_show")(c.NameShow(ctx, "ness:test:binary"))
	if got := sha256.Sum256(r.Value); got != sum {
		t.Fatalf("binary value: got sha256 %x, want %x", got, sum)
	}
}

func testLockedWallet(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	wi := must[emercoin.WalletInfo](t, "getwalletinfo")(c.GetWalletInfo(ctx))
	if wi.UnlockedUntil == nil || *wi.UnlockedUntil != 0 {
		t.Fatalf("encrypted wallet: got unlocked_until %v, want present and 0", wi.UnlockedUntil)
	}
	_, err := c.NameNew(ctx, "ness:test:locked", []byte("v"), 1, "")
	wantErr(t, "name_new with a locked wallet", err, emercoin.ErrWalletLocked)
	mp := must[[]emercoin.NameOp](t, "name_mempool")(c.NameMempool(ctx))
	if len(mp) != 0 {
		t.Fatalf("after a refused write: got %d mempool ops, want 0", len(mp))
	}
	// The raw node answer, bypassing the client's check, is the node's useless "unkown error".
	err = c.Call(ctx, "name_new", []any{"ness:test:locked", "v", 1, "", ""}, nil)
	var re *emercoin.RPCError
	if !errors.As(err, &re) || re.Code != emercoin.CodeInternalError {
		t.Fatalf("raw name_new with a locked wallet: got %v, want -32603", err)
	}
	_, err = c.SendToAddress(ctx, must[string](t, "getnewaddress")(c.GetNewAddress(ctx, "", "")), emercoin.Coin)
	wantErr(t, "sendtoaddress locked", err, emercoin.ErrWalletLocked)
	wantErr(t, "wrong passphrase", c.WalletPassphrase(ctx, "wrong", time.Minute), emercoin.ErrPassphrase)
	if err := c.WalletPassphrase(ctx, "correct horse", time.Minute); err != nil {
		t.Fatalf("walletpassphrase: %v", err)
	}
	must[string](t, "name_new unlocked")(c.NameNew(ctx, "ness:test:locked", []byte("v"), 1, ""))
}

func testWallet(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	addr := must[string](t, "getnewaddress")(c.GetNewAddress(ctx, "rent", ""))
	if !strings.HasPrefix(addr, n.Network.HRP+"1q") {
		t.Fatalf("getnewaddress: got %q, want a bech32 %s1q… address (the default type)", addr, n.Network.HRP)
	}
	legacy := must[string](t, "getnewaddress legacy")(c.GetNewAddress(ctx, "", "legacy"))
	for _, a := range []string{addr, legacy} {
		v := must[emercoin.AddressInfo](t, "validateaddress")(c.ValidateAddress(ctx, a))
		if !v.IsValid || v.Address != a {
			t.Fatalf("validateaddress %q: got %+v, want valid", a, v)
		}
	}
	if v := must[emercoin.AddressInfo](t, "validateaddress")(c.ValidateAddress(ctx, "nonsense")); v.IsValid {
		t.Fatalf("validateaddress nonsense: got valid")
	}
	wi := must[emercoin.WalletInfo](t, "getwalletinfo")(c.GetWalletInfo(ctx))
	_, err := c.SendToAddress(ctx, addr, wi.Balance+emercoin.Coin)
	wantErr(t, "sendtoaddress more than the balance", err, emercoin.ErrInsufficientFunds)
	_, err = c.SendToAddress(ctx, "Enot-an-address", emercoin.Coin)
	wantErr(t, "sendtoaddress to a bad address", err, emercoin.ErrInvalidAddress)
	amt := emercoin.Amount(1_234_567)
	txid := must[string](t, "sendtoaddress")(c.SendToAddress(ctx, addr, amt))
	tx := must[emercoin.Transaction](t, "gettransaction")(c.GetTransaction(ctx, txid))
	if tx.Confirmations != 0 || tx.TxID != txid {
		t.Fatalf("gettransaction before a block: got %+v, want 0 confirmations", tx)
	}
	n.Mine(t, 2)
	tx = must[emercoin.Transaction](t, "gettransaction")(c.GetTransaction(ctx, txid))
	if tx.Confirmations != 2 {
		t.Fatalf("gettransaction after 2 blocks: got %d confirmations, want 2", tx.Confirmations)
	}
	rec := must[[]emercoin.Received](t, "listreceivedbyaddress")(c.ListReceivedByAddress(ctx, 1, false))
	found := false
	for _, r := range rec {
		if r.Address == addr {
			found = r.Amount == amt && r.Label == "rent" && len(r.TxIDs) == 1 && r.TxIDs[0] == txid
		}
	}
	if !found {
		t.Fatalf("listreceivedbyaddress: got %+v, want %s with %s, label rent, txid %s", rec, addr, amt, txid)
	}
	if _, err := c.GetTransaction(ctx, strings.Repeat("0", 64)); err == nil {
		t.Fatalf("gettransaction of an unknown txid: got no error")
	}
}

func testSignedMessage(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	for _, typ := range []string{"", "legacy"} {
		addr := must[string](t, "getnewaddress")(c.GetNewAddress(ctx, "", typ))
		msg := "ness sign-in challenge 0123"
		sig := must[string](t, "signmessage")(c.SignMessage(ctx, addr, msg))
		if ok := must[bool](t, "verifymessage")(c.VerifyMessage(ctx, addr, sig, msg)); !ok {
			t.Fatalf("verifymessage %s of its own signature: got false", addr)
		}
		if ok := must[bool](t, "verifymessage tampered")(c.VerifyMessage(ctx, addr, sig, msg+"!")); ok {
			t.Fatalf("verifymessage %s of another message: got true", addr)
		}
		off, err := emercoin.VerifyMessage(n.Network, addr, sig, msg)
		if err != nil || !off {
			t.Fatalf("offline VerifyMessage of the node's signature for %s: got %v %v, want true", addr, off, err)
		}
		_, err = c.VerifyMessage(ctx, addr, "%%%not base64", msg)
		var re *emercoin.RPCError
		if !errors.As(err, &re) || re.Code != emercoin.CodeInvalidAddress || re.Message != "Malformed base64 encoding" {
			t.Fatalf("verifymessage with bad base64: got %v, want -5 Malformed base64 encoding", err)
		}
	}
}

func testMultisig(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	keys := []string{
		"0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
		"02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5",
		"02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
	}
	m := must[emercoin.Multisig](t, "createmultisig")(c.CreateMultisig(ctx, 2, keys, ""))
	wantScript := "52" + "21" + keys[0] + "21" + keys[1] + "21" + keys[2] + "53ae"
	if m.RedeemScript != wantScript {
		t.Fatalf("createmultisig redeemScript: got %s, want %s", m.RedeemScript, wantScript)
	}
	rs, _ := hex.DecodeString(wantScript)
	wantAddr, _ := n.Network.Encode(emercoin.Address{Kind: emercoin.P2SH, Hash: emercoin.Hash160(rs)})
	if m.Address != wantAddr {
		t.Fatalf("createmultisig address: got %s, want P2SH %s", m.Address, wantAddr)
	}
	w := must[emercoin.Multisig](t, "addmultisigaddress")(c.AddMultisigAddress(ctx, 2, keys, "escrow", ""))
	if !strings.HasPrefix(w.Address, n.Network.HRP+"1q") || len(w.Address) != len(n.Network.HRP)+1+59 {
		t.Fatalf("addmultisigaddress default: got %s, want a bech32 P2WSH address", w.Address)
	}
	if _, err := c.CreateMultisig(ctx, 4, keys, ""); err == nil {
		t.Fatalf("createmultisig 4 of 3: got no error")
	}
}

var chapRE = regexp.MustCompile(`^([0-9]+\.[0-9]{2,6}):([0-9]+):([0-9a-f]{40})$`)

func testRandpay(t *testing.T, n Node) {
	ctx := ctxT(t)
	c := n.Client
	chap := must[string](t, "randpay_mkchap")(c.RandpayMkchap(ctx, emercoin.Coin, 1, time.Hour))
	if m := chapRE.FindStringSubmatch(chap); m == nil || m[1] != "1.00" || m[2] != "1" {
		t.Fatalf("randpay_mkchap: got %q, want \"1.00:1:<40 hex>\"", chap)
	}
	before := must[emercoin.WalletInfo](t, "getwalletinfo")(c.GetWalletInfo(ctx)).Balance
	txHex := must[string](t, "randpay_mktx")(c.RandpayMktx(ctx, chap, time.Hour, 0))
	// Risk 1: the range holds one address, so the payment always wins.
	res := must[emercoin.RandpayAccept](t, "randpay_accept")(c.RandpayAccept(ctx, txHex, emercoin.RandpayExactOrMore))
	if !res.Won || !res.Sent || res.Risk != 1 || res.Expected != emercoin.Coin || res.Amount != emercoin.Coin || res.TxID == "" {
		t.Fatalf("randpay_accept at risk 1: got %+v, want won and sent, risk 1, expected and amount 1 EMC", res)
	}
	_, err := c.RandpayAccept(ctx, txHex, 0)
	wantErr(t, "second randpay_accept of the same tx (challenges are single use)", err, emercoin.ErrNoChallenge)
	after := must[emercoin.WalletInfo](t, "getwalletinfo")(c.GetWalletInfo(ctx)).Balance
	if after >= before || before-after > emercoin.Coin/100 {
		t.Fatalf("balance paying oneself: got %s → %s, want a loss of only the fee", before, after)
	}
	// Exact-only refuses a payment of more than the challenge.
	chap = must[string](t, "randpay_mkchap")(c.RandpayMkchap(ctx, emercoin.Coin/2, 1, time.Hour))
	more := strings.Replace(chap, "0.50:", "0.60:", 1)
	txHex = must[string](t, "randpay_mktx")(c.RandpayMktx(ctx, more, time.Hour, 0))
	res = must[emercoin.RandpayAccept](t, "randpay_accept exact")(c.RandpayAccept(ctx, txHex, emercoin.RandpayExactOnly))
	if !res.Won || res.Sent || res.Amount != 600_000 || res.Expected != 500_000 {
		t.Fatalf("exact-only with 0.6 for 0.5: got %+v, want won, not sent", res)
	}
	for _, bad := range []string{"1.00", "1.00:6", "x:6:00", "1.00:0:00", "0:6:00"} {
		if _, err := c.RandpayMktx(ctx, bad, time.Hour, 0); err == nil {
			t.Errorf("randpay_mktx %q: got no error", bad)
		}
	}
	if _, err := c.RandpayAccept(ctx, "zz", 0); err == nil {
		t.Errorf("randpay_accept of non-hex: got no error")
	}
}

// WinRate makes k challenges at risk and pays each from the same node, returning how many won.
// Each challenge is used once. The hub's per-SMS budget tests and the statistics test use it.
func WinRate(t *testing.T, c *emercoin.Client, k, risk int) int {
	t.Helper()
	ctx := ctxT(t)
	won := 0
	for i := 0; i < k; i++ {
		chap, err := c.RandpayMkchap(ctx, emercoin.Coin, risk, time.Hour)
		if err != nil {
			t.Fatalf("randpay_mkchap %d: %v", i, err)
		}
		txHex, err := c.RandpayMktx(ctx, chap, time.Hour, 0)
		if err != nil {
			t.Fatalf("randpay_mktx %d: %v", i, err)
		}
		res, err := c.RandpayAccept(ctx, txHex, emercoin.RandpayExactOrMore)
		if err != nil {
			t.Fatalf("randpay_accept %d: %v", i, err)
		}
		if res.Risk != int64(risk) {
			t.Fatalf("randpay_accept %d: got risk %d, want %d", i, res.Risk, risk)
		}
		if res.Won {
			won++
		}
	}
	return won
}
