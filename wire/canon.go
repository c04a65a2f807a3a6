package wire

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Domain-separation prefixes. Every signed or hashed protocol byte string starts with exactly
// one of them, so a signature made for one kind can never pass for another, and a raw
// signature from `ness sign` can never pass for a protocol message.
const (
	DomainSMS     = "NESS-SMS/v1/sms\x00"
	DomainCert    = "NESS-SMS/v1/cert\x00"
	DomainLease   = "NESS-SMS/v1/lease\x00"
	DomainReceipt = "NESS-SMS/v1/receipt\x00"
	DomainStatus  = "NESS-SMS/v1/status\x00"
	DomainSignIn  = "NESS-SMS/v1/signin\x00"
	DomainMsgID   = "NESS-SMS/v1/msgid\x00"
	// DomainRoot is the common start of all prefixes, reserved for future kinds.
	DomainRoot = "NESS-SMS/"
)

// DomainPrefixes returns every protocol domain prefix.
func DomainPrefixes() []string {
	return []string{DomainSMS, DomainCert, DomainLease, DomainReceipt, DomainStatus, DomainSignIn, DomainMsgID}
}

// HasDomainPrefix reports whether b starts with a protocol domain prefix or with the reserved
// root "NESS-SMS/" that all present and future prefixes share.
func HasDomainPrefix(b []byte) bool {
	if bytes.HasPrefix(b, []byte(DomainRoot)) {
		return true
	}
	for _, p := range DomainPrefixes() {
		if bytes.HasPrefix(b, []byte(p)) {
			return true
		}
	}
	return false
}

// canonWriter builds canonical bytes: fixed-size fields raw, integers big-endian, variable
// fields as uint32 big-endian length followed by the bytes.
type canonWriter struct{ b []byte }

func newCanon(domain string, size int) *canonWriter {
	w := &canonWriter{b: make([]byte, 0, len(domain)+size)}
	w.b = append(w.b, domain...)
	return w
}

func (w *canonWriter) u8(v uint8)     { w.b = append(w.b, v) }
func (w *canonWriter) u32(v uint32)   { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *canonWriter) u64(v uint64)   { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *canonWriter) i64(v int64)    { w.u64(uint64(v)) }
func (w *canonWriter) i32(v int32)    { w.u32(uint32(v)) }
func (w *canonWriter) raw(b []byte)   { w.b = append(w.b, b...) }
func (w *canonWriter) bytes(b []byte) { w.u32(uint32(len(b))); w.raw(b) }
func (w *canonWriter) str(s string)   { w.u32(uint32(len(s))); w.b = append(w.b, s...) }
func (w *canonWriter) boolean(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

// canonReader parses canonical bytes; the first error sticks and names its field.
type canonReader struct {
	kind string
	b    []byte
	err  error
}

func newCanonReader(kind, domain string, b []byte) *canonReader {
	r := &canonReader{kind: kind, b: b}
	if !strings.HasPrefix(string(b), domain) {
		r.err = fieldErr(kind, "domain", "signed bytes do not start with %q", domain)
		return r
	}
	r.b = b[len(domain):]
	return r
}

func (r *canonReader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = fieldErr(r.kind, field, "truncated: need %d bytes, have %d", n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *canonReader) u8(field string) uint8 {
	if v := r.take(field, 1); v != nil {
		return v[0]
	}
	return 0
}

func (r *canonReader) u32(field string) uint32 {
	if v := r.take(field, 4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *canonReader) u64(field string) uint64 {
	if v := r.take(field, 8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *canonReader) i64(field string) int64 { return int64(r.u64(field)) }

func (r *canonReader) fixed(field string, dst []byte) {
	if v := r.take(field, len(dst)); v != nil {
		copy(dst, v)
	}
}

func (r *canonReader) bytes(field string, max int) []byte {
	n := r.u32(field)
	if r.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		r.err = fieldErr(r.kind, field, "length %d exceeds the limit of %d", n, max)
		return nil
	}
	v := r.take(field, int(n))
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

func (r *canonReader) str(field string, max int) string { return string(r.bytes(field, max)) }

func (r *canonReader) finish() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fieldErr(r.kind, "end", "%d bytes of trailing data", len(r.b))
	}
	return nil
}

func (r *canonReader) fail(field string, err error) {
	if r.err == nil && err != nil {
		r.err = &FieldError{Kind: r.kind, Field: field, Err: err}
	}
}
