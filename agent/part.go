package agent

import (
	"context"
	"time"
)

// ReceivedPart is one PDU as read from a SIM, before any decoding: what the slot supervisor hands
// to the pipeline.
type ReceivedPart struct {
	Slot       int       // 0-based slot number
	ICCID      string    // the SIM's ICCID (digits), "" when it could not be read
	Storage    string    // modem storage the PDU was read from ("SM", "ME", "MT"); "" for a +CMT delivery
	Index      int       // the PDU's index in that storage; -1 for a +CMT delivery (on no SIM)
	PDU        []byte    // raw PDU bytes as the modem returned them (SMSC-prefixed)
	ReceivedAt time.Time // agent clock when it was read
	// Malformed is non-empty for an entry whose PDU line did not parse, identically on
	// JunkReads reads spanning at least a sweep interval (so it is the entry, not line noise):
	// PDU then holds the raw line bytes as received (not hex-decoded) and Malformed says what
	// was wrong. The sink keeps the bytes as junk and reports them; once it returns nil the
	// entry is deleted from the SIM, so a malformed PDU never fills SIM storage.
	Malformed string
}

// PartSink takes each PDU read from a SIM.
//
// The contract that keeps SMS from being lost: StorePart returns nil only once the part is durably
// stored (fsync'ed), or was already stored before; only then may the caller delete it from the SIM.
// Any error means "keep it on the SIM and try again later" (for example the outbox is full).
type PartSink interface {
	StorePart(ctx context.Context, p ReceivedPart) error
}

// PDUChecker is an optional interface of a PartSink. CheckPDU returns an error for a PDU the sink
// would keep as junk (it does not decode). The slot then treats the PDU like a malformed line: it
// hands it over (and deletes it) only once it read back identically JunkReads times over at least
// a sweep interval, so that line noise that happens to keep the hex and the length intact can
// never turn a real SMS into junk.
type PDUChecker interface {
	CheckPDU(pdu []byte) error
}
