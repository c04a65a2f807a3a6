package pdu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/warthog618/sms/encoding/semioctet"
	"github.com/warthog618/sms/encoding/tpdu"
)

// Type is the TPDU type of a decoded PDU.
type Type string

// The PDU types a modem's message storage holds.
const (
	TypeDeliver      Type = "deliver"
	TypeStatusReport Type = "status-report"
	TypeSubmit       Type = "submit"
)

// Encoding is the alphabet of the user data.
type Encoding string

// User data alphabets (3GPP TS 23.038).
const (
	EncodingGSM7 Encoding = "gsm7"
	EncodingUCS2 Encoding = "ucs2"
	Encoding8Bit Encoding = "8bit"
)

// Kind says what a PDU is for. Only KindText is a message for a renter; see Message.Junk.
type Kind string

// Kinds of PDU.
const (
	KindText           Kind = "text"            // a short message for a person
	KindWAPPush        Kind = "wap-push"        // WAP push (UDH destination port 2948/2949): MMS notifications, OTA settings
	KindPortData       Kind = "port-data"       // data to another application port (visual voicemail, apps)
	KindMessageWaiting Kind = "message-waiting" // voicemail/fax/e-mail waiting indication or "return call" message
	KindSilent         Kind = "silent"          // TP-PID "short message type 0": acknowledged and discarded by phones
	KindSIMData        Kind = "sim-data"        // SIM/ME data download (TP-PID 0x7C, 0x7D, 0x7F)
	KindStatusReport   Kind = "status-report"   // delivery report for a message this SIM sent
	KindSubmit         Kind = "submit"          // an outgoing message kept in storage
)

// ErrMalformed is wrapped by every error Decode returns for bad input.
var ErrMalformed = errors.New("malformed PDU")

// Address is a phone number or an alphanumeric sender.
type Address struct {
	// Number is "+" and the digits for international numbers, the digits as they came otherwise,
	// and the decoded text for alphanumeric senders.
	Number string
	// TOA is the type-of-address octet (type of number and numbering plan).
	TOA byte
}

// Alphanumeric reports whether the address is an alphanumeric sender name.
func (a Address) Alphanumeric() bool { return (a.TOA>>4)&0x07 == byte(tpdu.TonAlphanumeric) }

// International reports whether the address is an international number.
func (a Address) International() bool { return (a.TOA>>4)&0x07 == byte(tpdu.TonInternational) }

// String returns a.Number.
func (a Address) String() string { return a.Number }

// Concat is a concatenation information element: part Part of Total of message Ref.
type Concat struct {
	Ref   int
	Part  int
	Total int
	// Ref16 is true when the reference is 16-bit (IEI 0x08), false for 8-bit (IEI 0x00).
	Ref16 bool
}

// Ports is an application port addressing information element.
type Ports struct {
	Dst int `json:"dst"`
	Src int `json:"src"`
	// Bits is 8 or 16, the width of the port numbers.
	Bits int `json:"bits"`
}

// Indication is a message-waiting indication.
type Indication struct {
	// Type is "voicemail", "fax", "email", "videomail" or "other".
	Type string
	// Active is false when the indication clears a previous one.
	Active bool
	// Count is the number of messages waiting, or -1 when the PDU does not say.
	Count int
	// Discard is true when the indication asks the phone not to store the message (DCS group 1100).
	Discard bool
}

// Message is one decoded PDU.
type Message struct {
	Type Type
	// SMSC is the service centre address, nil when the PDU had none (or an empty one).
	SMSC *Address
	// Originator is TP-OA (deliver).
	Originator Address
	// Recipient is TP-DA (submit) or TP-RA (status report).
	Recipient Address
	// Time is TP-SCTS with its time zone offset (deliver, status report); zero for submit.
	Time time.Time
	// Discharge is TP-DT of a status report.
	Discharge time.Time
	// Status is TP-ST of a status report.
	Status byte
	// Reference is TP-MR (submit, status report).
	Reference int
	PID       byte
	DCS       byte
	// Class is the message class 0–3 from the DCS, or -1 when the DCS gives none.
	Class int
	// ReplaceType is 1–7 for the TP-PID "replace short message type n" values, else 0.
	ReplaceType int
	Encoding    Encoding
	// Compressed is set when the DCS says the text is compressed; Text is then empty.
	Compressed bool
	// Text is the message text: GSM 7-bit and UCS-2 decoded, 8-bit data only when it is
	// printable UTF-8.
	Text string
	// Data is the user data after the header for 8-bit (and compressed) messages.
	Data []byte
	// Concat is the concatenation information, nil for a single-part message.
	Concat *Concat
	// Ports is the application port addressing, nil when absent.
	Ports *Ports
	// Waiting is the message-waiting indication, nil when absent.
	Waiting *Indication
	Kind    Kind
	// Warnings lists oddities that did not stop decoding (e.g. an ignored invalid header element).
	Warnings []string

	udh   tpdu.UserDataHeader
	units []byte // GSM 7-bit septets (unpacked) or UCS-2/8-bit octets, after the UDH
}

// Junk reports whether the message is not a text for the renter: the caller logs it, keeps its raw
// bytes and deletes it from the SIM without delivering it.
func (m *Message) Junk() bool { return m.Kind != KindText }

// StatusText describes a status report's TP-ST: "delivered", "pending" or "failed".
func (m *Message) StatusText() string {
	switch {
	case m.Status <= 0x1f:
		return "delivered"
	case m.Status <= 0x3f:
		return "pending"
	default:
		return "failed"
	}
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// recoverPanics is switched off only by the fuzz test, to find out which inputs make the library
// panic.
var recoverPanics = true

// Decode decodes one PDU. With withSMSC the bytes start with the SMSC address length octet, as
// AT+CMGR and AT+CMGL return them in PDU mode; without, they are the bare TPDU.
// Errors wrap ErrMalformed and name the field at fault. Decode never panics.
func Decode(b []byte, withSMSC bool) (m *Message, err error) {
	defer func() {
		if !recoverPanics {
			return
		}
		if r := recover(); r != nil {
			m, err = nil, malformed("decoder failed on inconsistent lengths (%v)", r)
		}
	}()
	m = &Message{Class: -1}
	if withSMSC {
		if len(b) == 0 {
			return nil, malformed("empty input: no SMSC length octet")
		}
		l := int(b[0])
		if len(b) < 1+l {
			return nil, malformed("SMSC address is %d octets but only %d follow", l, len(b)-1)
		}
		if l > 11 {
			return nil, malformed("SMSC address length %d octets exceeds 11", l)
		}
		if l > 0 {
			toa := b[1]
			digits, _, err := semioctet.Decode(make([]byte, 2*(l-1)), b[2:1+l])
			if err != nil {
				return nil, malformed("SMSC address: %v", err)
			}
			a := Address{Number: string(digits), TOA: toa}
			if a.International() && len(digits) > 0 {
				a.Number = "+" + a.Number
			}
			if len(digits) > 0 {
				m.SMSC = &a
			}
		}
		b = b[1+l:]
	}
	if len(b) == 0 {
		return nil, malformed("no TPDU after the SMSC address")
	}
	var t tpdu.TPDU
	fo := b[0]
	switch fo & 0x03 {
	case 0:
		m.Type, t.Direction = TypeDeliver, tpdu.MT
	case 1:
		m.Type, t.Direction = TypeSubmit, tpdu.MO
	case 2:
		m.Type, t.Direction = TypeStatusReport, tpdu.MT
	default:
		return nil, malformed("first octet 0x%02x: reserved message type indicator 3", fo)
	}
	if err := t.UnmarshalBinary(b); err != nil {
		return nil, malformed("%s: %v", m.Type, explain(err))
	}
	m.PID, m.DCS = t.PID, byte(t.DCS)
	switch m.Type {
	case TypeDeliver:
		m.Originator = address(t.OA)
		// TP-SCTS follows first octet, TP-OA, TP-PID and TP-DCS.
		off := 1 + 2 + (int(b[1])+1)/2 + 2
		if m.Time, err = timestamp(b, off, "SCTS"); err != nil {
			return nil, err
		}
	case TypeSubmit:
		m.Recipient = address(t.DA)
		m.Reference = int(t.MR)
	case TypeStatusReport:
		m.Recipient = address(t.RA)
		m.Reference = int(t.MR)
		m.Status = t.ST
		off := 2 + 2 + (int(b[2])+1)/2
		if m.Time, err = timestamp(b, off, "SCTS"); err != nil {
			return nil, err
		}
		if m.Discharge, err = timestamp(b, off+7, "discharge time"); err != nil {
			return nil, err
		}
	}
	if err := m.userData(&t); err != nil {
		return nil, err
	}
	m.classify()
	return m, nil
}

// explain turns the library's errors into words a log reader can act on.
func explain(err error) string {
	var de tpdu.DecodeError
	if errors.As(err, &de) {
		field := de.Field
		switch {
		case errors.Is(de.Err, tpdu.ErrUnderflow):
			return fmt.Sprintf("%s truncated at octet %d", field, de.Offset)
		case errors.Is(de.Err, tpdu.ErrOverlength):
			return fmt.Sprintf("%s: more octets than its length says (at octet %d)", field, de.Offset)
		}
	}
	return err.Error()
}

func address(a tpdu.Address) Address {
	out := Address{Number: a.Addr, TOA: a.TOA}
	if out.International() && a.Addr != "" {
		out.Number = "+" + a.Addr
	}
	return out
}

// timestamp decodes the 7-octet semi-octet timestamp at b[off:], checking every field's range
// (the library would silently normalise 31 February to March).
func timestamp(b []byte, off int, what string) (time.Time, error) {
	if off < 0 || len(b) < off+7 {
		return time.Time{}, malformed("%s truncated", what)
	}
	raw := b[off : off+7]
	var f [6]int
	for i := range f {
		lo, hi := raw[i]&0x0f, raw[i]>>4
		if lo > 9 || hi > 9 {
			return time.Time{}, malformed("%s octet %d (0x%02x) is not a BCD digit pair", what, i+1, raw[i])
		}
		f[i] = int(lo)*10 + int(hi)
	}
	tzLo, tzHi := raw[6]&0x07, raw[6]>>4
	if tzHi > 9 {
		return time.Time{}, malformed("%s time zone octet 0x%02x is not BCD", what, raw[6])
	}
	q := int(tzLo)*10 + int(tzHi)
	if q > 14*4 {
		return time.Time{}, malformed("%s time zone offset %d quarter hours is out of range", what, q)
	}
	if raw[6]&0x08 != 0 {
		q = -q
	}
	year := 2000 + f[0]
	if f[0] >= 70 {
		year = 1900 + f[0]
	}
	mon, day, h, mi, s := f[1], f[2], f[3], f[4], f[5]
	if mon < 1 || mon > 12 || day < 1 || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, malformed("%s %02d-%02d-%02d %02d:%02d:%02d is not a valid date and time", what, f[0], mon, day, h, mi, s)
	}
	loc := time.UTC
	if q != 0 {
		loc = time.FixedZone("", q*15*60)
	}
	t := time.Date(year, time.Month(mon), day, h, mi, s, 0, loc)
	if t.Day() != day {
		return time.Time{}, malformed("%s day %d does not exist in %d-%02d", what, day, year, mon)
	}
	return t, nil
}

// userData reads the DCS, the header elements and the text.
func (m *Message) userData(t *tpdu.TPDU) error {
	d := m.DCS
	var alpha tpdu.Alphabet
	switch {
	case d&0x80 == 0: // 0xxx: general data coding, incl. automatic deletion group
		m.Compressed = d&0x20 != 0
		if d&0x10 != 0 {
			m.Class = int(d & 0x03)
		}
		alpha = tpdu.Alphabet((d >> 2) & 0x03)
		if alpha == tpdu.AlphaReserved {
			alpha = tpdu.Alpha7Bit
		}
	case d&0xf0 == 0xc0, d&0xf0 == 0xd0, d&0xf0 == 0xe0: // message waiting groups
		alpha = tpdu.Alpha7Bit
		if d&0xf0 == 0xe0 {
			alpha = tpdu.AlphaUCS2
		}
		m.Waiting = &Indication{Type: waitingType(d & 0x03), Active: d&0x08 != 0, Count: -1, Discard: d&0xf0 == 0xc0}
	case d&0xf0 == 0xf0:
		m.Class = int(d & 0x03)
		alpha = tpdu.Alpha7Bit
		if d&0x04 != 0 {
			alpha = tpdu.Alpha8Bit
		}
	default:
		return malformed("DCS 0x%02x: reserved coding group", d)
	}
	switch alpha {
	case tpdu.Alpha7Bit:
		m.Encoding = EncodingGSM7
	case tpdu.AlphaUCS2:
		m.Encoding = EncodingUCS2
	default:
		m.Encoding = Encoding8Bit
	}
	switch {
	case m.PID >= 0x41 && m.PID <= 0x47:
		m.ReplaceType = int(m.PID - 0x40)
	}
	m.udh = t.UDH
	m.units = t.UD
	for _, ie := range t.UDH {
		switch ie.ID {
		case 0x00, 0x08:
			if m.Concat != nil {
				m.warn("second concatenation element 0x%02x ignored", ie.ID)
				continue
			}
			want := 3
			if ie.ID == 0x08 {
				want = 4
			}
			if len(ie.Data) != want {
				return malformed("UDH concatenation element 0x%02x has %d octets, want %d", ie.ID, len(ie.Data), want)
			}
			c := Concat{Ref: int(ie.Data[0]), Total: int(ie.Data[1]), Part: int(ie.Data[2])}
			if ie.ID == 0x08 {
				c = Concat{Ref: int(binary.BigEndian.Uint16(ie.Data)), Total: int(ie.Data[2]), Part: int(ie.Data[3]), Ref16: true}
			}
			if c.Total == 0 || c.Part == 0 || c.Part > c.Total {
				// 3GPP TS 23.040 9.2.3.24.1: the receiving entity ignores such an element.
				m.warn("concatenation element part %d of %d ignored", c.Part, c.Total)
				continue
			}
			m.Concat = &c
		case 0x04, 0x05:
			want := 2
			if ie.ID == 0x05 {
				want = 4
			}
			if len(ie.Data) != want {
				return malformed("UDH port element 0x%02x has %d octets, want %d", ie.ID, len(ie.Data), want)
			}
			if ie.ID == 0x04 {
				m.Ports = &Ports{Dst: int(ie.Data[0]), Src: int(ie.Data[1]), Bits: 8}
			} else {
				m.Ports = &Ports{Dst: int(binary.BigEndian.Uint16(ie.Data)), Src: int(binary.BigEndian.Uint16(ie.Data[2:])), Bits: 16}
			}
		case 0x01:
			if len(ie.Data) != 2 {
				return malformed("UDH special message indication has %d octets, want 2", len(ie.Data))
			}
			m.Waiting = &Indication{Type: waitingType(ie.Data[0] & 0x03), Active: ie.Data[1] > 0, Count: int(ie.Data[1]), Discard: ie.Data[0]&0x80 == 0}
			if (ie.Data[0]>>2)&0x07 == 1 && ie.Data[0]&0x03 == 3 {
				m.Waiting.Type = "videomail"
			}
		}
	}
	if m.Compressed {
		m.Data = append([]byte(nil), m.units...)
		m.warn("compressed user data is not decoded")
		return nil
	}
	switch m.Encoding {
	case EncodingGSM7:
		txt, err := tpdu.DecodeUserData(m.units, m.udh, tpdu.Alpha7Bit, tpdu.WithAllCharsets)
		if err != nil {
			return malformed("GSM 7-bit text: %v", err)
		}
		m.Text = string(txt)
	case EncodingUCS2:
		m.Text = decodeUCS2(m.units)
	case Encoding8Bit:
		m.Data = append([]byte{}, m.units...)
		if printable(m.units) {
			m.Text = string(m.units)
		}
	}
	return nil
}

func waitingType(b byte) string {
	return [...]string{"voicemail", "fax", "email", "other"}[b&0x03]
}

func (m *Message) warn(format string, args ...any) {
	m.Warnings = append(m.Warnings, fmt.Sprintf(format, args...))
}

// decodeUCS2 decodes big-endian UTF-16, joining surrogate pairs; an unpaired surrogate becomes
// U+FFFD rather than an error, so one bad code unit does not lose the message.
func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// printable reports whether b is non-empty UTF-8 text without control characters other than
// tab, CR and LF.
func printable(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

// classify sets m.Kind; see the package documentation for the policy.
func (m *Message) classify() {
	switch {
	case m.Type == TypeStatusReport:
		m.Kind = KindStatusReport
	case m.Type == TypeSubmit:
		m.Kind = KindSubmit
	case m.PID == 0x7c || m.PID == 0x7d || m.PID == 0x7f:
		m.Kind = KindSIMData
	case m.PID == 0x40:
		m.Kind = KindSilent
	case m.Ports != nil && (m.Ports.Dst == 2948 || m.Ports.Dst == 2949):
		m.Kind = KindWAPPush
	case m.Ports != nil:
		m.Kind = KindPortData
	case m.Waiting != nil || m.PID == 0x5f:
		m.Kind = KindMessageWaiting
	default:
		m.Kind = KindText
	}
}
