package payment

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// Escrow states of a rental paid through a 2-of-3 escrow (RentalPay.State).
const (
	StateFunding   = "funding"   // waiting for the renter's payment and its confirmations
	StateActive    = "active"    // funded; the lease is in force
	StateRelease   = "release"   // release planned and signed by the hub; waits for a second signature
	StateRefund    = "refund"    // refund planned and signed by the hub; waits for a second signature
	StateReleased  = "released"  // paid out to the provider (minus the hub's fee)
	StateRefunded  = "refunded"  // paid back to the renter
	StateCancelled = "cancelled" // cancelled before any funding: nothing to pay back
)

// RentalPay is how one rental is paid on chain: an escrow with its state and the spend in
// progress, or a RANDPAY budget.
type RentalPay struct {
	Rental   string        `json:"rental"`
	Method   string        `json:"method"` // "escrow" or "randpay"
	Period   time.Duration `json:"period"` // the rental's length once it begins (escrow)
	Deadline time.Time     `json:"deadline,omitempty"`

	// escrow
	Escrow       *Escrow `json:"escrow,omitempty"`
	State        string  `json:"state,omitempty"`
	Spend        *Spend  `json:"spend,omitempty"`
	ProviderAddr string  `json:"provider_address,omitempty"` // P2PKH of the provider's escrow key
	RenterAddr   string  `json:"renter_address,omitempty"`   // P2PKH of the renter's escrow key
	TxID         string  `json:"txid,omitempty"`             // the settling transaction

	// randpay
	Budget  emercoin.Amount `json:"budget,omitempty"`
	LastSeq int64           `json:"last_seq,omitempty"` // messages up to this store Seq have a challenge
	Ended   bool            `json:"ended,omitempty"`
}

// Book keeps the on-chain payment state of rentals, and the providers' escrow keys per number,
// in one JSON file (written whole, atomically); Path "" keeps it in memory. Safe for concurrent
// use. It is the state of one hub instance: several instances need it in their shared store.
type Book struct {
	Path string

	mu    sync.Mutex
	state *bookState
}

type bookState struct {
	Rentals      map[string]RentalPay `json:"rentals"`
	ProviderKeys map[string]string    `json:"provider_keys"` // E.164 → hex compressed secp256k1
}

// ErrNoPayment is returned by Book.Get for a rental paid with no on-chain method.
var ErrNoPayment = errors.New("no on-chain payment for this rental")

func (b *Book) load() error {
	if b.state != nil {
		return nil
	}
	st := &bookState{Rentals: map[string]RentalPay{}, ProviderKeys: map[string]string{}}
	if b.Path != "" {
		data, err := os.ReadFile(b.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return fmt.Errorf("payment book: %w", err)
		default:
			if err := json.Unmarshal(data, st); err != nil {
				return fmt.Errorf("payment book %s: %w", b.Path, err)
			}
			if st.Rentals == nil {
				st.Rentals = map[string]RentalPay{}
			}
			if st.ProviderKeys == nil {
				st.ProviderKeys = map[string]string{}
			}
		}
	}
	b.state = st
	return nil
}

func (b *Book) save() error {
	if b.Path == "" {
		return nil
	}
	data, err := json.MarshalIndent(b.state, "", " ")
	if err != nil {
		return err
	}
	tmp := b.Path + ".tmp"
	if err := os.MkdirAll(filepath.Dir(b.Path), 0o700); err != nil {
		return fmt.Errorf("payment book: %w", err)
	}
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("payment book: %w", err)
	}
	if err := os.Rename(tmp, b.Path); err != nil {
		return fmt.Errorf("payment book: %w", err)
	}
	return nil
}

// Put records (or replaces) the rental's payment state.
func (b *Book) Put(p RentalPay) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.load(); err != nil {
		return err
	}
	prev, had := b.state.Rentals[p.Rental]
	b.state.Rentals[p.Rental] = p
	if err := b.save(); err != nil {
		if had {
			b.state.Rentals[p.Rental] = prev
		} else {
			delete(b.state.Rentals, p.Rental)
		}
		return err
	}
	return nil
}

// Get returns the rental's payment state; ErrNoPayment when it has none.
func (b *Book) Get(rental string) (RentalPay, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.load(); err != nil {
		return RentalPay{}, err
	}
	p, ok := b.state.Rentals[rental]
	if !ok {
		return RentalPay{}, fmt.Errorf("rental %s: %w", rental, ErrNoPayment)
	}
	return p, nil
}

// List returns every rental's payment state, ordered by rental id.
func (b *Book) List() ([]RentalPay, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.load(); err != nil {
		return nil, err
	}
	out := make([]RentalPay, 0, len(b.state.Rentals))
	for _, p := range b.state.Rentals {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rental < out[j].Rental })
	return out, nil
}

// SetProviderKey records the provider's escrow public key for a number ("" forgets it).
func (b *Book) SetProviderKey(number, key string) error {
	if key != "" {
		if err := checkKey(key); err != nil {
			return err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.load(); err != nil {
		return err
	}
	prev, had := b.state.ProviderKeys[number]
	if key == "" {
		delete(b.state.ProviderKeys, number)
	} else {
		b.state.ProviderKeys[number] = key
	}
	if err := b.save(); err != nil {
		if had {
			b.state.ProviderKeys[number] = prev
		} else {
			delete(b.state.ProviderKeys, number)
		}
		return err
	}
	return nil
}

// ProviderKey returns the provider's escrow public key for a number, "" when none was given.
func (b *Book) ProviderKey(number string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.load(); err != nil {
		return "", err
	}
	return b.state.ProviderKeys[number], nil
}

// CheckKey reports whether k is a hex compressed secp256k1 public key (ErrBadKey otherwise).
func CheckKey(k string) error { return checkKey(k) }

// KeyAddress is the P2PKH address of a hex compressed public key on network n.
func KeyAddress(n emercoin.Network, key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if n.HRP == "" {
		n = emercoin.MainNet
	}
	b, _ := hexDecode(key)
	return n.Encode(emercoin.Address{Kind: emercoin.P2PKH, Hash: emercoin.Hash160(b)})
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }
