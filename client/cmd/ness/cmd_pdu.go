package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ness-network/ness-sms/agent/pdu"
)

func init() {
	register(&command{
		name:    "pdu decode",
		summary: "decode SMS PDUs (hex, as +CMGR/+CMGL return them) to JSON lines",
		run:     runPDUDecode,
	})
}

// rfc3339Colon is RFC 3339 with the offset always written +hh:mm (never Z).
const rfc3339Colon = "2006-01-02T15:04:05-07:00"

// pduJSON is the JSON object `ness pdu decode` writes for one PDU (documented in docs/PDU.md).
type pduJSON struct {
	Type       string       `json:"type"`
	SMSC       *string      `json:"smsc"`
	Originator *string      `json:"originator"`
	Recipient  *string      `json:"recipient,omitempty"`
	Timestamp  *string      `json:"timestamp"`
	Encoding   string       `json:"encoding"`
	Text       *string      `json:"text,omitempty"`
	DataHex    *string      `json:"data_hex,omitempty"`
	UDH        *udhJSON     `json:"udh"`
	Kind       string       `json:"kind"`
	Junk       bool         `json:"junk"`
	PID        int          `json:"pid"`
	DCS        int          `json:"dcs"`
	Class      *int         `json:"class,omitempty"`
	Ports      *pdu.Ports   `json:"ports,omitempty"`
	Waiting    *waitingJSON `json:"waiting,omitempty"`
	Reference  *int         `json:"reference,omitempty"`
	Status     *int         `json:"status,omitempty"`
	StatusText string       `json:"status_text,omitempty"`
	Discharge  *string      `json:"discharge,omitempty"`
	Warnings   []string     `json:"warnings,omitempty"`
}

type udhJSON struct {
	Ref   int `json:"ref"`
	Part  int `json:"part"`
	Total int `json:"total"`
}

type waitingJSON struct {
	Type    string `json:"type"`
	Active  bool   `json:"active"`
	Count   int    `json:"count"`
	Discard bool   `json:"discard"`
}

func ptr[T any](v T) *T { return &v }

func toJSON(m *pdu.Message) pduJSON {
	j := pduJSON{Type: string(m.Type), Encoding: string(m.Encoding), Kind: string(m.Kind), Junk: m.Junk(),
		PID: int(m.PID), DCS: int(m.DCS), Warnings: m.Warnings}
	if m.SMSC != nil {
		j.SMSC = ptr(m.SMSC.Number)
	}
	switch m.Type {
	case pdu.TypeDeliver:
		j.Originator = ptr(m.Originator.Number)
	default:
		j.Recipient = ptr(m.Recipient.Number)
	}
	if !m.Time.IsZero() {
		j.Timestamp = ptr(m.Time.Format(rfc3339Colon))
	}
	if m.Text != "" || (m.Encoding != pdu.Encoding8Bit && !m.Compressed) {
		j.Text = ptr(m.Text)
	}
	if m.Data != nil {
		j.DataHex = ptr(hex.EncodeToString(m.Data))
	}
	if c := m.Concat; c != nil {
		j.UDH = &udhJSON{Ref: c.Ref, Part: c.Part, Total: c.Total}
	}
	if m.Class >= 0 {
		j.Class = ptr(m.Class)
	}
	j.Ports = m.Ports
	if w := m.Waiting; w != nil {
		j.Waiting = &waitingJSON{Type: w.Type, Active: w.Active, Count: w.Count, Discard: w.Discard}
	}
	if m.Type != pdu.TypeDeliver {
		j.Reference = ptr(m.Reference)
	}
	if m.Type == pdu.TypeStatusReport {
		j.Status = ptr(int(m.Status))
		j.StatusText = m.StatusText()
		j.Discharge = ptr(m.Discharge.Format(rfc3339Colon))
	}
	return j
}

func runPDUDecode(env *cmdEnv, args []string) error {
	fs := newFlags(env, "pdu decode", "[--no-smsc] HEX...\n\nDecodes each PDU (or each non-empty stdin line when no HEX is given) to one JSON object per line.\nBy default the hex starts with the SMSC length octet, as modems return it.")
	noSMSC := fs.Bool("no-smsc", false, "the hex is a bare TPDU without the SMSC address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	inputs := fs.Args()
	if len(inputs) == 0 {
		sc := bufio.NewScanner(env.stdin)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" {
				inputs = append(inputs, line)
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		if len(inputs) == 0 {
			return usageError("no PDU given (pass HEX arguments or lines on stdin)")
		}
	}
	enc := json.NewEncoder(env.stdout)
	enc.SetEscapeHTML(false)
	var errs []error
	for i, in := range inputs {
		m, err := decodeHex(in, !*noSMSC)
		if err != nil {
			errs = append(errs, fmt.Errorf("PDU %d: %w", i+1, err))
			continue
		}
		if err := enc.Encode(toJSON(m)); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	// One line per bad PDU: all but the last here, the last through main's error line.
	for _, err := range errs[:len(errs)-1] {
		fmt.Fprintf(env.stderr, "ness pdu decode: %v\n", err)
	}
	return errs[len(errs)-1]
}

func decodeHex(s string, withSMSC bool) (*pdu.Message, error) {
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not hex (%v)", err)
	}
	return pdu.Decode(b, withSMSC)
}
