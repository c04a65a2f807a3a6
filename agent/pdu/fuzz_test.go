package pdu

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzDecode checks that no input makes Decode panic or hang, that errors wrap ErrMalformed, and
// that a decoded message is self-consistent. Set NESS_PDU_FUZZ_NORECOVER=1 to let panics from
// inside warthog618/sms through, to see which inputs the recover in Decode is guarding against.
func FuzzDecode(f *testing.F) {
	if os.Getenv("NESS_PDU_FUZZ_NORECOVER") != "" {
		recoverPanics = false
	}
	for _, v := range loadVectors(f).Vectors {
		f.Add(v.bytes(f), true)
	}
	for _, text := range []string{"hi", strings.Repeat("€x", 100), "😀 ok"} {
		pdus, err := EncodeDeliver("+15551234567", text, t0, "+15550000000")
		if err != nil {
			f.Fatal(err)
		}
		for _, b := range pdus {
			f.Add(b, true)
			f.Add(b[1+int(b[0]):], false)
		}
	}
	f.Add([]byte{0x44, 0x03, 0x81, 0x21, 0xf3, 0, 0, 0x21, 0x10, 0x10, 0, 0, 0, 0, 0x01, 0x05, 0, 3, 10, 2, 1}, false)
	f.Fuzz(func(t *testing.T, b []byte, withSMSC bool) {
		m, err := Decode(b, withSMSC)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode returned both a message and %v", err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		switch m.Type {
		case TypeDeliver, TypeSubmit, TypeStatusReport:
		default:
			t.Fatalf("type %q", m.Type)
		}
		if m.Kind == "" || m.Encoding == "" {
			t.Fatalf("kind %q encoding %q", m.Kind, m.Encoding)
		}
		if c := m.Concat; c != nil && (c.Part < 1 || c.Part > c.Total) {
			t.Fatalf("concat %+v out of range", *c)
		}
		if m.SMSC != nil && !withSMSC {
			t.Fatalf("SMSC without withSMSC")
		}
		if m.Type != TypeSubmit && m.Time.IsZero() {
			t.Fatalf("%s without a timestamp", m.Type)
		}
	})
}

// FuzzReassemble drives a Reassembler with an arbitrary sequence of parts (from two long
// messages and one single-part message, possibly repeated, possibly corrupted) and clock steps,
// and checks what it delivers.
func FuzzReassemble(f *testing.F) {
	texts := []string{strings.Repeat("abcdefghij", 50), strings.Repeat("жёлтый 😀 ", 30), "single"}
	type src struct {
		text string
		raw  []byte
		msg  *Message
	}
	var pool []src
	for i, text := range texts {
		e := Encoder{Ref: func() int { return 40 + i }}
		pdus, err := e.EncodeDeliver("+15551234567", text, t0, "")
		if err != nil {
			f.Fatal(err)
		}
		for _, b := range pdus {
			m, err := Decode(b, true)
			if err != nil {
				f.Fatal(err)
			}
			pool = append(pool, src{text, b, m})
		}
	}
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{3, 3, 0xff, 1, 0xfe, 0xfe, 0xfe, 0xfe, 2})
	f.Add([]byte{0x80, 0x81, 0x82, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xfe, 0xff})
	f.Fuzz(func(t *testing.T, ops []byte) {
		now := t0
		r := NewReassembler(time.Minute, func() time.Time { return now })
		check := func(a *Assembled) {
			if a == nil {
				return
			}
			var nums []int
			for _, p := range a.Parts {
				n := 1
				if p.Message.Concat != nil {
					n = p.Message.Concat.Part
				}
				nums = append(nums, n)
			}
			if !slices.IsSorted(nums) || len(slices.Compact(slices.Clone(nums))) != len(nums) {
				t.Fatalf("parts not in strict part order: %v", nums)
			}
			if len(a.Parts)+len(a.Missing) != a.Total || a.Incomplete != (len(a.Missing) > 0) {
				t.Fatalf("%d parts + %d missing != total %d (incomplete %v)", len(a.Parts), len(a.Missing), a.Total, a.Incomplete)
			}
			if !a.Incomplete && a.Parts[0].Key != "corrupt" {
				if want := a.Parts[0].Key; a.Text != want {
					t.Fatalf("complete text %q, want %q", a.Text, want)
				}
			}
		}
		for _, op := range ops {
			switch {
			case op == 0xff:
				for _, a := range r.Expire() {
					check(a)
				}
			case op == 0xfe:
				now = now.Add(20 * time.Second)
			default:
				s := pool[int(op&0x7f)%len(pool)]
				p := Part{Message: s.msg, Raw: s.raw, Key: s.text}
				if op&0x80 != 0 { // a different PDU claiming the same part
					p.Raw = append(slices.Clone(s.raw), op)
					p.Key = "corrupt"
				}
				a, err := r.Add("sim", p)
				if err != nil && !errors.Is(err, ErrDuplicate) {
					t.Fatalf("Add: %v", err)
				}
				check(a)
			}
		}
	})
}
