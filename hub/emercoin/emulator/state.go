package emulator

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"sort"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// state is everything persisted to the file.
type state struct {
	Network     string                `json:"network"`
	Seed        string                `json:"seed"` // makes block hashes unique per chain
	GenesisTime int64                 `json:"genesis_time"`
	Height      int64                 `json:"height"`
	BlockTimes  []int64               `json:"block_times"` // BlockTimes[h-1] = time of block h
	Names       map[string][]*nameOp  `json:"names"`       // full history per name, oldest first
	Mempool     []*nameOp             `json:"mempool"`
	Balance     emercoin.Amount       `json:"balance"`
	Keys        map[string]*walletKey `json:"keys"`    // by address
	Scripts     map[string]string     `json:"scripts"` // multisig address → redeem script hex
	Txs         map[string]*walletTx  `json:"txs"`
	TxOrder     []string              `json:"tx_order"`
	UTXOs       map[string]*utxo      `json:"utxos"` // "txid:vout" of outputs raw transactions may spend
	Watch       map[string]string     `json:"watch"` // watch-only address → label (importaddress)
	Encrypted   bool                  `json:"encrypted"`
	Passphrase  string                `json:"passphrase,omitempty"` // a development chain only
	Counter     uint64                `json:"counter"`
}

func (st *state) init() {
	if st.Names == nil {
		st.Names = map[string][]*nameOp{}
	}
	if st.Keys == nil {
		st.Keys = map[string]*walletKey{}
	}
	if st.Scripts == nil {
		st.Scripts = map[string]string{}
	}
	if st.Txs == nil {
		st.Txs = map[string]*walletTx{}
	}
	if st.UTXOs == nil {
		st.UTXOs = map[string]*utxo{}
	}
	if st.Watch == nil {
		st.Watch = map[string]string{}
	}
}

// nameOp is one name operation, pending (Height 0) or confirmed.
type nameOp struct {
	Name    string `json:"name"`
	TxID    string `json:"txid"`
	Op      string `json:"op"` // name_new, name_update, name_delete
	Height  int64  `json:"height"`
	Time    int64  `json:"time"`
	Address string `json:"address"`
	Days    int64  `json:"days"`
	Value   []byte `json:"value"`
}

type walletKey struct {
	Priv  string `json:"priv"` // hex secp256k1 scalar
	Label string `json:"label"`
}

type walletTx struct {
	TxID    string              `json:"txid"`
	Amount  emercoin.Amount     `json:"amount"`
	Fee     emercoin.Amount     `json:"fee"`
	Height  int64               `json:"height"` // 0 while unconfirmed
	Time    int64               `json:"time"`
	Details []emercoin.TxDetail `json:"details"`
	Hex     string              `json:"hex"`
}

func (st *state) blockHash(h int64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(h))
	s := sha256.Sum256(append([]byte(st.Seed), b[:]...))
	s = sha256.Sum256(s[:])
	return hex.EncodeToString(s[:])
}

func (n *Node) newTxID() string {
	n.st.Counter++
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n.st.Counter)
	s := sha256.Sum256(append(append([]byte("tx"+n.st.Seed), b[:]...), n.randBytes(8)...))
	s = sha256.Sum256(s[:])
	return hex.EncodeToString(s[:])
}

// mine appends k blocks; the first confirms the mempool and unconfirmed wallet txs.
func (n *Node) mine(k int) []string {
	var hashes []string
	for i := 0; i < k; i++ {
		n.st.Height++
		now := n.cfg.Now().Unix()
		n.st.BlockTimes = append(n.st.BlockTimes, now)
		if i == 0 {
			for _, op := range n.st.Mempool {
				op.Height = n.st.Height
				n.st.Names[op.Name] = append(n.st.Names[op.Name], op)
			}
			n.st.Mempool = nil
			for _, tx := range n.st.Txs {
				if tx.Height == 0 {
					tx.Height = n.st.Height
				}
			}
			for _, u := range n.st.UTXOs {
				if u.Height == 0 {
					u.Height = n.st.Height
				}
			}
		}
		hashes = append(hashes, n.st.blockHash(n.st.Height))
	}
	return hashes
}

// activeChain returns the ops since the last name_new (the "active chain" of §3).
func activeChain(ops []*nameOp) []*nameOp {
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].Op == "name_new" {
			return ops[i:]
		}
	}
	return ops
}

// expiresAt is CalculateExpiresAt: start height + 175 × Σ days over the active chain; 0 when
// the last op is a delete.
func expiresAt(ops []*nameOp) int64 {
	if len(ops) == 0 {
		return 0
	}
	chain := activeChain(ops)
	if chain[len(chain)-1].Op == "name_delete" {
		return 0
	}
	var days int64
	for _, op := range chain {
		days += op.Days
	}
	return chain[0].Height + emercoin.BlocksPerDay*days
}

// active is NameActive: confirmed, not deleted and tip ≤ expires_at.
func (st *state) active(name string) bool {
	ops := st.Names[name]
	if len(ops) == 0 || ops[len(ops)-1].Op == "name_delete" {
		return false
	}
	return st.Height <= expiresAt(ops)
}

// nameKeyLess is LevelDB's order over serialized names: compact-size length first, then bytes.
func nameKeyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (st *state) sortedNames() []string {
	out := make([]string, 0, len(st.Names))
	for k := range st.Names {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return nameKeyLess(out[i], out[j]) })
	return out
}

func (st *state) pendingFor(name string) []*nameOp {
	var out []*nameOp
	for _, op := range st.Mempool {
		if op.Name == name {
			out = append(out, op)
		}
	}
	return out
}

// nameFee is GetNameOpFee (§3), in units, with the C++ integer arithmetic.
func nameFee(op string, days int64, name, value []byte, nMint emercoin.Amount) emercoin.Amount {
	const cent = 10_000
	if op == "name_delete" {
		return 100
	}
	f := days * int64(nMint) / 36500
	if op == "name_new" {
		f += int64(nMint) / 100
	}
	f = int64(math.Sqrt(float64(f/cent)) * cent)
	f += int64((len(name)+len(value))/128) * cent
	if f%cent != 0 {
		f += cent - f%cent
	}
	f /= 100
	if f < 100 {
		f = 100
	}
	return emercoin.Amount(f)
}
