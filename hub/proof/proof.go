// Package proof anchors the hub's delivery receipts on Emercoin: the receipts of one UTC day are
// the leaves of a Merkle tree (RFC 6962 shape: SHA-256 with 0x00 leaf and 0x01 node prefixes,
// so a leaf can never pass for a node), whose root is published as the NVS record
// ness:proofs:sms:<hub id>:<YYYYMMDD> = {"merkle_root","count","period"}. Any renter holding a
// receipt and its inclusion proof can check it against that record without trusting the hub.
package proof

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// Hash is a SHA-256 digest.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText writes h as lowercase hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("%w: hash of %d hex digits, want 64", ErrMalformed, len(b))
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// LeafHash is SHA-256(0x00 ‖ receipt): the leaf for one receipt's exact bytes.
func LeafHash(receipt []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(receipt)
	var out Hash
	h.Sum(out[:0])
	return out
}

func nodeHash(l, r Hash) Hash {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l[:])
	h.Write(r[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

// split is the largest power of two smaller than n (n ≥ 2), RFC 6962's k.
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// Root is the Merkle tree hash of leaves; the root of no leaves is SHA-256 of nothing.
func Root(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return nodeHash(Root(leaves[:k]), Root(leaves[k:]))
}

// Proof is an inclusion proof: the audit path for leaf Index of a tree of Count leaves.
type Proof struct {
	Index int64  `json:"index"`
	Count int64  `json:"count"`
	Path  []Hash `json:"path"`
}

// Prove returns the inclusion proof of leaf i.
func Prove(leaves []Hash, i int) (Proof, error) {
	if i < 0 || i >= len(leaves) {
		return Proof{}, fmt.Errorf("proof: leaf %d of %d", i, len(leaves))
	}
	return Proof{Index: int64(i), Count: int64(len(leaves)), Path: path(leaves, i)}, nil
}

func path(leaves []Hash, i int) []Hash {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if i < k {
		return append(path(leaves[:k], i), Root(leaves[k:]))
	}
	return append(path(leaves[k:], i-k), Root(leaves[:k]))
}

// Errors from verification and decoding.
var (
	ErrMalformed = errors.New("malformed proof record")
	ErrMismatch  = errors.New("receipt not in the anchored tree")
)

// RootFromProof recomputes the root from a leaf and its proof (RFC 9162 §2.1.3.2).
func RootFromProof(leaf Hash, p Proof) (Hash, error) {
	if p.Index < 0 || p.Count <= 0 || p.Index >= p.Count || len(p.Path) > 64 {
		return Hash{}, fmt.Errorf("%w: index %d of %d with %d hashes", ErrMalformed, p.Index, p.Count, len(p.Path))
	}
	fn, sn := uint64(p.Index), uint64(p.Count-1)
	r := leaf
	for _, h := range p.Path {
		if sn == 0 {
			return Hash{}, fmt.Errorf("%w: path too long", ErrMalformed)
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(h, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, h)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return Hash{}, fmt.Errorf("%w: path too short", ErrMalformed)
	}
	return r, nil
}

// Verify checks that receipt is leaf p.Index of the tree with root and p.Count leaves.
func Verify(root Hash, receipt []byte, p Proof) error {
	got, err := RootFromProof(LeafHash(receipt), p)
	if err != nil {
		return err
	}
	if got != root {
		return fmt.Errorf("%w: path gives root %s, anchored root is %s", ErrMismatch, got, root)
	}
	return nil
}

// DecodeProof parses a proof as the hub serves it (JSON).
func DecodeProof(b []byte) (Proof, error) {
	var p Proof
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Proof{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Proof{}, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if p.Index < 0 || p.Count <= 0 || p.Index >= p.Count || len(p.Path) > 64 {
		return Proof{}, fmt.Errorf("%w: index %d of %d with %d hashes", ErrMalformed, p.Index, p.Count, len(p.Path))
	}
	return p, nil
}

// Anchor is the on-chain value of a proofs record.
type Anchor struct {
	MerkleRoot Hash   `json:"merkle_root"`
	Count      int64  `json:"count"`
	Period     string `json:"period"` // "2025-11-13T00:00:00Z/24h"
}

// NamePrefix starts every proofs record.
const NamePrefix = "ness:proofs:sms:"

var hubIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Name is ness:proofs:sms:<hub id>:<YYYYMMDD> for the UTC day holding day.
func Name(hubID string, day time.Time) (string, error) {
	if !hubIDRE.MatchString(hubID) {
		return "", fmt.Errorf("proof: hub id %q: want 1-64 of [a-z0-9._-], starting alphanumeric", hubID)
	}
	return NamePrefix + hubID + ":" + day.UTC().Format("20060102"), nil
}

// Period is the day's period string, "YYYY-MM-DDT00:00:00Z/24h".
func Period(day time.Time) string {
	d := day.UTC()
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).Format(time.RFC3339) + "/24h"
}

// Value encodes the anchor with its keys in the documented order.
func (a Anchor) Value() []byte {
	b, _ := json.Marshal(a)
	return b
}

// ParseAnchor reads an on-chain proofs value.
func ParseAnchor(b []byte) (Anchor, error) {
	var a Anchor
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&a); err != nil {
		return Anchor{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if a.Count < 0 || !strings.HasSuffix(a.Period, "/24h") {
		return Anchor{}, fmt.Errorf("%w: count %d, period %q", ErrMalformed, a.Count, a.Period)
	}
	if _, err := time.Parse(time.RFC3339, strings.TrimSuffix(a.Period, "/24h")); err != nil {
		return Anchor{}, fmt.Errorf("%w: period %q", ErrMalformed, a.Period)
	}
	return a, nil
}

// Tree is one day's receipts in the order they were appended.
type Tree struct {
	leaves []Hash
}

// Add appends a receipt and returns its leaf index.
func (t *Tree) Add(receipt []byte) int {
	t.leaves = append(t.leaves, LeafHash(receipt))
	return len(t.leaves) - 1
}

// Len is the number of receipts.
func (t *Tree) Len() int { return len(t.leaves) }

// Root is the tree's current root.
func (t *Tree) Root() Hash { return Root(t.leaves) }

// Prove returns the inclusion proof of leaf i in the current tree.
func (t *Tree) Prove(i int) (Proof, error) { return Prove(t.leaves, i) }

// Chain is what anchoring needs from emercoin.Chain.
type Chain interface {
	NameShow(ctx context.Context, name string) (emercoin.NameRecord, error)
	NameNew(ctx context.Context, name string, value []byte, days int, toAddress string) (string, error)
}

// AnchorDays is how long a proofs record is kept on chain: ten years.
const AnchorDays = 3650

// Publish anchors t's root for day under hubID and returns the txid. A day is anchored once:
// if the record exists the node's ErrNameExists comes back.
func Publish(ctx context.Context, c Chain, hubID string, day time.Time, t *Tree) (string, error) {
	name, err := Name(hubID, day)
	if err != nil {
		return "", err
	}
	a := Anchor{MerkleRoot: t.Root(), Count: int64(t.Len()), Period: Period(day)}
	txid, err := c.NameNew(ctx, name, a.Value(), AnchorDays, "")
	if err != nil {
		return "", fmt.Errorf("anchor %s: %w", name, err)
	}
	return txid, nil
}

// VerifyReceipt fetches the anchor of day for hubID and checks receipt against it with p.
func VerifyReceipt(ctx context.Context, c Chain, hubID string, day time.Time, receipt []byte, p Proof) (Anchor, error) {
	name, err := Name(hubID, day)
	if err != nil {
		return Anchor{}, err
	}
	rec, err := c.NameShow(ctx, name)
	if err != nil {
		return Anchor{}, fmt.Errorf("read anchor %s: %w", name, err)
	}
	if rec.Deleted {
		return Anchor{}, fmt.Errorf("anchor %s: %w: record deleted", name, ErrMismatch)
	}
	a, err := ParseAnchor(rec.Value)
	if err != nil {
		return Anchor{}, fmt.Errorf("anchor %s: %w", name, err)
	}
	if a.Period != Period(day) {
		return a, fmt.Errorf("anchor %s: %w: period %q, want %q", name, ErrMismatch, a.Period, Period(day))
	}
	if a.Count != p.Count {
		return a, fmt.Errorf("anchor %s: %w: proof is for %d receipts, anchor says %d", name, ErrMismatch, p.Count, a.Count)
	}
	if err := Verify(a.MerkleRoot, receipt, p); err != nil {
		return a, fmt.Errorf("anchor %s: %w", name, err)
	}
	return a, nil
}
