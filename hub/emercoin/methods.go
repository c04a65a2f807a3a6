package emercoin

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"
)

// The client always asks for values as base64, so binary values survive and "" never means null.
const valueType = "base64"

// nameOpWire mirrors name_history/name_mempool elements: address_is_mine is the STRING "true".
type nameOpWire struct {
	Name          string `json:"name"`
	TxID          string `json:"txid"`
	Time          int64  `json:"time"`
	Height        int64  `json:"height"`
	Address       string `json:"address"`
	Vout          int    `json:"vout"`
	AddressIsMine string `json:"address_is_mine"`
	Operation     string `json:"operation"`
	DaysAdded     int64  `json:"days_added"`
	Value         []byte `json:"value"`
}

func (w nameOpWire) op() NameOp {
	return NameOp{Name: w.Name, TxID: w.TxID, Time: w.Time, Height: w.Height, Address: w.Address,
		Vout: w.Vout, AddressIsMine: w.AddressIsMine == "true", Operation: w.Operation,
		DaysAdded: w.DaysAdded, Value: w.Value}
}

func (c *Client) now() time.Time {
	if c.cfg.Now != nil {
		return c.cfg.Now()
	}
	return time.Now()
}

// ensureUnlocked checks getwalletinfo before a write: emercoind's name operations do not say
// "wallet locked" (they fail with -32603 "unkown error"), so the client finds out first.
func (c *Client) ensureUnlocked(ctx context.Context, method string) error {
	wi, err := c.GetWalletInfo(ctx)
	if err != nil {
		return fmt.Errorf("emercoin %s: check wallet: %w", method, err)
	}
	if wi.Locked(c.now().Unix()) {
		return fmt.Errorf("emercoin %s: %w: call walletpassphrase first", method, ErrWalletLocked)
	}
	return nil
}

func (c *Client) nameWrite(ctx context.Context, method, name string, value []byte, days int, toAddress string) (string, error) {
	if err := c.ensureUnlocked(ctx, method); err != nil {
		return "", err
	}
	var txid string
	err := c.Call(ctx, method, []any{name, base64.StdEncoding.EncodeToString(value), days, toAddress, valueType}, &txid)
	return txid, err
}

// NameNew registers name with value for days (≥ 1) and returns the txid. An empty toAddress
// lets the node pick a new bech32 key of its wallet.
func (c *Client) NameNew(ctx context.Context, name string, value []byte, days int, toAddress string) (string, error) {
	return c.nameWrite(ctx, "name_new", name, value, days, toAddress)
}

// NameUpdate sets name's value and adds days (≥ 0) to its expiry; toAddress, when set,
// transfers the name. It returns the txid.
func (c *Client) NameUpdate(ctx context.Context, name string, value []byte, days int, toAddress string) (string, error) {
	return c.nameWrite(ctx, "name_update", name, value, days, toAddress)
}

// NameDelete deletes name and returns the txid; once mined anyone may register it again.
func (c *Client) NameDelete(ctx context.Context, name string) (string, error) {
	if err := c.ensureUnlocked(ctx, "name_delete"); err != nil {
		return "", err
	}
	var txid string
	err := c.Call(ctx, "name_delete", []any{name}, &txid)
	return txid, err
}

// NameShow returns name's confirmed record, deleted or expired ones included (see
// NameRecord.Active). An unknown name is an error matching ErrNameNotFound.
func (c *Client) NameShow(ctx context.Context, name string) (NameRecord, error) {
	var r NameRecord
	err := c.Call(ctx, "name_show", []any{name, valueType}, &r)
	return r, err
}

// NameHistory returns name's operations, oldest first; full includes earlier, ended chains.
func (c *Client) NameHistory(ctx context.Context, name string, full bool) ([]NameOp, error) {
	var w []nameOpWire
	if err := c.Call(ctx, "name_history", []any{name, full, valueType}, &w); err != nil {
		return nil, err
	}
	out := make([]NameOp, len(w))
	for i := range w {
		out[i] = w[i].op()
	}
	return out, nil
}

// NameMempool returns the name operations waiting for a block.
func (c *Client) NameMempool(ctx context.Context) ([]NameOp, error) {
	var w []nameOpWire
	if err := c.Call(ctx, "name_mempool", []any{valueType}, &w); err != nil {
		return nil, err
	}
	out := make([]NameOp, len(w))
	for i := range w {
		out[i] = w[i].op()
	}
	return out, nil
}

// NameFilter returns the non-deleted names (expired included) that regexp matches. The node's
// match is a partial regex_search: anchor the pattern ("^ness:sms:listing:") to mean a prefix.
func (c *Client) NameFilter(ctx context.Context, regexp string, opt FilterOptions) ([]NameEntry, error) {
	var out []NameEntry
	err := c.Call(ctx, "name_filter", []any{regexp, opt.MaxAge, opt.From, opt.Count, "", valueType}, &out)
	return out, err
}

// NameScan returns the non-deleted names from start onward in the node's index order (length
// first, then bytes). The node ignores max (a known bug), so the client applies it.
func (c *Client) NameScan(ctx context.Context, start string, max int) ([]NameEntry, error) {
	var out []NameEntry
	if err := c.Call(ctx, "name_scan", []any{start, max, 0, valueType}, &out); err != nil {
		return nil, err
	}
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// NameList returns the wallet's own confirmed names; name "" means all.
func (c *Client) NameList(ctx context.Context, name string) ([]NameEntry, error) {
	var out []NameEntry
	err := c.Call(ctx, "name_list", []any{name, valueType}, &out)
	return out, err
}

// GetWalletInfo returns the wallet's balance and lock state.
func (c *Client) GetWalletInfo(ctx context.Context) (WalletInfo, error) {
	var w WalletInfo
	err := c.Call(ctx, "getwalletinfo", nil, &w)
	return w, err
}

// WalletPassphrase unlocks an encrypted wallet for d (whole seconds).
func (c *Client) WalletPassphrase(ctx context.Context, passphrase string, d time.Duration) error {
	return c.Call(ctx, "walletpassphrase", []any{passphrase, int64(d / time.Second)}, nil)
}

// GetNewAddress returns a new wallet address. addressType "" means the node's default
// (bech32); otherwise "legacy", "p2sh-segwit" or "bech32". Unset trailing arguments are left
// out, because Bitcoin's wallet handlers reject "" as an address type.
func (c *Client) GetNewAddress(ctx context.Context, label, addressType string) (string, error) {
	params := []any{label}
	if addressType != "" {
		params = append(params, addressType)
	}
	var a string
	err := c.Call(ctx, "getnewaddress", params, &a)
	return a, err
}

// ValidateAddress says whether addr is a valid address on the node's network, and its script.
func (c *Client) ValidateAddress(ctx context.Context, addr string) (AddressInfo, error) {
	var a AddressInfo
	err := c.Call(ctx, "validateaddress", []any{addr}, &a)
	return a, err
}

// ListReceivedByAddress returns the wallet's receiving addresses with at least minConf
// confirmations; includeEmpty lists addresses that received nothing.
func (c *Client) ListReceivedByAddress(ctx context.Context, minConf int, includeEmpty bool) ([]Received, error) {
	var out []Received
	err := c.Call(ctx, "listreceivedbyaddress", []any{minConf, includeEmpty}, &out)
	return out, err
}

// GetTransaction returns a wallet transaction.
func (c *Client) GetTransaction(ctx context.Context, txid string) (Transaction, error) {
	var t Transaction
	err := c.Call(ctx, "gettransaction", []any{txid}, &t)
	return t, err
}

// SendToAddress pays amount to addr and returns the txid. Never retried.
func (c *Client) SendToAddress(ctx context.Context, addr string, amount Amount) (string, error) {
	if err := c.ensureUnlocked(ctx, "sendtoaddress"); err != nil {
		return "", err
	}
	var txid string
	err := c.Call(ctx, "sendtoaddress", []any{addr, amount}, &txid)
	return txid, err
}

// CreateMultisig builds an nRequired-of-len(keys) multisig address from hex public keys.
// addressType "" means the node's default for this call (legacy P2SH).
func (c *Client) CreateMultisig(ctx context.Context, nRequired int, keys []string, addressType string) (Multisig, error) {
	params := []any{nRequired, keys}
	if addressType != "" {
		params = append(params, addressType)
	}
	var m Multisig
	err := c.Call(ctx, "createmultisig", params, &m)
	return m, err
}

// AddMultisigAddress adds an nRequired-of-len(keys) multisig address to the wallet (default
// type bech32, i.e. P2WSH) so it can watch and co-sign it.
func (c *Client) AddMultisigAddress(ctx context.Context, nRequired int, keys []string, label, addressType string) (Multisig, error) {
	params := []any{nRequired, keys, label}
	if addressType != "" {
		params = append(params, addressType)
	}
	var m Multisig
	err := c.Call(ctx, "addmultisigaddress", params, &m)
	return m, err
}

// RandpayMkchap makes a payee challenge "amount:risk:40hex" valid for timeout.
func (c *Client) RandpayMkchap(ctx context.Context, amount Amount, risk int, timeout time.Duration) (string, error) {
	var chap string
	err := c.Call(ctx, "randpay_mkchap", []any{amount, risk, int64(timeout / time.Second)}, &chap)
	return chap, err
}

// RandpayMktx makes the payer's (unbroadcast) transaction for chap and returns its hex.
func (c *Client) RandpayMktx(ctx context.Context, chap string, timeout time.Duration, flags RandpayMktxFlags) (string, error) {
	var hex string
	err := c.Call(ctx, "randpay_mktx", []any{chap, int64(timeout / time.Second), int(flags)}, &hex)
	return hex, err
}

// RandpayAccept checks a payer's transaction against the node's challenges and, if it won,
// sends it according to flags. Never retried: a challenge is single use.
func (c *Client) RandpayAccept(ctx context.Context, txHex string, flags RandpayAcceptFlags) (RandpayAccept, error) {
	var r RandpayAccept
	err := c.Call(ctx, "randpay_accept", []any{txHex, int(flags)}, &r)
	return r, err
}

// VerifyMessage asks the node to check an Emercoin signed message (see also the offline
// VerifyMessage function in this package).
func (c *Client) VerifyMessage(ctx context.Context, address, signature, message string) (bool, error) {
	var ok bool
	err := c.Call(ctx, "verifymessage", []any{address, signature, message}, &ok)
	return ok, err
}

// SignMessage signs message with the wallet key of address (P2PKH or P2WPKH).
func (c *Client) SignMessage(ctx context.Context, address, message string) (string, error) {
	var sig string
	err := c.Call(ctx, "signmessage", []any{address, message}, &sig)
	return sig, err
}

// GetBlockchainInfo returns the chain name, height and sync state.
func (c *Client) GetBlockchainInfo(ctx context.Context) (BlockchainInfo, error) {
	var b BlockchainInfo
	err := c.Call(ctx, "getblockchaininfo", nil, &b)
	return b, err
}

// Generate mines n blocks (emercoind's "generate"; on a real main-net node it cannot find a
// block, on the emulator it always does) and returns their hashes.
func (c *Client) Generate(ctx context.Context, n int) ([]string, error) {
	var hashes []string
	err := c.Call(ctx, "generate", []any{n}, &hashes)
	return hashes, err
}
