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
	// Err is set when the PDU line was missing or malformed. It wraps
	// ErrGarbled when the answer itself did not hold together (a read error:
	// read it again); otherwise the line, of the right length, still did not
	// parse, which only a later identical read can confirm as a malformed
	// entry rather than noise. The entry carries Index either way.
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
//
// Errors come in two kinds. A line that cannot be what the modem meant to send
// (empty, an odd number of digits, longer than MaxPDULen, or of a length that
// disagrees with the header) wraps ErrGarbled: line noise inserts and splits,
// so this is a read error. Anything else (a non-hexadecimal digit in a line of
// the right length, an SMSC length over 11) describes the stored entry itself;
// only reading it back identically later tells a malformed entry from noise.
func DecodeStoredPDU(line string, tpduLen int) ([]byte, error) {
	switch {
	case line == "":
		return nil, fmt.Errorf("%w: empty PDU line", ErrGarbled)
	case len(line)%2 != 0:
		return nil, fmt.Errorf("%w: odd number of hex digits (%d)", ErrGarbled, len(line))
	case len(line)/2 > MaxPDULen:
		return nil, fmt.Errorf("%w: PDU of %d octets exceeds %d", ErrGarbled, len(line)/2, MaxPDULen)
	}
	hi, ok1 := unhex(line[0])
	lo, ok2 := unhex(line[1])
	if ok1 && ok2 {
		smsc := int(hi<<4 | lo)
		if smsc > 11 {
			return nil, fmt.Errorf("SMSC field length %d exceeds 11", smsc)
		}
		if want := 1 + smsc + tpduLen; len(line)/2 != want {
			return nil, fmt.Errorf("%w: PDU has %d octets, want %d (1+%d SMSC + %d TPDU)", ErrGarbled, len(line)/2, want, smsc, tpduLen)
		}
	}
	return DecodeHex(line)
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
// (and Raw holding the line), so the caller can read them again (ErrGarbled:
// missing, wrong length, or followed by a stray line) or report them. A
// header that cannot be parsed at all (no usable index) is skipped and
// reported in the returned error; the entries are valid even then.
func ParseCMGL(lines []string, storage string) ([]StoredPDU, error) {
	var out []StoredPDU
	var errs []error
	for i := 0; i < len(lines); i++ {
		rest, ok := cutName(lines[i], "+CMGL")
		if !ok {
			errs = append(errs, fmt.Errorf("+CMGL: unexpected line %q", lines[i]))
			if n := len(out); n > 0 && out[n-1].Err == nil && out[n-1].Raw != "" {
				// A stray line right after an entry may be a piece of its PDU line
				// split by noise: the entry is not trusted.
				out[n-1].PDU = nil
				out[n-1].Err = fmt.Errorf("%w: stray line %q after the PDU line", ErrGarbled, lines[i])
			}
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
			e.Err = fmt.Errorf("%w: PDU line missing", ErrGarbled)
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
// The answer must be the header and exactly one PDU line; a missing line, lines
// after it or a line disagreeing with <length> give Err wrapping ErrGarbled.
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
		e.Err = fmt.Errorf("%w: PDU line missing", ErrGarbled)
		return e, nil
	}
	e.Raw = lines[hdr+1]
	e.PDU, e.Err = DecodeStoredPDU(e.Raw, e.Length)
	if extra := lines[hdr+2:]; len(extra) > 0 {
		// The answer is exactly a header and one PDU line; more lines are noise, or pieces
		// of the PDU line split by it.
		e.PDU = nil
		e.Err = errors.Join(fmt.Errorf("%w: %d stray line(s) after the PDU line, first %q", ErrGarbled, len(extra), extra[0]), e.Err)
	}
	return e, nil
}
