package emercoin

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Tx is an Emercoin (PPCoin-style) transaction without witnesses: version, nTime, inputs,
// outputs, lock time. It is what randpay_mktx returns and randpay_accept reads.
type Tx struct {
	Version  int32
	Time     uint32
	Inputs   []TxIn
	Outputs  []TxOut
	LockTime uint32
}

// TxIn is a transaction input.
type TxIn struct {
	PrevHash  [32]byte
	PrevIndex uint32
	Script    []byte
	Sequence  uint32
}

// TxOut is a transaction output.
type TxOut struct {
	Value  int64
	Script []byte
}

// RandpayOutpoint is the virtual always-unspent coin ecec…ec:0 a randpay-in spends.
var RandpayOutpoint = bytes.Repeat([]byte{0xec}, 32)

// HasRandpayIn reports whether t spends the virtual RANDPAY coin.
func (t *Tx) HasRandpayIn() bool {
	for _, in := range t.Inputs {
		if bytes.Equal(in.PrevHash[:], RandpayOutpoint) && in.PrevIndex == 0 {
			return true
		}
	}
	return false
}

// Serialize is the transaction's wire form.
func (t *Tx) Serialize() []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, t.Version)
	binary.Write(&b, binary.LittleEndian, t.Time)
	writeCompactSize(&b, uint64(len(t.Inputs)))
	for _, in := range t.Inputs {
		b.Write(in.PrevHash[:])
		binary.Write(&b, binary.LittleEndian, in.PrevIndex)
		writeCompactSize(&b, uint64(len(in.Script)))
		b.Write(in.Script)
		binary.Write(&b, binary.LittleEndian, in.Sequence)
	}
	writeCompactSize(&b, uint64(len(t.Outputs)))
	for _, o := range t.Outputs {
		binary.Write(&b, binary.LittleEndian, o.Value)
		writeCompactSize(&b, uint64(len(o.Script)))
		b.Write(o.Script)
	}
	binary.Write(&b, binary.LittleEndian, t.LockTime)
	return b.Bytes()
}

// TxID is the double SHA-256 of the serialization, byte-reversed as hex, as GetHash().GetHex().
func (t *Tx) TxID() string {
	a := sha256.Sum256(t.Serialize())
	h := sha256.Sum256(a[:])
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		h[i], h[j] = h[j], h[i]
	}
	return hex.EncodeToString(h[:])
}

// OutpointTxID is the txid hex of a previous-output hash (byte-reversed, as GetHex).
func OutpointTxID(h [32]byte) string {
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		h[i], h[j] = h[j], h[i]
	}
	return hex.EncodeToString(h[:])
}

// ErrTxDecode is DecodeTx's error for any malformed transaction.
var ErrTxDecode = errors.New("TX decode failed")

type txReader struct {
	r   *bytes.Reader
	err error
}

func (r *txReader) read(p []byte) {
	if r.err != nil {
		return
	}
	if _, err := io.ReadFull(r.r, p); err != nil {
		r.err = err
	}
}

func (r *txReader) u32() uint32 {
	var b [4]byte
	r.read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}

func (r *txReader) varInt() uint64 {
	var b [1]byte
	r.read(b[:])
	switch b[0] {
	case 253:
		var x [2]byte
		r.read(x[:])
		return uint64(binary.LittleEndian.Uint16(x[:]))
	case 254:
		return uint64(r.u32())
	case 255:
		var x [8]byte
		r.read(x[:])
		return binary.LittleEndian.Uint64(x[:])
	}
	return uint64(b[0])
}

func (r *txReader) bytes(max uint64) []byte {
	n := r.varInt()
	if r.err != nil {
		return nil
	}
	if n > max || n > uint64(r.r.Len()) {
		r.err = fmt.Errorf("length %d too large", n)
		return nil
	}
	b := make([]byte, n)
	r.read(b)
	return b
}

// DecodeTx parses a hex transaction; any malformed input (including trailing bytes) is
// ErrTxDecode, as DecodeHexTx failing gives -22 "TX decode failed".
func DecodeTx(h string) (*Tx, error) {
	raw, err := hex.DecodeString(h)
	if err != nil {
		return nil, ErrTxDecode
	}
	r := &txReader{r: bytes.NewReader(raw)}
	var t Tx
	t.Version = int32(r.u32())
	t.Time = r.u32()
	nIn := r.varInt()
	if nIn == 0 || nIn > uint64(len(raw))/41 {
		return nil, ErrTxDecode
	}
	for i := uint64(0); i < nIn && r.err == nil; i++ {
		var in TxIn
		r.read(in.PrevHash[:])
		in.PrevIndex = r.u32()
		in.Script = r.bytes(10000)
		in.Sequence = r.u32()
		t.Inputs = append(t.Inputs, in)
	}
	nOut := r.varInt()
	if r.err == nil && (nOut == 0 || nOut > uint64(len(raw))/9) {
		return nil, ErrTxDecode
	}
	for i := uint64(0); i < nOut && r.err == nil; i++ {
		var o TxOut
		o.Value = int64(r.u32()) | int64(r.u32())<<32
		o.Script = r.bytes(10000)
		t.Outputs = append(t.Outputs, o)
	}
	t.LockTime = r.u32()
	if r.err != nil || r.r.Len() != 0 {
		return nil, ErrTxDecode
	}
	return &t, nil
}
