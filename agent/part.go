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
	Storage    string    // modem storage the PDU was read from ("SM", "ME", "MT")
	Index      int       // the PDU's index in that storage
	PDU        []byte    // raw PDU bytes as the modem returned them (SMSC-prefixed)
	ReceivedAt time.Time // agent clock when it was read
}

// PartSink takes each PDU read from a SIM.
//
// The contract that keeps SMS from being lost: StorePart returns nil only once the part is durably
// stored (fsync'ed), or was already stored before; only then may the caller delete it from the SIM.
// Any error means "keep it on the SIM and try again later" (for example the outbox is full).
type PartSink interface {
	StorePart(ctx context.Context, p ReceivedPart) error
}
