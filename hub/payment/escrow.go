package payment

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// Escrow defaults: six confirmations before a rental counts as paid, the node's minimum fee
// for the spending transaction, a year's anchor.
const (
	DefaultMinConf    = 6
	DefaultEscrowFee  = emercoin.Amount(100) // MIN_TX_FEE, 0.0001 EMC: enough for a small tx (§3)
	DefaultEscrowDays = 365
	// MinOutput is MIN_TXOUT_AMOUNT: a hub fee below it is not paid out as an output.
	MinOutput = emercoin.Amount(100)
)

// Escrow errors callers test with errors.Is.
var (
	ErrNotFunded            = errors.New("escrow not funded")
	ErrIncompleteSignatures = errors.New("escrow spend lacks two valid signatures")
	ErrSpendMismatch        = errors.New("escrow spend does not pay what the plan says")
	ErrBadKey               = errors.New("invalid escrow public key")
)

// EscrowNode is what the escrow needs from emercoind; *emercoin.Client implements it.
type EscrowNode interface {
	GetNewAddress(ctx context.Context, label, addressType string) (string, error)
	GetAddressInfo(ctx context.Context, addr string) (emercoin.AddressDetails, error)
	CreateMultisig(ctx context.Context, nRequired int, keys []string, addressType string) (emercoin.Multisig, error)
	ImportAddress(ctx context.Context, addr, label string) error
	ReceivedBy(ctx context.Context, addr string, minConf int) (emercoin.Received, bool, error)
	GetWatchedTransaction(ctx context.Context, txid string) (emercoin.Transaction, error)
	CreateRawTransaction(ctx context.Context, ins []emercoin.Outpoint, outs []emercoin.Output) (string, error)
	SignRawTransactionWithWallet(ctx context.Context, txHex string, prev []emercoin.PrevTx) (emercoin.SignResult, error)
	SendRawTransaction(ctx context.Context, txHex string) (string, error)
	NameNew(ctx context.Context, name string, value []byte, days int, toAddress string) (string, error)
}

var _ EscrowNode = (*emercoin.Client)(nil)

// Escrow is one rental's 2-of-3 multisig: renter, provider and the hub as arbiter. The hub
// holds only the arbiter key (a key of its own wallet); renter and provider keys are theirs.
type Escrow struct {
	ID             string          `json:"id"`
	Rental         string          `json:"rental"`
	RenterKey      string          `json:"renter_key"`   // hex compressed secp256k1
	ProviderKey    string          `json:"provider_key"` // hex compressed secp256k1
	ArbiterKey     string          `json:"arbiter_key"`
	ArbiterAddress string          `json:"arbiter_address"` // the hub wallet address of ArbiterKey
	Address        string          `json:"address"`         // P2SH multisig
	RedeemScript   string          `json:"redeem_script"`
	Amount         emercoin.Amount `json:"amount"` // what the renter must pay in
	FeeBps         int             `json:"fee_bps"`
	AnchorTxID     string          `json:"anchor_txid"`
}

// Record is the escrow's on-chain descriptor record.
func (e Escrow) Record() EscrowRecord {
	return EscrowRecord{Descriptor: Descriptor(e.RenterKey, e.ProviderKey, e.ArbiterKey),
		Policy: &EscrowPolicy{Release: "2of3", FeesBps: e.FeeBps}}
}

// Funding is what the escrow address has received.
type Funding struct {
	Received      emercoin.Amount     // all outputs paid to the address, any depth
	Confirmations int64               // of the least-confirmed payment; 0 when unconfirmed
	Funded        bool                // Received ≥ Amount at MinConf or more
	Outputs       []emercoin.PrevTx   // the outputs to spend
	Outpoints     []emercoin.Outpoint // same, as inputs
}

// SpendKind says where the escrow's money goes.
type SpendKind string

const (
	Release SpendKind = "release" // to the provider, minus the hub's fee
	Refund  SpendKind = "refund"  // back to the renter
)

// Spend is a planned release or refund, passed from signer to signer: Hex gathers signatures,
// Prev lets each signer's node sign without knowing the escrow.
type Spend struct {
	Kind      SpendKind         `json:"kind"`
	Hex       string            `json:"hex"`
	Prev      []emercoin.PrevTx `json:"prev"`
	Outputs   []emercoin.Output `json:"-"`
	To        string            `json:"to"`     // provider (release) or renter (refund) address
	Payout    emercoin.Amount   `json:"payout"` // what To receives
	HubFee    emercoin.Amount   `json:"hub_fee"`
	FeeAddr   string            `json:"fee_address,omitempty"`
	NetworkFx emercoin.Amount   `json:"tx_fee"`
}

// Escrows opens, watches and settles escrows. Safe for concurrent use (it keeps no state).
type Escrows struct {
	Node       EscrowNode
	Network    emercoin.Network // zero: MainNet
	Ledger     Ledger
	Now        func() time.Time
	FeeBps     int             // hub fee on release, 0..10000 basis points
	FeeAddress string          // where the hub's fee goes; required when FeeBps > 0
	MinConf    int             // 0: DefaultMinConf
	TxFee      emercoin.Amount // 0: DefaultEscrowFee
	AnchorDays int             // 0: DefaultEscrowDays
}

func (s *Escrows) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Escrows) minConf() int {
	if s.MinConf > 0 {
		return s.MinConf
	}
	return DefaultMinConf
}

func (s *Escrows) txFee() emercoin.Amount {
	if s.TxFee > 0 {
		return s.TxFee
	}
	return DefaultEscrowFee
}

func (s *Escrows) net() emercoin.Network {
	if s.Network.HRP == "" {
		return emercoin.MainNet
	}
	return s.Network
}

func (s *Escrows) record(ctx context.Context, ev Event) error {
	if s.Ledger == nil {
		return nil
	}
	ev.Time = s.now()
	if err := s.Ledger.Record(ctx, ev); err != nil {
		return fmt.Errorf("ledger %s: %w", ev.Kind, err)
	}
	return nil
}

func checkKey(k string) error {
	b, err := hex.DecodeString(k)
	if err != nil || len(b) != 33 {
		return fmt.Errorf("%w: %q (want 33-byte compressed hex)", ErrBadKey, k)
	}
	if _, err := secp256k1.ParsePubKey(b); err != nil {
		return fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return nil
}

// Open creates the escrow for rental: a fresh arbiter key in the hub's wallet, the 2-of-3
// address (createmultisig, legacy P2SH), a watch on it (importaddress, no rescan) and its
// ness:escrow:<id> anchor. The renter then pays Amount to Address from their own wallet.
func (s *Escrows) Open(ctx context.Context, id, rental, renterKey, providerKey string, amount emercoin.Amount) (Escrow, error) {
	name, err := EscrowName(id)
	if err != nil {
		return Escrow{}, err
	}
	if err := checkKey(renterKey); err != nil {
		return Escrow{}, fmt.Errorf("renter: %w", err)
	}
	if err := checkKey(providerKey); err != nil {
		return Escrow{}, fmt.Errorf("provider: %w", err)
	}
	if amount <= s.txFee() {
		return Escrow{}, fmt.Errorf("escrow %s: amount %s does not cover the fee", id, amount)
	}
	if s.FeeBps < 0 || s.FeeBps > 10000 || (s.FeeBps > 0 && s.FeeAddress == "") {
		return Escrow{}, fmt.Errorf("escrow: fee %d bps needs 0..10000 and a fee address", s.FeeBps)
	}
	arb, err := s.Node.GetNewAddress(ctx, "escrow:"+id, "legacy")
	if err != nil {
		return Escrow{}, fmt.Errorf("escrow %s: arbiter key: %w", id, err)
	}
	info, err := s.Node.GetAddressInfo(ctx, arb)
	if err != nil {
		return Escrow{}, fmt.Errorf("escrow %s: arbiter key: %w", id, err)
	}
	if err := checkKey(info.PubKey); err != nil {
		return Escrow{}, fmt.Errorf("escrow %s: arbiter: %w", id, err)
	}
	e := Escrow{ID: id, Rental: rental, RenterKey: renterKey, ProviderKey: providerKey, ArbiterKey: info.PubKey,
		ArbiterAddress: arb, Amount: amount, FeeBps: s.FeeBps}
	ms, err := s.Node.CreateMultisig(ctx, 2, []string{renterKey, providerKey, info.PubKey}, "legacy")
	if err != nil {
		return Escrow{}, fmt.Errorf("escrow %s: createmultisig: %w", id, err)
	}
	e.Address, e.RedeemScript = ms.Address, ms.RedeemScript
	if err := s.checkScript(e); err != nil {
		return Escrow{}, err
	}
	if err := s.Node.ImportAddress(ctx, e.Address, "escrow:"+id); err != nil {
		return Escrow{}, fmt.Errorf("escrow %s: watch %s: %w", id, e.Address, err)
	}
	days := s.AnchorDays
	if days <= 0 {
		days = DefaultEscrowDays
	}
	if e.AnchorTxID, err = s.Node.NameNew(ctx, name, e.Record().Value(), days, ""); err != nil {
		return Escrow{}, fmt.Errorf("escrow %s: anchor: %w", id, err)
	}
	return e, s.record(ctx, Event{Rental: rental, Escrow: id, Kind: "escrow_opened", Amount: amount, TxID: e.AnchorTxID})
}

// checkScript makes sure the node's redeem script and address are the ones the three keys
// make, so a node cannot swap in a script of its own.
func (s *Escrows) checkScript(e Escrow) error {
	var keys [][]byte
	for _, k := range []string{e.RenterKey, e.ProviderKey, e.ArbiterKey} {
		b, _ := hex.DecodeString(k)
		keys = append(keys, b)
	}
	want, err := emercoin.MultisigScript(2, keys)
	if err != nil {
		return err
	}
	addr, err := s.net().Encode(emercoin.Address{Kind: emercoin.P2SH, Hash: emercoin.Hash160(want)})
	if err != nil {
		return err
	}
	if e.RedeemScript != hex.EncodeToString(want) || e.Address != addr {
		return fmt.Errorf("escrow %s: node returned %s / %s, want %s / %x", e.ID, e.Address, e.RedeemScript, addr, want)
	}
	return nil
}

// Status reads what the escrow address has received (listreceivedbyaddress with watch-only,
// then gettransaction for each payment's outputs). Funded flips to true once Amount has
// MinConf confirmations; the first time it does, an "escrow_funded" event is recorded by
// the caller's choice through Confirm.
func (s *Escrows) Status(ctx context.Context, e Escrow) (Funding, error) {
	var f Funding
	r, ok, err := s.Node.ReceivedBy(ctx, e.Address, 0)
	if err != nil {
		return f, fmt.Errorf("escrow %s: listreceivedbyaddress: %w", e.ID, err)
	}
	if !ok {
		return f, nil
	}
	txids := append([]string(nil), r.TxIDs...)
	sort.Strings(txids)
	minConf := int64(-1)
	script := hex.EncodeToString(mustDecode(s.net(), e.Address).ScriptPubKey())
	for i, id := range txids {
		if i > 0 && txids[i-1] == id {
			continue
		}
		tx, err := s.Node.GetWatchedTransaction(ctx, id)
		if err != nil {
			return f, fmt.Errorf("escrow %s: gettransaction %s: %w", e.ID, id, err)
		}
		for _, d := range tx.Details {
			if d.Address != e.Address || d.Category != "receive" {
				continue
			}
			f.Received += d.Amount
			f.Outputs = append(f.Outputs, emercoin.PrevTx{TxID: id, Vout: d.Vout, ScriptPubKey: script,
				RedeemScript: e.RedeemScript, Amount: d.Amount})
			f.Outpoints = append(f.Outpoints, emercoin.Outpoint{TxID: id, Vout: d.Vout})
			if minConf < 0 || tx.Confirmations < minConf {
				minConf = tx.Confirmations
			}
		}
	}
	if minConf > 0 {
		f.Confirmations = minConf
	}
	f.Funded = f.Received >= e.Amount && f.Confirmations >= int64(s.minConf())
	return f, nil
}

func mustDecode(n emercoin.Network, a string) emercoin.Address {
	x, _ := n.Decode(a)
	return x
}

// Confirm returns the escrow's funding, ErrNotFunded while it is short or too shallow, and
// records "escrow_funded" when it is funded.
func (s *Escrows) Confirm(ctx context.Context, e Escrow) (Funding, error) {
	f, err := s.Status(ctx, e)
	if err != nil {
		return f, err
	}
	if !f.Funded {
		return f, fmt.Errorf("escrow %s: %w: %s of %s at %d of %d confirmations", e.ID, ErrNotFunded,
			f.Received, e.Amount, f.Confirmations, s.minConf())
	}
	return f, s.record(ctx, Event{Rental: e.Rental, Escrow: e.ID, Kind: "escrow_funded", Amount: f.Received})
}

// Plan builds the unsigned release (to the provider's address, minus FeeBps of the total to
// the hub's fee address, minus the transaction fee) or refund (to the renter's address, minus
// the transaction fee). The escrow must be funded.
func (s *Escrows) Plan(ctx context.Context, e Escrow, kind SpendKind, to string) (*Spend, error) {
	f, err := s.Status(ctx, e)
	if err != nil {
		return nil, err
	}
	if !f.Funded {
		return nil, fmt.Errorf("escrow %s: %w", e.ID, ErrNotFunded)
	}
	sp := &Spend{Kind: kind, To: to, Prev: f.Outputs, NetworkFx: s.txFee()}
	total := f.Received - s.txFee()
	switch kind {
	case Release:
		sp.HubFee = emercoin.Amount(int64(f.Received) * int64(e.FeeBps) / 10000)
		if sp.HubFee < MinOutput {
			sp.HubFee = 0
		}
		sp.Payout = total - sp.HubFee
		sp.Outputs = []emercoin.Output{{Address: to, Amount: sp.Payout}}
		if sp.HubFee > 0 {
			sp.FeeAddr = s.FeeAddress
			sp.Outputs = append(sp.Outputs, emercoin.Output{Address: s.FeeAddress, Amount: sp.HubFee})
		}
	case Refund:
		sp.Payout = total
		sp.Outputs = []emercoin.Output{{Address: to, Amount: total}}
	default:
		return nil, fmt.Errorf("escrow %s: unknown spend kind %q", e.ID, kind)
	}
	if sp.Payout < MinOutput {
		return nil, fmt.Errorf("escrow %s: payout %s below the minimum output", e.ID, sp.Payout)
	}
	if sp.Hex, err = s.Node.CreateRawTransaction(ctx, f.Outpoints, sp.Outputs); err != nil {
		return nil, fmt.Errorf("escrow %s: createrawtransaction: %w", e.ID, err)
	}
	return sp, s.check(e, sp)
}

// check decodes sp.Hex and compares it with the plan: exactly the escrow's funding inputs,
// exactly the planned outputs in order.
func (s *Escrows) check(e Escrow, sp *Spend) error {
	tx, err := emercoin.DecodeTx(sp.Hex)
	if err != nil {
		return fmt.Errorf("escrow %s: %w", e.ID, err)
	}
	if len(tx.Inputs) != len(sp.Prev) || len(tx.Outputs) != len(sp.Outputs) {
		return fmt.Errorf("escrow %s: %w: %d inputs, %d outputs", e.ID, ErrSpendMismatch, len(tx.Inputs), len(tx.Outputs))
	}
	for i, in := range tx.Inputs {
		if emercoin.OutpointTxID(in.PrevHash) != sp.Prev[i].TxID || int(in.PrevIndex) != sp.Prev[i].Vout {
			return fmt.Errorf("escrow %s: %w: input %d", e.ID, ErrSpendMismatch, i)
		}
	}
	for i, o := range tx.Outputs {
		a, err := s.net().Decode(sp.Outputs[i].Address)
		if err != nil || string(o.Script) != string(a.ScriptPubKey()) || emercoin.Amount(o.Value) != sp.Outputs[i].Amount {
			return fmt.Errorf("escrow %s: %w: output %d", e.ID, ErrSpendMismatch, i)
		}
	}
	return nil
}

// Arbitrate adds the hub's arbiter signature (signrawtransactionwithwallet) after checking
// that the transaction still pays exactly what the plan says; it reports whether the spend is
// now complete.
func (s *Escrows) Arbitrate(ctx context.Context, e Escrow, sp *Spend) (bool, error) {
	if err := s.check(e, sp); err != nil {
		return false, err
	}
	r, err := s.Node.SignRawTransactionWithWallet(ctx, sp.Hex, sp.Prev)
	if err != nil {
		return false, fmt.Errorf("escrow %s: arbiter sign: %w", e.ID, err)
	}
	sp.Hex = r.Hex
	return r.Complete, s.check(e, sp)
}

// SignOffline adds the signature of key (the renter's or the provider's) to every input
// without any node, for clients that keep their key to themselves.
func SignOffline(sp *Spend, key *secp256k1.PrivateKey) (bool, error) {
	tx, err := emercoin.DecodeTx(sp.Hex)
	if err != nil {
		return false, err
	}
	complete := true
	for i, p := range sp.Prev {
		redeem, err := hex.DecodeString(p.RedeemScript)
		if err != nil {
			return false, err
		}
		done, err := emercoin.SignMultisigInput(tx, i, redeem, key)
		if err != nil {
			return false, err
		}
		complete = complete && done
	}
	sp.Hex = hex.EncodeToString(tx.Serialize())
	return complete, nil
}

// Settle checks that every input carries two valid signatures and the plan is unchanged, then
// broadcasts (sendrawtransaction) and records the ledger events: escrow_release with
// provider_payout and hub_fee, or escrow_refund.
func (s *Escrows) Settle(ctx context.Context, e Escrow, sp *Spend) (string, error) {
	if err := s.check(e, sp); err != nil {
		return "", err
	}
	tx, _ := emercoin.DecodeTx(sp.Hex)
	hash := mustDecode(s.net(), e.Address).Hash
	for i := range tx.Inputs {
		if _, err := emercoin.VerifyMultisigInput(tx, i, hash); err != nil {
			return "", fmt.Errorf("escrow %s: %w: %v", e.ID, ErrIncompleteSignatures, err)
		}
	}
	txid, err := s.Node.SendRawTransaction(ctx, sp.Hex)
	if err != nil {
		return "", fmt.Errorf("escrow %s: sendrawtransaction: %w", e.ID, err)
	}
	if sp.Kind == Refund {
		return txid, s.record(ctx, Event{Rental: e.Rental, Escrow: e.ID, Kind: "escrow_refund", Amount: sp.Payout, TxID: txid})
	}
	for _, ev := range []Event{
		{Kind: "escrow_release", Amount: sp.Payout + sp.HubFee},
		{Kind: "provider_payout", Amount: sp.Payout},
		{Kind: "hub_fee", Amount: sp.HubFee},
	} {
		ev.Rental, ev.Escrow, ev.TxID = e.Rental, e.ID, txid
		if err := s.record(ctx, ev); err != nil {
			return txid, err
		}
	}
	return txid, nil
}
