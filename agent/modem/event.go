package modem

import (
	"fmt"
	"strings"
)

// EventKind says what an [Event] reports.
type EventKind int

// Event kinds.
const (
	// EventOther is any other unsolicited line (Line holds it).
	EventOther EventKind = iota
	// EventNewMessage: +CMTI: "<mem>",<index>. A message was stored; read it
	// with Read(Index) (from Storage; compare with Modem.Storage()).
	EventNewMessage
	// EventMessage: +CMT: [<alpha>],<length> and its PDU line. A message was
	// delivered without being stored: PDU is all there is, so store it at
	// once. Init never asks for this (it uses <mt>=1); it appears when
	// another program changed AT+CNMI.
	EventMessage
	// EventStatusReportStored: +CDSI: "<mem>",<index>.
	EventStatusReportStored
	// EventStatusReport: +CDS: <length> and its PDU line.
	EventStatusReport
	// EventRegistration: +CREG, +CGREG or +CEREG; Registration is set.
	EventRegistration
	// EventReady: RDY, the module finished booting (only at a fixed baud rate
	// on SIM800; poll Ping rather than wait for it).
	EventReady
	// EventSIM: +CPIN: <state>; SIM is set.
	EventSIM
	// EventSMSReady: SMS DONE, SMS Ready or +QIND: SMS DONE, the SMS stack
	// finished loading the SIM.
	EventSMSReady
	// EventPowerDown: NORMAL POWER DOWN, POWERED DOWN or an under/over-voltage
	// power down. The module no longer answers.
	EventPowerDown
)

func (k EventKind) String() string {
	switch k {
	case EventNewMessage:
		return "new-message"
	case EventMessage:
		return "message"
	case EventStatusReportStored:
		return "status-report-stored"
	case EventStatusReport:
		return "status-report"
	case EventRegistration:
		return "registration"
	case EventReady:
		return "ready"
	case EventSIM:
		return "sim"
	case EventSMSReady:
		return "sms-ready"
	case EventPowerDown:
		return "power-down"
	}
	return "other"
}

// Event is one unsolicited report from the modem, decoded.
type Event struct {
	Kind         EventKind
	URC          URC // the raw code, its line and any PDU
	Storage      string
	Index        int
	PDU          []byte // EventMessage, EventStatusReport
	Registration Registration
	SIM          SIMState
	// Err is set when the code was recognised but its parameters or PDU line
	// were malformed; Kind is still set so the caller can react (for a new
	// message: sweep with ListAll).
	Err error
}

// ParseEvent turns a URC into an Event.
func ParseEvent(u URC) Event {
	e := Event{URC: u, Index: -1, Err: u.Err}
	switch u.Name {
	case "+CMTI", "+CDSI":
		e.Kind = EventNewMessage
		if u.Name == "+CDSI" {
			e.Kind = EventStatusReportStored
		}
		fs, err := splitFields(u.Params)
		if err == nil && len(fs) != 2 {
			err = fmt.Errorf("want 2 parameters, got %d", len(fs))
		}
		if err == nil {
			e.Storage = fs[0].Value
			e.Index, err = atoiField(fs[1], "index", 0, 1<<20)
			if err != nil {
				e.Index = -1
			}
		}
		if err != nil {
			e.Err = fmt.Errorf("%s: %w", u.Name, err)
		}
	case "+CMT", "+CDS":
		e.Kind = EventMessage
		if u.Name == "+CDS" {
			e.Kind = EventStatusReport
		}
		e.PDU = u.PDU
		if u.Err == nil {
			// the last parameter is the TPDU length: check it
			fs, err := splitFields(u.Params)
			if err == nil && len(fs) > 0 {
				var n int
				if n, err = atoiField(fs[len(fs)-1], "length", 0, MaxPDULen); err == nil {
					if len(u.PDU) == 0 || len(u.PDU) != 1+int(u.PDU[0])+n {
						err = fmt.Errorf("PDU of %d octets does not match length %d", len(u.PDU), n)
					}
				}
			} else if err == nil {
				err = fmt.Errorf("no length")
			}
			if err != nil {
				e.Err = fmt.Errorf("%s: %w", u.Name, err)
			}
		}
	case "+CREG", "+CGREG", "+CEREG", "+C5GREG":
		e.Kind = EventRegistration
		e.Registration, e.Err = ParseRegistration(u.Name, u.Params)
	case "+CPIN":
		e.Kind = EventSIM
		e.SIM, e.Err = cpinState(u.Params)
	case "RDY":
		e.Kind = EventReady
	case "SMS DONE", "SMS Ready":
		e.Kind = EventSMSReady
	case "+QIND":
		if strings.EqualFold(strings.Trim(u.Params, `"`), "SMS DONE") {
			e.Kind = EventSMSReady
		}
	case "NORMAL POWER DOWN", "POWERED DOWN", "UNDER-VOLTAGE POWER DOWN", "OVER-VOLTAGE POWER DOWN":
		e.Kind = EventPowerDown
	}
	return e
}

// handleURC runs on the Conn's dispatch goroutine.
func (m *Modem) handleURC(u URC) {
	e := ParseEvent(u)
	if e.Err != nil {
		m.log.Warn("modem: malformed unsolicited result", "line", u.Line, "err", e.Err)
	}
	if m.onEvent != nil {
		m.onEvent(e)
	}
}
