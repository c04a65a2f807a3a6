package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/payment"
)

// chainEnv is the API with on-chain payments against the emulator over loopback JSON-RPC.
type chainEnv struct {
	*env
	node *emulator.Node
	emc  *emercoin.Client
}

// offsetClock is the API's clock, moved forward by a test.
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *offsetClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

func startChainEnv(t *testing.T, cfg emulator.Config) *chainEnv {
	return startChainEnvClock(t, cfg, nil)
}

func startChainEnvClock(t *testing.T, cfg emulator.Config, clk *offsetClock) *chainEnv {
	t.Helper()
	node, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, err := node.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	c, err := emercoin.New(emercoin.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	fee := "EfeeAddressUnusedWhileTheWalletIsLocked1"
	if cfg.Passphrase == "" {
		if fee, err = c.GetNewAddress(context.Background(), "hub-fee", "legacy"); err != nil {
			t.Fatal(err)
		}
	}
	e := startEnv(t, backends[0], func(cfg *httpapi.Config) {
		if clk != nil {
			cfg.Now = clk.Now
		}
		ledger := &payment.StoreLedger{Store: cfg.Store}
		cfg.Chain = &httpapi.ChainPayments{
			Escrows: &payment.Escrows{Node: c, Ledger: ledger, FeeBps: 250, FeeAddress: fee},
			Payee:   &payment.Payee{Node: c, Ledger: ledger, Amount: emercoin.Coin, Risk: 4},
			Book:    &payment.Book{},
		}
	})
	return &chainEnv{env: e, node: node, emc: c}
}

func secpKey(b byte) *secp256k1.PrivateKey {
	return secp256k1.PrivKeyFromBytes(bytes.Repeat([]byte{b}, 32))
}

func (e *chainEnv) tick(t *testing.T) {
	t.Helper()
	if err := e.api.TickPayments(context.Background()); err != nil {
		t.Fatalf("TickPayments: %v", err)
	}
}

func (e *chainEnv) earnings(t *testing.T, p *provider) httpapi.Earnings {
	t.Helper()
	var out httpapi.Earnings
	p.do(t, "GET", "/v1/provider/earnings", nil, http.StatusOK, &out)
	return out
}

// escrowRental sets up a provider with an escrow key on a number and a renter renting it with
// escrow; it returns the pending rental with its escrow.
func (e *chainEnv) escrowRental(t *testing.T, number, iccid string, renterKey, providerKey *secp256k1.PrivateKey) (*provider, *client, httpapi.RentalView) {
	t.Helper()
	p := e.enrol(t, e.signIn(t))
	p.do(t, "POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: number, Agent: p.agent.ID, ICCID: iccid,
		Country: "DE", Features: []string{"sms"}, Prices: httpapi.Prices{Day: "0.5", Week: "3", Month: "10", SMS: "0.01"},
		EscrowKey: emercoin.PubKeyHex(providerKey)}, http.StatusCreated, nil)
	renter := e.signIn(t)
	var v httpapi.RentalView
	renter.do(t, "POST", "/v1/rentals", httpapi.RentalRequest{Number: number, Duration: "daily", RenterKey: renter.id.Public.String(),
		Payment: "escrow", EscrowKey: emercoin.PubKeyHex(renterKey)}, http.StatusCreated, &v)
	if v.Status != "pending" || v.Escrow == nil || v.Escrow.Address == "" || v.Escrow.Amount != "0.500000" || v.Escrow.State != "funding" {
		t.Fatalf("escrow rental: got %+v (escrow %+v), want pending, funding, 0.500000 to an address", v, v.Escrow)
	}
	return p, renter, v
}

func (e *chainEnv) fund(t *testing.T, v httpapi.RentalView) {
	t.Helper()
	if _, err := e.emc.SendToAddress(context.Background(), v.Escrow.Address, 500_000); err != nil {
		t.Fatalf("renter pays the escrow: %v", err)
	}
	if _, err := e.node.Mine(payment.DefaultMinConf); err != nil {
		t.Fatal(err)
	}
}

func (e *chainEnv) escrow(t *testing.T, c *client, id string) httpapi.EscrowView {
	t.Helper()
	var v httpapi.EscrowView
	c.do(t, "GET", "/v1/rentals/"+id+"/escrow", nil, http.StatusOK, &v)
	return v
}

// signSpend adds key's signature to the planned spend and posts it.
func (e *chainEnv) signSpend(t *testing.T, c *client, id string, key *secp256k1.PrivateKey) httpapi.EscrowView {
	t.Helper()
	ev := e.escrow(t, c, id)
	if ev.Spend == nil {
		t.Fatalf("escrow of %s in state %s has no spend to sign", id, ev.State)
	}
	sp := &payment.Spend{Hex: ev.Spend.Hex, Prev: ev.Spend.Prev}
	if done, err := payment.SignOffline(sp, key); err != nil || !done {
		t.Fatalf("SignOffline: complete %v, %v; want complete with the hub's signature", done, err)
	}
	var out httpapi.EscrowView
	c.do(t, "POST", "/v1/rentals/"+id+"/escrow/sign", httpapi.SignRequest{Hex: sp.Hex}, http.StatusOK, &out)
	return out
}

func TestEscrowRentalReleased(t *testing.T) {
	e := startChainEnv(t, emulator.Config{})
	renterKey, providerKey := secpKey(1), secpKey(2)
	p, renter, v := e.escrowRental(t, "+4915550000001", "89490000000000000001", renterKey, providerKey)

	// Not funded: the rental stays pending and no lease goes out.
	e.tick(t)
	if _, err := e.emc.SendToAddress(context.Background(), v.Escrow.Address, 500_000); err != nil {
		t.Fatal(err)
	}
	e.node.Mine(payment.DefaultMinConf - 1)
	e.tick(t)
	var got httpapi.RentalView
	renter.do(t, "GET", "/v1/rentals/"+v.ID, nil, http.StatusOK, &got)
	if ev := e.escrow(t, renter, v.ID); got.Status != "pending" || ev.Confirmations != payment.DefaultMinConf-1 || ev.Received != "0.500000" {
		t.Fatalf("at %d confirmations: rental %s, escrow %+v; want pending with 0.500000 received", payment.DefaultMinConf-1, got.Status, ev)
	}
	e.node.Mine(1)
	e.tick(t)
	renter.do(t, "GET", "/v1/rentals/"+v.ID, nil, http.StatusOK, &got)
	if got.Status != "active" || got.LeaseSeq == 0 {
		t.Fatalf("funded at %d confirmations: rental %+v, want active with a lease", payment.DefaultMinConf, got)
	}
	p.waitLease(t, "89490000000000000001", got.LeaseSeq)
	if ev := e.escrow(t, p.client, v.ID); ev.State != "active" {
		t.Fatalf("escrow as the provider sees it: state %s, want active", ev.State)
	}

	// The renter ends the rental: the hub plans the release and signs it; the provider adds
	// the second signature.
	renter.do(t, "DELETE", "/v1/rentals/"+v.ID, nil, http.StatusOK, &got)
	if got.Status != "ended" {
		t.Fatalf("after DELETE: %s, want ended", got.Status)
	}
	if ev := e.escrow(t, renter, v.ID); ev.State != "release" || ev.Spend.Payout != "0.487400" || ev.Spend.HubFee != "0.012500" {
		t.Fatalf("release plan: %+v, want payout 0.487400 and hub fee 0.012500 (2.5%% of 0.5, minus the 0.0001 tx fee)", ev.Spend)
	}
	// A signature by a stranger is not the second one.
	if code, body, _ := p.req(t, "POST", "/v1/rentals/"+v.ID+"/escrow/sign", httpapi.SignRequest{Hex: e.escrow(t, renter, v.ID).Spend.Hex}); code != http.StatusBadRequest {
		t.Fatalf("sign with only the hub's signature: got %d %s, want 400", code, body)
	}
	out := e.signSpend(t, p.client, v.ID, providerKey)
	if out.State != "released" || out.TxID == "" {
		t.Fatalf("after the provider's signature: %+v, want released with a txid", out)
	}
	earn := e.earnings(t, p)
	if earn.Total != "0.487400" || len(earn.Payments) != 1 || earn.Payments[0].Method != "multisig" || earn.Payments[0].Ref != out.TxID {
		t.Fatalf("provider earnings: %+v, want one multisig payment of 0.487400 ref %s", earn, out.TxID)
	}
	if code, _, _ := renter.req(t, "POST", "/v1/rentals/"+v.ID+"/escrow/sign", httpapi.SignRequest{Hex: "00"}); code != http.StatusConflict {
		t.Fatalf("signing a settled escrow: got %d, want 409", code)
	}
}

func TestEscrowRentalRefundedAndCancelled(t *testing.T) {
	e := startChainEnv(t, emulator.Config{})
	renterKey, providerKey := secpKey(3), secpKey(4)
	p, renter, v := e.escrowRental(t, "+4915550000002", "89490000000000000002", renterKey, providerKey)
	e.fund(t, v)
	// Cancelled after the funding confirmed, before the lease began: refund to the renter.
	var got httpapi.RentalView
	renter.do(t, "DELETE", "/v1/rentals/"+v.ID, nil, http.StatusOK, &got)
	if got.Status != "cancelled" {
		t.Fatalf("cancel a funded pending rental: %s, want cancelled", got.Status)
	}
	e.tick(t) // the watcher must not begin a cancelled rental
	renter.do(t, "GET", "/v1/rentals/"+v.ID, nil, http.StatusOK, &got)
	ev := e.escrow(t, renter, v.ID)
	if got.Status != "cancelled" || got.LeaseSeq != 0 || ev.State != "refund" || ev.Spend.Payout != "0.499900" {
		t.Fatalf("after cancel and a tick: rental %s seq %d, escrow %s %+v; want cancelled, no lease, refund of 0.499900", got.Status, got.LeaseSeq, ev.State, ev.Spend)
	}
	renterAddr, _ := payment.KeyAddress(emercoin.MainNet, emercoin.PubKeyHex(renterKey))
	if ev.Spend.To != renterAddr {
		t.Fatalf("refund to %s, want the renter's key's address %s", ev.Spend.To, renterAddr)
	}
	if out := e.signSpend(t, renter, v.ID, renterKey); out.State != "refunded" || out.TxID == "" {
		t.Fatalf("after the renter's signature: %+v, want refunded", out)
	}
	if earn := e.earnings(t, p); earn.Total != "0.000000" || len(earn.Payments) != 0 {
		t.Fatalf("provider earnings after a refund: %+v, want none", earn)
	}

	// Cancelled before any funding: nothing to pay back, and the number is free again.
	var v2 httpapi.RentalView
	renter.do(t, "POST", "/v1/rentals", httpapi.RentalRequest{Number: "+4915550000002", Duration: "daily", RenterKey: renter.id.Public.String(),
		Payment: "escrow", EscrowKey: emercoin.PubKeyHex(renterKey)}, http.StatusCreated, &v2)
	other := e.signIn(t)
	if code, body, _ := other.req(t, "POST", "/v1/rentals", httpapi.RentalRequest{Number: "+4915550000002", Duration: "daily",
		RenterKey: other.id.Public.String()}); code != http.StatusConflict {
		t.Fatalf("renting a number claimed by a pending escrow rental: got %d %s, want 409", code, body)
	}
	renter.do(t, "DELETE", "/v1/rentals/"+v2.ID, nil, http.StatusOK, &got)
	if ev := e.escrow(t, renter, v2.ID); got.Status != "cancelled" || ev.State != "cancelled" {
		t.Fatalf("cancel before funding: rental %s escrow %s, want cancelled/cancelled", got.Status, ev.State)
	}
	other.rent(t, "+4915550000002")
}

func TestRandpayRentalBudget(t *testing.T) {
	e := startChainEnv(t, emulator.Config{Balance: 10_000 * emercoin.Coin})
	p := e.enrol(t, e.signIn(t))
	const number, iccid = "+4915550000003", "89490000000000000003"
	p.bind(t, number, iccid)
	renter := e.signIn(t)
	var v httpapi.RentalView
	renter.do(t, "POST", "/v1/rentals", httpapi.RentalRequest{Number: number, Duration: "daily", RenterKey: renter.id.Public.String(),
		Payment: "randpay", Budget: "5"}, http.StatusCreated, &v)
	if v.Status != "active" || v.Payment != "randpay" {
		t.Fatalf("randpay rental: %+v, want active at once", v)
	}
	lease := p.waitLease(t, iccid, v.LeaseSeq)
	ctx := context.Background()
	var rv httpapi.RandpayView
	sent, paid, won := 0, 0, 0
	for ; sent < 80; sent++ {
		p.sms(t, lease, fmt.Sprintf("code %d", sent))
		deadline := time.Now().Add(10 * time.Second)
		for {
			ms, err := e.hub.Store.ListMessages(ctx, hub.MessageQuery{RentalID: v.ID, Limit: hub.MaxListLimit})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == sent+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("SMS %d not stored after 10s (%d stored)", sent, len(ms))
			}
			time.Sleep(20 * time.Millisecond)
		}
		renter.do(t, "GET", "/v1/rentals/"+v.ID+"/randpay", nil, http.StatusOK, &rv)
		if rv.Ended {
			break
		}
		if len(rv.Challenges) != 1 {
			t.Fatalf("after SMS %d: %d challenges, want 1: %+v", sent, len(rv.Challenges), rv)
		}
		tx, err := e.emc.RandpayMktx(ctx, rv.Challenges[0].Chap, time.Hour, 0)
		if err != nil {
			t.Fatalf("randpay_mktx: %v", err)
		}
		var res httpapi.RandpayResult
		renter.do(t, "POST", "/v1/rentals/"+v.ID+"/randpay", httpapi.RandpayRequest{Chap: rv.Challenges[0].Chap, Tx: tx}, http.StatusOK, &res)
		paid++
		if res.Won {
			won++
		}
	}
	var got httpapi.RentalView
	renter.do(t, "GET", "/v1/rentals/"+v.ID, nil, http.StatusOK, &got)
	if !rv.Ended || got.Status != "ended" || rv.Spent != "5.000000" || won != 5 {
		t.Fatalf("after %d SMS, %d paid, %d won: randpay %+v, rental %s; want ended with exactly 5.000000 spent", sent, paid, won, rv, got.Status)
	}
	earn := e.earnings(t, p)
	if earn.Total != "5.000000" || len(earn.Payments) != 5 || earn.Payments[0].Method != "randpay" {
		t.Fatalf("provider earnings: %+v, want 5 randpay wins of 1 EMC", earn)
	}
	t.Logf("%d SMS delivered, %d paid, %d won at risk 4; budget 5 EMC spent exactly", sent+1, paid, won)
	// a stale challenge is refused with a clear error
	code, body, _ := renter.req(t, "POST", "/v1/rentals/"+v.ID+"/randpay", httpapi.RandpayRequest{Chap: "1.00:2:00", Tx: "00"})
	var eb httpapi.ErrorBody
	json.Unmarshal(body, &eb)
	if code != http.StatusBadRequest || eb.Error == nil || eb.Error.Field != "chap" {
		t.Fatalf("unknown challenge: got %d %s, want 400 field chap", code, body)
	}
}

func TestEscrowNodeErrors(t *testing.T) {
	e := startChainEnv(t, emulator.Config{Passphrase: "secret"})
	p := e.enrol(t, e.signIn(t))
	p.do(t, "POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: "+4915550000004", Agent: p.agent.ID, ICCID: "89490000000000000004",
		Country: "DE", Features: []string{"sms"}, Prices: httpapi.Prices{Day: "0.5", Week: "3", Month: "10", SMS: "0.01"},
		EscrowKey: emercoin.PubKeyHex(secpKey(6))}, http.StatusCreated, nil)
	renter := e.signIn(t)
	req := httpapi.RentalRequest{Number: "+4915550000004", Duration: "daily", RenterKey: renter.id.Public.String(),
		Payment: "escrow", EscrowKey: emercoin.PubKeyHex(secpKey(5))}
	code, body, _ := renter.req(t, "POST", "/v1/rentals", req)
	var eb httpapi.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || code != http.StatusServiceUnavailable || eb.Error.Kind != httpapi.KindUnavailable ||
		!bytes.Contains(body, []byte("locked")) {
		t.Fatalf("escrow with a locked hub wallet: got %d %s, want 503 unavailable naming the locked wallet", code, body)
	}
	// The refused rental does not keep the number claimed.
	renter.rent(t, "+4915550000004")

	e.node.Close() // node unreachable
	req.Number = "+4915550000005"
	p.do(t, "POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: req.Number, Agent: p.agent.ID, ICCID: "89490000000000000005",
		Country: "DE", Features: []string{"sms"}, Prices: httpapi.Prices{Day: "0.5", Week: "3", Month: "10", SMS: "0.01"},
		EscrowKey: emercoin.PubKeyHex(secpKey(6))}, http.StatusCreated, nil)
	code, body, _ = renter.req(t, "POST", "/v1/rentals", req)
	if code != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("node is not available")) {
		t.Fatalf("escrow with the node down: got %d %s, want 503 naming the node", code, body)
	}
	req.EscrowKey = "02ab"
	if code, body, _ = renter.req(t, "POST", "/v1/rentals", req); code != http.StatusBadRequest || !bytes.Contains(body, []byte(`"escrow_key"`)) {
		t.Fatalf("bad escrow key: got %d %s, want 400 field escrow_key", code, body)
	}
}

// TestLostRaceTakesNoPayment rents each number from two hub instances on one store at once:
// exactly one rental wins, the other is 409, and only one payment is recorded.
func TestLostRaceTakesNoPayment(t *testing.T) {
	var cfg httpapi.Config
	e := startEnv(t, backends[0], func(c *httpapi.Config) { cfg = *c })
	api2, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(api2.Handler())
	t.Cleanup(ts2.Close)
	e2 := *e
	e2.url = ts2.URL
	p := e.enrol(t, e.signIn(t))
	renter := e.signIn(t)
	renter2 := &client{e: &e2, id: renter.id, token: renter.token}
	const rounds = 12
	for i := 0; i < rounds; i++ {
		number := fmt.Sprintf("+49155600000%02d", i)
		p.bind(t, number, fmt.Sprintf("894900000000000100%02d", i))
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for j, c := range []*client{renter, renter2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[j], _, _ = c.req(t, "POST", "/v1/rentals", httpapi.RentalRequest{Number: number, Duration: "daily", RenterKey: c.id.Public.String()})
			}()
		}
		wg.Wait()
		if codes[0]+codes[1] != http.StatusCreated+http.StatusConflict {
			t.Fatalf("round %d: statuses %v, want one 201 and one 409", i, codes)
		}
	}
	ps, err := e.hub.Store.ListPayments(context.Background(), p.id.Verify[:])
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != rounds {
		t.Fatalf("payments after %d raced rentals: %d, want %d (one per rental that began)", rounds, len(ps), rounds)
	}
}

// TestEscrowWatcher: the watcher plans the release when an escrow rental runs out, and cancels
// an escrow rental nothing was paid into within the funding window.
func TestEscrowWatcher(t *testing.T) {
	clk := &offsetClock{}
	e := startChainEnvClock(t, emulator.Config{}, clk)
	renterKey, providerKey := secpKey(7), secpKey(8)
	p, renter, v := e.escrowRental(t, "+4915550000007", "89490000000000000007", renterKey, providerKey)
	e.fund(t, v)
	e.tick(t)
	var got httpapi.RentalView
	renter.do(t, "GET", "/v1/rentals/"+v.ID, nil, http.StatusOK, &got)
	if got.Status != "active" {
		t.Fatalf("funded: %s, want active", got.Status)
	}
	unpaid := e.signIn(t)
	var v2 httpapi.RentalView
	p.do(t, "POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: "+4915550000008", Agent: p.agent.ID, ICCID: "89490000000000000008",
		Country: "DE", Features: []string{"sms"}, Prices: httpapi.Prices{Day: "0.5", Week: "3", Month: "10", SMS: "0.01"},
		EscrowKey: emercoin.PubKeyHex(providerKey)}, http.StatusCreated, nil)
	unpaid.do(t, "POST", "/v1/rentals", httpapi.RentalRequest{Number: "+4915550000008", Duration: "daily", RenterKey: unpaid.id.Public.String(),
		Payment: "escrow", EscrowKey: emercoin.PubKeyHex(renterKey)}, http.StatusCreated, &v2)
	e.tick(t)
	if ev := e.escrow(t, renter, v.ID); ev.State != "active" {
		t.Fatalf("before the end: escrow %s, want active", ev.State)
	}
	clk.Add(23 * time.Hour) // past the funding window, before the rental's end
	e.tick(t)
	unpaid = e.signInAs(t, unpaid.id)
	unpaid.do(t, "GET", "/v1/rentals/"+v2.ID, nil, http.StatusOK, &got)
	if got.Status != "cancelled" {
		t.Fatalf("unfunded past the window: %s, want cancelled", got.Status)
	}
	if ev := e.escrow(t, renter, v.ID); ev.State != "active" {
		t.Fatalf("an hour before the end: escrow %s, want active", ev.State)
	}
	clk.Add(2 * time.Hour)
	e.tick(t)
	provider := e.signInAs(t, p.id)
	if ev := e.escrow(t, provider, v.ID); ev.State != "release" || ev.Spend == nil || ev.Spend.Kind != "release" {
		t.Fatalf("after the end: escrow %+v, want a release to sign", ev)
	}
	if out := e.signSpend(t, provider, v.ID, providerKey); out.State != "released" {
		t.Fatalf("after the provider's signature: %s, want released", out.State)
	}
}

// TestRandpayGrace: a challenge left unanswered past the grace ends the rental.
func TestRandpayGrace(t *testing.T) {
	clk := &offsetClock{}
	e := startChainEnvClock(t, emulator.Config{}, clk)
	p := e.enrol(t, e.signIn(t))
	const number, iccid = "+4915550000009", "89490000000000000009"
	p.bind(t, number, iccid)
	renter := e.signIn(t)
	var v httpapi.RentalView
	renter.do(t, "POST", "/v1/rentals", httpapi.RentalRequest{Number: number, Duration: "daily", RenterKey: renter.id.Public.String(),
		Payment: "randpay", Budget: "3"}, http.StatusCreated, &v)
	lease := p.waitLease(t, iccid, v.LeaseSeq)
	p.sms(t, lease, "unpaid")
	var rv httpapi.RandpayView
	for deadline := time.Now().Add(10 * time.Second); len(rv.Challenges) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no challenge for the delivered SMS after 10s")
		}
		e.tick(t)
		renter.do(t, "GET", "/v1/rentals/"+v.ID+"/randpay", nil, http.StatusOK, &rv)
	}
	clk.Add(9 * time.Minute)
	e.tick(t)
	var got httpapi.RentalView
	renter.do(t, "GET", "/v1/rentals/"+v.ID, nil, http.StatusOK, &got)
	if got.Status != "active" {
		t.Fatalf("9 minutes unanswered: %s, want still active", got.Status)
	}
	clk.Add(2 * time.Minute)
	e.tick(t)
	renter.do(t, "GET", "/v1/rentals/"+v.ID, nil, http.StatusOK, &got)
	if got.Status != "ended" {
		t.Fatalf("11 minutes unanswered (grace 10m): %s, want ended", got.Status)
	}
	p.waitLease(t, iccid, got.LeaseSeq) // the agent gets the ended lease
}
