package modemsim

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/gsm7"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// The encoder is deliberately small: agent/pdu owns PDU handling for the agent, and can replace
// this once it offers an SMS-DELIVER encoder.

var numericAddress = regexp.MustCompile(`^\+?[0-9]{1,20}$`)

// maxParts bounds one injected text; an 8-bit concatenation reference allows 255.
const maxParts = 255

// EncodeDeliver encodes text from the originator from as SMS-DELIVER PDUs as a modem returns
// them in PDU mode: each starts with the SMSC address. Texts that fit the GSM 7-bit alphabet
// (with its extension table) use it, others UCS-2; long texts are split into concatenated parts
// with the 8-bit reference ref. A from of "+digits" is international, digits alone unknown
// type, anything else an alphanumeric sender (up to 11 GSM characters).
func EncodeDeliver(from, text string, scts time.Time, smsc string, ref int) ([][]byte, error) {
	oa, err := originator(from)
	if err != nil {
		return nil, err
	}
	if text == "" {
		return nil, errors.New("text is empty")
	}
	smscAddr := pdumode.SMSCAddress{Address: tpdu.NewAddress(tpdu.FromNumber(smsc))}
	enc := sms.NewEncoder(sms.AsDeliver, sms.WithTemplateOption(tpdu.WithOA(oa)), sms.WithAllCharsets)
	enc.ConcatRef = fixedCounter(ref & 0xff)
	enc.MsgCount = fixedCounter(0)
	tpdus, err := enc.Encode([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("encode text: %w", err)
	}
	if len(tpdus) > maxParts {
		return nil, fmt.Errorf("text needs %d parts, more than %d", len(tpdus), maxParts)
	}
	out := make([][]byte, 0, len(tpdus))
	for i := range tpdus {
		t := &tpdus[i]
		t.FirstOctet |= tpdu.FoMMS // no more messages waiting at the SMSC, as networks send it
		t.SCTS = tpdu.Timestamp{Time: scts}
		b, err := t.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode part %d: %w", i+1, err)
		}
		p := pdumode.PDU{SMSC: smscAddr, TPDU: b}
		full, err := p.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode smsc %q: %w", smsc, err)
		}
		out = append(out, full)
	}
	return out, nil
}

func originator(from string) (tpdu.Address, error) {
	if from == "" {
		return tpdu.Address{}, errors.New("originator is empty")
	}
	if numericAddress.MatchString(from) {
		a := tpdu.NewAddress(tpdu.FromNumber(from))
		if !strings.HasPrefix(from, "+") {
			a.SetTypeOfNumber(tpdu.TonUnknown)
		}
		return a, nil
	}
	if len([]rune(from)) > 11 {
		return tpdu.Address{}, fmt.Errorf("alphanumeric originator %q is longer than 11 characters", from)
	}
	enc := gsm7.NewEncoder().WithExtCharset(nil)
	if _, err := enc.Encode([]byte(from)); err != nil {
		return tpdu.Address{}, fmt.Errorf("alphanumeric originator %q is not in the GSM 7-bit alphabet", from)
	}
	a := tpdu.NewAddress()
	a.SetTypeOfNumber(tpdu.TonAlphanumeric)
	a.SetNumberingPlan(tpdu.NpUnknown)
	a.Addr = from
	return a, nil
}

type fixedCounter int

func (c fixedCounter) Count() int { return int(c) }

// tpduLength is the <length> field of +CMGL/+CMGR/+CMT in PDU mode: octets after the SMSC part.
func tpduLength(pdu []byte) int {
	if len(pdu) == 0 {
		return 0
	}
	n := len(pdu) - 1 - int(pdu[0])
	if n < 0 {
		return 0
	}
	return n
}

// decoded is what text mode shows of a stored PDU.
type decoded struct {
	oa    string
	toa   int
	scts  time.Time
	ucs2  bool
	text  string
	fo    int
	pid   int
	dcs   int
	smsc  string
	tosca int
}

// decodeStored decodes a stored PDU for text mode. A PDU that does not decode is shown with
// empty fields and its TPDU as hex text, as some modules do.
func decodeStored(pdu []byte) decoded {
	var d decoded
	p, err := pdumode.UnmarshalBinary(pdu)
	if err != nil {
		d.text = fmt.Sprintf("%X", pdu)
		return d
	}
	d.smsc, d.tosca = p.SMSC.Number(), int(p.SMSC.TOA)
	t, err := sms.Unmarshal(p.TPDU)
	if err != nil {
		d.text = fmt.Sprintf("%X", p.TPDU)
		return d
	}
	d.oa, d.toa = t.OA.Number(), int(t.OA.TOA)
	d.scts = t.SCTS.Time
	d.fo, d.pid, d.dcs = int(t.FirstOctet), int(t.PID), int(t.DCS)
	alpha, _ := t.Alphabet()
	d.ucs2 = alpha == tpdu.AlphaUCS2
	if b, err := sms.Decode([]*tpdu.TPDU{t}); err == nil {
		d.text = string(b)
	} else {
		d.text = fmt.Sprintf("%X", []byte(t.UD))
	}
	return d
}

// sctsText formats a timestamp as text mode shows it: "yy/MM/dd,hh:mm:ss±zz" (quarter hours).
func sctsText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("%s%s%02d", t.Format("06/01/02,15:04:05"), sign, off/900)
}

// ucs2Hex is the text-mode form of a string under AT+CSCS="UCS2": UTF-16BE as hex.
func ucs2Hex(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	return b.String()
}
