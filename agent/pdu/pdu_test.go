package pdu

import (
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	plus2 = time.FixedZone("", 2*3600)
	minus = time.FixedZone("", -(5*3600 + 45*60))
	t0    = time.Date(2024, 2, 29, 23, 59, 58, 0, plus2)
)

func decodeAll(t *testing.T, pdus [][]byte) []*Message {
	t.Helper()
	out := make([]*Message, len(pdus))
	for i, b := range pdus {
		m, err := Decode(b, true)
		if err != nil {
			t.Fatalf("Decode(part %d %X): %v", i+1, b, err)
		}
		out[i] = m
	}
	return out
}

func TestEncodeRoundTrip(t *testing.T) {
	long7 := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 9) // 405 chars
	longExt := strings.Repeat("€[]{}", 70)                                      // 700 septets with escapes
	longUCS2 := strings.Repeat("Привет, мир! 👋🏽 ", 20)
	tests := []struct {
		name, from, text, smsc string
		scts                   time.Time
		enc                    Encoding
		parts                  int
	}{
		{"gsm7 short", "+447700900123", "Hello @ £$¥ èéùìò", "+447785016005", t0, EncodingGSM7, 1},
		{"gsm7 160 fits one", "+15551234567", strings.Repeat("a", 160), "", t0, EncodingGSM7, 1},
		{"gsm7 161 needs two", "+15551234567", strings.Repeat("a", 161), "", t0, EncodingGSM7, 2},
		{"extension table", "+15551234567", "€[]{}~\\|^ price 5€", "+15550000000", t0, EncodingGSM7, 1},
		{"national sender", "0123456789", "national", "", t0.In(minus), EncodingGSM7, 1},
		{"alphanumeric sender", "MyBank", "Your code is 123456", "+4915", t0.In(time.UTC), EncodingGSM7, 1},
		{"ucs2 emoji", "+819012345678", "こんにちは 😀🎉", "", t0, EncodingUCS2, 1},
		{"ucs2 70 fits one", "+1555", strings.Repeat("ж", 70), "", t0, EncodingUCS2, 1},
		{"ucs2 71 needs two", "+1555", strings.Repeat("ж", 71), "", t0, EncodingUCS2, 2},
		{"long gsm7", "+15551234567", long7, "+15550000000", t0, EncodingGSM7, 3},
		{"long extension chars", "+15551234567", longExt, "", t0, EncodingGSM7, 5},
		{"long ucs2 with emoji", "+15551234567", longUCS2, "", t0, EncodingUCS2, 6},
		{"empty text", "+15551234567", "", "", t0, EncodingGSM7, 1},
		{"emoji at every split", "+1555", strings.Repeat("x😀", 100), "", t0, EncodingUCS2, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pdus, err := EncodeDeliver(tc.from, tc.text, tc.scts, tc.smsc)
			if err != nil {
				t.Fatalf("EncodeDeliver: %v", err)
			}
			if len(pdus) != tc.parts {
				t.Fatalf("got %d parts, want %d", len(pdus), tc.parts)
			}
			msgs := decodeAll(t, pdus)
			r := NewReassembler(time.Minute, func() time.Time { return t0 })
			var a *Assembled
			for i, m := range msgs {
				if m.Type != TypeDeliver || m.Originator.Number != tc.from || m.Encoding != tc.enc || m.Kind != KindText {
					t.Errorf("part %d: got type %s from %q enc %s kind %s, want deliver from %q enc %s kind text",
						i+1, m.Type, m.Originator.Number, m.Encoding, m.Kind, tc.from, tc.enc)
				}
				if !m.Time.Equal(tc.scts) || m.Time.Format(time.RFC3339) != tc.scts.Format(time.RFC3339) {
					t.Errorf("part %d: time got %s, want %s", i+1, m.Time.Format(time.RFC3339), tc.scts.Format(time.RFC3339))
				}
				if tc.smsc == "" && m.SMSC != nil || tc.smsc != "" && (m.SMSC == nil || m.SMSC.Number != tc.smsc) {
					t.Errorf("part %d: smsc got %v, want %q", i+1, m.SMSC, tc.smsc)
				}
				if (len(pdus) > 1) != (m.Concat != nil) {
					t.Fatalf("part %d: concat %v with %d parts", i+1, m.Concat, len(pdus))
				}
				if m.Concat != nil && (m.Concat.Part != i+1 || m.Concat.Total != len(pdus)) {
					t.Errorf("part %d: concat got %+v", i+1, *m.Concat)
				}
				if len(pdus) > 1 && strings.ContainsRune(m.Text, '\uFFFD') {
					t.Errorf("part %d: a surrogate pair was split: %q", i+1, m.Text)
				}
				if a, err = r.Add("s", Part{Message: m, Raw: pdus[i]}); err != nil {
					t.Fatal(err)
				}
			}
			if a == nil || a.Text != tc.text {
				t.Fatalf("round trip: got %+v, want text %q", a, tc.text)
			}
		})
	}
}

func TestEncode16BitRefAndRefFunc(t *testing.T) {
	e := Encoder{Ref16: true, Ref: func() int { return 0xBEEF }}
	pdus, err := e.EncodeDeliver("+1555", strings.Repeat("b", 200), t0, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range decodeAll(t, pdus) {
		if m.Concat == nil || !m.Concat.Ref16 || m.Concat.Ref != 0xBEEF || m.Concat.Part != i+1 {
			t.Errorf("part %d: got concat %+v, want 16-bit ref 0xBEEF part %d", i+1, m.Concat, i+1)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name, from, text, smsc string
		scts                   time.Time
		want                   string
	}{
		{"empty sender", "", "x", "", t0, "sender"},
		{"sender too long", "ABCDEFGHIJKL", "x", "", t0, "sender"},
		{"sender not GSM", "Bänk€", "x", "", t0, "sender"},
		{"bad smsc", "+1", "x", "+12ab", t0, "SMSC"},
		{"year 2070", "+1", "x", "", time.Date(2070, 1, 1, 0, 0, 0, 0, time.UTC), "year"},
		{"odd zone", "+1", "x", "", time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", 600)), "quarter"},
		{"too many parts", "+1", strings.Repeat("x", 153*256), "", t0, "parts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EncodeDeliver(tc.from, tc.text, tc.scts, tc.smsc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeMalformed(t *testing.T) {
	good := "07919730071111F1000B919746121611F10000811170021222230DC8329BFD6681EE6F399B1C02"
	tests := []struct {
		name, hex string
		noSMSC    bool
		want      string
	}{
		{"empty", "", false, "empty"},
		{"only SMSC", "00", false, "no TPDU"},
		{"SMSC longer than input", "0791973007", false, "SMSC"},
		{"SMSC length absurd", "FF" + strings.Repeat("00", 300), false, "exceeds"},
		{"reserved MTI", "0003", false, "reserved message type"},
		{"truncated originator", "00040B9197", false, "oa"},
		{"truncated before SCTS", good[:16+24], false, "truncated"},
		{"truncated user data", good[:len(good)-4], false, "truncated"},
		{"trailing garbage", good + "00", false, "more octets"},
		{"SCTS month 13", "04038121F3" + "0000" + "21310000000000" + "00", true, "valid date"},
		{"SCTS 30 February", "04038121F3" + "0000" + "21200300000000" + "00", true, "does not exist"},
		{"SCTS not BCD", "04038121F3" + "0000" + "2A100000000000" + "00", true, "scts"},
		{"reserved DCS group", "04038121F3" + "0080" + "21101000000000" + "00", true, "DCS"},
		{"UDH longer than user data", "44038121F3" + "0004" + "21101000000000" + "03" + "080000", true, "udh"},
		{"concat element wrong length", "44038121F3" + "0004" + "21101000000000" + "05" + "04000201" + "41", true, "concatenation element"},
		{"odd UCS-2 length", "04038121F3" + "0008" + "21101000000000" + "03" + "004100", true, "UCS2"},
		{"UDL exceeds data (python-gsmmodem tolerates this one)", "0041010C910661345542F60008A0050003000301306F3044", false, "truncated"},
		{"7-bit UDH longer than UDL septets", "44038121F3" + "0000" + "21101000000000" + "01" + "0500030A0201", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(mustHex(t, tc.hex), !tc.noSMSC)
			if err == nil {
				t.Fatalf("Decode(%s): got %+v, want an error", tc.hex, m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("got %v, want it to wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestDecodeFieldsAndKinds(t *testing.T) {
	// Built field by field from 3GPP TS 23.040; the expected values are what the octets say.
	const oa, scts = "0C91447700090021", "42209232959580" // +447700900012, 2024-02-29 23:59:59 +02:00
	tests := []struct {
		name, tpdu string
		kind       Kind
		check      func(t *testing.T, m *Message)
	}{
		{"plain text", "04" + oa + "0000" + scts + "05C8329BFD06", KindText, func(t *testing.T, m *Message) {
			if m.Text != "Hello" || m.Class != -1 || m.Junk() {
				t.Errorf("got text %q class %d junk %v", m.Text, m.Class, m.Junk())
			}
		}},
		{"class 0 flash is text", "04" + oa + "0010" + scts + "05C8329BFD06", KindText, func(t *testing.T, m *Message) {
			if m.Class != 0 {
				t.Errorf("class: got %d, want 0", m.Class)
			}
		}},
		{"silent type 0", "04" + oa + "4000" + scts + "00", KindSilent, nil},
		{"replace type 1 is text", "04" + oa + "4100" + scts + "05C8329BFD06", KindText, func(t *testing.T, m *Message) {
			if m.ReplaceType != 1 {
				t.Errorf("replace type: got %d, want 1", m.ReplaceType)
			}
		}},
		{"return call", "04" + oa + "5F00" + scts + "05C8329BFD06", KindMessageWaiting, nil},
		{"SIM data download", "04" + oa + "7FF6" + scts + "0100", KindSIMData, nil},
		{"voicemail DCS discard", "04" + oa + "00C8" + scts + "00", KindMessageWaiting, func(t *testing.T, m *Message) {
			if w := m.Waiting; w == nil || w.Type != "voicemail" || !w.Active || !w.Discard {
				t.Errorf("waiting: got %+v, want active voicemail discard", w)
			}
		}},
		{"fax cleared DCS store UCS-2", "04" + oa + "00E1" + scts + "00", KindMessageWaiting, func(t *testing.T, m *Message) {
			if w := m.Waiting; w == nil || w.Type != "fax" || w.Active || w.Discard || m.Encoding != EncodingUCS2 {
				t.Errorf("waiting: got %+v enc %s, want inactive fax store ucs2", w, m.Encoding)
			}
		}},
		{"voicemail UDH count 3", "44" + oa + "0004" + scts + "05" + "0401028003", KindMessageWaiting, func(t *testing.T, m *Message) {
			if w := m.Waiting; w == nil || w.Type != "voicemail" || w.Count != 3 || w.Discard {
				t.Errorf("waiting: got %+v, want voicemail count 3 stored", w)
			}
		}},
		{"WAP push 16-bit port", "44" + oa + "0004" + scts + "09" + "0605040B8423F0" + "0106", KindWAPPush, func(t *testing.T, m *Message) {
			if p := m.Ports; p == nil || p.Dst != 2948 || p.Src != 9200 || p.Bits != 16 {
				t.Errorf("ports: got %+v, want 2948 from 9200", p)
			}
			if m.Text != "" || hex.EncodeToString(m.Data) != "0106" {
				t.Errorf("8-bit: got text %q data %x, want no text and data 0106", m.Text, m.Data)
			}
		}},
		{"8-bit port data", "44" + oa + "0004" + scts + "07" + "0404021020" + "4142", KindPortData, func(t *testing.T, m *Message) {
			if p := m.Ports; p == nil || p.Dst != 0x10 || p.Bits != 8 {
				t.Errorf("ports: got %+v", p)
			}
			if m.Text != "AB" {
				t.Errorf("printable 8-bit text: got %q, want AB", m.Text)
			}
		}},
		{"invalid concat ignored", "44" + oa + "0004" + scts + "08" + "050003070300" + "4142", KindText, func(t *testing.T, m *Message) {
			if m.Concat != nil || len(m.Warnings) == 0 {
				t.Errorf("got concat %+v warnings %q, want ignored with a warning", m.Concat, m.Warnings)
			}
		}},
		{"dangling surrogate", "04" + oa + "0008" + scts + "04D83D0041", KindText, func(t *testing.T, m *Message) {
			if m.Text != "\uFFFDA" {
				t.Errorf("got %q, want replacement char then A", m.Text)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustHex(t, strings.ReplaceAll(tc.tpdu, " ", ""))
			m, err := Decode(b, false)
			if err != nil {
				t.Fatalf("Decode(%X): %v", b, err)
			}
			if m.Kind != tc.kind {
				t.Errorf("kind: got %s, want %s", m.Kind, tc.kind)
			}
			if m.Originator.Number != "+447700900012" {
				t.Errorf("originator: got %q, want +447700900012", m.Originator.Number)
			}
			if got := m.Time.Format(time.RFC3339); got != "2024-02-29T23:59:59+02:00" {
				t.Errorf("time: got %s, want 2024-02-29T23:59:59+02:00", got)
			}
			if m.SMSC != nil {
				t.Errorf("smsc: got %+v, want nil", m.SMSC)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

func TestDecodeStatusReport(t *testing.T) {
	// MR 0x2A, RA +15551234567, SCTS 2024-03-01 10:00:00 +00:00, DT 10:00:05 -05:00, ST 0x00.
	b := mustHex(t, "00"+"062A"+"0B915155214365F7"+"42301001000000"+"4230100100500A"+"00")
	m, err := Decode(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeStatusReport || m.Kind != KindStatusReport || !m.Junk() {
		t.Errorf("got type %s kind %s, want status-report junk", m.Type, m.Kind)
	}
	if m.Reference != 0x2A || m.Recipient.Number != "+15551234567" || m.StatusText() != "delivered" {
		t.Errorf("got ref %d recipient %q status %q", m.Reference, m.Recipient.Number, m.StatusText())
	}
	if got := m.Discharge.Format(time.RFC3339); got != "2024-03-01T10:00:05-05:00" {
		t.Errorf("discharge: got %s, want 2024-03-01T10:00:05-05:00", got)
	}
}

func TestReassembler(t *testing.T) {
	text := strings.Repeat("0123456789", 40) // 3 parts
	pdus, err := (&Encoder{Ref: func() int { return 7 }}).EncodeDeliver("+15551234567", text, t0, "")
	if err != nil || len(pdus) != 3 {
		t.Fatalf("encode: %d parts, %v", len(pdus), err)
	}
	msgs := decodeAll(t, pdus)
	part := func(i int) Part { return Part{Message: msgs[i], Raw: pdus[i], Key: string(rune('a' + i))} }
	now := t0
	clock := func() time.Time { return now }

	t.Run("all orders", func(t *testing.T) {
		for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {2, 0, 1}} {
			r := NewReassembler(time.Minute, clock)
			var a *Assembled
			for _, i := range order {
				if a, err = r.Add("slot0", part(i)); err != nil {
					t.Fatal(err)
				}
			}
			if a == nil || a.Text != text || a.Incomplete || r.Pending() != 0 {
				t.Fatalf("order %v: got %+v pending %d", order, a, r.Pending())
			}
			if keys := []string{a.Parts[0].Key, a.Parts[1].Key, a.Parts[2].Key}; !slices.Equal(keys, []string{"a", "b", "c"}) {
				t.Errorf("order %v: keys got %v, want [a b c]", order, keys)
			}
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		r := NewReassembler(time.Minute, clock)
		r.Add("slot0", part(0))
		if _, err := r.Add("slot0", part(0)); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("same raw part again: got %v, want ErrDuplicate", err)
		}
		other := part(0)
		other.Raw = append(append([]byte{}, other.Raw...), 0) // a different PDU claiming part 1
		other.Key = "x"
		if a, err := r.Add("slot0", other); a != nil || err != nil {
			t.Fatalf("conflicting part: got %v, %v", a, err)
		}
		r.Add("slot0", part(1))
		a, _ := r.Add("slot0", part(2))
		if a == nil || a.Text != text || len(a.Duplicates) != 1 || a.Duplicates[0].Key != "x" {
			t.Fatalf("got %+v, want complete with duplicate x", a)
		}
		if _, err := r.Add("slot0", part(2)); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("part re-read after delivery: got %v, want ErrDuplicate", err)
		}
	})
	t.Run("keys separate sets", func(t *testing.T) {
		r := NewReassembler(time.Minute, clock)
		r.Add("slot0", part(0))
		r.Add("slot1", part(1))
		other := *msgs[2]
		other.Originator.Number = "+19999"
		r.Add("slot0", Part{Message: &other, Raw: pdus[2]})
		if r.Pending() != 3 {
			t.Fatalf("pending: got %d, want 3 sets (different SIM, different originator)", r.Pending())
		}
	})
	t.Run("timeout delivers incomplete", func(t *testing.T) {
		now = t0
		r := NewReassembler(time.Minute, clock)
		r.Add("slot0", part(2))
		r.Add("slot0", part(0))
		if d, ok := r.NextDeadline(); !ok || !d.Equal(t0.Add(time.Minute)) {
			t.Errorf("deadline: got %v %v, want %v", d, ok, t0.Add(time.Minute))
		}
		now = t0.Add(59 * time.Second)
		if got := r.Expire(); len(got) != 0 {
			t.Fatalf("before timeout: got %d delivered, want 0", len(got))
		}
		now = t0.Add(time.Minute)
		got := r.Expire()
		if len(got) != 1 {
			t.Fatalf("at timeout: got %d delivered, want 1", len(got))
		}
		a := got[0]
		want := msgs[0].Text + msgs[2].Text
		if !a.Incomplete || !slices.Equal(a.Missing, []int{2}) || a.Text != want || len(a.Parts) != 2 || a.Parts[0].Key != "a" || a.Parts[1].Key != "c" {
			t.Fatalf("got incomplete %v missing %v parts %d text %q, want missing [2] text %q", a.Incomplete, a.Missing, len(a.Parts), a.Text, want)
		}
		if r.Pending() != 0 {
			t.Errorf("pending after expiry: got %d, want 0", r.Pending())
		}
		now = t0.Add(2 * time.Minute)
		r.Expire()
		if a, err := r.Add("slot0", part(1)); err != nil || a != nil {
			t.Errorf("late part after memory expired: got %v, %v, want a new pending set", a, err)
		}
	})
	t.Run("single part", func(t *testing.T) {
		r := NewReassembler(time.Minute, clock)
		one, _ := EncodeDeliver("Shop", "hi", t0, "")
		m := decodeAll(t, one)[0]
		a, err := r.Add("slot0", Part{Message: m, Raw: one[0], Key: "k"})
		if err != nil || a == nil || a.Text != "hi" || a.Total != 1 || a.Originator.Number != "Shop" {
			t.Fatalf("got %+v, %v", a, err)
		}
	})
}

func TestReassembleSplitSurrogate(t *testing.T) {
	// A sender that splits a surrogate pair across parts (some phones do): the joined text must
	// still hold the emoji.
	mk := func(part int, units string) []byte {
		return mustHex(t, "44"+"0B915155214365F7"+"0008"+"42209232959580"+
			hex.EncodeToString([]byte{byte(6 + len(units)/2)})+"050003AA02"+hex.EncodeToString([]byte{byte(part)})+units)
	}
	p1, p2 := mk(1, "0041D83D"), mk(2, "DE000042")
	r := NewReassembler(time.Minute, func() time.Time { return t0 })
	var a *Assembled
	for i, b := range [][]byte{p2, p1} {
		m, err := Decode(b, false)
		if err != nil {
			t.Fatal(err)
		}
		a, _ = r.Add("s", Part{Message: m, Raw: b, Key: string(rune('0' + i))})
	}
	if a == nil || a.Text != "A😀B" {
		t.Fatalf("got %+v, want text A😀B", a)
	}
}
