package outbox

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Record format, version 1. Every value stored in the parts and messages buckets starts with
// a version byte and a kind byte, followed by fields in a fixed order:
//
//	uvarint  unsigned integer, minimal encoding (non-minimal forms are rejected)
//	varint   signed integer (zig-zag), minimal encoding
//	bytes    uvarint length, then that many bytes
//	time     varint Unix nanoseconds; 0 means "no time"
//
//	part     = 0x01 'P' partBody
//	partBody = uvarint slot, bytes ICCID, bytes storage, uvarint index, bytes PDU, time received
//	message  = 0x01 'M' byte state, uvarint slot, bytes ICCID, time assembled, bytes meta,
//	           uvarint nparts, nparts × (32-byte part key, partBody),
//	           bytes sealed, time sealedAt, uvarint publish attempts, time last publish, time acked
//
// The decoder is strict: unknown versions, unknown kinds, out-of-range values, non-minimal
// integers, fields that break a state's invariants and trailing bytes are all errors, so that
// encode(decode(b)) == b for every b that decodes.

const (
	recordVersion = 1
	kindPart      = 'P'
	kindMessage   = 'M'

	// Limits the decoder enforces; generous for real SMS, small enough that a corrupt length
	// never makes the decoder allocate much.
	maxSlot       = 1023
	maxICCID      = 32
	maxStorage    = 8
	maxIndex      = 1 << 20
	maxPDU        = 512
	maxMeta       = 64 << 10
	maxParts      = 255
	maxSealed     = 1 << 20
	maxIDLen      = 128
	maxAttempts   = 1 << 31
	partKeyLength = 32
)

// errCorrupt is wrapped by every decoding error; the exported ErrCorrupt wraps the same value.
var errCorrupt = errors.New("corrupt record")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("%s: truncated", what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string, max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("%s: bad integer", what)
		return 0
	}
	if n != uvarintLen(v) {
		d.fail("%s: non-minimal integer", what)
		return 0
	}
	if v > max {
		d.fail("%s: %d out of range (max %d)", what, v, max)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string, max int) []byte {
	n := d.uvarint(what+" length", uint64(max))
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.fail("%s: truncated (%d bytes, have %d)", what, n, len(d.b))
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b[:n])
	d.b = d.b[n:]
	return out
}

func (d *decoder) text(what string, max int) string {
	b := d.bytes(what, max)
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			d.fail("%s: byte %#x is not printable ASCII", what, c)
			return ""
		}
	}
	return string(b)
}

func (d *decoder) time(what string) time.Time {
	if d.err != nil {
		return time.Time{}
	}
	u := d.uvarint(what, ^uint64(0))
	if d.err != nil {
		return time.Time{}
	}
	n := int64(u>>1) ^ -int64(u&1)
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (d *decoder) fixed(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("%s: truncated", what)
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b[:n])
	d.b = d.b[n:]
	return out
}

func (d *decoder) header(kind byte) {
	v := d.byte1("version")
	if d.err == nil && v != recordVersion {
		d.fail("unknown record version %d", v)
	}
	k := d.byte1("kind")
	if d.err == nil && k != kind {
		d.fail("kind %q, want %q", k, kind)
	}
}

func (d *decoder) end() {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
}

func uvarintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) bytes(b []byte)   { e.uvarint(uint64(len(b))); e.b = append(e.b, b...) }
func (e *encoder) text(s string)    { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) time(t time.Time) { e.b = binary.AppendVarint(e.b, timeNanos(t)) }

func timeNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (e *encoder) partBody(p *Part) {
	e.uvarint(uint64(p.Slot))
	e.text(p.ICCID)
	e.text(p.Storage)
	e.uvarint(uint64(p.Index))
	e.bytes(p.PDU)
	e.time(p.Received)
}

func (d *decoder) partBody(p *Part) {
	p.Slot = int(d.uvarint("slot", maxSlot))
	p.ICCID = d.text("ICCID", maxICCID)
	p.Storage = d.text("storage", maxStorage)
	p.Index = int(d.uvarint("index", maxIndex))
	p.PDU = d.bytes("PDU", maxPDU)
	p.Received = d.time("received")
	if d.err == nil && len(p.PDU) == 0 {
		d.fail("empty PDU")
	}
}

// encodePart returns the stored form of p (without its key, which is the bucket key).
func encodePart(p *Part) []byte {
	e := encoder{b: make([]byte, 0, 64+len(p.PDU))}
	e.b = append(e.b, recordVersion, kindPart)
	e.partBody(p)
	return e.b
}

// decodePart strictly decodes a part record stored under key.
func decodePart(key, b []byte) (Part, error) {
	var p Part
	if len(key) != partKeyLength {
		return p, fmt.Errorf("%w: part key is %d bytes, want %d", errCorrupt, len(key), partKeyLength)
	}
	copy(p.Key[:], key)
	d := decoder{b: b}
	d.header(kindPart)
	d.partBody(&p)
	d.end()
	if d.err != nil {
		return Part{}, d.err
	}
	return p, nil
}

func encodeMessage(m *Message) []byte {
	size := 96 + len(m.Meta) + len(m.Sealed)
	for _, p := range m.Parts {
		size += 64 + len(p.PDU)
	}
	e := encoder{b: make([]byte, 0, size)}
	e.b = append(e.b, recordVersion, kindMessage, byte(m.State))
	e.uvarint(uint64(m.Slot))
	e.text(m.ICCID)
	e.time(m.Assembled)
	e.bytes(m.Meta)
	e.uvarint(uint64(len(m.Parts)))
	for i := range m.Parts {
		e.b = append(e.b, m.Parts[i].Key[:]...)
		e.partBody(&m.Parts[i])
	}
	e.bytes(m.Sealed)
	e.time(m.SealedAt)
	e.uvarint(uint64(m.PublishAttempts))
	e.time(m.LastPublish)
	e.time(m.Acked)
	return e.b
}

// decodeMessage strictly decodes a message record stored under key (its id).
func decodeMessage(key, b []byte) (Message, error) {
	var m Message
	if err := checkID(string(key)); err != nil {
		return m, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	m.ID = string(key)
	d := decoder{b: b}
	d.header(kindMessage)
	m.State = State(d.byte1("state"))
	if d.err == nil && (m.State < Assembled || m.State > Acknowledged) {
		d.fail("unknown state %d", m.State)
	}
	m.Slot = int(d.uvarint("slot", maxSlot))
	m.ICCID = d.text("ICCID", maxICCID)
	m.Assembled = d.time("assembled")
	m.Meta = d.bytes("meta", maxMeta)
	n := d.uvarint("part count", maxParts)
	if d.err == nil && n > 0 {
		m.Parts = make([]Part, 0, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		var p Part
		copy(p.Key[:], d.fixed("part key", partKeyLength))
		d.partBody(&p)
		if d.err == nil && p.ICCID != m.ICCID {
			d.fail("part %d ICCID %q differs from message ICCID %q", i, p.ICCID, m.ICCID)
		}
		m.Parts = append(m.Parts, p)
	}
	m.Sealed = d.bytes("sealed", maxSealed)
	m.SealedAt = d.time("sealed at")
	m.PublishAttempts = int(d.uvarint("publish attempts", maxAttempts))
	m.LastPublish = d.time("last publish")
	m.Acked = d.time("acked")
	d.end()
	if d.err == nil {
		if err := m.checkInvariants(); err != nil {
			d.fail("%v", err)
		}
	}
	if d.err != nil {
		return Message{}, d.err
	}
	if len(m.Meta) == 0 {
		m.Meta = nil
	}
	if len(m.Sealed) == 0 {
		m.Sealed = nil
	}
	return m, nil
}

// checkInvariants says whether the fields fit the message's state.
func (m *Message) checkInvariants() error {
	live := m.State != Acknowledged
	switch {
	case live && len(m.Parts) == 0:
		return fmt.Errorf("%s message without parts", m.State)
	case !live && (len(m.Parts) != 0 || len(m.Sealed) != 0 || len(m.Meta) != 0):
		return errors.New("acknowledged message still holds its payload")
	case !live && m.Acked.IsZero():
		return errors.New("acknowledged message without acknowledgement time")
	case live && !m.Acked.IsZero():
		return fmt.Errorf("%s message with an acknowledgement time", m.State)
	case m.State == Assembled && (len(m.Sealed) != 0 || m.PublishAttempts != 0):
		return errors.New("assembled message already sealed or published")
	case (m.State == Sealed || m.State == Published) && len(m.Sealed) == 0:
		return fmt.Errorf("%s message without sealed payload", m.State)
	case m.State == Sealed && m.PublishAttempts != 0:
		return errors.New("sealed message with publish attempts")
	case m.State == Published && m.PublishAttempts == 0:
		return errors.New("published message without publish attempts")
	}
	return nil
}

// checkID accepts message ids: lowercase hex, 2 to 128 characters, even length.
func checkID(id string) error {
	if len(id) < 2 || len(id) > maxIDLen || len(id)%2 != 0 {
		return fmt.Errorf("message id %q: want 2 to %d lowercase hex digits", id, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("message id %q: want lowercase hex", id)
		}
	}
	return nil
}

// String returns the key as lowercase hex.
func (k Key) String() string { return hex.EncodeToString(k[:]) }
