// Package chainjob runs the hub's daily proof job: it collects one UTC day's receipts from the
// Store (by hub-stored time), builds the RFC 6962 Merkle tree over them, anchors the root at
// ness:proofs:sms:<hub id>:<YYYYMMDD> with proof.Publish, and keeps the day's leaves in a file
// so an inclusion proof can be served for any message afterwards.
package chainjob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/proof"
	"github.com/ness-network/ness-sms/wire"
)

// Receipts is the part of hub.Store the job reads.
type Receipts interface {
	ListReceipts(ctx context.Context, from, until time.Time) ([]hub.Receipt, error)
	GetReceipt(ctx context.Context, messageID string) (hub.Receipt, error)
}

// Errors callers test with errors.Is.
var (
	ErrNotAnchored = errors.New("day not anchored yet")
	ErrNotInDay    = errors.New("message not in the anchored day")
)

// Day is what the job keeps for one anchored day (one JSON file per day).
type Day struct {
	HubID      string       `json:"hub_id"`
	Day        string       `json:"day"` // YYYYMMDD
	Name       string       `json:"name"`
	TxID       string       `json:"txid,omitempty"` // "" for a day without receipts (nothing anchored)
	MerkleRoot proof.Hash   `json:"merkle_root"`
	MessageIDs []string     `json:"message_ids"`
	Leaves     []proof.Hash `json:"leaves"`
}

// Inclusion is what the hub serves for one message and what `ness verify-receipt --proof`
// reads: the receipt bytes, the day they were anchored under and the audit path.
type Inclusion struct {
	HubID     string      `json:"hub_id"`
	Day       string      `json:"day"` // YYYYMMDD
	Name      string      `json:"name"`
	MessageID string      `json:"message_id"`
	Receipt   []byte      `json:"receipt"` // base64 in JSON
	Proof     proof.Proof `json:"proof"`
}

// ErrMalformedInclusion is DecodeInclusion's error.
var ErrMalformedInclusion = errors.New("malformed inclusion proof")

// DecodeInclusion reads an inclusion proof strictly: known keys only, a day YYYYMMDD, a hub
// id and name that agree with it, a receipt, and a well-formed audit path.
func DecodeInclusion(b []byte) (Inclusion, error) {
	var in Inclusion
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Inclusion{}, fmt.Errorf("%w: %v", ErrMalformedInclusion, err)
	}
	if dec.More() {
		return Inclusion{}, fmt.Errorf("%w: trailing data", ErrMalformedInclusion)
	}
	day, err := in.DayTime()
	if err != nil || dayKey(day) != in.Day {
		return Inclusion{}, fmt.Errorf("%w: day %q is not YYYYMMDD", ErrMalformedInclusion, in.Day)
	}
	name, err := proof.Name(in.HubID, day)
	if err != nil || (in.Name != "" && in.Name != name) {
		return Inclusion{}, fmt.Errorf("%w: hub id %q and name %q", ErrMalformedInclusion, in.HubID, in.Name)
	}
	if len(in.Receipt) == 0 {
		return Inclusion{}, fmt.Errorf("%w: no receipt", ErrMalformedInclusion)
	}
	p := in.Proof
	if p.Index < 0 || p.Count <= 0 || p.Index >= p.Count || len(p.Path) > 64 {
		return Inclusion{}, fmt.Errorf("%w: index %d of %d with %d hashes", ErrMalformedInclusion, p.Index, p.Count, len(p.Path))
	}
	return in, nil
}

// DayTime parses an Inclusion's day.
func (in Inclusion) DayTime() (time.Time, error) { return time.Parse("20060102", in.Day) }

// Job anchors days and answers inclusion proofs. Safe for concurrent use.
type Job struct {
	Store Receipts
	Chain proof.Chain
	HubID string
	Dir   string           // where the day files live (created if missing)
	Now   func() time.Time // nil: time.Now
	Log   *slog.Logger     // nil: discard
	// Grace is how long after UTC midnight the previous day is anchored, so receipts stored
	// just before midnight are in; 0 means 5 minutes.
	Grace time.Duration
	// Interval is how often Run looks for a day to anchor; 0 means 1 minute.
	Interval time.Duration
	// Backfill is how many past days Run anchors when their files are missing; 0 means 7.
	Backfill int

	mu sync.Mutex // serializes Anchor
}

func (j *Job) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

func (j *Job) log() *slog.Logger {
	if j.Log != nil {
		return j.Log
	}
	return slog.New(slog.DiscardHandler)
}

func dayKey(day time.Time) string { return day.UTC().Format("20060102") }

func (j *Job) path(day time.Time) string {
	return filepath.Join(j.Dir, "proofs-"+dayKey(day)+".json")
}

// Load returns the stored data of an anchored day; ErrNotAnchored when there is none.
func (j *Job) Load(day time.Time) (Day, error) {
	b, err := os.ReadFile(j.path(day))
	if errors.Is(err, os.ErrNotExist) {
		return Day{}, fmt.Errorf("proofs %s: %w", dayKey(day), ErrNotAnchored)
	}
	if err != nil {
		return Day{}, fmt.Errorf("proofs %s: %w", dayKey(day), err)
	}
	var d Day
	if err := json.Unmarshal(b, &d); err != nil {
		return Day{}, fmt.Errorf("proofs %s: %w", dayKey(day), err)
	}
	if len(d.Leaves) != len(d.MessageIDs) || proof.Root(d.Leaves) != d.MerkleRoot {
		return Day{}, fmt.Errorf("proofs %s: file does not match its root", dayKey(day))
	}
	return d, nil
}

func (j *Job) save(d Day, day time.Time) error {
	if err := os.MkdirAll(j.Dir, 0o750); err != nil {
		return err
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return wire.WriteFileAtomic(j.path(day), b, 0o640)
}

// Anchor builds day's tree from the receipts stored in [day, day+24h) UTC, anchors it and
// stores it. A day already anchored by this job is returned as it is. When the chain already
// holds the name (an earlier run that crashed before saving), the on-chain root must equal
// the rebuilt one, else the error says so. A day without receipts is stored, not anchored.
func (j *Job) Anchor(ctx context.Context, day time.Time) (Day, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	day = day.UTC().Truncate(24 * time.Hour)
	if d, err := j.Load(day); err == nil {
		return d, nil
	} else if !errors.Is(err, ErrNotAnchored) {
		return Day{}, err
	}
	if end := day.Add(24 * time.Hour); j.now().Before(end) {
		return Day{}, fmt.Errorf("proofs %s: the day ends at %s", dayKey(day), end.Format(time.RFC3339))
	}
	name, err := proof.Name(j.HubID, day)
	if err != nil {
		return Day{}, err
	}
	rs, err := j.Store.ListReceipts(ctx, day, day.Add(24*time.Hour))
	if err != nil {
		return Day{}, fmt.Errorf("proofs %s: %w", dayKey(day), err)
	}
	var t proof.Tree
	d := Day{HubID: j.HubID, Day: dayKey(day), Name: name, MessageIDs: []string{}, Leaves: []proof.Hash{}}
	for _, r := range rs {
		t.Add(r.Signed)
		d.MessageIDs = append(d.MessageIDs, r.MessageID)
		d.Leaves = append(d.Leaves, proof.LeafHash(r.Signed))
	}
	d.MerkleRoot = t.Root()
	if t.Len() > 0 {
		d.TxID, err = proof.Publish(ctx, j.Chain, j.HubID, day, &t)
		if errors.Is(err, emercoin.ErrNameExists) {
			rec, serr := j.Chain.NameShow(ctx, name)
			if serr != nil {
				return Day{}, fmt.Errorf("proofs %s: %w (and reading it: %v)", dayKey(day), err, serr)
			}
			a, perr := proof.ParseAnchor(rec.Value)
			if perr != nil || a.MerkleRoot != d.MerkleRoot || a.Count != int64(t.Len()) {
				return Day{}, fmt.Errorf("proofs %s: %s holds another root (%s) than the %d stored receipts give (%s)",
					dayKey(day), name, a.MerkleRoot, t.Len(), d.MerkleRoot)
			}
			d.TxID, err = rec.TxID, nil
		}
		if err != nil {
			return Day{}, err
		}
	}
	if err := j.save(d, day); err != nil {
		return Day{}, fmt.Errorf("proofs %s: save: %w", dayKey(day), err)
	}
	j.log().Info("anchored day", "day", d.Day, "name", name, "count", len(d.Leaves), "root", d.MerkleRoot, "txid", d.TxID)
	return d, nil
}

// Prove returns the inclusion proof of messageID: its receipt, the day its receipt was stored
// in, and the audit path in that day's tree. ErrNotAnchored until the day is anchored.
func (j *Job) Prove(ctx context.Context, messageID string) (Inclusion, error) {
	r, err := j.Store.GetReceipt(ctx, messageID)
	if err != nil {
		return Inclusion{}, fmt.Errorf("proof of %s: %w", messageID, err)
	}
	day := r.CreatedAt.UTC().Truncate(24 * time.Hour)
	d, err := j.Load(day)
	if err != nil {
		return Inclusion{}, fmt.Errorf("proof of %s: %w", messageID, err)
	}
	for i, id := range d.MessageIDs {
		if id != messageID {
			continue
		}
		if d.Leaves[i] != proof.LeafHash(r.Signed) {
			return Inclusion{}, fmt.Errorf("proof of %s: stored receipt differs from the anchored leaf", messageID)
		}
		p, err := proof.Prove(d.Leaves, i)
		if err != nil {
			return Inclusion{}, err
		}
		return Inclusion{HubID: d.HubID, Day: d.Day, Name: d.Name, MessageID: messageID, Receipt: r.Signed, Proof: p}, nil
	}
	return Inclusion{}, fmt.Errorf("proof of %s: %w %s", messageID, ErrNotInDay, d.Day)
}

// Tick anchors every finished day of the last Backfill days whose file is missing (oldest
// first), once Grace has passed after its end. It returns the first error.
func (j *Job) Tick(ctx context.Context) error {
	grace := j.Grace
	if grace == 0 {
		grace = 5 * time.Minute
	}
	back := j.Backfill
	if back <= 0 {
		back = 7
	}
	today := j.now().UTC().Add(-grace).Truncate(24 * time.Hour)
	for k := back; k >= 1; k-- {
		day := today.AddDate(0, 0, -k)
		if _, err := os.Stat(j.path(day)); err == nil {
			continue
		}
		if _, err := j.Anchor(ctx, day); err != nil {
			return err
		}
	}
	return nil
}

// Run calls Tick every Interval until ctx ends; errors are logged and retried next time.
// It returns nil on cancel.
func (j *Job) Run(ctx context.Context) error {
	every := j.Interval
	if every == 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := j.Tick(ctx); err != nil && ctx.Err() == nil {
			j.log().Warn("proof anchoring failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
