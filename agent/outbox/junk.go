package outbox

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Junk: PDUs that never become a message (malformed lines, undecodable PDUs, conflicting
// parts) are kept, raw, in the quarantine bucket under the name "junk", so an operator can
// inspect them (Quarantine) after they were deleted from the SIM. They do not count towards
// MaxCount/MaxBytes (the SIM must drain even when the outbox is full of real SMS); their own
// bound is MaxJunk entries.

// JunkBucket is the Quarantined.Bucket of junk kept by PutJunk.
const JunkBucket = "junk"

// MaxJunk is how many junk entries PutJunk keeps.
const MaxJunk = 1000

// maxJunk is MaxJunk; tests lower it (SetMaxJunk).
var maxJunk = MaxJunk

// maxJunkBytes bounds one junk entry's raw bytes (a garbled line can be long).
const maxJunkBytes = 2048

// ErrJunkFull is returned by PutJunk when MaxJunk entries are kept: the caller logs the bytes
// and deletes the PDU from the SIM anyway (junk must never fill a SIM).
var ErrJunkFull = errors.New("junk quarantine full")

// PutJunk keeps raw bytes that will never become a message (key: the caller's part key,
// reason: what was wrong and where it came from). It returns only after the commit. added is
// false, with a nil error, when the key is already kept. Raw bytes beyond 2 KiB are cut and
// the reason says so.
func (o *Outbox) PutJunk(key Key, raw []byte, reason string) (added bool, err error) {
	if key == (Key{}) {
		return false, fmt.Errorf("outbox: put junk: %w: zero key", ErrInvalid)
	}
	if len(raw) > maxJunkBytes {
		reason = fmt.Sprintf("%s (cut from %d to %d bytes)", reason, len(raw), maxJunkBytes)
		raw = raw[:maxJunkBytes]
	}
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	qk := append(append([]byte(JunkBucket), 0), key[:]...)
	var full bool
	err = o.db.Batch(func(tx *bolt.Tx) error {
		added, full = false, false
		q := tx.Bucket(bucketQuarantine)
		if q.Get(qk) != nil {
			return nil
		}
		if junkCount(q) >= maxJunk {
			full = true
			return nil
		}
		added = true
		return q.Put(qk, encodeQuarantined(reason, o.now(), bytes.Clone(raw)))
	})
	switch {
	case err != nil:
		return false, fmt.Errorf("outbox: put junk %s: %w", key, err)
	case full:
		return false, fmt.Errorf("outbox: put junk %s: %w (%d entries)", key, ErrJunkFull, maxJunk)
	}
	return added, nil
}

// junkCount counts the junk entries (a prefix scan: junk keys sort together).
func junkCount(q *bolt.Bucket) int {
	prefix := append([]byte(JunkBucket), 0)
	n := 0
	c := q.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}
