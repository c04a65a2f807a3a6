package emulator

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// encodeVal is encodeNameVal: "hex", "base64", anything else the raw bytes.
func encodeVal(v []byte, vt string) string {
	switch vt {
	case "hex":
		return hex.EncodeToString(v)
	case "base64":
		return base64.StdEncoding.EncodeToString(v)
	}
	return string(v)
}

// decodeVal is name_new/name_update's input valuetype. Any other string is a file path on the
// daemon host; the emulator reads no files and answers as an unreadable path does.
func decodeVal(s, vt string) ([]byte, *rpcError) {
	switch vt {
	case "":
		return []byte(s), nil
	case "hex":
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, rerr(emercoin.CodeInternalError, "failed to decode value as hex")
		}
		return b, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, rerr(emercoin.CodeInternalError, "failed to decode value as base64")
		}
		return b, nil
	}
	return nil, rerr(emercoin.CodeInternalError, "failed to open file")
}

// checkNameValues: messages end in "\n" and concatenate.
func checkNameValues(op string, name, value []byte, days int64) *rpcError {
	var msg string
	if len(name) > emercoin.MaxNameLength {
		msg += "name is too long.\n"
	}
	if op != "name_delete" {
		if len(value) > emercoin.MaxValueLength {
			msg += "value is too long.\n"
		}
		if op == "name_new" && days < 1 {
			msg += "rental days must be greater than 0.\n"
		}
		if op == "name_update" && days < 0 {
			msg += "rental days must be greater or equal 0.\n"
		}
		if days > 366000000 {
			msg += "rental days value is too large.\n"
		}
	}
	if msg != "" {
		return rerr(emercoin.CodeInternalError, "%s", msg)
	}
	if op != "name_delete" && len(value) == 0 {
		return rerr(emercoin.CodeInternalError, "value must not be empty")
	}
	return nil
}

func (n *Node) locked() bool {
	return n.st.Encrypted && n.unlockedUntil <= n.cfg.Now().Unix()
}

// nameOperation is name_operation (namecoin.cpp:1225) for all three ops.
func (n *Node) nameOperation(op string, p params) (any, *rpcError) {
	name, e := p.str(0)
	if e != nil {
		return nil, e
	}
	var value []byte
	var days int64
	toAddr := ""
	if op != "name_delete" {
		raw, e := p.str(1)
		if e != nil {
			return nil, e
		}
		if days, e = p.integer(2); e != nil {
			return nil, e
		}
		if toAddr, e = p.optStr(3, ""); e != nil {
			return nil, e
		}
		vt, e := p.optStr(4, "")
		if e != nil {
			return nil, e
		}
		if value, e = decodeVal(raw, vt); e != nil {
			return nil, e
		}
	}
	if e := checkNameValues(op, []byte(name), value, days); e != nil {
		return nil, e
	}
	if pend := n.st.pendingFor(name); len(pend) > 0 {
		return nil, rerr(emercoin.CodeInternalError, "there are %d pending operations on that name, including %s", len(pend), pend[0].TxID)
	}
	active := n.st.active(name)
	ops := n.st.Names[name]
	switch op {
	case "name_new":
		if active {
			return nil, rerr(emercoin.CodeInternalError, "name_new on an unexpired name")
		}
	default:
		if !active {
			return nil, rerr(emercoin.CodeInternalError, "%s on an inactive name", op)
		}
		if _, mine := n.st.Keys[ops[len(ops)-1].Address]; !mine {
			return nil, rerr(emercoin.CodeInternalError, "prev name tx is not yours or is not spendable")
		}
	}
	// Destination address.
	addr := ""
	switch {
	case op == "name_delete":
		addr = ops[len(ops)-1].Address
	case toAddr == "" || toAddr == "legacy":
		kind := emercoin.P2WPKH
		if toAddr == "legacy" {
			kind = emercoin.P2PKH
		}
		a, err := n.addKey("", kind)
		if err != nil {
			return nil, rerr(emercoin.CodeInternalError, "failed to get key from pool")
		}
		addr = a
	default:
		if _, err := n.cfg.Network.Decode(toAddr); err != nil {
			return nil, rerr(emercoin.CodeInvalidAddress, "emercoin address is invalid")
		}
		addr = toAddr
	}
	const nameOut = emercoin.Amount(100) // -nametxoutamount default 0.0001 EMC
	fee := nameFee(op, days, []byte(name), value, n.cfg.PoWReward)
	cost := fee
	if op == "name_new" {
		cost += nameOut
	}
	if n.st.Balance < nameOut {
		return nil, rerr(emercoin.CodeInsufficientFunds, "Insufficient funds")
	}
	if n.locked() {
		return nil, rerr(emercoin.CodeInternalError, "unkown error")
	}
	if n.st.Balance < cost {
		return nil, rerr(emercoin.CodeInternalError, "Error: This transaction requires a transaction fee of at least %s", emercoin.FormatMoney(fee))
	}
	n.st.Balance -= cost
	now := n.cfg.Now().Unix()
	txid := n.newTxID()
	n.st.Mempool = append(n.st.Mempool, &nameOp{Name: name, TxID: txid, Op: op, Time: now, Address: addr, Days: days, Value: value})
	n.recordTx(&walletTx{TxID: txid, Amount: 0, Fee: -fee, Time: now,
		Details: []emercoin.TxDetail{{Address: addr, Category: "send", Amount: 0, Fee: -fee}}})
	return txid, nil
}

func (n *Node) nameNew(p params) (any, *rpcError)    { return n.nameOperation("name_new", p) }
func (n *Node) nameUpdate(p params) (any, *rpcError) { return n.nameOperation("name_update", p) }
func (n *Node) nameDelete(p params) (any, *rpcError) { return n.nameOperation("name_delete", p) }

func (n *Node) nameShow(p params) (any, *rpcError) {
	name, e := p.str(0)
	if e != nil {
		return nil, e
	}
	vt, e := p.optStr(1, "")
	if e != nil {
		return nil, e
	}
	if p.has(2) {
		return nil, rerr(emercoin.CodeParseError, "Failed to open file. Check if you have permission to open it.")
	}
	ops := n.st.Names[name]
	if len(ops) == 0 {
		return nil, rerr(emercoin.CodeWalletError, "failed to read from name DB")
	}
	last := ops[len(ops)-1]
	exp := expiresAt(ops)
	value := last.Value
	if last.Op == "name_delete" {
		value = nil
	}
	out := ordered{
		{"name", name}, {"value", encodeVal(value, vt)}, {"txid", last.TxID}, {"address", last.Address},
		{"vout", 0}, {"expires_in", exp - n.st.Height}, {"expires_at", exp}, {"time", last.Time},
	}
	if last.Op == "name_delete" {
		out = append(out, kv{"deleted", true})
	} else if exp-n.st.Height <= 0 {
		out = append(out, kv{"expired", true})
	}
	return out, nil
}

func (n *Node) opJSON(op *nameOp, vt string, history bool) ordered {
	out := ordered{}
	if !history {
		out = append(out, kv{"name", op.Name})
	}
	out = append(out, kv{"txid", op.TxID}, kv{"time", op.Time})
	if history {
		out = append(out, kv{"height", op.Height})
	}
	out = append(out, kv{"address", op.Address})
	if history {
		out = append(out, kv{"vout", 0})
	}
	if _, mine := n.st.Keys[op.Address]; mine {
		out = append(out, kv{"address_is_mine", "true"})
	}
	out = append(out, kv{"operation", op.Op})
	if op.Op != "name_delete" {
		out = append(out, kv{"days_added", op.Days}, kv{"value", encodeVal(op.Value, vt)})
	}
	return out
}

func (n *Node) nameHistory(p params) (any, *rpcError) {
	name, e := p.str(0)
	if e != nil {
		return nil, e
	}
	full, e := p.optBool(1, false)
	if e != nil {
		return nil, e
	}
	vt, e := p.optStr(2, "")
	if e != nil {
		return nil, e
	}
	ops := n.st.Names[name]
	if len(ops) == 0 {
		return nil, rerr(emercoin.CodeDatabaseError, "failed to read from name DB")
	}
	if !full {
		if !n.st.active(name) {
			return nil, rerr(emercoin.CodeMiscError, "record for this name exists, but this name is not active")
		}
		ops = activeChain(ops)
	}
	out := make([]ordered, 0, len(ops))
	for _, op := range ops {
		out = append(out, n.opJSON(op, vt, true))
	}
	return out, nil
}

func (n *Node) nameMempool(p params) (any, *rpcError) {
	vt, e := p.optStr(0, "")
	if e != nil {
		return nil, e
	}
	out := make([]ordered, 0, len(n.st.Mempool))
	for _, op := range n.st.Mempool {
		out = append(out, n.opJSON(op, vt, false))
	}
	return out, nil
}

const tooLarge = "\n...(value too large - use name_show to see full value)"

func truncate(v string, max int64) string {
	if max > 0 && int64(len(v)) > max {
		return v[:max] + tooLarge
	}
	return v
}

func (n *Node) nameFilter(p params) (any, *rpcError) {
	re, e := p.optStr(0, "")
	if e != nil {
		return nil, e
	}
	maxAge, e := p.optInt(1, 0)
	if e != nil {
		return nil, e
	}
	from, e := p.optInt(2, 0)
	if e != nil {
		return nil, e
	}
	nb, e := p.optInt(3, 0)
	if e != nil {
		return nil, e
	}
	stat, e := p.optStr(4, "")
	if e != nil {
		return nil, e
	}
	vt, e := p.optStr(5, "")
	if e != nil {
		return nil, e
	}
	maxLen, e := p.optInt(6, 0)
	if e != nil {
		return nil, e
	}
	rx, err := regexp.Compile(re)
	if err != nil {
		return nil, rerr(emercoin.CodeMiscError, "regex_error: %v", err)
	}
	type hit struct {
		o     ordered
		regAt int64
	}
	var hits []hit
	var matched int64
	for _, name := range n.st.sortedNames() {
		ops := n.st.Names[name]
		if ops[len(ops)-1].Op == "name_delete" {
			continue
		}
		chain := activeChain(ops)
		regAt := chain[0].Height
		if maxAge != 0 && n.st.Height-regAt >= maxAge {
			continue
		}
		if re != "" && !rx.MatchString(name) {
			continue
		}
		matched++
		if matched <= from {
			continue
		}
		if nb > 0 && int64(len(hits)) >= nb {
			break
		}
		exp := expiresAt(ops)
		o := ordered{{"name", name}, {"value", truncate(encodeVal(ops[len(ops)-1].Value, vt), maxLen)},
			{"registered_at", regAt}, {"expires_in", exp - n.st.Height}}
		if exp-n.st.Height <= 0 {
			o = append(o, kv{"expired", true})
		}
		hits = append(hits, hit{o, regAt})
	}
	if stat == "stat" {
		return ordered{{"blocks", n.st.Height}, {"count", 0}}, nil // the node's count is always 0
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].regAt < hits[j].regAt })
	out := make([]ordered, len(hits))
	for i := range hits {
		out[i] = hits[i].o
	}
	return out, nil
}

func (n *Node) nameScan(p params) (any, *rpcError) {
	start, e := p.optStr(0, "")
	if e != nil {
		return nil, e
	}
	if _, e := p.optInt(1, 500); e != nil { // read and ignored, as CNameDB::ScanNames does
		return nil, e
	}
	maxLen, e := p.optInt(2, 0)
	if e != nil {
		return nil, e
	}
	vt, e := p.optStr(3, "")
	if e != nil {
		return nil, e
	}
	out := []ordered{}
	for _, name := range n.st.sortedNames() {
		if nameKeyLess(name, start) {
			continue
		}
		ops := n.st.Names[name]
		if ops[len(ops)-1].Op == "name_delete" {
			continue
		}
		exp := expiresAt(ops)
		o := ordered{{"name", name}, {"value", truncate(encodeVal(ops[len(ops)-1].Value, vt), maxLen)}, {"expires_in", exp - n.st.Height}}
		if exp-n.st.Height <= 0 {
			o = append(o, kv{"expired", true})
		}
		out = append(out, o)
	}
	return out, nil
}

func (n *Node) nameList(p params) (any, *rpcError) {
	only, e := p.optStr(0, "")
	if e != nil {
		return nil, e
	}
	vt, e := p.optStr(1, "")
	if e != nil {
		return nil, e
	}
	names := make([]string, 0, len(n.st.Names))
	for k := range n.st.Names {
		names = append(names, k)
	}
	sort.Strings(names) // std::map order: bytewise
	out := []ordered{}
	for _, name := range names {
		if only != "" && name != only {
			continue
		}
		ops := n.st.Names[name]
		last := ops[len(ops)-1]
		if last.Op == "name_delete" {
			continue
		}
		// The wallet lists names it ever held; transferred ones are flagged.
		everMine := false
		for _, op := range ops {
			if _, ok := n.st.Keys[op.Address]; ok {
				everMine = true
			}
		}
		if !everMine {
			continue
		}
		exp := expiresAt(ops)
		o := ordered{{"name", name}, {"value", encodeVal(last.Value, vt)}}
		if _, mine := n.st.Keys[last.Address]; !mine {
			o = append(o, kv{"transferred", true})
		}
		o = append(o, kv{"address", last.Address}, kv{"expires_in", exp - n.st.Height})
		if exp-n.st.Height <= 0 {
			o = append(o, kv{"expired", true})
		}
		out = append(out, o)
	}
	return out, nil
}

// ordered is a JSON object that keeps key order, as UniValue pushKV does.
type ordered []kv

type kv struct {
	k string
	v any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := jsonMarshal(e.k)
		v, err := jsonMarshal(e.v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.k, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}
