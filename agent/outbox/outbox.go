// Package outbox is the agent's durable store of SMS between the SIM and the hub's receipt: the
// place where the "nothing is lost" promise is kept.
//
// It is one bbolt file in the agent's data directory. Every write commits with fsync (bbolt's
// default; NoSync is never set), so when a write method returns nil its effect survives a crash
// or a power cut.
//
// An SMS goes through two levels:
//
//   - Parts (state Received): one record per PDU read from a SIM, keyed by a caller-computed
//     Key (see PartKey). PutPart is durable on return and idempotent: the same key again reports
//     "already had it", so a PDU re-read after a crash between PutPart and AT+CMGD is recognised,
//     and the caller simply deletes it from the SIM again.
//   - Messages: Assemble turns one or more parts into a message (state Assembled) in one
//     transaction, keyed by the caller's deterministic hex message id, keeping copies of the raw
//     PDUs. Seal stores the opaque sealed payload (Sealed); MarkPublished counts publish attempts
//     (Published); Ack, on the hub's receipt, drops the payload (Acknowledged).
//
// Acknowledged messages are kept as small tombstones (id, times, part keys; no PDUs, no
// payload) for Options.AckRetention, default 24 h, so that late or repeated receipts, a
// MarkPublished racing its own receipt, and a PDU re-read from a SIM whose delete failed are all
// recognised instead of producing a second message. Prune removes older tombstones; Open prunes
// too. Receipts for unknown ids are no-ops.
//
// Size is bounded (Options.MaxCount, Options.MaxBytes over parts and unacknowledged messages).
// When full, PutPart returns ErrFull and the caller leaves the SMS on the SIM, which is the
// overflow buffer; Stats reports Full for an alarm. Later stages (Assemble, Seal, …) are never
// refused for size, so the pipeline can always drain.
//
// Records carry a version byte and are decoded strictly. A record that does not decode is moved
// to a quarantine bucket, logged and counted in Stats, and never stops the other records.
//
// The Outbox is safe for concurrent use by many goroutines; concurrent writes are grouped into
// one fsync with bbolt's Batch, each call still returning only after its own commit.
//
// The outbox does not know the message format: sealed payloads and meta are opaque bytes.
package outbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the outbox's file name inside the agent's data directory.
const FileName = "outbox.db"

// formatVersion is stored in the meta bucket; a file with another version is refused.
const formatVersion = 1

var (
	// ErrFull is returned by PutPart when the outbox is at its size limit; leave the SMS on the SIM.
	ErrFull = errors.New("outbox full")
	// ErrNotFound is returned for a message id or part key the outbox does not hold.
	ErrNotFound = errors.New("not in outbox")
	// ErrState is returned for a transition the message's state does not allow.
	ErrState = errors.New("wrong message state")
	// ErrCorrupt is wrapped by errors about records that failed to decode (they are quarantined).
	ErrCorrupt = errCorrupt
	// ErrInvalid is wrapped by errors about invalid arguments.
	ErrInvalid = errors.New("invalid argument")
)

var (
	bucketParts      = []byte("parts")
	bucketMessages   = []byte("messages")
	bucketSeen       = []byte("seen")
	bucketQuarantine = []byte("quarantine")
	bucketMeta       = []byte("meta")

	metaFormat = []byte("format")
	metaCount  = []byte("count")
	metaBytes  = []byte("bytes")
)

// State is where a message is on its way to the hub.
type State uint8

// States in order. Received applies to parts only; the others to messages.
const (
	Received State = iota
	Assembled
	Sealed
	Published
	Acknowledged
)

var stateNames = [...]string{"received", "assembled", "sealed", "published", "acknowledged"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// Key identifies a part: a hash the caller computes from the SIM and the PDU (see PartKey).
type Key [32]byte

// PartKey returns the recommended part key: SHA-256 over a domain prefix, the ICCID and the raw
// PDU. The same PDU read again from the same SIM gets the same key.
func PartKey(iccid string, pdu []byte) Key {
	h := sha256.New()
	h.Write([]byte("ness-sms/outbox/part/v1\x00"))
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(iccid)))])
	h.Write([]byte(iccid))
	h.Write(pdu)
	var k Key
	h.Sum(k[:0])
	return k
}

// Part is one PDU read from a SIM.
type Part struct {
	Key      Key       // caller-computed, e.g. PartKey(ICCID, PDU)
	Slot     int       // slot number, from 0
	ICCID    string    // SIM the PDU was read from; "" when it could not be read
	Storage  string    // SIM/modem storage the PDU was in, e.g. "SM" or "ME"
	Index    int       // index in that storage (for AT+CMGD)
	PDU      []byte    // raw PDU bytes as read with AT+CMGR/AT+CMGL
	Received time.Time // agent clock when read
}

// Message is an SMS assembled from its parts, with its progress towards the hub.
type Message struct {
	ID              string    // lowercase hex, deterministic from the parts
	State           State     // Assembled, Sealed, Published or Acknowledged
	Slot            int       // slot of the first part
	ICCID           string    // SIM of all parts
	Assembled       time.Time // agent clock at Assemble
	Meta            []byte    // opaque caller data given to Assemble
	Parts           []Part    // the raw parts in the order given to Assemble; nil once acknowledged
	Sealed          []byte    // opaque sealed payload; nil before Seal and once acknowledged
	SealedAt        time.Time // agent clock at Seal
	PublishAttempts int       // MarkPublished calls
	LastPublish     time.Time // time given to the last MarkPublished
	Acked           time.Time // agent clock at Ack; zero unless Acknowledged
}

// Options configure an Outbox. The zero value gives the defaults.
type Options struct {
	// MaxCount limits parts plus unacknowledged messages; default 10000, negative means no limit.
	MaxCount int
	// MaxBytes limits the stored size of parts plus unacknowledged messages; default 64 MiB,
	// negative means no limit.
	MaxBytes int64
	// AckRetention is how long acknowledged tombstones are kept; default 24 h, negative means
	// delete on Ack.
	AckRetention time.Duration
	// Now is the agent clock; default time.Now.
	Now func() time.Time
	// Logger receives reports of quarantined records; default discards.
	Logger *slog.Logger
	// LockTimeout is how long Open waits for another process holding the file; default 2 s.
	LockTimeout time.Duration
	// BatchDelay is how long a write waits for others to share its fsync; default 2 ms.
	BatchDelay time.Duration
}

const (
	defaultMaxCount     = 10000
	defaultMaxBytes     = 64 << 20
	defaultAckRetention = 24 * time.Hour
	defaultLockTimeout  = 2 * time.Second
	defaultBatchDelay   = 2 * time.Millisecond
	// fullHeadroom is the size of a large part record: when less than this is left under
	// MaxBytes, Stats reports Full.
	fullHeadroom = maxPDU + 64
)

// Outbox is an open outbox file.
type Outbox struct {
	db        *bolt.DB
	maxCount  int64
	maxBytes  int64
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// Open opens (creating if needed) the outbox file at path, checks every record, quarantines the
// ones that do not decode, recounts the size and prunes old tombstones.
func Open(path string, opts Options) (*Outbox, error) {
	o := &Outbox{
		maxCount:  int64(opts.MaxCount),
		maxBytes:  opts.MaxBytes,
		retention: opts.AckRetention,
		now:       opts.Now,
		log:       opts.Logger,
	}
	switch {
	case o.maxCount == 0:
		o.maxCount = defaultMaxCount
	case o.maxCount < 0:
		o.maxCount = -1
	}
	switch {
	case o.maxBytes == 0:
		o.maxBytes = defaultMaxBytes
	case o.maxBytes < 0:
		o.maxBytes = -1
	}
	if o.retention == 0 {
		o.retention = defaultAckRetention
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	lock := opts.LockTimeout
	if lock <= 0 {
		lock = defaultLockTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lock})
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	db.MaxBatchDelay = opts.BatchDelay
	if db.MaxBatchDelay <= 0 {
		db.MaxBatchDelay = defaultBatchDelay
	}
	o.db = db
	if err := o.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	if _, err := o.Prune(); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	return o, nil
}

// Close closes the file. Every write that returned nil is already on disk.
func (o *Outbox) Close() error {
	if err := o.db.Close(); err != nil {
		return fmt.Errorf("outbox: close: %w", err)
	}
	return nil
}

// init creates the buckets, checks the format, quarantines undecodable records and recounts.
func (o *Outbox) init() error {
	return o.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketParts, bucketMessages, bucketSeen, bucketQuarantine, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(metaFormat); {
		case v == nil:
			if err := meta.Put(metaFormat, []byte{formatVersion}); err != nil {
				return err
			}
		case len(v) != 1 || v[0] != formatVersion:
			return fmt.Errorf("unknown outbox format %x (this agent reads format %d)", v, formatVersion)
		}
		var bad []badRecord
		var count, size int64
		err := tx.Bucket(bucketParts).ForEach(func(k, v []byte) error {
			if _, err := decodePart(k, v); err != nil {
				bad = append(bad, newBad(bucketParts, k, v, err))
				return nil
			}
			count++
			size += int64(len(v))
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			m, err := decodeMessage(k, v)
			if err != nil {
				bad = append(bad, newBad(bucketMessages, k, v, err))
				return nil
			}
			if m.State != Acknowledged {
				count++
				size += int64(len(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketSeen).ForEach(func(k, v []byte) error {
			if len(k) != partKeyLength || checkID(string(v)) != nil {
				bad = append(bad, newBad(bucketSeen, k, v, fmt.Errorf("%w: bad seen entry", errCorrupt)))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := o.moveToQuarantine(tx, bad); err != nil {
			return err
		}
		w := &wtx{tx: tx, meta: meta, count: count, size: size, dirty: true}
		return w.finish()
	})
}

// badRecord is a record that failed to decode, on its way to the quarantine bucket.
type badRecord struct {
	bucket []byte
	key    []byte
	raw    []byte
	err    error
}

func newBad(bucket, k, v []byte, err error) badRecord {
	return badRecord{bucket: bucket, key: bytes.Clone(k), raw: bytes.Clone(v), err: err}
}

// moveToQuarantine moves each bad record, if still unchanged, into the quarantine bucket.
func (o *Outbox) moveToQuarantine(tx *bolt.Tx, bad []badRecord) error {
	q := tx.Bucket(bucketQuarantine)
	now := o.now()
	for _, r := range bad {
		b := tx.Bucket(r.bucket)
		if cur := b.Get(r.key); cur == nil || !bytes.Equal(cur, r.raw) {
			continue // changed or gone since it was read
		}
		if err := b.Delete(r.key); err != nil {
			return fmt.Errorf("quarantine %s/%x: %w", r.bucket, r.key, err)
		}
		qk := append(append(bytes.Clone(r.bucket), 0), r.key...)
		if err := q.Put(qk, encodeQuarantined(r.err.Error(), now, r.raw)); err != nil {
			return fmt.Errorf("quarantine %s/%x: %w", r.bucket, r.key, err)
		}
		o.log.Error("outbox: corrupt record moved to quarantine",
			"bucket", string(r.bucket), "key", fmt.Sprintf("%x", r.key), "bytes", len(r.raw), "err", r.err)
	}
	return nil
}

// quarantineLater moves records found bad by a read-only transaction. Live records that are
// counted in the size are recounted by the write.
func (o *Outbox) quarantineLater(bad []badRecord) {
	if len(bad) == 0 {
		return
	}
	err := o.db.Update(func(tx *bolt.Tx) error {
		w := o.begin(tx)
		for _, r := range bad {
			if cur := tx.Bucket(r.bucket).Get(r.key); cur != nil && bytes.Equal(cur, r.raw) &&
				!bytes.Equal(r.bucket, bucketSeen) {
				// An undecodable record is counted as live: it was when it was written.
				w.add(-1, -int64(len(r.raw)))
			}
		}
		if err := o.moveToQuarantine(tx, bad); err != nil {
			return err
		}
		return w.finish()
	})
	if err != nil {
		o.log.Error("outbox: quarantine failed", "err", err)
	}
}

// wtx is a write transaction with the size counters.
type wtx struct {
	tx                *bolt.Tx
	parts, msgs, seen *bolt.Bucket
	meta              *bolt.Bucket
	count, size       int64
	dirty             bool
}

func (o *Outbox) begin(tx *bolt.Tx) *wtx {
	w := &wtx{
		tx:    tx,
		parts: tx.Bucket(bucketParts),
		msgs:  tx.Bucket(bucketMessages),
		seen:  tx.Bucket(bucketSeen),
		meta:  tx.Bucket(bucketMeta),
	}
	w.count = readCounter(w.meta, metaCount)
	w.size = readCounter(w.meta, metaBytes)
	return w
}

func readCounter(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func (w *wtx) add(count, size int64) {
	w.count += count
	w.size += size
	w.dirty = true
}

func (w *wtx) finish() error {
	if !w.dirty {
		return nil
	}
	w.count = max(w.count, 0)
	w.size = max(w.size, 0)
	if err := w.meta.Put(metaCount, binary.BigEndian.AppendUint64(nil, uint64(w.count))); err != nil {
		return err
	}
	return w.meta.Put(metaBytes, binary.BigEndian.AppendUint64(nil, uint64(w.size)))
}

// wouldOverflow says whether adding one record of n bytes would pass a limit.
func (o *Outbox) wouldOverflow(count, size, n int64) bool {
	return (o.maxCount >= 0 && count+1 > o.maxCount) || (o.maxBytes >= 0 && size+n > o.maxBytes)
}

func (o *Outbox) full(count, size int64) bool {
	return (o.maxCount >= 0 && count >= o.maxCount) || (o.maxBytes >= 0 && size+fullHeadroom > o.maxBytes)
}

func validatePart(p *Part) error {
	switch {
	case p.Slot < 0 || p.Slot > maxSlot:
		return fmt.Errorf("%w: slot %d out of range 0..%d", ErrInvalid, p.Slot, maxSlot)
	case len(p.ICCID) > maxICCID:
		return fmt.Errorf("%w: ICCID %q longer than %d", ErrInvalid, p.ICCID, maxICCID)
	case len(p.Storage) > maxStorage:
		return fmt.Errorf("%w: storage %q longer than %d", ErrInvalid, p.Storage, maxStorage)
	case p.Index < 0 || p.Index > maxIndex:
		return fmt.Errorf("%w: index %d out of range", ErrInvalid, p.Index)
	case len(p.PDU) == 0 || len(p.PDU) > maxPDU:
		return fmt.Errorf("%w: PDU of %d bytes: want 1 to %d", ErrInvalid, len(p.PDU), maxPDU)
	case p.Key == Key{}:
		return fmt.Errorf("%w: zero part key", ErrInvalid)
	}
	for _, s := range []string{p.ICCID, p.Storage} {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x21 || s[i] > 0x7e {
				return fmt.Errorf("%w: %q is not printable ASCII", ErrInvalid, s)
			}
		}
	}
	return nil
}

// PutPart stores a PDU read from a SIM. It returns only after the record is committed to disk,
// so the caller may then delete the SMS from the SIM. added is false, with a nil error, when the
// outbox already had this key (as a part, or inside a message, acknowledged ones included for
// AckRetention): the caller deletes it from the SIM all the same. When the outbox is at its size
// limit it returns ErrFull and nothing is stored: leave the SMS on the SIM and try later.
func (o *Outbox) PutPart(p Part) (added bool, err error) {
	if err := validatePart(&p); err != nil {
		return false, fmt.Errorf("outbox: put part slot %d: %w", p.Slot, err)
	}
	rec := encodePart(&p)
	var full bool
	err = o.db.Batch(func(tx *bolt.Tx) error {
		added, full = false, false
		w := o.begin(tx)
		if w.parts.Get(p.Key[:]) != nil || w.seen.Get(p.Key[:]) != nil {
			return nil
		}
		if o.wouldOverflow(w.count, w.size, int64(len(rec))) {
			full = true
			return nil
		}
		if err := w.parts.Put(p.Key[:], rec); err != nil {
			return err
		}
		w.add(1, int64(len(rec)))
		added = true
		return w.finish()
	})
	switch {
	case err != nil:
		return false, fmt.Errorf("outbox: put part slot %d %s: %w", p.Slot, p.Key, err)
	case full:
		return false, fmt.Errorf("outbox: put part slot %d %s: %w", p.Slot, p.Key, ErrFull)
	}
	return added, nil
}

// Assemble creates message id from the parts with the given keys, in that order, and removes
// those parts, in one transaction. meta is opaque caller data kept with the message. All parts
// must come from the same ICCID; the message's slot is the first part's.
//
// It is idempotent by id: if the message already exists (in any state, acknowledged tombstones
// included), created is false and any of the listed parts still stored are removed, since the
// message already holds them. A key that is neither a stored part nor already in message id is
// an error wrapping ErrNotFound, and nothing changes.
func (o *Outbox) Assemble(id string, keys []Key, meta []byte) (created bool, err error) {
	if err := checkID(id); err != nil {
		return false, fmt.Errorf("outbox: assemble: %w: %v", ErrInvalid, err)
	}
	if len(keys) == 0 || len(keys) > maxParts {
		return false, fmt.Errorf("outbox: assemble %s: %w: %d parts, want 1 to %d", id, ErrInvalid, len(keys), maxParts)
	}
	if len(meta) > maxMeta {
		return false, fmt.Errorf("outbox: assemble %s: %w: meta of %d bytes, max %d", id, ErrInvalid, len(meta), maxMeta)
	}
	set := make(map[Key]bool, len(keys))
	for _, k := range keys {
		if set[k] {
			return false, fmt.Errorf("outbox: assemble %s: %w: part %s listed twice", id, ErrInvalid, k)
		}
		set[k] = true
	}
	now := o.now()
	var bad []badRecord
	err = o.db.Batch(func(tx *bolt.Tx) error {
		created, bad = false, nil
		w := o.begin(tx)
		if w.msgs.Get([]byte(id)) != nil {
			for _, k := range keys {
				if v := w.parts.Get(k[:]); v != nil {
					if err := w.parts.Delete(k[:]); err != nil {
						return err
					}
					w.add(-1, -int64(len(v)))
					if err := w.seen.Put(k[:], []byte(id)); err != nil {
						return err
					}
				}
			}
			return w.finish()
		}
		m := Message{ID: id, State: Assembled, Assembled: now, Meta: bytes.Clone(meta)}
		var freed int64
		for i, k := range keys {
			v := w.parts.Get(k[:])
			if v == nil {
				return fmt.Errorf("part %s: %w", k, ErrNotFound)
			}
			p, err := decodePart(k[:], v)
			if err != nil {
				bad = append(bad, newBad(bucketParts, k[:], v, err))
				return fmt.Errorf("part %s: %w", k, err)
			}
			if i == 0 {
				m.Slot, m.ICCID = p.Slot, p.ICCID
			} else if p.ICCID != m.ICCID {
				return fmt.Errorf("%w: part %s is from ICCID %s, part %s from %s", ErrInvalid, k, p.ICCID, keys[0], m.ICCID)
			}
			m.Parts = append(m.Parts, p)
			freed += int64(len(v))
		}
		rec := encodeMessage(&m)
		if err := w.msgs.Put([]byte(id), rec); err != nil {
			return err
		}
		for _, k := range keys {
			if err := w.parts.Delete(k[:]); err != nil {
				return err
			}
			if err := w.seen.Put(k[:], []byte(id)); err != nil {
				return err
			}
		}
		w.add(1-int64(len(keys)), int64(len(rec))-freed)
		created = true
		return w.finish()
	})
	o.quarantineLater(bad)
	if err != nil {
		return false, fmt.Errorf("outbox: assemble %s: %w", id, err)
	}
	return created, nil
}

// update runs fn on message id in a batched write transaction and stores the result if fn
// reports a change. A record that does not decode is quarantined and reported as ErrCorrupt.
func (o *Outbox) update(op, id string, fn func(m *Message) (changed bool, err error)) error {
	if err := checkID(id); err != nil {
		return fmt.Errorf("outbox: %s: %w: %v", op, ErrInvalid, err)
	}
	var bad []badRecord
	err := o.db.Batch(func(tx *bolt.Tx) error {
		bad = nil
		w := o.begin(tx)
		v := w.msgs.Get([]byte(id))
		if v == nil {
			_, err := fn(nil)
			return err
		}
		m, err := decodeMessage([]byte(id), v)
		if err != nil {
			bad = append(bad, newBad(bucketMessages, []byte(id), v, err))
			return err
		}
		wasLive := m.State != Acknowledged
		keys := m.partKeys()
		changed, err := fn(&m)
		if err != nil || !changed {
			return err
		}
		if wasLive {
			w.add(-1, -int64(len(v)))
		}
		if m.State == Acknowledged && o.retention < 0 {
			if err := deleteMessage(w, id, keys); err != nil {
				return err
			}
			return w.finish()
		}
		rec := encodeMessage(&m)
		if err := w.msgs.Put([]byte(id), rec); err != nil {
			return err
		}
		if m.State != Acknowledged {
			w.add(1, int64(len(rec)))
		}
		return w.finish()
	})
	o.quarantineLater(bad)
	if err != nil {
		return fmt.Errorf("outbox: %s %s: %w", op, id, err)
	}
	return nil
}

// deleteMessage removes message id and the seen entries of its parts.
func deleteMessage(w *wtx, id string, keys []Key) error {
	for _, k := range keys {
		if v := w.seen.Get(k[:]); v != nil && string(v) == id {
			if err := w.seen.Delete(k[:]); err != nil {
				return err
			}
		}
	}
	return w.msgs.Delete([]byte(id))
}

// partKeys returns the keys of the message's parts.
func (m *Message) partKeys() []Key {
	keys := make([]Key, len(m.Parts))
	for i, p := range m.Parts {
		keys[i] = p.Key
	}
	return keys
}

// Seal stores the sealed payload of an assembled message (state Sealed). Sealing a message that
// is Sealed but not yet published replaces its payload (a reseal after a restart); a published
// or acknowledged message is an error wrapping ErrState, because the hub may already hold the
// first payload.
func (o *Outbox) Seal(id string, sealed []byte) error {
	if len(sealed) == 0 || len(sealed) > maxSealed {
		return fmt.Errorf("outbox: seal %s: %w: payload of %d bytes, want 1 to %d", id, ErrInvalid, len(sealed), maxSealed)
	}
	now := o.now()
	return o.update("seal", id, func(m *Message) (bool, error) {
		if m == nil {
			return false, ErrNotFound
		}
		if m.State != Assembled && m.State != Sealed {
			return false, fmt.Errorf("%w: message is %s", ErrState, m.State)
		}
		m.State, m.Sealed, m.SealedAt = Sealed, bytes.Clone(sealed), now
		return true, nil
	})
}

// MarkPublished records a publish attempt at time at (state Published, PublishAttempts+1,
// LastPublish=at). On an acknowledged message it does nothing: the receipt can arrive before
// the publisher records its attempt. An assembled message is an error wrapping ErrState.
func (o *Outbox) MarkPublished(id string, at time.Time) error {
	return o.update("mark published", id, func(m *Message) (bool, error) {
		switch {
		case m == nil:
			return false, ErrNotFound
		case m.State == Acknowledged:
			return false, nil
		case m.State != Sealed && m.State != Published:
			return false, fmt.Errorf("%w: message is %s", ErrState, m.State)
		}
		m.State = Published
		m.PublishAttempts++
		m.LastPublish = at
		if at.IsZero() || at.UnixNano() == 0 {
			m.LastPublish = time.Unix(0, 1)
		}
		return true, nil
	})
}

// Ack records the hub's receipt for message id: the payload and PDUs are dropped and the
// message is kept as an acknowledged tombstone for AckRetention (or deleted at once if that is
// negative). acked says whether this call acknowledged it; a receipt for an unknown or already
// acknowledged id is a no-op with a nil error. The caller verifies the receipt's signature.
func (o *Outbox) Ack(id string) (acked bool, err error) {
	now := o.now()
	if now.IsZero() || now.UnixNano() == 0 {
		now = time.Unix(0, 1)
	}
	err = o.update("ack", id, func(m *Message) (bool, error) {
		acked = false
		if m == nil || m.State == Acknowledged {
			return false, nil
		}
		m.State, m.Acked = Acknowledged, now
		m.Meta, m.Sealed, m.Parts = nil, nil, nil
		acked = true
		return true, nil
	})
	return acked && err == nil, err
}

// Prune deletes acknowledged tombstones older than AckRetention on the agent clock (or more
// than AckRetention in its future, after the clock was set back) with their part-key entries.
// It returns how many it deleted.
func (o *Outbox) Prune() (int, error) {
	now := o.now()
	n := 0
	var bad []badRecord
	err := o.db.Update(func(tx *bolt.Tx) error {
		n, bad = 0, nil
		w := o.begin(tx)
		var old []Message
		err := w.msgs.ForEach(func(k, v []byte) error {
			m, err := decodeMessage(k, v)
			if err != nil {
				bad = append(bad, newBad(bucketMessages, k, v, err))
				return nil
			}
			if m.State != Acknowledged {
				return nil
			}
			age := now.Sub(m.Acked)
			if o.retention < 0 || age >= o.retention || age <= -o.retention {
				old = append(old, m)
			}
			return nil
		})
		if err != nil {
			return err
		}
		gone := make(map[string]bool, len(old))
		for _, m := range old {
			gone[m.ID] = true
			if err := w.msgs.Delete([]byte(m.ID)); err != nil {
				return err
			}
		}
		if len(gone) > 0 {
			var keys [][]byte
			err := w.seen.ForEach(func(k, v []byte) error {
				if gone[string(v)] {
					keys = append(keys, bytes.Clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := w.seen.Delete(k); err != nil {
					return err
				}
			}
		}
		n = len(old)
		return w.finish()
	})
	o.quarantineLater(bad)
	if err != nil {
		return 0, fmt.Errorf("outbox: prune: %w", err)
	}
	return n, nil
}

// Get returns message id. A message that does not exist is an error wrapping ErrNotFound; one
// that does not decode is quarantined and reported with an error wrapping ErrCorrupt.
func (o *Outbox) Get(id string) (Message, error) {
	if err := checkID(id); err != nil {
		return Message{}, fmt.Errorf("outbox: get: %w: %v", ErrInvalid, err)
	}
	var m Message
	var bad []badRecord
	err := o.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMessages).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		m, err = decodeMessage([]byte(id), v)
		if err != nil {
			bad = append(bad, newBad(bucketMessages, []byte(id), v, err))
		}
		return err
	})
	o.quarantineLater(bad)
	if err != nil {
		return Message{}, fmt.Errorf("outbox: get %s: %w", id, err)
	}
	return m, nil
}

// Parts returns the parts not yet assembled, oldest first (by received time, then key), for the
// reassembler to be fed again after a restart.
func (o *Outbox) Parts() ([]Part, error) {
	var parts []Part
	var bad []badRecord
	err := o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketParts).ForEach(func(k, v []byte) error {
			p, err := decodePart(k, v)
			if err != nil {
				bad = append(bad, newBad(bucketParts, k, v, err))
				return nil
			}
			parts = append(parts, p)
			return nil
		})
	})
	o.quarantineLater(bad)
	if err != nil {
		return nil, fmt.Errorf("outbox: parts: %w", err)
	}
	sort.Slice(parts, func(i, j int) bool {
		if !parts[i].Received.Equal(parts[j].Received) {
			return parts[i].Received.Before(parts[j].Received)
		}
		return bytes.Compare(parts[i].Key[:], parts[j].Key[:]) < 0
	})
	return parts, nil
}

// pageSize is how many messages Pending reads per read transaction (a variable for tests).
var pageSize = 128

// Pending iterates over the messages in state s (Assembled, Sealed, Published or Acknowledged)
// in id order. It holds no transaction while the loop body runs, so the body may call Seal,
// MarkPublished or Ack; messages changed during the iteration may or may not be seen. Records
// that do not decode are quarantined and skipped. An error ends the iteration.
func (o *Outbox) Pending(s State) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		if s < Assembled || s > Acknowledged {
			yield(Message{}, fmt.Errorf("outbox: pending: %w: %s is not a message state", ErrInvalid, s))
			return
		}
		var after []byte
		for {
			var page []Message
			var bad []badRecord
			var more bool
			err := o.db.View(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketMessages).Cursor()
				var k, v []byte
				if after == nil {
					k, v = c.First()
				} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
				for ; k != nil; k, v = c.Next() {
					if len(page) == pageSize {
						more = true
						break
					}
					after = bytes.Clone(k)
					if len(v) >= 3 && v[0] == recordVersion && v[1] == kindMessage &&
						v[2] >= byte(Assembled) && v[2] <= byte(Acknowledged) && v[2] != byte(s) {
						continue // another state; records of this state are decoded in full
					}
					m, err := decodeMessage(k, v)
					if err != nil {
						bad = append(bad, newBad(bucketMessages, k, v, err))
						continue
					}
					if m.State == s {
						page = append(page, m)
					}
				}
				return nil
			})
			o.quarantineLater(bad)
			if err != nil {
				yield(Message{}, fmt.Errorf("outbox: pending %s: %w", s, err))
				return
			}
			for _, m := range page {
				if !yield(m, nil) {
					return
				}
			}
			if !more {
				return
			}
		}
	}
}

// DuePublish returns the messages to publish now, oldest assembled first: every Sealed one, and
// every Published one whose last attempt was timeout or more before now (or after now: the clock
// was set back, and a duplicate publish is harmless because the hub deduplicates by id).
func (o *Outbox) DuePublish(now time.Time, timeout time.Duration) ([]Message, error) {
	var due []Message
	for _, s := range []State{Sealed, Published} {
		for m, err := range o.Pending(s) {
			if err != nil {
				return nil, fmt.Errorf("outbox: due publish: %w", err)
			}
			if s == Published {
				age := now.Sub(m.LastPublish)
				if age >= 0 && age < timeout {
					continue
				}
			}
			due = append(due, m)
		}
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].Assembled.Before(due[j].Assembled) })
	return due, nil
}

// Stats is a snapshot of the outbox for status and metrics.
type Stats struct {
	Parts        int // unassembled parts (state Received)
	Assembled    int
	Sealed       int
	Published    int
	Acknowledged int // tombstones kept for AckRetention
	Quarantined  int // records that failed to decode, kept in the quarantine bucket

	Count    int64 // parts plus unacknowledged messages: what MaxCount limits
	Bytes    int64 // stored size of those records: what MaxBytes limits
	MaxCount int64 // -1 when unlimited
	MaxBytes int64 // -1 when unlimited
	// Full is true when PutPart may refuse new parts: raise an alarm, SMS wait on the SIMs.
	Full bool

	Oldest    time.Time     // received time of the oldest part or unacknowledged message's first part
	OldestAge time.Duration // agent clock minus Oldest; 0 when empty
	FileSize  int64         // size of the bbolt file
}

// Stats counts the records by state. It reads every record; the outbox is bounded, and this is
// meant for status pages and metrics scraped every few seconds.
func (o *Outbox) Stats() (Stats, error) {
	st := Stats{MaxCount: o.maxCount, MaxBytes: o.maxBytes}
	var bad []badRecord
	older := func(t time.Time) {
		if !t.IsZero() && (st.Oldest.IsZero() || t.Before(st.Oldest)) {
			st.Oldest = t
		}
	}
	err := o.db.View(func(tx *bolt.Tx) error {
		st.FileSize = tx.Size()
		meta := tx.Bucket(bucketMeta)
		st.Count = readCounter(meta, metaCount)
		st.Bytes = readCounter(meta, metaBytes)
		st.Quarantined = tx.Bucket(bucketQuarantine).Stats().KeyN
		err := tx.Bucket(bucketParts).ForEach(func(k, v []byte) error {
			p, err := decodePart(k, v)
			if err != nil {
				bad = append(bad, newBad(bucketParts, k, v, err))
				return nil
			}
			st.Parts++
			older(p.Received)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			m, err := decodeMessage(k, v)
			if err != nil {
				bad = append(bad, newBad(bucketMessages, k, v, err))
				return nil
			}
			switch m.State {
			case Assembled:
				st.Assembled++
			case Sealed:
				st.Sealed++
			case Published:
				st.Published++
			case Acknowledged:
				st.Acknowledged++
				return nil
			}
			for _, p := range m.Parts {
				older(p.Received)
			}
			return nil
		})
	})
	o.quarantineLater(bad)
	if err != nil {
		return Stats{}, fmt.Errorf("outbox: stats: %w", err)
	}
	st.Quarantined += len(bad)
	st.Full = o.full(st.Count, st.Bytes)
	if !st.Oldest.IsZero() {
		st.OldestAge = max(o.now().Sub(st.Oldest), 0)
	}
	return st, nil
}

// Quarantined is a record that failed to decode, as kept in the quarantine bucket.
type Quarantined struct {
	Bucket string    // bucket it was found in: "parts", "messages" or "seen"
	Key    []byte    // its key there
	Reason string    // the decoding error
	At     time.Time // agent clock when it was moved
	Raw    []byte    // the stored bytes, unchanged
}

// Quarantine lists the quarantined records, for an operator to inspect.
func (o *Outbox) Quarantine() ([]Quarantined, error) {
	var out []Quarantined
	err := o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQuarantine).ForEach(func(k, v []byte) error {
			q := Quarantined{}
			if i := bytes.IndexByte(k, 0); i >= 0 {
				q.Bucket, q.Key = string(k[:i]), bytes.Clone(k[i+1:])
			} else {
				q.Key = bytes.Clone(k)
			}
			var err error
			q.Reason, q.At, q.Raw, err = decodeQuarantined(v)
			if err != nil {
				q.Reason, q.Raw = "unreadable quarantine entry: "+err.Error(), bytes.Clone(v)
			}
			out = append(out, q)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: quarantine: %w", err)
	}
	return out, nil
}

func encodeQuarantined(reason string, at time.Time, raw []byte) []byte {
	e := encoder{}
	e.b = append(e.b, recordVersion, 'Q')
	e.bytes([]byte(reason))
	e.time(at)
	e.bytes(raw)
	return e.b
}

func decodeQuarantined(b []byte) (reason string, at time.Time, raw []byte, err error) {
	d := decoder{b: b}
	d.header('Q')
	reason = string(d.bytes("reason", 1<<16))
	at = d.time("at")
	raw = d.bytes("raw", 1<<30)
	d.end()
	return reason, at, raw, d.err
}
