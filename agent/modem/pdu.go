package modem

import (
	"errors"
	"fmt"
	"strings"
)

// MaxPDULen is the longest PDU accepted, in octets: a 12-octet SMSC address
// field plus the largest TPDU (176 octets, an SMS-SUBMIT with 140 octets of
// user data), rounded up for modems that pad.
const MaxPDULen = 200

// Message status in PDU mode (3GPP TS 27.005 §3.1 <stat>).
const (
	StatusReceivedUnread = 0
	StatusReceivedRead   = 1
	StatusStoredUnsent   = 2
	StatusStoredSent     = 3
	StatusAll            = 4
)

// StoredPDU is one message in modem storage, as AT+CMGL or AT+CMGR return it.
type StoredPDU struct {
	// Index is the storage location, for Read and Delete.
	Index int
	// Status is StatusReceivedUnread … StatusStoredSent.
	Status int
	// PDU is the raw PDU: the SMSC address field (starting with its length
	// octet) followed by the TPDU, exactly as the modem sent it. Nil when Err
	// is set.
	PDU []byte
	// Length is the TPDU length the modem announced (octets, SMSC excluded).
	Length int
	// Storage is the memory the message was read from ("SM", "ME", …).
	Storage string
	// Raw is the PDU line as received; kept so a malformed message can be
	// reported before it is deleted.
	Raw string
	// Err is set when the PDU line was missing or malformed. The entry still
	// carries Index so the caller can report it and delete it.
	Err error
}

var errNotHex = errors.New("not hexadecimal")

// DecodeHex decodes one PDU line strictly: an even number of hexadecimal
// digits (either case), at least one octet and at most MaxPDULen.
func DecodeHex(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty PDU")
	}
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("odd number of hex digits (%d)", len(s))
	}
	if len(s)/2 > MaxPDULen {
		return nil, fmt.Errorf("PDU of %d octets exceeds %d", len(s)/2, MaxPDULen)
	}
	out := make([]byte, len(s)/2)
	for i := 0; i < len(out); i++ {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: %q at offset %d", errNotHex, s[2*i:2*i+2], 2*i)
		}
		out[i] = hi<<4 | lo
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// DecodeStoredPDU decodes a PDU line and checks it against the TPDU length the
// modem announced: the first octet is the SMSC field length L, so the line
// must hold exactly 1+L+tpduLen octets.
func DecodeStoredPDU(line string, tpduLen int) ([]byte, error) {
	b, err := DecodeHex(line)
	if err != nil {
		return nil, err
	}
	smsc := int(b[0])
	if smsc > 11 {
		return nil, fmt.Errorf("SMSC field length %d exceeds 11", smsc)
	}
	if want := 1 + smsc + tpduLen; len(b) != want {
		return nil, fmt.Errorf("PDU has %d octets, want %d (1+%d SMSC + %d TPDU)", len(b), want, smsc, tpduLen)
	}
	return b, nil
}

// parseStat accepts the PDU mode number and, leniently, the text mode words
// some firmware sends even in PDU mode.
func parseStat(f field) (int, error) {
	switch strings.ToUpper(f.Value) {
	case "REC UNREAD":
		return StatusReceivedUnread, nil
	case "REC READ":
		return StatusReceivedRead, nil
	case "STO UNSENT":
		return StatusStoredUnsent, nil
	case "STO SENT":
		return StatusStoredSent, nil
	}
	if f.Quoted {
		return 0, fmt.Errorf("stat: unknown %q", f.Value)
	}
	return atoiField(f, "stat", 0, 3)
}

// ParseCMGL parses the answer to AT+CMGL=4 in PDU mode: pairs of
//
//	+CMGL: <index>,<stat>,[<alpha>],<length>
//	<pdu>
//
// Entries whose PDU line is missing or malformed are returned with Err set
// (and Raw holding the line), so the caller can report and delete them. A
// header that cannot be parsed at all (no usable index) is skipped and
// reported in the returned error; the entries are valid even then.
func ParseCMGL(lines []string, storage string) ([]StoredPDU, error) {
	var out []StoredPDU
	var errs []error
	for i := 0; i < len(lines); i++ {
		rest, ok := cutName(lines[i], "+CMGL")
		if !ok {
			errs = append(errs, fmt.Errorf("+CMGL: unexpected line %q", lines[i]))
			continue
		}
		e, err := parseCMGLHeader(rest)
		if err != nil {
			errs = append(errs, fmt.Errorf("+CMGL: %q: %w", lines[i], err))
			if i+1 < len(lines) && !isCMGLHeader(lines[i+1]) {
				i++ // its PDU line
			}
			continue
		}
		e.Storage = storage
		if i+1 >= len(lines) || isCMGLHeader(lines[i+1]) {
			e.Err = errors.New("PDU line missing")
		} else {
			i++
			e.Raw = lines[i]
			e.PDU, e.Err = DecodeStoredPDU(lines[i], e.Length)
		}
		out = append(out, e)
	}
	return out, errors.Join(errs...)
}

func isCMGLHeader(l string) bool { _, ok := cutName(l, "+CMGL"); return ok }

func parseCMGLHeader(rest string) (StoredPDU, error) {
	fs, err := splitFields(rest)
	if err != nil {
		return StoredPDU{}, err
	}
	if len(fs) < 3 {
		return StoredPDU{}, fmt.Errorf("want at least 3 parameters, got %d", len(fs))
	}
	var e StoredPDU
	if e.Index, err = atoiField(fs[0], "index", 0, 1<<20); err != nil {
		return e, err
	}
	if e.Status, err = parseStat(fs[1]); err != nil {
		return e, err
	}
	if e.Length, err = atoiField(fs[len(fs)-1], "length", 0, MaxPDULen); err != nil {
		return e, err
	}
	return e, nil
}

// ParseCMGR parses the answer to AT+CMGR=<index> in PDU mode:
//
//	+CMGR: <stat>,[<alpha>],<length>
//	<pdu>
//
// An empty answer, or a length of 0, means the index is empty: ErrNoMessage.
func ParseCMGR(lines []string, index int, storage string) (StoredPDU, error) {
	e := StoredPDU{Index: index, Storage: storage}
	var hdr = -1
	for i, l := range lines {
		if _, ok := cutName(l, "+CMGR"); ok {
			hdr = i
			break
		}
	}
	if hdr < 0 {
		if len(lines) == 0 {
			return e, ErrNoMessage
		}
		return e, fmt.Errorf("+CMGR: no header in answer %q", lines)
	}
	rest, _ := cutName(lines[hdr], "+CMGR")
	fs, err := splitFields(rest)
	if err != nil {
		return e, fmt.Errorf("+CMGR: %w", err)
	}
	if len(fs) < 2 {
		return e, fmt.Errorf("+CMGR: want at least 2 parameters, got %d", len(fs))
	}
	if e.Status, err = parseStat(fs[0]); err != nil {
		return e, fmt.Errorf("+CMGR: %w", err)
	}
	if e.Length, err = atoiField(fs[len(fs)-1], "length", 0, MaxPDULen); err != nil {
		return e, fmt.Errorf("+CMGR: %w", err)
	}
	if hdr+1 >= len(lines) {
		if e.Length == 0 {
			return e, ErrNoMessage
		}
		e.Err = errors.New("PDU line missing")
		return e, nil
	}
	e.Raw = lines[hdr+1]
	e.PDU, e.Err = DecodeStoredPDU(e.Raw, e.Length)
	return e, nil
}
