// Package emulator is an in-process emercoind: a real JSON-RPC server (HTTP on loopback, or any
// listener) that behaves as reference/emercoin.md §1-§6 and §9 describe Emercoin 0.8 / Bitcoin
// Core 0.19: JSON-RPC 1.0 envelopes, HTTP 500 on errors, the NVS methods with their exact result
// shapes, error codes and messages, limits (name 512 B, value 20,480 B), cumulative expiry (175
// blocks a day), one pending operation per name, confirmed-only reads, 6-decimal amounts, RANDPAY
// as the node really does it (a key per challenge, the hash160 range, single use) and signed
// messages with Emercoin's magic.
//
// Blocks are mined only on demand (the "generate" method or Node.Mine), so tests see the same
// pending → confirmed step a real node has. The chain and wallet are persisted to a JSON file so a
// development chain survives restarts; RANDPAY challenges are kept in memory only, as the node
// keeps them. The clock and the randomness are injected.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/wire"
)

// Config sets up a Node. The zero value is a main-net-like, unencrypted, in-memory node with
// 1000 EMC, no authentication, the real clock and crypto/rand.
type Config struct {
	// Path of the JSON state file; "" keeps everything in memory.
	Path string
	// Network decides address formats and getblockchaininfo's chain; zero means MainNet.
	Network emercoin.Network
	// User and Password, when set, are required as HTTP basic auth. CookieFile, when set and
	// User is empty, is written as "__cookie__:<random hex>" and required instead.
	User, Password, CookieFile string
	// Balance is the wallet's starting balance on a fresh chain; 0 means 1000 EMC.
	Balance emercoin.Amount
	// Passphrase, when set on a fresh chain, makes the wallet encrypted and locked.
	Passphrase string
	// PoWReward is nMint, the last PoW block reward the name fee is computed from; 0 = 5 EMC.
	PoWReward emercoin.Amount
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of keys, txids and RANDPAY choices; nil means crypto/rand.
	Rand io.Reader
}

// Node is the emulated emercoind. All exported methods are safe for concurrent use.
type Node struct {
	cfg    Config
	cookie string

	mu    sync.Mutex // guards everything below
	st    *state
	chaps []*challenge       // RANDPAY challenges, memory only (RandpayKeysMempool)
	payer map[string]payment // randpay_mktx transactions made by this node, by txid
	// unlockedUntil is the Unix time the wallet stays unlocked (memory only, as in the node).
	unlockedUntil int64

	srv *http.Server
	ln  net.Listener
}

// New opens (or creates) the chain at cfg.Path. It opens no socket; call Start or use Node as
// an http.Handler.
func New(cfg Config) (*Node, error) {
	if cfg.Network.HRP == "" {
		cfg.Network = emercoin.MainNet
	}
	if cfg.Balance == 0 {
		cfg.Balance = 1000 * emercoin.Coin
	}
	if cfg.PoWReward == 0 {
		cfg.PoWReward = 5 * emercoin.Coin
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	n := &Node{cfg: cfg, payer: map[string]payment{}}
	st, err := n.load()
	if err != nil {
		return nil, err
	}
	n.st = st
	if cfg.User == "" && cfg.CookieFile != "" {
		b := make([]byte, 32)
		if _, err := io.ReadFull(cfg.Rand, b); err != nil {
			return nil, fmt.Errorf("emulator: cookie: %w", err)
		}
		n.cookie = "__cookie__:" + hex.EncodeToString(b)
		if err := os.WriteFile(cfg.CookieFile, []byte(n.cookie), 0o600); err != nil {
			return nil, fmt.Errorf("emulator: write cookie: %w", err)
		}
	}
	return n, nil
}

func (n *Node) load() (*state, error) {
	if n.cfg.Path != "" {
		b, err := os.ReadFile(n.cfg.Path)
		switch {
		case err == nil:
			var st state
			if err := json.Unmarshal(b, &st); err != nil {
				return nil, fmt.Errorf("emulator: read %s: %w", n.cfg.Path, err)
			}
			if st.Network != n.cfg.Network.Name {
				return nil, fmt.Errorf("emulator: %s holds a %q chain, configured for %q", n.cfg.Path, st.Network, n.cfg.Network.Name)
			}
			st.init()
			return &st, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	seed := make([]byte, 16)
	if _, err := io.ReadFull(n.cfg.Rand, seed); err != nil {
		return nil, fmt.Errorf("emulator: seed: %w", err)
	}
	st := &state{Network: n.cfg.Network.Name, Seed: hex.EncodeToString(seed), Balance: n.cfg.Balance,
		GenesisTime: n.cfg.Now().Unix()}
	if n.cfg.Passphrase != "" {
		st.Passphrase = n.cfg.Passphrase
		st.Encrypted = true
	}
	st.init()
	return st, nil
}

// save writes the state file atomically. Called with mu held after every change.
func (n *Node) save() error {
	if n.cfg.Path == "" {
		return nil
	}
	b, err := json.Marshal(n.st)
	if err != nil {
		return err
	}
	return wire.WriteFileAtomic(n.cfg.Path, b, 0o600)
}

// Start serves JSON-RPC on a fresh 127.0.0.1 port and returns its URL ("http://127.0.0.1:N/").
func (n *Node) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("emulator: listen: %w", err)
	}
	return n.Serve(ln), nil
}

// Serve serves JSON-RPC on ln in the background and returns its URL.
func (n *Node) Serve(ln net.Listener) string {
	n.ln = ln
	n.srv = &http.Server{Handler: n, ReadHeaderTimeout: 10 * time.Second}
	go n.srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	return "http://" + ln.Addr().String() + "/"
}

// Close stops the server started by Start or Serve.
func (n *Node) Close() error {
	if n.srv == nil {
		return nil
	}
	return n.srv.Shutdown(context.Background())
}

// Mine mines k blocks, confirming every pending operation in the first one, and returns the
// new tip height.
func (n *Node) Mine(k int) (int64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mine(k)
	return n.st.Height, n.save()
}

// Height returns the tip height.
func (n *Node) Height() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.st.Height
}

// Balance returns the wallet's confirmed balance.
func (n *Node) Balance() emercoin.Amount {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.st.Balance
}

// NewKey makes a fresh secp256k1 key from the node's randomness.
func (n *Node) newKey() (*secp256k1.PrivateKey, error) {
	for {
		b := make([]byte, 32)
		if _, err := io.ReadFull(n.cfg.Rand, b); err != nil {
			return nil, err
		}
		var s secp256k1.ModNScalar
		if overflow := s.SetByteSlice(b); overflow || s.IsZero() {
			continue
		}
		return secp256k1.NewPrivateKey(&s), nil
	}
}

func (n *Node) randBytes(k int) []byte {
	b := make([]byte, k)
	if _, err := io.ReadFull(n.cfg.Rand, b); err != nil {
		panic(fmt.Sprintf("emulator: randomness failed: %v", err))
	}
	return b
}

// randBelow returns a uniform integer in [0, max).
func (n *Node) randBelow(max *big.Int) *big.Int {
	v, err := rand.Int(n.cfg.Rand, max)
	if err != nil {
		panic(fmt.Sprintf("emulator: randomness failed: %v", err))
	}
	return v
}
