package emulator

import (
	"encoding/hex"
	"errors"
	"math/big"
	"strconv"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// challenge is one RandpayKeysMempool entry: the payee's key whose hash160 X lies in
// [lo, lo+risk), the expected amount and the expiry (which randpay_accept does not check).
type challenge struct {
	key    *secp256k1.PrivateKey
	x      *big.Int
	lo     *big.Int
	risk   int64
	amount emercoin.Amount
	expire int64
}

// payment remembers a randpay_mktx transaction this node made, so a win on the same node
// debits the payer's balance (the emulator keeps no UTXO set).
type payment struct {
	cost emercoin.Amount
}

var two160 = new(big.Int).Lsh(big.NewInt(1), 160)

// uint160 reads 20 bytes as Emercoin's uint160 integer: little-endian.
func uint160(b []byte) *big.Int {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(r)
}

// uint160Bytes is the inverse: the 20 little-endian bytes of x.
func uint160Bytes(x *big.Int) []byte {
	be := x.FillBytes(make([]byte, 20))
	for i, j := 0, 19; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return be
}

func (n *Node) randpayMkchap(p params) (any, *rpcError) {
	amt, e := p.amount(0)
	if e != nil {
		return nil, e
	}
	if amt <= 0 {
		return nil, rerr(emercoin.CodeTypeError, "Invalid amount for challenge")
	}
	risk, e := p.uint32(1, "risk")
	if e != nil {
		return nil, e
	}
	timeout, e := p.integer(2)
	if e != nil {
		return nil, rerr(emercoin.CodeTypeError, "timeout must be a number")
	}
	if risk == 0 {
		return nil, rerr(emercoin.CodeMiscError, "Division by zero")
	}
	r := big.NewInt(int64(risk))
	limit := new(big.Int).Mul(new(big.Int).Div(two160, r), r)
	var c *challenge
	for c == nil {
		k, err := n.newKey()
		if err != nil {
			return nil, rerr(emercoin.CodeInternalError, "%v", err)
		}
		x := uint160(emercoin.Hash160(k.PubKey().SerializeCompressed()))
		if x.Cmp(limit) >= 0 {
			continue
		}
		q := new(big.Int).Div(x, r)
		c = &challenge{key: k, x: x, lo: new(big.Int).Mul(q, r), risk: int64(risk), amount: amt,
			expire: n.cfg.Now().Unix() + timeout}
	}
	// Expired entries are purged only now and then, with probability 1/512 per call.
	if n.randBelow(big.NewInt(512)).Sign() == 0 {
		now := n.cfg.Now().Unix()
		kept := n.chaps[:0]
		for _, old := range n.chaps {
			if old.expire >= now {
				kept = append(kept, old)
			}
		}
		n.chaps = kept
	}
	n.chaps = append(n.chaps, c)
	q := new(big.Int).Div(c.x, r)
	return emercoin.FormatMoney(amt) + ":" + strconv.FormatUint(uint64(risk), 10) + ":" + hex.EncodeToString(q.FillBytes(make([]byte, 20))), nil
}

// parseChap is emercoin.ParseChap with its message as a -3 error.
func parseChap(chap string) (emercoin.Amount, int64, *big.Int, *rpcError) {
	c, err := emercoin.ParseChap(chap)
	if err != nil {
		var ce *emercoin.ChapError
		if errors.As(err, &ce) {
			return 0, 0, nil, rerr(emercoin.CodeTypeError, "%s", ce.Message)
		}
		return 0, 0, nil, rerr(emercoin.CodeTypeError, "%v", err)
	}
	return c.Amount, int64(c.Risk), c.Base, nil
}

func (n *Node) randpayMktx(p params) (any, *rpcError) {
	chap, e := p.str(0)
	if e != nil {
		return nil, e
	}
	amt, risk, q, e := parseChap(chap)
	if e != nil {
		return nil, e
	}
	if _, e := p.integer(1); e != nil {
		return nil, rerr(emercoin.CodeTypeError, "timeout must be a number")
	}
	flags, e := p.optInt(2, 0)
	if e != nil {
		return nil, rerr(emercoin.CodeTypeError, "flags must be a number")
	}
	r := big.NewInt(risk)
	randAddr := new(big.Int).Add(new(big.Int).Mul(q, r), n.randBelow(r))
	if randAddr.Cmp(two160) >= 0 {
		return nil, rerr(emercoin.CodeTypeError, "Invalid chap format, must be amount:dec[:]hex")
	}
	if amt > n.st.Balance {
		return nil, rerr(emercoin.CodeInsufficientFunds, "Insufficient funds")
	}
	if flags&int64(emercoin.RandpayNoSign) == 0 && n.locked() {
		return nil, rerr(emercoin.CodeWalletError, "Signing transaction failed")
	}
	kind := emercoin.P2WPKH
	if flags&int64(emercoin.RandpayP2PKH) != 0 {
		kind = emercoin.P2PKH
	}
	out := emercoin.Address{Kind: kind, Hash: uint160Bytes(randAddr)}
	tx := &emercoin.Tx{Version: 1, Time: uint32(n.cfg.Now().Unix())}
	if flags&int64(emercoin.RandpayNaive) == 0 {
		var in emercoin.TxIn
		copy(in.PrevHash[:], emercoin.RandpayOutpoint)
		in.Sequence = 0xffffffff
		tx.Inputs = append(tx.Inputs, in)
	}
	var payerIn emercoin.TxIn
	copy(payerIn.PrevHash[:], n.randBytes(32))
	payerIn.Sequence = 0xffffffff
	if flags&int64(emercoin.RandpayNoSign) == 0 {
		payerIn.Script = append([]byte{71}, n.randBytes(71)...) // stands for the payer's signature
	}
	tx.Inputs = append(tx.Inputs, payerIn)
	tx.Outputs = []emercoin.TxOut{{Value: int64(amt), Script: out.ScriptPubKey()}}
	n.payer[tx.TxID()] = payment{cost: amt + minTxFee}
	return hex.EncodeToString(tx.Serialize()), nil
}

func (n *Node) randpayAccept(p params) (any, *rpcError) {
	h, e := p.str(0)
	if e != nil {
		return nil, rerr(emercoin.CodeTypeError, "Expected type string")
	}
	flags, e := p.optInt(1, 0)
	if e != nil {
		return nil, rerr(emercoin.CodeTypeError, "Expected type number")
	}
	tx, err := emercoin.DecodeTx(h)
	if err != nil {
		return nil, rerr(emercoin.CodeDeserialization, "TX decode failed")
	}
	a, ok := emercoin.AddressFromScript(tx.Outputs[0].Script)
	if !ok || (a.Kind != emercoin.P2PKH && a.Kind != emercoin.P2WPKH) {
		return nil, rerr(emercoin.CodeInvalidAddress, "vout[0] is not P2PKH or P2WPKH")
	}
	x := uint160(a.Hash)
	amount := emercoin.Amount(tx.Outputs[0].Value)
	txid := tx.TxID()
	var c *challenge
	for i, cand := range n.chaps {
		hi := new(big.Int).Add(cand.lo, big.NewInt(cand.risk))
		if x.Cmp(cand.lo) >= 0 && x.Cmp(hi) < 0 {
			c = cand
			n.chaps = append(n.chaps[:i], n.chaps[i+1:]...) // single use, won or lost
			break
		}
	}
	res := emercoin.RandpayAccept{TxID: txid, Amount: amount}
	switch {
	case c != nil:
		res.Risk, res.Expected = c.risk, c.amount
		res.Won = x.Cmp(c.x) == 0
		if res.Won {
			addr, _ := n.importKey(c.key, "RandPay", a.Kind)
			switch emercoin.RandpayAcceptFlags(flags) {
			case emercoin.RandpaySendAlways:
				res.Sent = true
			case emercoin.RandpayExactOrMore:
				res.Sent = amount >= c.amount
			case emercoin.RandpayExactOnly:
				res.Sent = amount == c.amount
			}
			if res.Sent {
				n.st.Balance += amount
				n.recordTx(&walletTx{TxID: txid, Amount: amount, Time: n.cfg.Now().Unix(), Hex: h,
					Details: []emercoin.TxDetail{{Address: addr, Category: "receive", Amount: amount}}})
			}
		}
	case tx.HasRandpayIn():
		return nil, rerr(emercoin.CodeInvalidAddress, "Address in the vout[0] does not match any available challenge, unable to sign randpay-in")
	default:
		// No challenge and no randpay-in: treated as won and sent unless flags say don't.
		res.Won = true
		res.Sent = flags < 3
	}
	if pay, ok := n.payer[txid]; ok && res.Sent {
		n.st.Balance -= pay.cost
		delete(n.payer, txid)
	}
	return res, nil
}
