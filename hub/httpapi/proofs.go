package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/chainjob"
)

// Prover gives a message's inclusion proof in the daily Merkle tree anchored on Emercoin
// (*chainjob.Job). chainjob.ErrNotAnchored until the message's day is anchored.
type Prover interface {
	Prove(ctx context.Context, messageID string) (chainjob.Inclusion, error)
}

// getProof answers GET /v1/messages/{id}/proof to the message's renter: the inclusion proof
// exactly as `ness verify-receipt --proof` reads it ({hub_id, day, name, message_id, receipt,
// proof}). The client checks it against the anchor it reads from the chain itself; the hub is not
// trusted for the anchor.
func (s *Server) getProof(w http.ResponseWriter, r *http.Request, p principal) error {
	m, err := s.ownMessage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if s.cfg.Proofs == nil {
		return errorf(KindNotImplemented, "this hub does not anchor proofs (NESS_HUB_EMC_RPC=off or NESS_HUB_PROOFS=false)")
	}
	in, err := s.cfg.Proofs.Prove(r.Context(), m.ID)
	switch {
	case errors.Is(err, chainjob.ErrNotAnchored), errors.Is(err, chainjob.ErrNotInDay):
		return errorf(KindConflict, "the proof of message %s is not anchored yet: each UTC day is anchored a few minutes after it ends; ask again then", m.ID)
	case errors.Is(err, hub.ErrNotFound):
		return errorf(KindConflict, "message %s has no receipt yet", m.ID)
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}
