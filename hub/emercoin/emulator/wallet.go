package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// addKey makes a wallet key and returns its address of kind (P2PKH or P2WPKH).
func (n *Node) addKey(label string, kind emercoin.AddressKind) (string, error) {
	k, err := n.newKey()
	if err != nil {
		return "", err
	}
	return n.importKey(k, label, kind)
}

func (n *Node) importKey(k *secp256k1.PrivateKey, label string, kind emercoin.AddressKind) (string, error) {
	addr, err := emercoin.PubKeyAddress(n.cfg.Network, k.PubKey(), kind)
	if err != nil {
		return "", err
	}
	n.st.Keys[addr] = &walletKey{Priv: hex.EncodeToString(k.Serialize()), Label: label}
	return addr, nil
}

func (n *Node) keyFor(addr string) (*secp256k1.PrivateKey, bool) {
	wk, ok := n.st.Keys[addr]
	if !ok {
		return nil, false
	}
	b, err := hex.DecodeString(wk.Priv)
	if err != nil {
		return nil, false
	}
	return secp256k1.PrivKeyFromBytes(b), true
}

func (n *Node) recordTx(tx *walletTx) {
	n.st.Txs[tx.TxID] = tx
	n.st.TxOrder = append(n.st.TxOrder, tx.TxID)
}

func (n *Node) confirmations(h int64) int64 {
	if h == 0 {
		return 0
	}
	return n.st.Height - h + 1
}

func (n *Node) getWalletInfo(p params) (any, *rpcError) {
	var unconfirmed emercoin.Amount
	for _, tx := range n.st.Txs {
		if tx.Height == 0 && tx.Amount > 0 {
			unconfirmed += tx.Amount
		}
	}
	out := ordered{{"walletname", ""}, {"walletversion", 169900}, {"balance", n.st.Balance},
		{"unconfirmed_balance", unconfirmed}, {"immature_balance", emercoin.Amount(0)},
		{"txcount", len(n.st.Txs)}, {"keypoolsize", 1000}}
	if n.st.Encrypted {
		until := n.unlockedUntil
		if until <= n.cfg.Now().Unix() {
			until = 0
		}
		out = append(out, kv{"unlocked_until", until})
	}
	out = append(out, kv{"paytxfee", emercoin.Amount(0)}, kv{"private_keys_enabled", true})
	return out, nil
}

func (n *Node) walletPassphrase(p params) (any, *rpcError) {
	pass, e := p.str(0)
	if e != nil {
		return nil, e
	}
	secs, e := p.integer(1)
	if e != nil {
		return nil, e
	}
	if !n.st.Encrypted {
		return nil, rerr(emercoin.CodeWrongEncState, "Error: running with an unencrypted wallet, but walletpassphrase was called.")
	}
	if pass != n.st.Passphrase {
		return nil, rerr(emercoin.CodePassphraseIncorrect, "Error: The wallet passphrase entered was incorrect.")
	}
	if secs < 0 {
		return nil, rerr(emercoin.CodeInvalidParameter, "Timeout cannot be negative.")
	}
	if secs > 100000000 {
		secs = 100000000
	}
	n.unlockedUntil = n.cfg.Now().Unix() + secs
	return nil, nil
}

func (n *Node) walletLock(p params) (any, *rpcError) {
	if !n.st.Encrypted {
		return nil, rerr(emercoin.CodeWrongEncState, "Error: running with an unencrypted wallet, but walletlock was called.")
	}
	n.unlockedUntil = 0
	return nil, nil
}

func (n *Node) getNewAddress(p params) (any, *rpcError) {
	label, e := p.optStr(0, "")
	if e != nil {
		return nil, e
	}
	kind := emercoin.P2WPKH
	if p.has(1) {
		t, e := p.str(1)
		if e != nil {
			return nil, e
		}
		switch t {
		case "bech32":
		case "legacy":
			kind = emercoin.P2PKH
		default: // p2sh-segwit is not emulated
			return nil, rerr(emercoin.CodeInvalidAddress, "Unknown address type '%s'", t)
		}
	}
	a, err := n.addKey(label, kind)
	if err != nil {
		return nil, rerr(emercoin.CodeWalletError, "Error: Keypool ran out, please call keypoolrefill first")
	}
	return a, nil
}

func (n *Node) validateAddress(p params) (any, *rpcError) {
	s, e := p.str(0)
	if e != nil {
		return nil, e
	}
	a, err := n.cfg.Network.Decode(s)
	if err != nil {
		return ordered{{"isvalid", false}}, nil
	}
	out := ordered{{"isvalid", true}, {"address", s}, {"scriptPubKey", hex.EncodeToString(a.ScriptPubKey())},
		{"isscript", a.Kind == emercoin.P2SH || a.Kind == emercoin.P2WSH},
		{"iswitness", a.Kind == emercoin.P2WPKH || a.Kind == emercoin.P2WSH}}
	if a.Kind == emercoin.P2WPKH || a.Kind == emercoin.P2WSH {
		out = append(out, kv{"witness_version", 0}, kv{"witness_program", hex.EncodeToString(a.Hash)})
	}
	return out, nil
}

func (n *Node) listReceivedByAddress(p params) (any, *rpcError) {
	minConf, e := p.optInt(0, 1)
	if e != nil {
		return nil, e
	}
	includeEmpty, e := p.optBool(1, false)
	if e != nil {
		return nil, e
	}
	watch, e := p.optBool(2, false)
	if e != nil {
		return nil, e
	}
	filter, e := p.optStr(3, "")
	if e != nil {
		return nil, e
	}
	if filter != "" {
		if _, err := n.cfg.Network.Decode(filter); err != nil {
			return nil, rerr(emercoin.CodeInvalidAddress, "address_filter parameter was invalid")
		}
	}
	type acc struct {
		amount emercoin.Amount
		conf   int64
		txids  []string
	}
	by := map[string]*acc{}
	for _, id := range n.st.TxOrder {
		tx := n.st.Txs[id]
		c := n.confirmations(tx.Height)
		if c < minConf {
			continue
		}
		for _, d := range tx.Details {
			if d.Category != "receive" {
				continue
			}
			a := by[d.Address]
			if a == nil {
				a = &acc{conf: c}
				by[d.Address] = a
			}
			a.amount += d.Amount
			if c < a.conf {
				a.conf = c
			}
			a.txids = append(a.txids, tx.TxID)
		}
	}
	addrs := make([]string, 0, len(n.st.Keys))
	for a := range n.st.Keys {
		addrs = append(addrs, a)
	}
	if watch {
		for a := range n.st.Watch {
			addrs = append(addrs, a)
		}
	}
	sort.Strings(addrs)
	out := []ordered{}
	for _, a := range addrs {
		if filter != "" && a != filter {
			continue
		}
		r := by[a]
		if r == nil && !includeEmpty {
			continue
		}
		if r == nil {
			r = &acc{}
		}
		if r.txids == nil {
			r.txids = []string{}
		}
		o := ordered{}
		label := n.st.Watch[a]
		if wk, ok := n.st.Keys[a]; ok {
			label = wk.Label
		} else {
			o = append(o, kv{"involvesWatchonly", true})
		}
		out = append(out, append(o, kv{"address", a}, kv{"amount", r.amount}, kv{"confirmations", r.conf},
			kv{"label", label}, kv{"txids", r.txids}))
	}
	return out, nil
}

func (n *Node) getTransaction(p params) (any, *rpcError) {
	id, e := p.str(0)
	if e != nil {
		return nil, e
	}
	watch, e := p.optBool(1, false)
	if e != nil {
		return nil, e
	}
	tx, ok := n.st.Txs[id]
	if !ok {
		return nil, rerr(emercoin.CodeInvalidAddress, "Invalid or non-wallet transaction id")
	}
	out := ordered{{"amount", tx.Amount}}
	if tx.Fee != 0 {
		out = append(out, kv{"fee", tx.Fee})
	}
	out = append(out, kv{"confirmations", n.confirmations(tx.Height)})
	if tx.Height > 0 {
		out = append(out, kv{"blockhash", n.st.blockHash(tx.Height)}, kv{"blockindex", 1},
			kv{"blocktime", n.st.BlockTimes[tx.Height-1]})
	}
	out = append(out, kv{"txid", tx.TxID}, kv{"time", tx.Time}, kv{"timereceived", tx.Time})
	details := make([]ordered, 0, len(tx.Details))
	for _, d := range tx.Details {
		if d.InvolvesWatchOnly && !watch {
			continue
		}
		o := ordered{}
		if d.InvolvesWatchOnly {
			o = append(o, kv{"involvesWatchonly", true})
		}
		o = append(o, kv{"address", d.Address}, kv{"category", d.Category}, kv{"amount", d.Amount})
		if wk, ok := n.st.Keys[d.Address]; ok {
			o = append(o, kv{"label", wk.Label})
		}
		o = append(o, kv{"vout", d.Vout})
		if d.Fee != 0 {
			o = append(o, kv{"fee", d.Fee})
		}
		details = append(details, o)
	}
	out = append(out, kv{"details", details}, kv{"hex", tx.Hex})
	return out, nil
}

const minTxFee = emercoin.Amount(100) // MIN_TX_FEE, 0.0001 EMC

func (n *Node) sendToAddress(p params) (any, *rpcError) {
	to, e := p.str(0)
	if e != nil {
		return nil, e
	}
	if _, err := n.cfg.Network.Decode(to); err != nil {
		return nil, rerr(emercoin.CodeInvalidAddress, "Invalid address")
	}
	amt, e := p.amount(1)
	if e != nil {
		return nil, e
	}
	if amt <= 0 {
		return nil, rerr(emercoin.CodeTypeError, "Invalid amount for send")
	}
	if n.locked() {
		return nil, rerr(emercoin.CodeUnlockNeeded, "Error: Please enter the wallet passphrase with walletpassphrase first.")
	}
	if amt > n.st.Balance {
		return nil, rerr(emercoin.CodeInsufficientFunds, "Insufficient funds")
	}
	if amt+minTxFee > n.st.Balance {
		return nil, rerr(emercoin.CodeWalletError, "Error: This transaction requires a transaction fee of at least %s", emercoin.FormatMoney(minTxFee))
	}
	n.st.Balance -= amt + minTxFee
	now := n.cfg.Now().Unix()
	txid := n.newTxID()
	tx := &walletTx{TxID: txid, Amount: -amt, Fee: -minTxFee, Time: now,
		Details: []emercoin.TxDetail{{Address: to, Category: "send", Amount: -amt, Fee: -minTxFee}}}
	a, _ := n.cfg.Network.Decode(to)
	if d, ok := n.addOutput(txid, 0, a.ScriptPubKey(), amt); ok {
		if !d.InvolvesWatchOnly {
			tx.Amount = 0
		}
		tx.Details = append(tx.Details, d)
	}
	n.recordTx(tx)
	return txid, nil
}

// multisigScript is CreateMultisigRedeemscript.
func (n *Node) multisigScript(p params) ([]byte, *rpcError) {
	req, e := p.integer(0)
	if e != nil {
		return nil, e
	}
	var keys []string
	if err := json.Unmarshal(p[1], &keys); err != nil {
		return nil, rerr(emercoin.CodeMiscError, "JSON value is not an array as expected")
	}
	if req < 1 {
		return nil, rerr(emercoin.CodeInvalidParameter, "a multisignature address must require at least one key to redeem")
	}
	if int64(len(keys)) < req {
		return nil, rerr(emercoin.CodeInvalidParameter, "not enough keys supplied (got %d keys, but need at least %d to redeem)", len(keys), req)
	}
	if len(keys) > 16 {
		return nil, rerr(emercoin.CodeInvalidParameter, "Number of keys involved in the multisignature address creation > 16\nReduce the number")
	}
	s := []byte{byte(0x50 + req)}
	for _, k := range keys {
		b, err := hex.DecodeString(k)
		if err != nil || (len(b) != 33 && len(b) != 65) {
			return nil, rerr(emercoin.CodeInvalidAddress, "Invalid public key: %s", k)
		}
		if _, err := secp256k1.ParsePubKey(b); err != nil {
			return nil, rerr(emercoin.CodeInvalidAddress, "Invalid public key: %s", k)
		}
		s = append(s, byte(len(b)))
		s = append(s, b...)
	}
	s = append(s, byte(0x50+len(keys)), 0xae)
	if len(s) > 520 {
		return nil, rerr(emercoin.CodeInvalidParameter, "redeemScript exceeds size limit: %d > 520", len(s))
	}
	return s, nil
}

func (n *Node) multisigAddress(script []byte, typ string) (string, *rpcError) {
	var a emercoin.Address
	switch typ {
	case "legacy":
		a = emercoin.Address{Kind: emercoin.P2SH, Hash: emercoin.Hash160(script)}
	case "bech32":
		h := sha256.Sum256(script)
		a = emercoin.Address{Kind: emercoin.P2WSH, Hash: h[:]}
	case "p2sh-segwit":
		h := sha256.Sum256(script)
		a = emercoin.Address{Kind: emercoin.P2SH, Hash: emercoin.Hash160(append([]byte{0, 32}, h[:]...))}
	default:
		return "", rerr(emercoin.CodeInvalidAddress, "Unknown address type '%s'", typ)
	}
	s, err := n.cfg.Network.Encode(a)
	if err != nil {
		return "", rerr(emercoin.CodeInternalError, "%v", err)
	}
	return s, nil
}

func (n *Node) createMultisig(p params) (any, *rpcError) {
	script, e := n.multisigScript(p)
	if e != nil {
		return nil, e
	}
	typ, e := p.optStr(2, "legacy")
	if e != nil {
		return nil, e
	}
	addr, e := n.multisigAddress(script, typ)
	if e != nil {
		return nil, e
	}
	return ordered{{"address", addr}, {"redeemScript", hex.EncodeToString(script)}}, nil
}

func (n *Node) addMultisigAddress(p params) (any, *rpcError) {
	script, e := n.multisigScript(p)
	if e != nil {
		return nil, e
	}
	if _, e := p.optStr(2, ""); e != nil {
		return nil, e
	}
	typ, e := p.optStr(3, "bech32")
	if e != nil {
		return nil, e
	}
	addr, e := n.multisigAddress(script, typ)
	if e != nil {
		return nil, e
	}
	n.st.Scripts[addr] = hex.EncodeToString(script)
	return ordered{{"address", addr}, {"redeemScript", hex.EncodeToString(script)}}, nil
}

func (n *Node) verifyMessage(p params) (any, *rpcError) {
	addr, e := p.str(0)
	if e != nil {
		return nil, e
	}
	sig, e := p.str(1)
	if e != nil {
		return nil, e
	}
	msg, e := p.str(2)
	if e != nil {
		return nil, e
	}
	a, err := n.cfg.Network.Decode(addr)
	if err != nil {
		return nil, rerr(emercoin.CodeTypeError, "Invalid address")
	}
	if a.Kind != emercoin.P2PKH && a.Kind != emercoin.P2WPKH {
		return nil, rerr(emercoin.CodeTypeError, "Address does not refer to key, must be p2[w]pkh")
	}
	if _, err := base64.StdEncoding.DecodeString(sig); err != nil {
		return nil, rerr(emercoin.CodeInvalidAddress, "Malformed base64 encoding")
	}
	ok, err := emercoin.VerifyMessage(n.cfg.Network, addr, sig, msg)
	if err != nil && !errors.Is(err, emercoin.ErrMalformedSignature) {
		return nil, rerr(emercoin.CodeInternalError, "%v", err)
	}
	return ok, nil
}

func (n *Node) signMessage(p params) (any, *rpcError) {
	addr, e := p.str(0)
	if e != nil {
		return nil, e
	}
	msg, e := p.str(1)
	if e != nil {
		return nil, e
	}
	if n.locked() {
		return nil, rerr(emercoin.CodeUnlockNeeded, "Error: Please enter the wallet passphrase with walletpassphrase first.")
	}
	a, err := n.cfg.Network.Decode(addr)
	if err != nil {
		return nil, rerr(emercoin.CodeTypeError, "Invalid address")
	}
	if a.Kind != emercoin.P2PKH && a.Kind != emercoin.P2WPKH {
		return nil, rerr(emercoin.CodeTypeError, "Address does not refer to key, must be p2[w]pkh")
	}
	k, ok := n.keyFor(addr)
	if !ok {
		return nil, rerr(emercoin.CodeWalletError, "Private key not available")
	}
	return emercoin.SignMessage(k, msg, true), nil
}

func (n *Node) signMessageWithPrivkey(p params) (any, *rpcError) {
	wif, e := p.str(0)
	if e != nil {
		return nil, e
	}
	msg, e := p.str(1)
	if e != nil {
		return nil, e
	}
	b, err := emercoin.Base58CheckDecode(wif)
	if err != nil || len(b) < 33 || b[0] != n.cfg.Network.WIF || (len(b) == 34 && b[33] != 1) || len(b) > 34 {
		return nil, rerr(emercoin.CodeInvalidAddress, "Invalid private key")
	}
	compressed := len(b) == 34
	return emercoin.SignMessage(secp256k1.PrivKeyFromBytes(b[1:33]), msg, compressed), nil
}

func (n *Node) getBlockchainInfo(p params) (any, *rpcError) {
	median := n.st.GenesisTime
	if len(n.st.BlockTimes) > 0 {
		ts := append([]int64(nil), n.st.BlockTimes[max(0, len(n.st.BlockTimes)-11):]...)
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		median = ts[len(ts)/2]
	}
	return ordered{{"chain", n.cfg.Network.Name}, {"blocks", n.st.Height}, {"headers", n.st.Height},
		{"bestblockhash", n.st.blockHash(n.st.Height)}, {"difficulty", 1.0}, {"mediantime", median},
		{"verificationprogress", 1.0}, {"initialblockdownload", false}, {"chainwork", "00"},
		{"size_on_disk", 0}, {"pruned", false}, {"warnings", ""}}, nil
}

func (n *Node) generate(p params) (any, *rpcError) {
	k, e := p.integer(0)
	if e != nil {
		return nil, e
	}
	if k < 0 || k > 100000 {
		return nil, rerr(emercoin.CodeInvalidParameter, "nblocks out of range")
	}
	return n.mine(int(k)), nil
}
