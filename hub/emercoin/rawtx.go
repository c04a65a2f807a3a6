package emercoin

import (
	"context"
	"encoding/json"
)

// Raw-transaction and watch-only methods (Bitcoin Core 0.19 semantics, the base Emercoin 0.8 is
// built on; reference/emercoin.md §6 says nothing more about them, so their shapes here are
// inferred from Bitcoin Core 0.19 and marked so in docs/EMERCOIN.md).

// Outpoint names one transaction output.
type Outpoint struct {
	TxID string `json:"txid"`
	Vout int    `json:"vout"`
}

// Output is one createrawtransaction output, kept in order.
type Output struct {
	Address string
	Amount  Amount
}

// PrevTx describes an output a raw transaction spends, for signing it without the node
// knowing it (signrawtransactionwith* prevtxs).
type PrevTx struct {
	TxID         string `json:"txid"`
	Vout         int    `json:"vout"`
	ScriptPubKey string `json:"scriptPubKey"`
	RedeemScript string `json:"redeemScript,omitempty"`
	Amount       Amount `json:"amount"`
}

// SignError is one element of signrawtransactionwith*'s "errors".
type SignError struct {
	TxID      string `json:"txid"`
	Vout      int    `json:"vout"`
	ScriptSig string `json:"scriptSig"`
	Sequence  uint32 `json:"sequence"`
	Error     string `json:"error"`
}

// SignResult is signrawtransactionwith*'s result: complete is false until every input holds
// enough signatures (a 2-of-3 escrow input after one signer).
type SignResult struct {
	Hex      string      `json:"hex"`
	Complete bool        `json:"complete"`
	Errors   []SignError `json:"errors,omitempty"`
}

// AddressDetails is the part of getaddressinfo the hub uses (0.19: the public key moved here
// from validateaddress).
type AddressDetails struct {
	Address      string `json:"address"`
	ScriptPubKey string `json:"scriptPubKey"`
	IsMine       bool   `json:"ismine"`
	IsWatchOnly  bool   `json:"iswatchonly"`
	IsScript     bool   `json:"isscript"`
	IsWitness    bool   `json:"iswitness"`
	PubKey       string `json:"pubkey,omitempty"`
	Label        string `json:"label,omitempty"`
}

func outputsParam(outs []Output) []map[string]Amount {
	p := make([]map[string]Amount, len(outs))
	for i, o := range outs {
		p[i] = map[string]Amount{o.Address: o.Amount}
	}
	return p
}

// CreateRawTransaction builds an unsigned transaction spending ins and paying outs in order
// (outputs as an array of one-key objects, which 0.17+ accepts, so the order is kept).
func (c *Client) CreateRawTransaction(ctx context.Context, ins []Outpoint, outs []Output) (string, error) {
	if ins == nil {
		ins = []Outpoint{}
	}
	var h string
	err := c.Call(ctx, "createrawtransaction", []any{ins, outputsParam(outs)}, &h)
	return h, err
}

// SignRawTransactionWithKey signs with the given WIF keys only (no wallet); prevtxs describe
// inputs the node does not know. Signatures already in the transaction are kept.
func (c *Client) SignRawTransactionWithKey(ctx context.Context, txHex string, wifs []string, prev []PrevTx) (SignResult, error) {
	if prev == nil {
		prev = []PrevTx{}
	}
	var r SignResult
	err := c.Call(ctx, "signrawtransactionwithkey", []any{txHex, wifs, prev}, &r)
	return r, err
}

// SignRawTransactionWithWallet signs with the wallet's keys (the hub's arbiter key). A locked
// wallet is ErrWalletLocked (-13).
func (c *Client) SignRawTransactionWithWallet(ctx context.Context, txHex string, prev []PrevTx) (SignResult, error) {
	if err := c.ensureUnlocked(ctx, "signrawtransactionwithwallet"); err != nil {
		return SignResult{}, err
	}
	if prev == nil {
		prev = []PrevTx{}
	}
	var r SignResult
	err := c.Call(ctx, "signrawtransactionwithwallet", []any{txHex, prev}, &r)
	return r, err
}

// SendRawTransaction broadcasts a signed transaction and returns its txid. Never retried: the
// node answers "already in block chain" (-27) to a second send.
func (c *Client) SendRawTransaction(ctx context.Context, txHex string) (string, error) {
	var txid string
	err := c.Call(ctx, "sendrawtransaction", []any{txHex}, &txid)
	return txid, err
}

// GetAddressInfo returns what the wallet knows of addr, its public key included when mine.
func (c *Client) GetAddressInfo(ctx context.Context, addr string) (AddressDetails, error) {
	var a AddressDetails
	err := c.Call(ctx, "getaddressinfo", []any{addr}, &a)
	return a, err
}

// DumpPrivKey returns the WIF key of a wallet address (needs an unlocked wallet).
func (c *Client) DumpPrivKey(ctx context.Context, addr string) (string, error) {
	var k string
	err := c.Call(ctx, "dumpprivkey", []any{addr}, &k)
	return k, err
}

// ImportAddress makes the wallet watch addr (watch-only) without a rescan, so payments to an
// escrow show in listreceivedbyaddress and gettransaction with include_watchonly.
func (c *Client) ImportAddress(ctx context.Context, addr, label string) error {
	return c.Call(ctx, "importaddress", []any{addr, label, false}, nil)
}

// ReceivedBy returns what addr received with at least minConf confirmations, watch-only
// addresses included (listreceivedbyaddress minconf false true addr). ok is false when addr
// received nothing yet.
func (c *Client) ReceivedBy(ctx context.Context, addr string, minConf int) (r Received, ok bool, err error) {
	var out []Received
	if err := c.Call(ctx, "listreceivedbyaddress", []any{minConf, false, true, addr}, &out); err != nil {
		return Received{}, false, err
	}
	for _, x := range out {
		if x.Address == addr {
			return x, true, nil
		}
	}
	return Received{}, false, nil
}

// GetWatchedTransaction is gettransaction txid true: watch-only outputs included.
func (c *Client) GetWatchedTransaction(ctx context.Context, txid string) (Transaction, error) {
	var t Transaction
	err := c.Call(ctx, "gettransaction", []any{txid, true}, &t)
	return t, err
}

// MarshalJSON writes an Output as createrawtransaction's {"address": amount}.
func (o Output) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]Amount{o.Address: o.Amount})
}
