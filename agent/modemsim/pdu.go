package modemsim

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"

	"github.com/ness-network/ness-sms/agent/pdu"
)

var numericAddress = regexp.MustCompile(`^\+?[0-9]{1,20}$`)

// EncodeDeliver encodes text from the originator from as SMS-DELIVER PDUs as a modem returns
// them in PDU mode: each starts with the SMSC address. It is agent/pdu's encoder (GSM 7-bit with
// the extension table when the text fits, else UCS-2; long texts split into concatenated parts)
// with the 8-bit concatenation reference ref, refusing an empty text as the control API does.
// A from of "+digits" is international, digits alone unknown type, anything else an
// alphanumeric sender (up to 11 GSM characters). scts must lie in 2000–2069 (the years a
// two-digit SCTS year decodes to) with a whole-quarter-hour offset.
func EncodeDeliver(from, text string, scts time.Time, smsc string, ref int) ([][]byte, error) {
	if text == "" {
		return nil, errors.New("text is empty")
	}
	e := pdu.Encoder{Ref: func() int { return ref & 0xff }}
	return e.EncodeDeliver(from, text, scts, smsc)
}

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
