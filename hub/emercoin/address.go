package emercoin

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"

	//lint:ignore SA1019 Emercoin addresses are RIPEMD-160 hashes by consensus; there is no replacement.
	"golang.org/x/crypto/ripemd160"
)

// Network holds an Emercoin network's address parameters (chainparams.cpp).
type Network struct {
	Name       string // "main", "test", "regtest" as getblockchaininfo says
	PubKeyHash byte   // P2PKH version byte
	ScriptHash byte   // P2SH version byte
	WIF        byte   // private key version byte
	HRP        string // bech32 human-readable part
}

// The three networks. Main-net P2PKH addresses start with 'E', bech32 ones with "em1".
var (
	MainNet = Network{Name: "main", PubKeyHash: 33, ScriptHash: 92, WIF: 128, HRP: "em"}
	TestNet = Network{Name: "test", PubKeyHash: 111, ScriptHash: 196, WIF: 239, HRP: "te"}
	RegTest = Network{Name: "regtest", PubKeyHash: 111, ScriptHash: 196, WIF: 239, HRP: "emrt"}
)

// AddressKind is the script kind an address encodes.
type AddressKind int

const (
	P2PKH AddressKind = iota + 1
	P2SH
	P2WPKH
	P2WSH
)

func (k AddressKind) String() string {
	switch k {
	case P2PKH:
		return "p2pkh"
	case P2SH:
		return "p2sh"
	case P2WPKH:
		return "p2wpkh"
	case P2WSH:
		return "p2wsh"
	}
	return "unknown"
}

// Address is a decoded address: its kind and hash (20 bytes, or 32 for P2WSH).
type Address struct {
	Kind AddressKind
	Hash []byte
}

// ErrBadAddress is wrapped by DecodeAddress's errors.
var ErrBadAddress = errors.New("invalid emercoin address")

// Hash160 is RIPEMD-160(SHA-256(b)), the key and script hash in addresses.
func Hash160(b []byte) []byte {
	s := sha256.Sum256(b)
	r := ripemd160.New()
	r.Write(s[:])
	return r.Sum(nil)
}

func doubleSHA256(b []byte) []byte {
	a := sha256.Sum256(b)
	c := sha256.Sum256(a[:])
	return c[:]
}

// Encode writes a as an address of network n.
func (n Network) Encode(a Address) (string, error) {
	switch a.Kind {
	case P2PKH, P2SH:
		if len(a.Hash) != 20 {
			return "", fmt.Errorf("%w: %s hash of %d bytes", ErrBadAddress, a.Kind, len(a.Hash))
		}
		v := n.PubKeyHash
		if a.Kind == P2SH {
			v = n.ScriptHash
		}
		return Base58CheckEncode(append([]byte{v}, a.Hash...)), nil
	case P2WPKH, P2WSH:
		want := 20
		if a.Kind == P2WSH {
			want = 32
		}
		if len(a.Hash) != want {
			return "", fmt.Errorf("%w: %s program of %d bytes", ErrBadAddress, a.Kind, len(a.Hash))
		}
		return SegwitEncode(n.HRP, 0, a.Hash)
	}
	return "", fmt.Errorf("%w: kind %d", ErrBadAddress, a.Kind)
}

// Decode parses s as an address of network n: base58check P2PKH/P2SH or bech32 witness v0.
func (n Network) Decode(s string) (Address, error) {
	if strings.HasPrefix(strings.ToLower(s), n.HRP+"1") {
		ver, prog, err := SegwitDecode(n.HRP, s)
		if err != nil {
			return Address{}, err
		}
		if ver != 0 {
			return Address{}, fmt.Errorf("%w: witness version %d (Emercoin 0.19 knows only v0)", ErrBadAddress, ver)
		}
		switch len(prog) {
		case 20:
			return Address{Kind: P2WPKH, Hash: prog}, nil
		case 32:
			return Address{Kind: P2WSH, Hash: prog}, nil
		}
		return Address{}, fmt.Errorf("%w: witness v0 program of %d bytes", ErrBadAddress, len(prog))
	}
	b, err := Base58CheckDecode(s)
	if err != nil {
		return Address{}, err
	}
	if len(b) != 21 {
		return Address{}, fmt.Errorf("%w: %d-byte payload", ErrBadAddress, len(b))
	}
	switch b[0] {
	case n.PubKeyHash:
		return Address{Kind: P2PKH, Hash: b[1:]}, nil
	case n.ScriptHash:
		return Address{Kind: P2SH, Hash: b[1:]}, nil
	}
	return Address{}, fmt.Errorf("%w: version byte %d is not %s's", ErrBadAddress, b[0], n.Name)
}

// ScriptPubKey returns the output script an address pays to.
func (a Address) ScriptPubKey() []byte {
	switch a.Kind {
	case P2PKH:
		return append(append([]byte{0x76, 0xa9, 0x14}, a.Hash...), 0x88, 0xac)
	case P2SH:
		return append(append([]byte{0xa9, 0x14}, a.Hash...), 0x87)
	case P2WPKH, P2WSH:
		return append([]byte{0x00, byte(len(a.Hash))}, a.Hash...)
	}
	return nil
}

// AddressFromScript recognises the four standard output scripts.
func AddressFromScript(s []byte) (Address, bool) {
	switch {
	case len(s) == 25 && s[0] == 0x76 && s[1] == 0xa9 && s[2] == 0x14 && s[23] == 0x88 && s[24] == 0xac:
		return Address{Kind: P2PKH, Hash: bytes.Clone(s[3:23])}, true
	case len(s) == 23 && s[0] == 0xa9 && s[1] == 0x14 && s[22] == 0x87:
		return Address{Kind: P2SH, Hash: bytes.Clone(s[2:22])}, true
	case len(s) == 22 && s[0] == 0 && s[1] == 20:
		return Address{Kind: P2WPKH, Hash: bytes.Clone(s[2:])}, true
	case len(s) == 34 && s[0] == 0 && s[1] == 32:
		return Address{Kind: P2WSH, Hash: bytes.Clone(s[2:])}, true
	}
	return Address{}, false
}

const b58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// Base58CheckEncode appends the 4-byte double-SHA-256 checksum and encodes in base58.
func Base58CheckEncode(payload []byte) string {
	b := append(bytes.Clone(payload), doubleSHA256(payload)[:4]...)
	x := new(big.Int).SetBytes(b)
	var out []byte
	base, mod := big.NewInt(58), new(big.Int)
	for x.Sign() > 0 {
		x.DivMod(x, base, mod)
		out = append(out, b58Alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// Base58CheckDecode decodes s and checks and strips its checksum.
func Base58CheckDecode(s string) ([]byte, error) {
	if len(s) == 0 || len(s) > 128 {
		return nil, fmt.Errorf("%w: base58 length %d", ErrBadAddress, len(s))
	}
	x := new(big.Int)
	base := big.NewInt(58)
	for _, c := range []byte(s) {
		i := strings.IndexByte(b58Alphabet, c)
		if i < 0 {
			return nil, fmt.Errorf("%w: %q is not base58", ErrBadAddress, c)
		}
		x.Mul(x, base)
		x.Add(x, big.NewInt(int64(i)))
	}
	b := x.Bytes()
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	b = append(make([]byte, zeros), b...)
	if len(b) < 5 {
		return nil, fmt.Errorf("%w: base58 payload too short", ErrBadAddress)
	}
	payload, sum := b[:len(b)-4], b[len(b)-4:]
	if !bytes.Equal(doubleSHA256(payload)[:4], sum) {
		return nil, fmt.Errorf("%w: bad checksum", ErrBadAddress)
	}
	return payload, nil
}

// BIP173 bech32.
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

func bech32Polymod(v []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, x := range v {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(x)
		for i := 0; i < 5; i++ {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

func hrpExpand(hrp string) []byte {
	out := make([]byte, 0, 2*len(hrp)+1)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]>>5)
	}
	out = append(out, 0)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]&31)
	}
	return out
}

func convertBits(data []byte, from, to uint, pad bool) ([]byte, bool) {
	acc, bits := uint32(0), uint(0)
	maxv := uint32(1)<<to - 1
	var out []byte
	for _, v := range data {
		if uint32(v)>>from != 0 {
			return nil, false
		}
		acc = acc<<from | uint32(v)
		bits += from
		for bits >= to {
			bits -= to
			out = append(out, byte(acc>>bits&maxv))
		}
	}
	if pad {
		if bits > 0 {
			out = append(out, byte(acc<<(to-bits)&maxv))
		}
	} else if bits >= from || acc<<(to-bits)&maxv != 0 {
		return nil, false
	}
	return out, true
}

// SegwitEncode encodes a witness program as a BIP173 bech32 address.
func SegwitEncode(hrp string, version byte, program []byte) (string, error) {
	d, _ := convertBits(program, 8, 5, true)
	data := append([]byte{version}, d...)
	values := append(hrpExpand(hrp), data...)
	pm := bech32Polymod(append(values, 0, 0, 0, 0, 0, 0)) ^ 1
	var sb strings.Builder
	sb.WriteString(hrp)
	sb.WriteByte('1')
	for _, x := range data {
		sb.WriteByte(bech32Charset[x])
	}
	for i := 0; i < 6; i++ {
		sb.WriteByte(bech32Charset[(pm>>(5*(5-i)))&31])
	}
	return sb.String(), nil
}

// SegwitDecode decodes a BIP173 address of hrp into its witness version and program.
func SegwitDecode(hrp, s string) (byte, []byte, error) {
	if len(s) > 90 {
		return 0, nil, fmt.Errorf("%w: bech32 longer than 90", ErrBadAddress)
	}
	if strings.ToLower(s) != s && strings.ToUpper(s) != s {
		return 0, nil, fmt.Errorf("%w: bech32 mixed case", ErrBadAddress)
	}
	s = strings.ToLower(s)
	pos := strings.LastIndexByte(s, '1')
	if pos < 1 || pos+7 > len(s) {
		return 0, nil, fmt.Errorf("%w: bech32 separator", ErrBadAddress)
	}
	if s[:pos] != hrp {
		return 0, nil, fmt.Errorf("%w: bech32 prefix %q, want %q", ErrBadAddress, s[:pos], hrp)
	}
	data := make([]byte, 0, len(s)-pos-1)
	for _, c := range []byte(s[pos+1:]) {
		i := strings.IndexByte(bech32Charset, c)
		if i < 0 {
			return 0, nil, fmt.Errorf("%w: %q is not bech32", ErrBadAddress, c)
		}
		data = append(data, byte(i))
	}
	if bech32Polymod(append(hrpExpand(hrp), data...)) != 1 {
		return 0, nil, fmt.Errorf("%w: bad bech32 checksum", ErrBadAddress)
	}
	data = data[:len(data)-6]
	if len(data) < 1 {
		return 0, nil, fmt.Errorf("%w: empty witness data", ErrBadAddress)
	}
	prog, ok := convertBits(data[1:], 5, 8, false)
	if !ok || len(prog) < 2 || len(prog) > 40 || data[0] > 16 {
		return 0, nil, fmt.Errorf("%w: bad witness program", ErrBadAddress)
	}
	if data[0] == 0 && len(prog) != 20 && len(prog) != 32 {
		return 0, nil, fmt.Errorf("%w: v0 program of %d bytes", ErrBadAddress, len(prog))
	}
	return data[0], prog, nil
}
