// Package pdu decodes the SMS PDUs GSM modems return in PDU mode (3GPP TS 23.040 / 27.005),
// joins the parts of concatenated messages, and encodes SMS-DELIVER PDUs for the modem simulator
// and for tests.
//
// Decoding is built on github.com/warthog618/sms (tpdu, gsm7): [Decode] turns the bytes of one
// PDU, optionally starting with the SMSC address as +CMGR/+CMGL return them, into a [Message]
// with its type, addresses, SMSC timestamp, encoding, text (GSM 7-bit with the extension and
// national shift tables, UCS-2 with surrogate pairs, 8-bit data), concatenation and port
// information, and a [Kind]. Malformed input gives an error naming the field at fault; no input
// makes Decode panic (panics inside the library are recovered) and FuzzDecode checks that.
//
// # Junk
//
// [Message.Kind] classifies each PDU so that messages no renter wants never clog the SIM: the
// caller keeps the raw bytes and logs them, then deletes the message from the SIM as it would any
// other. Only [KindText] is a message for the renter ([Message.Junk] is false); WAP push, other
// application-port data, message-waiting (voicemail) indications, "return call" and type-0
// (silent) messages, SIM data download, status reports and SMS-SUBMITs are junk. Class 0 (flash)
// and "replace short message" PDUs are ordinary texts with a flag, because real senders use
// them for one-time codes.
//
// # Reassembly policy
//
// A [Reassembler] joins the parts of concatenated messages. Parts belong to the same message
// when they share the caller's SIM key, the originator, the concatenation reference (8- and
// 16-bit references never mix) and the part count. Parts may arrive in any order. A part that
// arrives again with identical raw bytes (a sweep re-reading a PDU not yet deleted) is reported
// with [ErrDuplicate] while the set is pending or for one timeout after it was delivered; a
// different PDU claiming a part number already held is kept aside and listed in
// [Assembled.Duplicates] so the caller can drop its record, and the first copy wins.
//
// A set is delivered as soon as all its parts are present. A set still incomplete when the
// timeout has passed since its first part arrived (measured on the injected clock) is delivered
// by [Reassembler.Expire] with the parts that arrived, in part order, marked Incomplete and with
// the missing part numbers listed: nothing is held back forever and nothing is dropped. The text
// of an incomplete message is the text of the parts present, joined in order.
//
// The assembled result carries every part's raw PDU bytes and the caller's key for it (e.g. its
// outbox record), in part order, so the caller can derive the message id from all raw parts.
package pdu
