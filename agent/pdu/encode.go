package pdu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"time"
	"unicode/utf16"

	"github.com/warthog618/sms/encoding/gsm7"
	"github.com/warthog618/sms/encoding/semioctet"
	"github.com/warthog618/sms/encoding/tpdu"
)

// Encoder builds SMS-DELIVER PDUs as a network would deliver them to a modem. The zero value is
// ready to use.
type Encoder struct {
	// Ref returns the concatenation reference for each multipart message. When nil, the
	// reference is derived from a hash of the sender, text and timestamp, so the same input
	// always gives the same PDUs.
	Ref func() int
	// Ref16 selects 16-bit concatenation references (IEI 0x08) instead of 8-bit (IEI 0x00).
	Ref16 bool
}

// EncodeDeliver is (&Encoder{}).EncodeDeliver.
func EncodeDeliver(from, text string, scts time.Time, smsc string) ([][]byte, error) {
	var e Encoder
	return e.EncodeDeliver(from, text, scts, smsc)
}

// maxParts is the most parts a concatenation element can number.
const maxParts = 255

// EncodeDeliver returns the SMS-DELIVER PDUs, each starting with the SMSC address (a zero length
// octet when smsc is empty), that carry text from the sender from, stamped scts. from is an
// international number with a leading "+", a national number of digits, or an alphanumeric
// sender of at most 11 GSM characters. The text is GSM 7-bit (with the extension table) when it
// can be, else UCS-2; a text too long for one PDU is split into concatenated parts, never inside
// an escape sequence or a surrogate pair. scts must lie in 1970–2069 with a time zone offset in
// whole quarter hours.
func (e *Encoder) EncodeDeliver(from, text string, scts time.Time, smsc string) ([][]byte, error) {
	sc, err := encodeSMSC(smsc)
	if err != nil {
		return nil, err
	}
	oa, err := originatorAddress(from)
	if err != nil {
		return nil, err
	}
	if y := scts.Year(); y < 1970 || y > 2069 {
		return nil, fmt.Errorf("pdu: encode: timestamp year %d outside 1970–2069", y)
	}
	_, off := scts.Zone()
	if off%(15*60) != 0 || off > 14*3600 || off < -14*3600 {
		return nil, fmt.Errorf("pdu: encode: time zone offset %ds is not a whole number of quarter hours within ±14h", off)
	}
	t, err := tpdu.NewDeliver()
	if err != nil {
		return nil, fmt.Errorf("pdu: encode: %w", err)
	}
	t.FirstOctet |= tpdu.FoMMS // no more messages waiting, as SMSCs send it
	t.OA = oa
	t.SCTS = tpdu.Timestamp{Time: scts.Truncate(time.Second)}
	ud, err := gsm7.Encode([]byte(text))
	if err == nil {
		t.DCS = 0x00
	} else {
		t.DCS = tpdu.DcsUCS2Data
		ud = encodeUCS2(text)
	}
	var parts []tpdu.TPDU
	if len(ud) == 0 {
		parts = []tpdu.TPDU{*t}
	} else {
		opts := []tpdu.SegmentationOption{tpdu.WithConcatRef(counter(e.ref(from, text, scts)))}
		if e.Ref16 {
			opts = append(opts, tpdu.With16BitConcatRef)
		}
		parts = t.Segment(ud, opts...)
	}
	if len(parts) > maxParts {
		return nil, fmt.Errorf("pdu: encode: text needs %d parts, more than %d", len(parts), maxParts)
	}
	out := make([][]byte, 0, len(parts))
	for i := range parts {
		b, err := parts[i].MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("pdu: encode part %d: %w", i+1, err)
		}
		out = append(out, append(append([]byte{}, sc...), b...))
	}
	return out, nil
}

type counter int

func (c counter) Count() int { return int(c) }

func (e *Encoder) ref(from, text string, scts time.Time) int {
	if e.Ref != nil {
		return e.Ref()
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s\x00%s\x00%d", from, text, scts.Unix())
	v := int(h.Sum32())
	if e.Ref16 {
		return v & 0xffff
	}
	return v & 0xff
}

func encodeUCS2(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.BigEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// encodeSMSC returns the SMSC address field: length octet, TOA, semi-octets.
func encodeSMSC(smsc string) ([]byte, error) {
	if smsc == "" {
		return []byte{0}, nil
	}
	toa := byte(0x81)
	digits := smsc
	if digits[0] == '+' {
		toa, digits = 0x91, digits[1:]
	}
	if digits == "" || len(digits) > 20 || !allDigits(digits) {
		return nil, fmt.Errorf("pdu: encode: SMSC %q is not a phone number", smsc)
	}
	enc, err := semioctet.Encode([]byte(digits))
	if err != nil {
		return nil, fmt.Errorf("pdu: encode: SMSC %q: %w", smsc, err)
	}
	return append([]byte{byte(1 + len(enc)), toa}, enc...), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CheckOriginator reports whether from can be encoded as an SMS-DELIVER originator (see
// Encoder.EncodeDeliver), so callers can validate a sender before they encode.
func CheckOriginator(from string) error {
	_, err := originatorAddress(from)
	return err
}

var errBadSender = errors.New("not a number or an alphanumeric sender of 1–11 GSM characters")

func originatorAddress(from string) (tpdu.Address, error) {
	switch {
	case len(from) > 1 && from[0] == '+' && allDigits(from[1:]) && len(from) <= 21:
		return tpdu.Address{TOA: 0x91, Addr: from[1:]}, nil
	case from != "" && allDigits(from) && len(from) <= 20:
		return tpdu.Address{TOA: 0x81, Addr: from}, nil
	}
	// Alphanumeric: GSM default alphabet without escapes, at most 11 characters (20 semi-octets
	// hold 80 bits, i.e. 11 septets).
	enc := gsm7.NewEncoder().WithExtCharset(nil)
	sept, err := enc.Encode([]byte(from))
	if from == "" || err != nil || len(sept) > 11 {
		return tpdu.Address{}, fmt.Errorf("pdu: encode: sender %q: %w", from, errBadSender)
	}
	return tpdu.Address{TOA: 0xd0, Addr: from}, nil
}
