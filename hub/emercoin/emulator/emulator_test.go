package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emercointest"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func start(t *testing.T, cfg emulator.Config) (*emulator.Node, *emercoin.Client) {
	n, c, _ := startURL(t, cfg)
	return n, c
}

func startURL(t *testing.T, cfg emulator.Config) (*emulator.Node, *emercoin.Client, string) {
	t.Helper()
	n, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	c, err := emercoin.New(emercoin.Config{URL: url, User: cfg.User, Password: cfg.Password, CookieFile: cfg.CookieFile, Now: cfg.Now})
	if err != nil {
		t.Fatal(err)
	}
	return n, c, url
}

func TestContract(t *testing.T) {
	emercointest.Run(t, func(t *testing.T, opt emercointest.Options) emercointest.Node {
		clk := &clock{t: time.Unix(1_780_000_000, 0)}
		n, c := start(t, emulator.Config{
			Path:       filepath.Join(t.TempDir(), "chain.json"),
			User:       "rpc",
			Password:   "secret",
			Passphrase: opt.Passphrase,
			Now:        clk.Now,
		})
		return emercointest.Node{Client: c, Network: emercoin.MainNet, Mine: func(t *testing.T, k int) {
			t.Helper()
			clk.Add(time.Duration(k) * time.Minute)
			if _, err := n.Mine(k); err != nil {
				t.Fatal(err)
			}
		}}
	})
}

// TestPersistence: a development chain survives a restart; RANDPAY challenges do not (the node
// keeps them in memory only).
func TestPersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.json")
	n1, c1 := start(t, emulator.Config{Path: path})
	if _, err := c1.NameNew(ctx, "ness:test:persist", []byte("kept"), 3, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.Mine(1); err != nil {
		t.Fatal(err)
	}
	pending, err := c1.NameNew(ctx, "ness:test:pending", []byte("p"), 1, "")
	if err != nil {
		t.Fatal(err)
	}
	chap, err := c1.RandpayMkchap(ctx, emercoin.Coin, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bal := n1.Balance()
	n1.Close()

	n2, c2 := start(t, emulator.Config{Path: path})
	if got := n2.Height(); got != 1 {
		t.Fatalf("height after restart: got %d, want 1", got)
	}
	if got := n2.Balance(); got != bal {
		t.Fatalf("balance after restart: got %s, want %s", got, bal)
	}
	r, err := c2.NameShow(ctx, "ness:test:persist")
	if err != nil || string(r.Value) != "kept" || r.ExpiresAt != 1+3*175 {
		t.Fatalf("name_show after restart: got %+v %v, want value kept, expires_at 526", r, err)
	}
	mp, err := c2.NameMempool(ctx)
	if err != nil || len(mp) != 1 || mp[0].TxID != pending {
		t.Fatalf("mempool after restart: got %+v %v, want the pending op %s", mp, err, pending)
	}
	txHex, err := c2.RandpayMktx(ctx, chap, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.RandpayAccept(ctx, txHex, 0); !errors.Is(err, emercoin.ErrNoChallenge) {
		t.Fatalf("randpay_accept of a challenge made before the restart: got %v, want ErrNoChallenge", err)
	}
	if _, err := emulator.New(emulator.Config{Path: path, Network: emercoin.TestNet}); err == nil {
		t.Fatalf("opening a main-net chain file as testnet: got no error")
	}
}

// TestRandpayWinRate: over 6,000 payments at risk 6 the number of wins is Binomial(6000, 1/6):
// mean 1000, σ ≈ 28.9. Accept within 5σ (a false failure about once in 3.5 million runs).
func TestRandpayWinRate(t *testing.T) {
	if testing.Short() {
		t.Skip("6,000 RANDPAY round trips")
	}
	_, c := start(t, emulator.Config{Balance: 10_000 * emercoin.Coin})
	const k, risk = 6000, 6
	won := emercointest.WinRate(t, c, k, risk)
	mean := float64(k) / risk
	sigma := math.Sqrt(float64(k) * (1.0 / risk) * (1 - 1.0/risk))
	if math.Abs(float64(won)-mean) > 5*sigma {
		t.Fatalf("wins over %d payments at risk %d: got %d, want %.0f ± %.0f", k, risk, won, mean, 5*sigma)
	}
	t.Logf("wins: %d of %d (expected %.0f, σ %.1f)", won, k, mean, sigma)
}

func TestCookieAuth(t *testing.T) {
	ctx := context.Background()
	cookie := filepath.Join(t.TempDir(), ".cookie")
	_, c, url := startURL(t, emulator.Config{CookieFile: cookie})
	if _, err := c.GetBlockchainInfo(ctx); err != nil {
		t.Fatalf("with the cookie: %v", err)
	}
	bad, _ := emercoin.New(emercoin.Config{URL: url, User: "x", Password: "y"})
	if _, err := bad.GetBlockchainInfo(ctx); !errors.Is(err, emercoin.ErrUnauthorized) {
		t.Fatalf("with wrong credentials: got %v, want ErrUnauthorized", err)
	}
}

// TestVerifyMessageVectors: the emulator's verifymessage accepts the python3-ecdsa vectors
// (scripts/emercoin-vectors.py) for both address kinds and rejects Bitcoin-magic signatures.
func TestVerifyMessageVectors(t *testing.T) {
	b, err := os.ReadFile("../testdata/signmessage.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			P2PKH, P2WPKH, Message, Signature string
			BitcoinSig                        string `json:"bitcoin_magic_signature"`
		}
	}
	if err := json.Unmarshal(b, &f); err != nil || len(f.Vectors) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	_, c := start(t, emulator.Config{})
	ctx := context.Background()
	for i, v := range f.Vectors {
		for _, a := range []string{v.P2PKH, v.P2WPKH} {
			if a == "" {
				continue
			}
			ok, err := c.VerifyMessage(ctx, a, v.Signature, v.Message)
			if err != nil || !ok {
				t.Errorf("vector %d verifymessage %s: got %v %v, want true", i, a, ok, err)
			}
			ok, err = c.VerifyMessage(ctx, a, v.BitcoinSig, v.Message)
			if err != nil || ok {
				t.Errorf("vector %d verifymessage %s of a Bitcoin-magic signature: got %v %v, want false", i, a, ok, err)
			}
		}
	}
}
