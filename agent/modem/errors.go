package modem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var (
	// ErrTimeout means the modem gave no final result code within the
	// command's timeout. The engine resynchronises before the next command.
	ErrTimeout = errors.New("modem: no answer before timeout")
	// ErrClosed means the port reported an error or end of file, or Close was
	// called; no further command can succeed on this Conn.
	ErrClosed = errors.New("modem: connection closed")
	// ErrError is the plain ERROR final result code (and non-standard
	// variants such as Huawei's "COMMAND NOT SUPPORT", see [*ResultError]).
	ErrError = errors.New("modem: ERROR")
	// ErrNoMessage means a storage index holds no message.
	ErrNoMessage = errors.New("modem: no message at this index")
	// ErrGarbled marks a stored-message read whose answer does not hold together, as line
	// noise leaves it: the PDU line missing, split in several lines, of an odd number of
	// digits, or of a length that disagrees with the header's <length> (SMSC field + TPDU
	// octets). It is a read error, never a verdict on the message: read it again later.
	// Found in [StoredPDU].Err.
	ErrGarbled = errors.New("modem: garbled read (line noise?)")
)

// CMEError is a "+CME ERROR: <err>" final result code (3GPP TS 27.007 §9.2).
// With AT+CMEE=1 the modem sends a number; with AT+CMEE=2 a text, which is
// mapped back to its number when known (Code is -1 otherwise).
type CMEError struct {
	Code int
	Text string
}

func (e *CMEError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("+CME ERROR: %d (%s)", e.Code, e.Text)
	}
	return fmt.Sprintf("+CME ERROR: %d", e.Code)
}

// CMSError is a "+CMS ERROR: <err>" final result code (3GPP TS 27.005 §3.2.5),
// returned by SMS commands. Code is -1 when the modem sent an unknown text.
type CMSError struct {
	Code int
	Text string
}

func (e *CMSError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("+CMS ERROR: %d (%s)", e.Code, e.Text)
	}
	return fmt.Sprintf("+CMS ERROR: %d", e.Code)
}

// ResultError is a final result code other than OK that is neither ERROR nor
// +CME/+CMS ERROR, such as NO CARRIER or "COMMAND NOT SUPPORT". It matches
// [ErrError] with errors.Is.
type ResultError struct{ Line string }

func (e *ResultError) Error() string { return "modem: " + e.Line }

// Unwrap makes errors.Is(err, ErrError) true.
func (e *ResultError) Unwrap() error { return ErrError }

// Common +CME ERROR codes (3GPP TS 27.007 §9.2.1).
const (
	CMEOperationNotAllowed   = 3
	CMEOperationNotSupported = 4
	CMESIMNotInserted        = 10
	CMESIMPINRequired        = 11
	CMESIMPUKRequired        = 12
	CMESIMFailure            = 13
	CMESIMBusy               = 14
	CMESIMWrong              = 15
	CMENotFound              = 22
	CMENoNetworkService      = 30
)

// Common +CMS ERROR codes (3GPP TS 27.005 §3.2.5).
const (
	CMSOperationNotAllowed = 302
	CMSSIMNotInserted      = 310
	CMSSIMBusy             = 314
	CMSInvalidMemoryIndex  = 321
	CMSMemoryFull          = 322
)

var cmeTexts = map[int]string{
	0: "phone failure", 1: "no connection to phone", 2: "phone-adaptor link reserved",
	3: "operation not allowed", 4: "operation not supported", 5: "PH-SIM PIN required",
	10: "SIM not inserted", 11: "SIM PIN required", 12: "SIM PUK required",
	13: "SIM failure", 14: "SIM busy", 15: "SIM wrong", 16: "incorrect password",
	17: "SIM PIN2 required", 18: "SIM PUK2 required", 20: "memory full",
	21: "invalid index", 22: "not found", 23: "memory failure", 24: "text string too long",
	25: "invalid characters in text string", 26: "dial string too long",
	27: "invalid characters in dial string", 30: "no network service",
	31: "network timeout", 32: "network not allowed - emergency calls only",
	100: "unknown",
}

var cmsTexts = map[int]string{
	300: "ME failure", 301: "SMS service of ME reserved", 302: "operation not allowed",
	303: "operation not supported", 304: "invalid PDU mode parameter",
	305: "invalid text mode parameter", 310: "SIM not inserted", 311: "SIM PIN required",
	312: "PH-SIM PIN required", 313: "SIM failure", 314: "SIM busy", 315: "SIM wrong",
	316: "SIM PUK required", 320: "memory failure", 321: "invalid memory index",
	322: "memory full", 330: "SMSC address unknown", 331: "no network service",
	332: "network timeout", 340: "no +CNMA acknowledgement expected", 500: "unknown error",
}

// parseErrorCode reads the <err> of a +CME/+CMS ERROR line: a number, or a
// verbose text looked up in table.
func parseErrorCode(s string, table map[int]string) (int, string) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n, table[n]
	}
	for code, text := range table {
		if strings.EqualFold(text, s) {
			return code, text
		}
	}
	return -1, s
}

// finalResult classifies a line as a final result code. ok reports whether
// the line is final; err is nil for OK.
func finalResult(line string) (final bool, err error) {
	switch {
	case line == "OK":
		return true, nil
	case line == "ERROR":
		return true, ErrError
	case strings.HasPrefix(line, "+CME ERROR"):
		code, text := parseErrorCode(afterColon(line[len("+CME ERROR"):]), cmeTexts)
		return true, &CMEError{Code: code, Text: text}
	case strings.HasPrefix(line, "+CMS ERROR"):
		code, text := parseErrorCode(afterColon(line[len("+CMS ERROR"):]), cmsTexts)
		return true, &CMSError{Code: code, Text: text}
	case line == "NO CARRIER", line == "BUSY", line == "NO ANSWER", line == "NO DIALTONE",
		line == "COMMAND NOT SUPPORT", line == "TOO MANY PARAMETERS":
		return true, &ResultError{Line: line}
	}
	return false, nil
}

func afterColon(s string) string {
	s = strings.TrimSpace(s)
	return strings.TrimSpace(strings.TrimPrefix(s, ":"))
}
