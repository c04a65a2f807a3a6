package wire

import (
	"encoding/json"
	"time"
)

// Flags describe how a received SMS was put together.
type Flags uint32

const (
	// FlagIncomplete: fewer parts than expected arrived before the join timeout.
	FlagIncomplete Flags = 1 << iota
	// Flag8Bit: the user data is 8-bit binary; it is in Data, Text is empty.
	Flag8Bit
	// FlagFlash: class 0 ("flash") message.
	FlagFlash
	// FlagNoLease: no lease covered the SIM; the body is sealed to the provider.
	FlagNoLease
)

var flagNames = []struct {
	f    Flags
	name string
}{{FlagIncomplete, "incomplete"}, {Flag8Bit, "8bit"}, {FlagFlash, "flash"}, {FlagNoLease, "no_lease"}}

// Names returns the wire names of the set flags, in bit order.
func (f Flags) Names() []string {
	out := []string{}
	for _, n := range flagNames {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Encodings of the user data as the PDU declared it.
const (
	EncodingGSM7 = "gsm7"
	EncodingUCS2 = "ucs2"
	Encoding8Bit = "8bit"
)

// MaxParts is the most parts a concatenated SMS can have.
const MaxParts = 255

// Plaintext is what the sealed body of an SMS holds. Only the recipient sees it.
type Plaintext struct {
	Version       uint8
	Sender        string    // originating address as received: "+E164", national digits or alphanumeric
	Text          string    // decoded text (empty for 8-bit data)
	Data          []byte    // raw user data when Flag8Bit is set
	SMSCTime      time.Time // service centre timestamp, with the offset the network sent
	Parts         uint32    // parts received
	PartsExpected uint32    // parts the concatenation header announced (1 for a single SMS)
	Flags         Flags
	Encoding      string // EncodingGSM7, EncodingUCS2 or Encoding8Bit
}

type plaintextJSON struct {
	V             int      `json:"v"`
	Sender        string   `json:"sender"`
	Text          string   `json:"text"`
	Data          string   `json:"data,omitempty"`
	SMSCTime      string   `json:"smsc_time"`
	Parts         uint32   `json:"parts"`
	PartsExpected uint32   `json:"parts_expected"`
	Flags         []string `json:"flags"`
	Encoding      string   `json:"encoding"`
}

func (p *Plaintext) validate() error {
	const k = "plaintext"
	if p.Version != Version {
		return checkVersion(k, int(p.Version))
	}
	if err := checkLabel(k, "sender", p.Sender, MaxLabel, true); err != nil {
		return err
	}
	if len(p.Text) > MaxText {
		return fieldErr(k, "text", "%d bytes exceeds the limit of %d", len(p.Text), MaxText)
	}
	if len(p.Data) > MaxText {
		return fieldErr(k, "data", "%d bytes exceeds the limit of %d", len(p.Data), MaxText)
	}
	if p.SMSCTime.IsZero() {
		return fieldErr(k, "smsc_time", "missing")
	}
	if y := p.SMSCTime.Year(); y < 1970 || y > 9999 {
		return fieldErr(k, "smsc_time", "year %d is outside 1970..9999", y)
	}
	if p.PartsExpected < 1 || p.PartsExpected > MaxParts {
		return fieldErr(k, "parts_expected", "%d is outside 1..%d", p.PartsExpected, MaxParts)
	}
	if p.Parts < 1 || p.Parts > p.PartsExpected {
		return fieldErr(k, "parts", "%d is outside 1..parts_expected (%d)", p.Parts, p.PartsExpected)
	}
	if (p.Parts < p.PartsExpected) != (p.Flags&FlagIncomplete != 0) {
		return fieldErr(k, "flags", "incomplete flag must be set exactly when parts (%d) < parts_expected (%d)", p.Parts, p.PartsExpected)
	}
	switch p.Encoding {
	case EncodingGSM7, EncodingUCS2:
		if p.Flags&Flag8Bit != 0 || len(p.Data) != 0 {
			return fieldErr(k, "encoding", "%s message cannot carry the 8bit flag or data", p.Encoding)
		}
	case Encoding8Bit:
		if p.Flags&Flag8Bit == 0 || p.Text != "" {
			return fieldErr(k, "encoding", "8bit message needs the 8bit flag and empty text")
		}
	default:
		return fieldErr(k, "encoding", "%q is not one of gsm7, ucs2, 8bit", trunc(p.Encoding))
	}
	return nil
}

// Marshal returns the JSON bytes that get sealed.
func (p *Plaintext) Marshal() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(plaintextJSON{
		V: int(p.Version), Sender: p.Sender, Text: p.Text, Data: b64(p.Data),
		SMSCTime: p.SMSCTime.Format(time.RFC3339), Parts: p.Parts, PartsExpected: p.PartsExpected,
		Flags: p.Flags.Names(), Encoding: p.Encoding,
	})
}

// DecodePlaintext strictly decodes an opened SMS body.
func DecodePlaintext(data []byte) (*Plaintext, error) {
	const k = "plaintext"
	var j plaintextJSON
	if err := decodeStrict(k, data, MaxMessageJSON, &j); err != nil {
		return nil, err
	}
	if err := checkVersion(k, j.V); err != nil {
		return nil, err
	}
	p := &Plaintext{Version: uint8(j.V), Sender: j.Sender, Text: j.Text, Parts: j.Parts,
		PartsExpected: j.PartsExpected, Encoding: j.Encoding}
	var err error
	if p.Data, err = b64Field(k, "data", j.Data, false, MaxText); err != nil {
		return nil, err
	}
	if j.SMSCTime == "" {
		return nil, fieldErr(k, "smsc_time", "missing")
	}
	if p.SMSCTime, err = time.Parse(time.RFC3339, j.SMSCTime); err != nil {
		return nil, fieldErr(k, "smsc_time", "not an RFC 3339 time: %v", err)
	}
	if j.Flags == nil {
		return nil, fieldErr(k, "flags", "missing (use [] for none)")
	}
	for _, name := range j.Flags {
		found := false
		for _, n := range flagNames {
			if n.name == name {
				if p.Flags&n.f != 0 {
					return nil, fieldErr(k, "flags", "%q appears twice", name)
				}
				p.Flags |= n.f
				found = true
			}
		}
		if !found {
			return nil, fieldErr(k, "flags", "unknown flag %q", trunc(name))
		}
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}
