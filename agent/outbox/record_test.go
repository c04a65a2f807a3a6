package outbox

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func samplePart(i byte) Part {
	return Part{
		Key:      PartKey("8944500000000000001", []byte{0x07, 0x91, i}),
		Slot:     int(i),
		ICCID:    "8944500000000000001",
		Storage:  "SM",
		Index:    int(i) + 1,
		PDU:      []byte{0x07, 0x91, i},
		Received: time.Date(2026, 1, 2, 3, 4, 5, int(i), time.UTC),
	}
}

func sampleMessages() []Message {
	p0, p1 := samplePart(0), samplePart(1)
	at := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	return []Message{
		{ID: "ab01", State: Assembled, Slot: 0, ICCID: p0.ICCID, Assembled: at, Parts: []Part{p0}},
		{ID: "ab02", State: Assembled, Slot: 1, ICCID: p0.ICCID, Assembled: at, Meta: []byte("m"), Parts: []Part{p0, p1}},
		{ID: "ab03", State: Sealed, ICCID: p0.ICCID, Assembled: at, Parts: []Part{p0}, Sealed: []byte{1, 2}, SealedAt: at},
		{ID: "ab04", State: Published, ICCID: p0.ICCID, Assembled: at, Parts: []Part{p0}, Sealed: []byte{1}, SealedAt: at, PublishAttempts: 3, LastPublish: at},
		{ID: "ab05", State: Acknowledged, ICCID: p0.ICCID, Assembled: at, SealedAt: at, PublishAttempts: 1, LastPublish: at, Acked: at},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for i := range byte(3) {
		p := samplePart(i)
		got, err := decodePart(p.Key[:], encodePart(&p))
		if err != nil {
			t.Fatalf("decodePart(encodePart(part %d)): %v", i, err)
		}
		if !bytes.Equal(encodePart(&got), encodePart(&p)) || !got.Received.Equal(p.Received) || got.Key != p.Key {
			t.Errorf("part %d: got %+v, want %+v", i, got, p)
		}
	}
	for _, m := range sampleMessages() {
		b := encodeMessage(&m)
		got, err := decodeMessage([]byte(m.ID), b)
		if err != nil {
			t.Fatalf("decodeMessage(encodeMessage(%s)): %v", m.ID, err)
		}
		if !bytes.Equal(encodeMessage(&got), b) || got.State != m.State || len(got.Parts) != len(m.Parts) {
			t.Errorf("message %s: got %+v, want %+v", m.ID, got, m)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	p := samplePart(1)
	good := encodePart(&p)
	m := sampleMessages()[3]
	goodMsg := encodeMessage(&m)
	mutate := func(b []byte, i int, v byte) []byte { b = bytes.Clone(b); b[i] = v; return b }
	// Message header is version, kind, state, slot(1 byte here).
	tests := []struct {
		name string
		key  []byte
		rec  []byte
		part bool
	}{
		{"part empty", p.Key[:], nil, true},
		{"part version 2", p.Key[:], mutate(good, 0, 2), true},
		{"part kind M", p.Key[:], mutate(good, 1, 'M'), true},
		{"part truncated", p.Key[:], good[:len(good)-1], true},
		{"part trailing byte", p.Key[:], append(bytes.Clone(good), 0), true},
		{"part short key", p.Key[:31], good, true},
		{"part non-minimal slot", p.Key[:], append([]byte{1, 'P', 0x81, 0x00}, good[3:]...), true},
		{"part slot out of range", p.Key[:], append([]byte{1, 'P', 0xff, 0x7f}, good[3:]...), true},
		{"part ICCID not printable", p.Key[:], mutate(good, 4, 0), true},
		{"message state 0", []byte(m.ID), mutate(goodMsg, 2, 0), false},
		{"message state 9", []byte(m.ID), mutate(goodMsg, 2, 9), false},
		{"message published claims sealed", []byte(m.ID), mutate(goodMsg, 2, byte(Sealed)), false},
		{"message acknowledged with payload", []byte(m.ID), mutate(goodMsg, 2, byte(Acknowledged)), false},
		{"message uppercase id", []byte("AB04"), goodMsg, false},
		{"message odd id", []byte("ab0"), goodMsg, false},
		{"message trailing byte", []byte(m.ID), append(bytes.Clone(goodMsg), 0), false},
		{"message truncated", []byte(m.ID), goodMsg[:len(goodMsg)-2], false},
		{"message huge length", []byte(m.ID), append([]byte{1, 'M', 3, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, goodMsg[5:]...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.part {
				_, err = decodePart(tt.key, tt.rec)
			} else {
				_, err = decodeMessage(tt.key, tt.rec)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("decode(%x): got error %v, want ErrCorrupt", tt.rec, err)
			}
		})
	}
}

// FuzzDecode checks that the decoders never panic and that whatever they accept is canonical:
// encoding the decoded record gives back exactly the stored bytes, and it passes the checks the
// write path makes.
func FuzzDecode(f *testing.F) {
	p := samplePart(1)
	f.Add(p.Key[:], encodePart(&p))
	for _, m := range sampleMessages() {
		f.Add([]byte(m.ID), encodeMessage(&m))
	}
	f.Add([]byte("00"), []byte{1, 'M'})
	f.Fuzz(func(t *testing.T, key, b []byte) {
		if p, err := decodePart(key, b); err == nil {
			if got := encodePart(&p); !bytes.Equal(got, b) {
				t.Fatalf("part %x: re-encoded as %x", b, got)
			}
			if p.Key != (Key{}) {
				if err := validatePart(&p); err != nil {
					t.Fatalf("part %x decodes but fails validation: %v", b, err)
				}
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodePart error %v does not wrap ErrCorrupt", err)
		}
		if m, err := decodeMessage(key, b); err == nil {
			if got := encodeMessage(&m); !bytes.Equal(got, b) {
				t.Fatalf("message %x: re-encoded as %x", b, got)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeMessage error %v does not wrap ErrCorrupt", err)
		}
	})
}
