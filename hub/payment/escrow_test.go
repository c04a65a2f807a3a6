package payment_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/payment"
)

type escrowEnv struct {
	node     *emulator.Node
	c        *emercoin.Client
	s        *payment.Escrows
	l        *ledger
	renter   *secp256k1.PrivateKey
	provider *secp256k1.PrivateKey
}

func key(b byte) *secp256k1.PrivateKey {
	return secp256k1.PrivKeyFromBytes(bytes.Repeat([]byte{b}, 32))
}

func newEscrowEnv(t *testing.T, cfg emulator.Config) *escrowEnv {
	t.Helper()
	clk := &clock{t: time.Unix(1_780_000_000, 0)}
	cfg.Now = clk.Now
	node, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, err := node.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	c, _ := emercoin.New(emercoin.Config{URL: url, Now: clk.Now})
	l := &ledger{}
	env := &escrowEnv{node: node, c: c, l: l, renter: key(1), provider: key(2),
		s: &payment.Escrows{Node: c, Ledger: l, Now: clk.Now, FeeBps: 250}}
	if cfg.Passphrase == "" {
		if env.s.FeeAddress, err = c.GetNewAddress(context.Background(), "hub-fee", ""); err != nil {
			t.Fatal(err)
		}
	} else {
		env.s.FeeAddress = "em1qfeeaddressisnotusedbeforefunding"
	}
	return env
}

func (env *escrowEnv) open(t *testing.T, id string, amount emercoin.Amount) payment.Escrow {
	t.Helper()
	e, err := env.s.Open(context.Background(), id, "rental-"+id, emercoin.PubKeyHex(env.renter), emercoin.PubKeyHex(env.provider), amount)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return e
}

// fund pays the escrow from the emulator's wallet (standing in for the renter's own wallet)
// and mines until it has the confirmations the hub waits for.
func (env *escrowEnv) fund(t *testing.T, e payment.Escrow, amount emercoin.Amount) {
	t.Helper()
	ctx := context.Background()
	if _, err := env.c.SendToAddress(ctx, e.Address, amount); err != nil {
		t.Fatal(err)
	}
	if _, err := env.s.Confirm(ctx, e); !errors.Is(err, payment.ErrNotFunded) {
		t.Fatalf("Confirm before any block: got %v, want ErrNotFunded", err)
	}
	env.node.Mine(payment.DefaultMinConf - 1)
	f, err := env.s.Confirm(ctx, e)
	if !errors.Is(err, payment.ErrNotFunded) || f.Confirmations != payment.DefaultMinConf-1 || f.Received != amount {
		t.Fatalf("Confirm at %d blocks: got %+v, %v; want ErrNotFunded with %s received", payment.DefaultMinConf-1, f, err, amount)
	}
	env.node.Mine(1)
	if f, err = env.s.Confirm(ctx, e); err != nil || !f.Funded || len(f.Outpoints) != 1 {
		t.Fatalf("Confirm at %d blocks: got %+v, %v", payment.DefaultMinConf, f, err)
	}
}

func received(t *testing.T, c *emercoin.Client, addr string) emercoin.Amount {
	t.Helper()
	r, _, err := c.ReceivedBy(context.Background(), addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r.Amount
}

// TestEscrowSpendPaths funds an escrow and spends it with every pair of signers the policy
// allows, checking that the right address is paid the right amount and the ledger says so.
func TestEscrowSpendPaths(t *testing.T) {
	const amount = 10 * emercoin.Coin
	wantFee := emercoin.Amount(amount * 250 / 10000)
	cases := []struct {
		name    string
		kind    payment.SpendKind
		signers []string // "renter", "provider" (offline / via signrawtransactionwithkey), "arbiter"
	}{
		{"release renter+provider", payment.Release, []string{"renter", "provider"}},
		{"release arbiter+provider", payment.Release, []string{"provider", "arbiter"}},
		{"refund arbiter+renter", payment.Refund, []string{"arbiter", "renter"}},
		{"refund renter+provider", payment.Refund, []string{"provider", "renter"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			env := newEscrowEnv(t, emulator.Config{})
			e := env.open(t, "escrow-"+strings.ReplaceAll(tc.name, " ", "_")[:10]+"x", amount)
			rec, err := env.c.NameShow(ctx, "ness:escrow:"+e.ID)
			if err == nil {
				t.Fatalf("anchor visible before a block: %+v", rec)
			}
			env.fund(t, e, amount)
			if rec, err = env.c.NameShow(ctx, "ness:escrow:"+e.ID); err != nil {
				t.Fatal(err)
			}
			got, err := payment.ParseEscrowRecord(rec.Value)
			if err != nil {
				t.Fatal(err)
			}
			r, p, a, _ := got.Keys()
			if r != e.RenterKey || p != e.ProviderKey || a != e.ArbiterKey || got.Policy.FeesBps != 250 {
				t.Fatalf("anchor %s: got keys %s %s %s, want the escrow's", rec.Value, r, p, a)
			}
			to, _ := env.c.GetNewAddress(ctx, "payee", "")
			sp, err := env.s.Plan(ctx, e, tc.kind, to)
			if err != nil {
				t.Fatal(err)
			}
			for i, who := range tc.signers {
				var complete bool
				switch who {
				case "arbiter":
					complete, err = env.s.Arbitrate(ctx, e, sp)
				case "renter": // through the node's signrawtransactionwithkey
					var res emercoin.SignResult
					res, err = env.c.SignRawTransactionWithKey(ctx, sp.Hex, []string{emercoin.EncodeWIF(emercoin.MainNet, env.renter)}, sp.Prev)
					sp.Hex, complete = res.Hex, res.Complete
					if !complete && len(res.Errors) != 1 {
						t.Fatalf("incomplete signing: got errors %+v, want one", res.Errors)
					}
				case "provider":
					complete, err = payment.SignOffline(sp, env.provider)
				}
				if err != nil {
					t.Fatalf("%s signs: %v", who, err)
				}
				if complete != (i == 1) {
					t.Fatalf("after %d signatures (%s): complete = %v", i+1, who, complete)
				}
				if i == 0 {
					if _, err := env.s.Settle(ctx, e, sp); !errors.Is(err, payment.ErrIncompleteSignatures) {
						t.Fatalf("Settle with one signature: got %v, want ErrIncompleteSignatures", err)
					}
					if _, err := env.c.SendRawTransaction(ctx, sp.Hex); !errors.Is(err, emercoin.ErrTxRejected) {
						t.Fatalf("node given one signature: got %v, want ErrTxRejected", err)
					}
				}
			}
			txid, err := env.s.Settle(ctx, e, sp)
			if err != nil {
				t.Fatal(err)
			}
			env.node.Mine(1)
			tx, err := env.c.GetWatchedTransaction(ctx, txid)
			if err != nil || tx.Confirmations != 1 {
				t.Fatalf("gettransaction %s: %+v, %v", txid, tx, err)
			}
			wantPayout := amount - payment.DefaultEscrowFee
			if tc.kind == payment.Release {
				wantPayout -= wantFee
				if got := received(t, env.c, env.s.FeeAddress); got != wantFee {
					t.Errorf("hub fee address got %s, want %s", got, wantFee)
				}
				if n, sum := env.l.count("hub_fee"); n != 1 || sum != wantFee {
					t.Errorf("ledger hub_fee: %d events, %s; want 1, %s", n, sum, wantFee)
				}
				if n, sum := env.l.count("provider_payout"); n != 1 || sum != wantPayout {
					t.Errorf("ledger provider_payout: %d events, %s; want 1, %s", n, sum, wantPayout)
				}
			} else if n, sum := env.l.count("escrow_refund"); n != 1 || sum != wantPayout {
				t.Errorf("ledger escrow_refund: %d events, %s; want 1, %s", n, sum, wantPayout)
			}
			if got := received(t, env.c, to); got != wantPayout {
				t.Errorf("payee got %s, want %s", got, wantPayout)
			}
			for _, k := range []string{"escrow_opened", "escrow_funded"} {
				if n, _ := env.l.count(k); n < 1 {
					t.Errorf("ledger has no %s", k)
				}
			}
			if _, err := env.c.SendRawTransaction(ctx, sp.Hex); !errors.Is(err, emercoin.ErrAlreadyInChain) {
				t.Errorf("second send: got %v, want ErrAlreadyInChain", err)
			}
		})
	}
}

// TestEscrowRefusals: the arbiter never signs a spend that pays elsewhere; a refund planned
// before the release can no longer be spent; an unfunded escrow has no plan.
func TestEscrowRefusals(t *testing.T) {
	ctx := context.Background()
	env := newEscrowEnv(t, emulator.Config{})
	e := env.open(t, "refusals1", 5*emercoin.Coin)
	to, _ := env.c.GetNewAddress(ctx, "provider", "")
	if _, err := env.s.Plan(ctx, e, payment.Release, to); !errors.Is(err, payment.ErrNotFunded) {
		t.Fatalf("Plan before funding: got %v, want ErrNotFunded", err)
	}
	env.fund(t, e, 5*emercoin.Coin)

	release, err := env.s.Plan(ctx, e, payment.Release, to)
	if err != nil {
		t.Fatal(err)
	}
	refund, err := env.s.Plan(ctx, e, payment.Refund, to)
	if err != nil {
		t.Fatal(err)
	}
	// A provider swaps the release for one paying everything to itself.
	thief, _ := env.c.GetNewAddress(ctx, "thief", "")
	f, _ := env.s.Status(ctx, e)
	forged, err := env.c.CreateRawTransaction(ctx, f.Outpoints, []emercoin.Output{{Address: thief, Amount: f.Received - payment.DefaultEscrowFee}})
	if err != nil {
		t.Fatal(err)
	}
	bad := *release
	bad.Hex = forged
	if _, err := env.s.Arbitrate(ctx, e, &bad); !errors.Is(err, payment.ErrSpendMismatch) {
		t.Fatalf("Arbitrate forged spend: got %v, want ErrSpendMismatch", err)
	}

	if _, err := payment.SignOffline(release, env.provider); err != nil {
		t.Fatal(err)
	}
	if ok, err := env.s.Arbitrate(ctx, e, release); err != nil || !ok {
		t.Fatalf("Arbitrate release: %v, %v", ok, err)
	}
	if _, err := env.s.Settle(ctx, e, release); err != nil {
		t.Fatal(err)
	}
	if _, err := payment.SignOffline(refund, env.renter); err != nil {
		t.Fatal(err)
	}
	if _, err := env.s.Arbitrate(ctx, e, refund); err != nil {
		t.Fatal(err)
	}
	if _, err := env.s.Settle(ctx, e, refund); !errors.Is(err, emercoin.ErrMissingInputs) {
		t.Fatalf("refund after release: got %v, want ErrMissingInputs", err)
	}
	if _, err := payment.SignOffline(release, key(9)); err == nil {
		t.Fatal("a key outside the escrow signed")
	}
}

// TestEscrowNodeErrors: node failures come back as the emercoin error kinds.
func TestEscrowNodeErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("locked wallet", func(t *testing.T) {
		env := newEscrowEnv(t, emulator.Config{Passphrase: "secret"})
		_, err := env.s.Open(ctx, "locked01", "r", emercoin.PubKeyHex(env.renter), emercoin.PubKeyHex(env.provider), emercoin.Coin)
		if !errors.Is(err, emercoin.ErrWalletLocked) {
			t.Fatalf("got %v, want ErrWalletLocked", err)
		}
	})
	t.Run("name exists", func(t *testing.T) {
		env := newEscrowEnv(t, emulator.Config{})
		env.open(t, "twice001", emercoin.Coin)
		env.node.Mine(1)
		_, err := env.s.Open(ctx, "twice001", "r", emercoin.PubKeyHex(env.renter), emercoin.PubKeyHex(env.provider), emercoin.Coin)
		if !errors.Is(err, emercoin.ErrNameExists) {
			t.Fatalf("got %v, want ErrNameExists", err)
		}
	})
	t.Run("insufficient funds", func(t *testing.T) {
		env := newEscrowEnv(t, emulator.Config{Balance: 2 * emercoin.Coin})
		e := env.open(t, "poorrent", 5*emercoin.Coin)
		if _, err := env.c.SendToAddress(ctx, e.Address, 5*emercoin.Coin); !errors.Is(err, emercoin.ErrInsufficientFunds) {
			t.Fatalf("got %v, want ErrInsufficientFunds", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		c, _ := emercoin.New(emercoin.Config{URL: "http://127.0.0.1:1/", Timeout: time.Second, ReadRetries: -1})
		s := &payment.Escrows{Node: c}
		_, err := s.Open(ctx, "nowhere1", "r", emercoin.PubKeyHex(key(1)), emercoin.PubKeyHex(key(2)), emercoin.Coin)
		if !errors.Is(err, emercoin.ErrUnreachable) {
			t.Fatalf("got %v, want ErrUnreachable", err)
		}
	})
	t.Run("bad keys", func(t *testing.T) {
		s := &payment.Escrows{}
		_, err := s.Open(ctx, "badkeys1", "r", "02abcd", emercoin.PubKeyHex(key(2)), emercoin.Coin)
		if !errors.Is(err, payment.ErrBadKey) {
			t.Fatalf("got %v, want ErrBadKey", err)
		}
	})
}

func TestParseEscrowRecord(t *testing.T) {
	k1, k2, k3 := emercoin.PubKeyHex(key(1)), emercoin.PubKeyHex(key(2)), emercoin.PubKeyHex(key(3))
	good := `{"descriptor":"` + payment.Descriptor(k1, k2, k3) + `","policy":{"release":"2of3","fees_bps":50}}`
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"descriptor", good, true},
		{"commitment", `{"escrow_commitment":"` + strings.Repeat("ab", 32) + `"}`, true},
		{"both", `{"descriptor":"` + payment.Descriptor(k1, k2, k3) + `","escrow_commitment":"` + strings.Repeat("ab", 32) + `"}`, false},
		{"no policy", `{"descriptor":"` + payment.Descriptor(k1, k2, k3) + `"}`, false},
		{"1of3", strings.Replace(good, "multi(2,", "multi(1,", 1), false},
		{"wsh", strings.Replace(good, "sh(multi", "wsh(multi", 1), false},
		{"uppercase key", strings.Replace(good, k1, strings.ToUpper(k1), 1), false},
		{"fees too high", strings.Replace(good, `"fees_bps":50`, `"fees_bps":10001`, 1), false},
		{"release 1of3", strings.Replace(good, `"2of3"`, `"1of3"`, 1), false},
		{"extra key", strings.Replace(good, `{"descriptor"`, `{"rented_to":"bob","descriptor"`, 1), false},
		{"short commitment", `{"escrow_commitment":"abcd"}`, false},
		{"empty", `{}`, false},
		{"null", `null`, false},
		{"trailing", good + `{}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := payment.ParseEscrowRecord([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseEscrowRecord(%s): got %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, payment.ErrMalformedEscrow) {
				t.Fatalf("error %v is not ErrMalformedEscrow", err)
			}
			if tc.ok {
				again, err := payment.ParseEscrowRecord(r.Value())
				if err != nil || again.Descriptor != r.Descriptor || again.Commitment != r.Commitment {
					t.Fatalf("round trip: %+v, %v", again, err)
				}
			}
		})
	}
}

func FuzzParseEscrowRecord(f *testing.F) {
	k := emercoin.PubKeyHex(key(1))
	f.Add([]byte(`{"descriptor":"` + payment.Descriptor(k, k, k) + `","policy":{"release":"2of3","fees_bps":50}}`))
	f.Add([]byte(`{"escrow_commitment":"` + strings.Repeat("0", 64) + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := payment.ParseEscrowRecord(b)
		if err != nil {
			return
		}
		again, err := payment.ParseEscrowRecord(r.Value())
		if err != nil || again.Descriptor != r.Descriptor || again.Commitment != r.Commitment {
			t.Fatalf("accepted %q but not its own value: %v", b, err)
		}
	})
}
