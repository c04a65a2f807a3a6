// Package modem talks to one GSM module over AT commands: it is the layer
// between a serial port (or pseudo-terminal) and the slot supervisor.
//
// It has two levels.
//
// [Conn] is the AT command engine. It takes an already opened io.ReadWriter
// (the caller opens the port, for example with go.bug.st/serial), splits what
// the modem sends into lines on one reader goroutine, routes unsolicited result
// codes (URCs such as +CMTI, +CMT with its PDU line, +CREG, RDY, SMS DONE,
// NORMAL POWER DOWN) to a callback, and runs commands one at a time with a
// per-command timeout. Errors are typed: [*CMEError], [*CMSError], [ErrError]
// (plain ERROR), [ErrTimeout] and [ErrClosed].
//
// [Modem] builds on a Conn: [Modem.Identify] (manufacturer, model, firmware,
// IMEI, ICCID, IMSI, own number, and the [Family] derived from them),
// [Modem.Init] (echo off, numeric errors, PDU mode, message storage, new
// message indications with fallbacks), [Modem.Health] (signal, registration,
// SIM state, operator, storage fill) and SMS access in PDU mode:
// [Modem.ListAll], [Modem.Read] and [Modem.Delete]. Events ([Event]) report
// new messages (+CMTI), direct deliveries (+CMT), registration changes, boot
// and power-down markers.
//
// This package never decodes a PDU: it returns the raw bytes (SMSC prefixed,
// as the modem sent them) with their storage index and status, and the caller
// decodes them. The contract for deletion is the caller's: call
// [Modem.Delete] only after the message is stored durably elsewhere.
//
// Why not github.com/warthog618/modem/at: its indication routing runs before
// command parsing on the prefix alone, so a +CREG or +CPIN handler would also
// swallow the answers to AT+CREG? and AT+CPIN?; its errors are strings without
// codes; a line longer than bufio.Scanner's limit (garbage with no line end)
// ends its reader for good; and after a timed-out command the late final
// result is taken as the next command's answer. This engine routes by prefix
// only when the prefix is not the running command's own, resynchronises after
// timeouts, drops garbage bytes and over-long lines, and types its errors.
package modem
