package emulator

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("code %d: %s", e.Code, e.Message) }

func rerr(code int, format string, a ...any) *rpcError {
	return &rpcError{Code: code, Message: fmt.Sprintf(format, a...)}
}

// method describes one RPC: its argument names (for named params and arity) and handler.
type method struct {
	args    []string
	minArgs int
	wallet  bool // needs the wallet (all are available here; kept for documentation)
	write   bool // changes state: saved after success
	fn      func(n *Node, p params) (any, *rpcError)
}

var methods map[string]method

func init() {
	methods = map[string]method{
		"name_new":     {args: []string{"name", "value", "days", "toaddress", "valuetype"}, minArgs: 3, wallet: true, write: true, fn: (*Node).nameNew},
		"name_update":  {args: []string{"name", "value", "days", "toaddress", "valuetype"}, minArgs: 3, wallet: true, write: true, fn: (*Node).nameUpdate},
		"name_delete":  {args: []string{"name"}, minArgs: 1, wallet: true, write: true, fn: (*Node).nameDelete},
		"name_show":    {args: []string{"name", "valuetype", "filepath"}, minArgs: 1, fn: (*Node).nameShow},
		"name_history": {args: []string{"name", "fullhistory", "valuetype"}, minArgs: 1, wallet: true, fn: (*Node).nameHistory},
		"name_filter":  {args: []string{"regexp", "maxage", "from", "nb", "stat", "valuetype", "max-value-length"}, fn: (*Node).nameFilter},
		"name_scan":    {args: []string{"start-name", "max-returned", "max-value-length", "valuetype"}, fn: (*Node).nameScan},
		"name_list":    {args: []string{"name", "valuetype"}, wallet: true, fn: (*Node).nameList},
		"name_mempool": {args: []string{"valuetype"}, wallet: true, fn: (*Node).nameMempool},

		"getwalletinfo":         {fn: (*Node).getWalletInfo, wallet: true},
		"walletpassphrase":      {args: []string{"passphrase", "timeout", "mintonly"}, minArgs: 2, wallet: true, fn: (*Node).walletPassphrase},
		"walletlock":            {wallet: true, fn: (*Node).walletLock},
		"getnewaddress":         {args: []string{"label", "address_type"}, wallet: true, write: true, fn: (*Node).getNewAddress},
		"validateaddress":       {args: []string{"address"}, minArgs: 1, fn: (*Node).validateAddress},
		"listreceivedbyaddress": {args: []string{"minconf", "include_empty", "include_watchonly", "address_filter"}, wallet: true, fn: (*Node).listReceivedByAddress},
		"gettransaction":        {args: []string{"txid", "include_watchonly"}, minArgs: 1, wallet: true, fn: (*Node).getTransaction},
		"sendtoaddress":         {args: []string{"address", "amount", "comment", "comment_to", "subtractfeefromamount"}, minArgs: 2, wallet: true, write: true, fn: (*Node).sendToAddress},
		"createmultisig":        {args: []string{"nrequired", "keys", "address_type"}, minArgs: 2, fn: (*Node).createMultisig},
		"addmultisigaddress":    {args: []string{"nrequired", "keys", "label", "address_type"}, minArgs: 2, wallet: true, write: true, fn: (*Node).addMultisigAddress},

		"createrawtransaction":         {args: []string{"inputs", "outputs", "locktime", "replaceable"}, minArgs: 2, fn: (*Node).createRawTransaction},
		"signrawtransactionwithkey":    {args: []string{"hexstring", "privkeys", "prevtxs", "sighashtype"}, minArgs: 2, fn: (*Node).signRawTransactionWithKey},
		"signrawtransactionwithwallet": {args: []string{"hexstring", "prevtxs", "sighashtype"}, minArgs: 1, wallet: true, fn: (*Node).signRawTransactionWithWallet},
		"sendrawtransaction":           {args: []string{"hexstring", "maxfeerate"}, minArgs: 1, write: true, fn: (*Node).sendRawTransaction},
		"getaddressinfo":               {args: []string{"address"}, minArgs: 1, wallet: true, fn: (*Node).getAddressInfo},
		"dumpprivkey":                  {args: []string{"address"}, minArgs: 1, wallet: true, fn: (*Node).dumpPrivKey},
		"importaddress":                {args: []string{"address", "label", "rescan", "p2sh"}, minArgs: 1, wallet: true, write: true, fn: (*Node).importAddress},

		"randpay_mkchap": {args: []string{"amount", "risk", "timeout"}, minArgs: 3, fn: (*Node).randpayMkchap},
		"randpay_mktx":   {args: []string{"chap", "timeout", "flags"}, minArgs: 2, wallet: true, fn: (*Node).randpayMktx},
		"randpay_accept": {args: []string{"hexstring", "flags"}, minArgs: 1, wallet: true, write: true, fn: (*Node).randpayAccept},

		"verifymessage":          {args: []string{"address", "signature", "message"}, minArgs: 3, fn: (*Node).verifyMessage},
		"signmessage":            {args: []string{"address", "message"}, minArgs: 2, wallet: true, fn: (*Node).signMessage},
		"signmessagewithprivkey": {args: []string{"privkey", "message"}, minArgs: 2, fn: (*Node).signMessageWithPrivkey},
		"getblockchaininfo":      {fn: (*Node).getBlockchainInfo},
		"getblockcount":          {fn: func(n *Node, p params) (any, *rpcError) { return n.st.Height, nil }},
		"generate":               {args: []string{"nblocks", "maxtries"}, minArgs: 1, write: true, fn: (*Node).generate},
	}
}

// request is the JSON-RPC request as JSONRequest::parse reads it.
type request struct {
	ID     json.RawMessage `json:"id"`
	Method json.RawMessage `json:"method"`
	Params json.RawMessage `json:"params"`
}

type reply struct {
	Result any             `json:"result"`
	Error  *rpcError       `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// ServeHTTP answers one JSON-RPC request (batches as arrays are answered element by element).
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "JSONRPC server handles only POST requests", http.StatusMethodNotAllowed)
		return
	}
	if !n.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="jsonrpc"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		writeReply(w, http.StatusInternalServerError, reply{Error: rerr(emercoin.CodeParseError, "Parse error"), ID: json.RawMessage("null")})
		return
	}
	trim := bytes.TrimSpace(body)
	if len(trim) > 0 && trim[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(trim, &batch); err != nil {
			writeReply(w, http.StatusInternalServerError, reply{Error: rerr(emercoin.CodeParseError, "Parse error"), ID: json.RawMessage("null")})
			return
		}
		out := make([]reply, len(batch))
		for i, b := range batch {
			out[i], _ = n.handle(b)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out) //nolint:errcheck
		return
	}
	rep, status := n.handle(trim)
	writeReply(w, status, rep)
}

func writeReply(w http.ResponseWriter, status int, rep reply) {
	if rep.ID == nil {
		rep.ID = json.RawMessage("null")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(rep) //nolint:errcheck
}

func (n *Node) authorized(r *http.Request) bool {
	want := ""
	switch {
	case n.cfg.User != "":
		want = n.cfg.User + ":" + n.cfg.Password
	case n.cookie != "":
		want = n.cookie
	default:
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u+":"+p), []byte(want)) == 1
}

// handle runs one request and returns its reply and HTTP status (200, or 500/400/404 on error
// as JSONErrorReply does).
func (n *Node) handle(body []byte) (reply, int) {
	var top any
	if err := json.Unmarshal(body, &top); err != nil {
		return reply{Error: rerr(emercoin.CodeParseError, "Parse error")}, http.StatusInternalServerError
	}
	if _, ok := top.(map[string]any); !ok {
		return reply{Error: rerr(emercoin.CodeInvalidRequest, "Invalid Request object")}, http.StatusBadRequest
	}
	var req request
	json.Unmarshal(body, &req) //nolint:errcheck // shape checked above
	fail := func(e *rpcError) (reply, int) {
		status := http.StatusInternalServerError
		switch e.Code {
		case emercoin.CodeInvalidRequest:
			status = http.StatusBadRequest
		case emercoin.CodeMethodNotFound:
			status = http.StatusNotFound
		}
		return reply{Error: e, ID: req.ID}, status
	}
	var name string
	if req.Method == nil {
		return fail(rerr(emercoin.CodeInvalidRequest, "Missing method"))
	}
	if err := json.Unmarshal(req.Method, &name); err != nil {
		return fail(rerr(emercoin.CodeInvalidRequest, "Method must be a string"))
	}
	m, ok := methods[name]
	if !ok {
		return fail(rerr(emercoin.CodeMethodNotFound, "Method not found"))
	}
	p, perr := parseParams(req.Params, m.args)
	if perr != nil {
		return fail(perr)
	}
	if len(p) < m.minArgs || len(p) > len(m.args) {
		return fail(rerr(emercoin.CodeMiscError, "%s %s", name, usage(m.args, m.minArgs)))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	res, e := m.fn(n, p)
	if e != nil {
		return fail(e)
	}
	if m.write {
		if err := n.save(); err != nil {
			return fail(rerr(emercoin.CodeInternalError, "emulator: save state: %v", err))
		}
	}
	return reply{Result: res, ID: req.ID}, http.StatusOK
}

func usage(args []string, min int) string {
	var b strings.Builder
	for i, a := range args {
		if i == min {
			b.WriteString("( ")
		}
		fmt.Fprintf(&b, "\"%s\" ", a)
	}
	if len(args) > min {
		b.WriteString(")")
	}
	return strings.TrimSpace(b.String())
}

// parseParams turns positional or named params into a positional list (JSON null for gaps).
func parseParams(raw json.RawMessage, names []string) (params, *rpcError) {
	raw = json.RawMessage(bytes.TrimSpace(raw))
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '[':
		var p []json.RawMessage
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, rerr(emercoin.CodeParseError, "Parse error")
		}
		return p, nil
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, rerr(emercoin.CodeParseError, "Parse error")
		}
		out := make(params, 0, len(names))
		used := 0
		for i, nm := range names {
			if v, ok := obj[nm]; ok {
				for len(out) < i {
					out = append(out, json.RawMessage("null"))
				}
				out = append(out, v)
				used++
			}
		}
		if used != len(obj) {
			for k := range obj {
				found := false
				for _, nm := range names {
					found = found || nm == k
				}
				if !found {
					return nil, rerr(emercoin.CodeInvalidParameter, "Unknown named parameter %s", k)
				}
			}
		}
		return out, nil
	}
	return nil, rerr(emercoin.CodeInvalidRequest, "Params must be an array or object")
}

// params are positional arguments with UniValue-like accessors: a wrong JSON type is -1
// "JSON value is not a … as expected", as get_str/get_int throw.
type params []json.RawMessage

func (p params) has(i int) bool { return i < len(p) && string(p[i]) != "null" }

func (p params) str(i int) (string, *rpcError) {
	if i >= len(p) {
		return "", rerr(emercoin.CodeMiscError, "JSON value is not a string as expected")
	}
	var s string
	if err := json.Unmarshal(p[i], &s); err != nil {
		return "", rerr(emercoin.CodeMiscError, "JSON value is not a string as expected")
	}
	return s, nil
}

// optStr is an optional string read with get_str when present: null is still a type error.
func (p params) optStr(i int, def string) (string, *rpcError) {
	if i >= len(p) {
		return def, nil
	}
	return p.str(i)
}

func (p params) integer(i int) (int64, *rpcError) {
	if i >= len(p) {
		return 0, rerr(emercoin.CodeMiscError, "JSON value is not an integer as expected")
	}
	var f json.Number
	d := json.NewDecoder(bytes.NewReader(p[i]))
	d.UseNumber()
	if err := d.Decode(&f); err != nil {
		return 0, rerr(emercoin.CodeMiscError, "JSON value is not an integer as expected")
	}
	v, err := f.Int64()
	if err != nil {
		return 0, rerr(emercoin.CodeMiscError, "JSON integer out of range")
	}
	return v, nil
}

func (p params) optInt(i int, def int64) (int64, *rpcError) {
	if !p.has(i) {
		return def, nil
	}
	return p.integer(i)
}

func (p params) optBool(i int, def bool) (bool, *rpcError) {
	if !p.has(i) {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(p[i], &b); err != nil {
		return false, rerr(emercoin.CodeMiscError, "JSON value is not a boolean as expected")
	}
	return b, nil
}

// amount is AmountFromValue: a number or a numeric string, 6 decimals, within MAX_MONEY.
func (p params) amount(i int) (emercoin.Amount, *rpcError) {
	if i >= len(p) {
		return 0, rerr(emercoin.CodeTypeError, "Amount is not a number or string")
	}
	raw := bytes.TrimSpace(p[i])
	if len(raw) == 0 || (raw[0] != '"' && raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, rerr(emercoin.CodeTypeError, "Amount is not a number or string")
	}
	var a emercoin.Amount
	if err := a.UnmarshalJSON(raw); err != nil {
		return 0, rerr(emercoin.CodeTypeError, "Invalid amount")
	}
	if a < 0 {
		return 0, rerr(emercoin.CodeTypeError, "Amount out of range")
	}
	return a, nil
}

// number reads a JSON number as a non-negative integer fitting in uint32 (RANDPAY's risk).
func (p params) uint32(i int, what string) (uint32, *rpcError) {
	v, e := p.integer(i)
	if e != nil || v < 0 || v > math.MaxUint32 {
		return 0, rerr(emercoin.CodeTypeError, "%s must be a number", what)
	}
	return uint32(v), nil
}
