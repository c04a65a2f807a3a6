package emercoin

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// SigHashAll is the only signature hash type the escrow uses (SIGHASH_ALL).
const SigHashAll = 1

// Errors of the multisig script helpers.
var (
	ErrNotMultisig   = errors.New("not a multisig redeem script")
	ErrBadScriptSig  = errors.New("malformed P2SH multisig scriptSig")
	ErrBadSignature  = errors.New("signature does not verify")
	ErrInputMismatch = errors.New("input index out of range")
)

// MultisigScript is CreateMultisigRedeemscript: OP_m <pubkey>… OP_n OP_CHECKMULTISIG.
func MultisigScript(m int, pubkeys [][]byte) ([]byte, error) {
	if m < 1 || m > len(pubkeys) || len(pubkeys) > 16 {
		return nil, fmt.Errorf("%w: %d of %d", ErrNotMultisig, m, len(pubkeys))
	}
	s := []byte{byte(0x50 + m)}
	for _, k := range pubkeys {
		if _, err := secp256k1.ParsePubKey(k); err != nil {
			return nil, fmt.Errorf("%w: public key %x: %v", ErrNotMultisig, k, err)
		}
		s = append(s, byte(len(k)))
		s = append(s, k...)
	}
	return append(s, byte(0x50+len(pubkeys)), 0xae), nil
}

// ParseMultisig reads a bare multisig script and returns m and the public keys in order.
func ParseMultisig(s []byte) (int, [][]byte, error) {
	if len(s) < 3 || s[len(s)-1] != 0xae || s[0] < 0x51 || s[0] > 0x60 {
		return 0, nil, ErrNotMultisig
	}
	m := int(s[0] - 0x50)
	var keys [][]byte
	i := 1
	for i < len(s)-2 {
		l := int(s[i])
		if (l != 33 && l != 65) || i+1+l > len(s)-2 {
			return 0, nil, ErrNotMultisig
		}
		keys = append(keys, s[i+1:i+1+l])
		i += 1 + l
	}
	if i != len(s)-2 || int(s[i])-0x50 != len(keys) || m > len(keys) || len(keys) == 0 {
		return 0, nil, ErrNotMultisig
	}
	return m, keys, nil
}

// pushData is a minimal push (PUSHDATA1/2 for long data), as CScript << vector does.
func pushData(b *bytes.Buffer, d []byte) {
	switch {
	case len(d) < 0x4c:
		b.WriteByte(byte(len(d)))
	case len(d) <= 0xff:
		b.WriteByte(0x4c)
		b.WriteByte(byte(len(d)))
	default:
		b.WriteByte(0x4d)
		binary.Write(b, binary.LittleEndian, uint16(len(d)))
	}
	b.Write(d)
}

// readPushes splits a push-only script into its data items (OP_0 gives an empty item).
func readPushes(s []byte) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(s); {
		op := s[i]
		i++
		var n int
		switch {
		case op == 0:
			out = append(out, []byte{})
			continue
		case op < 0x4c:
			n = int(op)
		case op == 0x4c && i < len(s):
			n = int(s[i])
			i++
		case op == 0x4d && i+1 < len(s):
			n = int(binary.LittleEndian.Uint16(s[i:]))
			i += 2
		default:
			return nil, ErrBadScriptSig
		}
		if i+n > len(s) {
			return nil, ErrBadScriptSig
		}
		out = append(out, s[i:i+n])
		i += n
	}
	return out, nil
}

// MultisigScriptSig is the P2SH multisig scriptSig: OP_0 <sig>… <redeemScript>. sigs are in
// the order of their keys in the redeem script.
func MultisigScriptSig(sigs [][]byte, redeem []byte) []byte {
	var b bytes.Buffer
	b.WriteByte(0)
	for _, s := range sigs {
		pushData(&b, s)
	}
	pushData(&b, redeem)
	return b.Bytes()
}

// ParseMultisigScriptSig reads OP_0 <sig>… <redeemScript>; an empty script has no signatures.
func ParseMultisigScriptSig(s []byte) (sigs [][]byte, redeem []byte, err error) {
	if len(s) == 0 {
		return nil, nil, nil
	}
	items, err := readPushes(s)
	if err != nil || len(items) < 2 || len(items[0]) != 0 {
		return nil, nil, ErrBadScriptSig
	}
	return items[1 : len(items)-1], items[len(items)-1], nil
}

// LegacySigHash is SignatureHash for a non-witness input (SIGHASH_ALL): the transaction with
// every scriptSig emptied and input idx's set to scriptCode, followed by the 4-byte hash type,
// double SHA-256. Emercoin's serialization carries nTime, so it is part of the hash (inferred
// from the PPCoin serializer; Bitcoin has no nTime).
func LegacySigHash(tx *Tx, idx int, scriptCode []byte) ([32]byte, error) {
	if idx < 0 || idx >= len(tx.Inputs) {
		return [32]byte{}, ErrInputMismatch
	}
	c := *tx
	c.Inputs = make([]TxIn, len(tx.Inputs))
	for i, in := range tx.Inputs {
		in.Script = nil
		if i == idx {
			in.Script = scriptCode
		}
		c.Inputs[i] = in
	}
	b := c.Serialize()
	b = binary.LittleEndian.AppendUint32(b, SigHashAll)
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:]), nil
}

// SignMultisigInput adds key's signature to input idx, which spends the P2SH multisig
// redeem, keeping the signatures already there in key order. It returns whether the input now
// holds enough signatures. A key that is not in the script is an error.
func SignMultisigInput(tx *Tx, idx int, redeem []byte, key *secp256k1.PrivateKey) (bool, error) {
	if idx < 0 || idx >= len(tx.Inputs) {
		return false, ErrInputMismatch
	}
	m, keys, err := ParseMultisig(redeem)
	if err != nil {
		return false, err
	}
	h, err := LegacySigHash(tx, idx, redeem)
	if err != nil {
		return false, err
	}
	pub := key.PubKey()
	pos := -1
	for i, k := range keys {
		if p, err := secp256k1.ParsePubKey(k); err == nil && p.IsEqual(pub) {
			pos = i
		}
	}
	if pos < 0 {
		return false, fmt.Errorf("key %x is not in the redeem script", pub.SerializeCompressed())
	}
	have, err := multisigSigs(tx, idx, redeem, keys, h)
	if err != nil {
		return false, err
	}
	have[pos] = append(ecdsa.Sign(key, h[:]).Serialize(), SigHashAll)
	var sigs [][]byte
	for i := range keys { // CHECKMULTISIG wants them in key order
		if s, ok := have[i]; ok && len(sigs) < m {
			sigs = append(sigs, s)
		}
	}
	tx.Inputs[idx].Script = MultisigScriptSig(sigs, redeem)
	return len(sigs) >= m, nil
}

// multisigSigs maps the valid signatures in input idx's scriptSig to their key positions.
func multisigSigs(tx *Tx, idx int, redeem []byte, keys [][]byte, h [32]byte) (map[int][]byte, error) {
	sigs, r, err := ParseMultisigScriptSig(tx.Inputs[idx].Script)
	if err != nil {
		return nil, err
	}
	out := map[int][]byte{}
	if r != nil && !bytes.Equal(r, redeem) {
		return nil, fmt.Errorf("%w: other redeem script", ErrBadScriptSig)
	}
	for _, s := range sigs {
		for i, k := range keys {
			if _, done := out[i]; !done && checkSig(s, k, h) {
				out[i] = s
				break
			}
		}
	}
	return out, nil
}

func checkSig(sig, pubkey []byte, h [32]byte) bool {
	if len(sig) < 2 || sig[len(sig)-1] != SigHashAll {
		return false
	}
	s, err := ecdsa.ParseDERSignature(sig[:len(sig)-1])
	if err != nil {
		return false
	}
	p, err := secp256k1.ParsePubKey(pubkey)
	if err != nil {
		return false
	}
	return s.Verify(h[:], p)
}

// VerifyMultisigInput checks input idx the way OP_CHECKMULTISIG does for a P2SH multisig
// output with script hash scriptHash: the redeem script matches, and m signatures verify in
// key order. It returns the number of valid signatures found and an error when short.
func VerifyMultisigInput(tx *Tx, idx int, scriptHash []byte) (int, error) {
	if idx < 0 || idx >= len(tx.Inputs) {
		return 0, ErrInputMismatch
	}
	sigs, redeem, err := ParseMultisigScriptSig(tx.Inputs[idx].Script)
	if err != nil || redeem == nil {
		return 0, ErrBadScriptSig
	}
	if !bytes.Equal(Hash160(redeem), scriptHash) {
		return 0, fmt.Errorf("%w: redeem script does not hash to the output", ErrBadScriptSig)
	}
	m, keys, err := ParseMultisig(redeem)
	if err != nil {
		return 0, err
	}
	h, _ := LegacySigHash(tx, idx, redeem)
	// CHECKMULTISIG: signatures in key order, each key used at most once.
	k, good := 0, 0
	for _, s := range sigs {
		for k < len(keys) && !checkSig(s, keys[k], h) {
			k++
		}
		if k == len(keys) {
			return good, fmt.Errorf("%w: input %d", ErrBadSignature, idx)
		}
		good++
		k++
	}
	if good < m {
		return good, fmt.Errorf("%w: input %d has %d of %d signatures", ErrBadSignature, idx, good, m)
	}
	return good, nil
}

// DecodeWIF reads a WIF private key of net; compressed reports the 0x01 suffix.
func DecodeWIF(net Network, wif string) (key *secp256k1.PrivateKey, compressed bool, err error) {
	b, err := Base58CheckDecode(wif)
	if err != nil || len(b) < 33 || len(b) > 34 || b[0] != net.WIF || (len(b) == 34 && b[33] != 1) {
		return nil, false, fmt.Errorf("%w: invalid private key", ErrInvalidAddress)
	}
	return secp256k1.PrivKeyFromBytes(b[1:33]), len(b) == 34, nil
}

// EncodeWIF writes key as compressed WIF for net.
func EncodeWIF(net Network, key *secp256k1.PrivateKey) string {
	return Base58CheckEncode(append(append([]byte{net.WIF}, key.Serialize()...), 1))
}

// PubKeyHex is the compressed public key in hex, as createmultisig takes it.
func PubKeyHex(key *secp256k1.PrivateKey) string {
	return hex.EncodeToString(key.PubKey().SerializeCompressed())
}
