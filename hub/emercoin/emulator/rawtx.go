package emulator

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// Raw transactions as Bitcoin Core 0.19 does them (inferred: reference/emercoin.md does not
// describe them), over the emulator's partial UTXO set: outputs created by sendtoaddress and
// sendrawtransaction. Only P2SH multisig inputs can be spent with a raw transaction here,
// which is what the escrow needs; any other input is refused as the node would refuse an
// input it cannot verify.

// utxo is one output the emulator knows.
type utxo struct {
	Script string          `json:"script"` // scriptPubKey hex
	Amount emercoin.Amount `json:"amount"`
	Height int64           `json:"height"` // 0 while unconfirmed
	Spent  bool            `json:"spent"`
}

func outKey(txid string, vout int) string { return fmt.Sprintf("%s:%d", txid, vout) }

// addOutput records an output and credits the wallet or the watch list when it pays to them;
// it returns the wallet detail for it, if any.
func (n *Node) addOutput(txid string, vout int, script []byte, amt emercoin.Amount) (emercoin.TxDetail, bool) {
	n.st.UTXOs[outKey(txid, vout)] = &utxo{Script: hex.EncodeToString(script), Amount: amt}
	a, ok := emercoin.AddressFromScript(script)
	if !ok {
		return emercoin.TxDetail{}, false
	}
	addr, err := n.cfg.Network.Encode(a)
	if err != nil {
		return emercoin.TxDetail{}, false
	}
	if _, mine := n.st.Keys[addr]; mine {
		n.st.Balance += amt
		return emercoin.TxDetail{Address: addr, Category: "receive", Amount: amt, Vout: vout}, true
	}
	if _, watched := n.st.Watch[addr]; watched {
		return emercoin.TxDetail{Address: addr, Category: "receive", Amount: amt, Vout: vout, InvolvesWatchOnly: true}, true
	}
	return emercoin.TxDetail{}, false
}

func (n *Node) createRawTransaction(p params) (any, *rpcError) {
	var ins []map[string]json.RawMessage
	if err := json.Unmarshal(p[0], &ins); err != nil {
		return nil, rerr(emercoin.CodeMiscError, "JSON value is not an array as expected")
	}
	tx := &emercoin.Tx{Version: 1, Time: uint32(n.cfg.Now().Unix())}
	lock, e := p.optInt(2, 0)
	if e != nil {
		return nil, e
	}
	if lock < 0 || lock > 0xffffffff {
		return nil, rerr(emercoin.CodeInvalidParameter, "Invalid parameter, locktime out of range")
	}
	tx.LockTime = uint32(lock)
	for _, in := range ins {
		var txid string
		if err := json.Unmarshal(in["txid"], &txid); err != nil {
			return nil, rerr(emercoin.CodeMiscError, "JSON value is not a string as expected")
		}
		h, err := hex.DecodeString(txid)
		if err != nil || len(h) != 32 {
			return nil, rerr(emercoin.CodeInvalidParameter, "txid must be of length 64 (not %d, for '%s')", len(txid), txid)
		}
		vout, e := params{in["vout"]}.integer(0)
		if e != nil {
			return nil, rerr(emercoin.CodeInvalidParameter, "Invalid parameter, missing vout key")
		}
		if vout < 0 {
			return nil, rerr(emercoin.CodeInvalidParameter, "Invalid parameter, vout must be positive")
		}
		var ti emercoin.TxIn
		for i := range h { // txid hex is the reversed hash
			ti.PrevHash[i] = h[31-i]
		}
		ti.PrevIndex = uint32(vout)
		ti.Sequence = 0xffffffff // no RBF in Emercoin (§6)
		tx.Inputs = append(tx.Inputs, ti)
	}
	var outs []map[string]json.RawMessage
	raw := bytes.TrimSpace(p[1])
	if len(raw) > 0 && raw[0] == '{' {
		// An object keeps no order in Go; accept it only with one key, as in our client.
		var o map[string]json.RawMessage
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, rerr(emercoin.CodeMiscError, "JSON value is not an object as expected")
		}
		for k, v := range o {
			outs = append(outs, map[string]json.RawMessage{k: v})
		}
	} else if err := json.Unmarshal(raw, &outs); err != nil {
		return nil, rerr(emercoin.CodeMiscError, "JSON value is not an array as expected")
	}
	seen := map[string]bool{}
	for _, o := range outs {
		for addr, v := range o {
			if addr == "data" {
				return nil, rerr(emercoin.CodeInvalidParameter, "Invalid parameter, data outputs are not emulated")
			}
			a, err := n.cfg.Network.Decode(addr)
			if err != nil {
				return nil, rerr(emercoin.CodeInvalidAddress, "Invalid Emercoin address: %s", addr)
			}
			if seen[addr] {
				return nil, rerr(emercoin.CodeInvalidParameter, "Invalid parameter, duplicated address: %s", addr)
			}
			seen[addr] = true
			amt, e := params{v}.amount(0)
			if e != nil {
				return nil, e
			}
			tx.Outputs = append(tx.Outputs, emercoin.TxOut{Value: int64(amt), Script: a.ScriptPubKey()})
		}
	}
	if len(tx.Inputs) == 0 || len(tx.Outputs) == 0 {
		// Bitcoin serializes such a tx in the extended format; this emulator decodes only the
		// legacy one, so it refuses what it could not read back.
		return nil, rerr(emercoin.CodeInvalidParameter, "Invalid parameter, a transaction needs inputs and outputs")
	}
	return hex.EncodeToString(tx.Serialize()), nil
}

// prevInfo is what signing knows about one input's previous output.
type prevInfo struct {
	script []byte
	redeem []byte
}

func (n *Node) prevOutputs(tx *emercoin.Tx, p params, idx int) (map[int]prevInfo, *rpcError) {
	out := map[int]prevInfo{}
	var prev []emercoin.PrevTx
	if p.has(idx) {
		if err := json.Unmarshal(p[idx], &prev); err != nil {
			return nil, rerr(emercoin.CodeMiscError, "JSON value is not an array as expected")
		}
	}
	for i, in := range tx.Inputs {
		txid := emercoin.OutpointTxID(in.PrevHash)
		var pi prevInfo
		if u, ok := n.st.UTXOs[outKey(txid, int(in.PrevIndex))]; ok {
			pi.script, _ = hex.DecodeString(u.Script)
		}
		for _, pt := range prev {
			if pt.TxID == txid && pt.Vout == int(in.PrevIndex) {
				s, err := hex.DecodeString(pt.ScriptPubKey)
				if err != nil {
					return nil, rerr(emercoin.CodeDeserialization, "scriptPubKey must be hexadecimal string")
				}
				if pi.script != nil && !bytes.Equal(pi.script, s) {
					return nil, rerr(emercoin.CodeDeserialization, "Previous output scriptPubKey mismatch:\n%x\nvs:\n%x", pi.script, s)
				}
				pi.script = s
				if pt.RedeemScript != "" {
					if pi.redeem, err = hex.DecodeString(pt.RedeemScript); err != nil {
						return nil, rerr(emercoin.CodeDeserialization, "redeemScript must be hexadecimal string")
					}
				}
			}
		}
		if pi.redeem == nil {
			if a, ok := emercoin.AddressFromScript(pi.script); ok && a.Kind == emercoin.P2SH {
				addr, _ := n.cfg.Network.Encode(a)
				pi.redeem, _ = hex.DecodeString(n.st.Scripts[addr])
			}
		}
		out[i] = pi
	}
	return out, nil
}

// signRaw is SignTransaction: every key that belongs to an input's multisig adds its
// signature; an input still short gets an entry in "errors".
func (n *Node) signRaw(p params, keys []*secp256k1.PrivateKey, prevIdx int) (any, *rpcError) {
	h, e := p.str(0)
	if e != nil {
		return nil, e
	}
	tx, err := emercoin.DecodeTx(h)
	if err != nil {
		return nil, rerr(emercoin.CodeDeserialization, "TX decode failed")
	}
	prev, e := n.prevOutputs(tx, p, prevIdx)
	if e != nil {
		return nil, e
	}
	errs := []ordered{}
	for i, in := range tx.Inputs {
		pi := prev[i]
		fail := func(msg string) {
			errs = append(errs, ordered{{"txid", emercoin.OutpointTxID(in.PrevHash)}, {"vout", in.PrevIndex},
				{"scriptSig", hex.EncodeToString(tx.Inputs[i].Script)}, {"sequence", in.Sequence}, {"error", msg}})
		}
		a, ok := emercoin.AddressFromScript(pi.script)
		if pi.script == nil {
			fail("Input not found or already spent")
			continue
		}
		if !ok || a.Kind != emercoin.P2SH || pi.redeem == nil || !bytes.Equal(emercoin.Hash160(pi.redeem), a.Hash) {
			fail("Unable to sign input, invalid stack size (possibly missing key)")
			continue
		}
		_, pubs, err := emercoin.ParseMultisig(pi.redeem)
		if err != nil {
			fail("Unable to sign input, invalid stack size (possibly missing key)")
			continue
		}
		for _, k := range keys {
			for _, pk := range pubs {
				if bytes.Equal(pk, k.PubKey().SerializeCompressed()) {
					if _, err := emercoin.SignMultisigInput(tx, i, pi.redeem, k); err != nil {
						return nil, rerr(emercoin.CodeMiscError, "%v", err)
					}
				}
			}
		}
		if _, err := emercoin.VerifyMultisigInput(tx, i, a.Hash); err != nil {
			fail("Unable to sign input, invalid stack size (possibly missing key)")
		}
	}
	out := ordered{{"hex", hex.EncodeToString(tx.Serialize())}, {"complete", len(errs) == 0}}
	if len(errs) > 0 {
		out = append(out, kv{"errors", errs})
	}
	return out, nil
}

func (n *Node) signRawTransactionWithKey(p params) (any, *rpcError) {
	var wifs []string
	if err := json.Unmarshal(p[1], &wifs); err != nil {
		return nil, rerr(emercoin.CodeMiscError, "JSON value is not an array as expected")
	}
	keys := make([]*secp256k1.PrivateKey, 0, len(wifs))
	for _, w := range wifs {
		k, _, err := emercoin.DecodeWIF(n.cfg.Network, w)
		if err != nil {
			return nil, rerr(emercoin.CodeInvalidAddress, "Invalid private key")
		}
		keys = append(keys, k)
	}
	return n.signRaw(p, keys, 2)
}

func (n *Node) signRawTransactionWithWallet(p params) (any, *rpcError) {
	if n.locked() {
		return nil, rerr(emercoin.CodeUnlockNeeded, "Error: Please enter the wallet passphrase with walletpassphrase first.")
	}
	var keys []*secp256k1.PrivateKey
	for addr := range n.st.Keys {
		if k, ok := n.keyFor(addr); ok {
			keys = append(keys, k)
		}
	}
	return n.signRaw(p, keys, 1)
}

func (n *Node) sendRawTransaction(p params) (any, *rpcError) {
	h, e := p.str(0)
	if e != nil {
		return nil, e
	}
	tx, err := emercoin.DecodeTx(h)
	if err != nil {
		return nil, rerr(emercoin.CodeDeserialization, "TX decode failed")
	}
	txid := tx.TxID()
	if t, ok := n.st.Txs[txid]; ok {
		if t.Height > 0 {
			return nil, rerr(emercoin.CodeAlreadyInChain, "Transaction already in block chain")
		}
		return txid, nil // already in the mempool: 0.19 answers the txid again
	}
	if _, ok := n.st.UTXOs[outKey(txid, 0)]; ok {
		return nil, rerr(emercoin.CodeAlreadyInChain, "Transaction already in block chain")
	}
	if tx.HasRandpayIn() {
		return nil, rerr(emercoin.CodeVerifyRejected, "randpay-in: use randpay_accept")
	}
	var in, out emercoin.Amount
	seen := map[string]bool{}
	for i, ti := range tx.Inputs {
		k := outKey(emercoin.OutpointTxID(ti.PrevHash), int(ti.PrevIndex))
		u, ok := n.st.UTXOs[k]
		if !ok || u.Spent || seen[k] {
			return nil, rerr(emercoin.CodeVerifyError, "Missing inputs")
		}
		seen[k] = true
		s, _ := hex.DecodeString(u.Script)
		a, ok := emercoin.AddressFromScript(s)
		if !ok || a.Kind != emercoin.P2SH {
			return nil, rerr(emercoin.CodeVerifyRejected, "mandatory-script-verify-flag-failed (emulator spends only P2SH multisig outputs with raw transactions)")
		}
		if _, err := emercoin.VerifyMultisigInput(tx, i, a.Hash); err != nil {
			return nil, rerr(emercoin.CodeVerifyRejected, "mandatory-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)")
		}
		in += u.Amount
	}
	for _, o := range tx.Outputs {
		if o.Value < 0 {
			return nil, rerr(emercoin.CodeVerifyRejected, "bad-txns-vout-negative")
		}
		out += emercoin.Amount(o.Value)
	}
	if out > in {
		return nil, rerr(emercoin.CodeVerifyRejected, "bad-txns-in-belowout")
	}
	if fee := in - out; fee < minFee(len(h)/2) {
		return nil, rerr(emercoin.CodeVerifyRejected, "min relay fee not met, %s < %s", emercoin.FormatMoney(fee), emercoin.FormatMoney(minFee(len(h)/2)))
	}
	for k := range seen {
		n.st.UTXOs[k].Spent = true
	}
	wt := &walletTx{TxID: txid, Time: n.cfg.Now().Unix(), Hex: h}
	for i, o := range tx.Outputs {
		if d, ok := n.addOutput(txid, i, o.Script, emercoin.Amount(o.Value)); ok {
			wt.Details = append(wt.Details, d)
			if !d.InvolvesWatchOnly {
				wt.Amount += d.Amount
			}
		}
	}
	n.recordTx(wt)
	return txid, nil
}

// minFee is GetMinFee(bytes) = (1 + bytes/10240) × MIN_TX_FEE (§3).
func minFee(size int) emercoin.Amount { return emercoin.Amount(1+size/10240) * minTxFee }

func (n *Node) getAddressInfo(p params) (any, *rpcError) {
	s, e := p.str(0)
	if e != nil {
		return nil, e
	}
	a, err := n.cfg.Network.Decode(s)
	if err != nil {
		return nil, rerr(emercoin.CodeInvalidAddress, "Invalid address")
	}
	k, mine := n.keyFor(s)
	_, watch := n.st.Watch[s]
	script := n.st.Scripts[s]
	out := ordered{{"address", s}, {"scriptPubKey", hex.EncodeToString(a.ScriptPubKey())},
		{"ismine", mine}, {"solvable", mine || script != ""}, {"iswatchonly", watch && !mine},
		{"isscript", a.Kind == emercoin.P2SH || a.Kind == emercoin.P2WSH},
		{"iswitness", a.Kind == emercoin.P2WPKH || a.Kind == emercoin.P2WSH}}
	if script != "" {
		out = append(out, kv{"hex", script})
	}
	if mine {
		out = append(out, kv{"pubkey", hex.EncodeToString(k.PubKey().SerializeCompressed())}, kv{"iscompressed", true})
	}
	label := ""
	if wk, ok := n.st.Keys[s]; ok {
		label = wk.Label
	} else if l, ok := n.st.Watch[s]; ok {
		label = l
	}
	out = append(out, kv{"label", label})
	return out, nil
}

func (n *Node) dumpPrivKey(p params) (any, *rpcError) {
	s, e := p.str(0)
	if e != nil {
		return nil, e
	}
	if n.locked() {
		return nil, rerr(emercoin.CodeUnlockNeeded, "Error: Please enter the wallet passphrase with walletpassphrase first.")
	}
	if _, err := n.cfg.Network.Decode(s); err != nil {
		return nil, rerr(emercoin.CodeInvalidAddress, "Invalid Emercoin address")
	}
	k, ok := n.keyFor(s)
	if !ok {
		return nil, rerr(emercoin.CodeWalletError, "Private key for address %s is not known", s)
	}
	return emercoin.EncodeWIF(n.cfg.Network, k), nil
}

func (n *Node) importAddress(p params) (any, *rpcError) {
	s, e := p.str(0)
	if e != nil {
		return nil, e
	}
	label, e := p.optStr(1, "")
	if e != nil {
		return nil, e
	}
	if _, e := p.optBool(2, true); e != nil {
		return nil, e
	}
	if _, err := n.cfg.Network.Decode(s); err != nil {
		return nil, rerr(emercoin.CodeInvalidAddress, "Invalid Emercoin address or script")
	}
	if _, mine := n.st.Keys[s]; mine {
		return nil, rerr(emercoin.CodeWalletError, "The wallet already contains the private key for this address or script")
	}
	n.st.Watch[s] = label
	// rescan=false (the only form the hub uses): earlier payments stay invisible, as on the node.
	return nil, nil
}
