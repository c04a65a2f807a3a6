package emercoin

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// MessageMagic is the prefix Emercoin hashes before a signed message (util/validation.cpp),
// capital C included. It differs from Bitcoin's, so Bitcoin signatures never verify here.
const MessageMagic = "EmerCoin Signed Message:\n"

// Errors from VerifyMessage other than a plain mismatch.
var (
	ErrMalformedSignature = errors.New("malformed signed-message signature")
	ErrAddressNotKey      = errors.New("address does not refer to key, must be p2[w]pkh")
)

func writeCompactSize(b *bytes.Buffer, n uint64) {
	switch {
	case n < 253:
		b.WriteByte(byte(n))
	case n <= 0xffff:
		b.WriteByte(253)
		binary.Write(b, binary.LittleEndian, uint16(n))
	case n <= 0xffffffff:
		b.WriteByte(254)
		binary.Write(b, binary.LittleEndian, uint32(n))
	default:
		b.WriteByte(255)
		binary.Write(b, binary.LittleEndian, n)
	}
}

// MessageHash is SHA256d(compactsize(magic) ‖ magic ‖ compactsize(len msg) ‖ msg).
func MessageHash(message string) [32]byte {
	var b bytes.Buffer
	writeCompactSize(&b, uint64(len(MessageMagic)))
	b.WriteString(MessageMagic)
	writeCompactSize(&b, uint64(len(message)))
	b.WriteString(message)
	first := sha256.Sum256(b.Bytes())
	return sha256.Sum256(first[:])
}

// DecodeSignature parses a base64 65-byte compact signature (header 27 + recid + 4 if
// compressed) and returns the public key it recovers for message.
func DecodeSignature(signature, message string) (*secp256k1.PublicKey, bool, error) {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return nil, false, fmt.Errorf("%w: Malformed base64 encoding", ErrMalformedSignature)
	}
	if len(sig) != 65 {
		return nil, false, fmt.Errorf("%w: %d bytes, want 65", ErrMalformedSignature, len(sig))
	}
	h := MessageHash(message)
	pub, compressed, err := ecdsa.RecoverCompact(sig, h[:])
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformedSignature, err)
	}
	return pub, compressed, nil
}

// VerifyMessage checks an Emercoin signed message offline, as verifymessage does: it recovers
// the key from the signature and compares its hash160 with a P2PKH or P2WPKH address of net.
// A well-formed signature by another key is (false, nil); malformed input is an error.
func VerifyMessage(net Network, address, signature, message string) (bool, error) {
	a, err := net.Decode(address)
	if err != nil {
		return false, err
	}
	if a.Kind != P2PKH && a.Kind != P2WPKH {
		return false, ErrAddressNotKey
	}
	pub, compressed, err := DecodeSignature(signature, message)
	if err != nil {
		if errors.Is(err, ErrMalformedSignature) && !isBase64Error(err) {
			return false, nil // as the node: a signature that recovers no key is just "false"
		}
		return false, err
	}
	var ser []byte
	if compressed {
		ser = pub.SerializeCompressed()
	} else {
		ser = pub.SerializeUncompressed()
	}
	return bytes.Equal(Hash160(ser), a.Hash), nil
}

func isBase64Error(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("Malformed base64"))
}

// SignMessage signs message with key in Emercoin's format (what signmessage returns).
func SignMessage(key *secp256k1.PrivateKey, message string, compressed bool) string {
	h := MessageHash(message)
	return base64.StdEncoding.EncodeToString(ecdsa.SignCompact(key, h[:], compressed))
}

// PubKeyAddress returns the P2PKH (legacy) or P2WPKH (bech32) address of a compressed key.
func PubKeyAddress(net Network, pub *secp256k1.PublicKey, kind AddressKind) (string, error) {
	if kind != P2PKH && kind != P2WPKH {
		return "", fmt.Errorf("%w: a key address is p2pkh or p2wpkh, not %s", ErrBadAddress, kind)
	}
	return net.Encode(Address{Kind: kind, Hash: Hash160(pub.SerializeCompressed())})
}
