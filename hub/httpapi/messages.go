package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

// MessageView is a stored SMS as a renter receives it. Signed is the agent's exact signed
// message (the wire SMS JSON, whose body is sealed to the renter's X25519 key) and Certificate
// the provider-signed certificate of the agent: decode them with wire.DecodeSMS and
// wire.DecodeAgentCert, check cert.Verify, sms.Verify(cert.AgentKey), then open the body.
type MessageView struct {
	ID          string    `json:"id"`
	Rental      string    `json:"rental"`
	Agent       string    `json:"agent"`
	Slot        int       `json:"slot"`
	ICCID       string    `json:"iccid"`
	LeaseSeq    uint64    `json:"lease_seq"`
	Received    time.Time `json:"received"` // agent's clock
	Stored      time.Time `json:"stored"`   // hub's clock
	Signed      string    `json:"signed"`   // base64 of the exact signed bytes
	Certificate string    `json:"certificate"`
}

// MessageList is a page of messages in store order.
type MessageList struct {
	Messages []MessageView `json:"messages"`
	// Next is the id to pass as ?after= to continue (the last message here, or the after given
	// when there is none): poll with it, or resume a stream.
	Next string `json:"next"`
}

// StreamEvent is one WebSocket text frame of GET /v1/stream.
type StreamEvent struct {
	Type    string       `json:"type"` // "message"
	Message *MessageView `json:"message,omitempty"`
}

// certCache keeps agents' certificates for a minute (they change only on re-enrolment).
type certCache struct {
	mu sync.Mutex // guards m
	m  map[string]certEntry
}

type certEntry struct {
	cert []byte
	at   time.Time
}

func (s *Server) agentCert(ctx context.Context, agentID string) ([]byte, error) {
	now := time.Now()
	s.certs.mu.Lock()
	e, ok := s.certs.m[agentID]
	s.certs.mu.Unlock()
	if ok && now.Sub(e.at) < time.Minute {
		return e.cert, nil
	}
	a, err := s.cfg.Store.GetAgent(ctx, agentID)
	if err != nil {
		return nil, err
	}
	s.certs.mu.Lock()
	if s.certs.m == nil || len(s.certs.m) > 10000 {
		s.certs.m = map[string]certEntry{}
	}
	s.certs.m[agentID] = certEntry{cert: a.Certificate, at: now}
	s.certs.mu.Unlock()
	return a.Certificate, nil
}

func (s *Server) messageView(ctx context.Context, m hub.Message) (MessageView, error) {
	cert, err := s.agentCert(ctx, m.AgentID)
	if err != nil {
		return MessageView{}, err
	}
	return MessageView{ID: m.ID, Rental: m.RentalID, Agent: m.AgentID, Slot: m.Slot, ICCID: m.ICCID,
		LeaseSeq: m.LeaseSeq, Received: m.ReceivedAt, Stored: m.StoredAt,
		Signed: base64.StdEncoding.EncodeToString(m.Signed), Certificate: base64.StdEncoding.EncodeToString(cert)}, nil
}

// owner returns the account key of the rental's renter; owners never change, so it is cached.
func (s *Server) owner(ctx context.Context, rentalID string) ([]byte, error) {
	if v, ok := s.owners.Load(rentalID); ok {
		return v.([]byte), nil
	}
	r, err := s.cfg.Store.GetRental(ctx, rentalID)
	if err != nil {
		return nil, err
	}
	s.owners.Store(rentalID, r.RenterSignKey)
	return r.RenterSignKey, nil
}

// ownMessage returns the caller's message; anything else (another renter's, one sealed to a
// provider, deleted) is not found.
func (s *Server) ownMessage(ctx context.Context, p principal, id string) (hub.Message, error) {
	m, err := s.cfg.Store.GetMessage(ctx, id)
	if err != nil && !errors.Is(err, hub.ErrNotFound) {
		return hub.Message{}, err
	}
	if err == nil && m.RentalID != "" && !m.Deleted {
		o, err := s.owner(ctx, m.RentalID)
		if err != nil && !errors.Is(err, hub.ErrNotFound) {
			return hub.Message{}, err
		}
		if bytes.Equal(o, p.account) {
			return m, nil
		}
	}
	return hub.Message{}, errorf(KindNotFound, "no message %q of yours", id)
}

// cursorOf resolves ?after= (a message id of the caller's) to a store cursor.
func (s *Server) cursorOf(ctx context.Context, p principal, after string) (int64, error) {
	if after == "" {
		return 0, nil
	}
	m, err := s.cfg.Store.GetMessage(ctx, after)
	if err != nil && !errors.Is(err, hub.ErrNotFound) {
		return 0, err
	}
	if err == nil && m.RentalID != "" {
		if o, err := s.owner(ctx, m.RentalID); err == nil && bytes.Equal(o, p.account) {
			return m.Seq, nil // a deleted message still marks a position
		}
	}
	return 0, fieldError("after", "not the id of a message of yours")
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "after", "limit", "rental", "wait":
		default:
			return fieldError(k, "unknown query parameter")
		}
	}
	ctx := r.Context()
	limit, err := parseLimit(q, hub.DefaultListLimit, hub.MaxListLimit)
	if err != nil {
		return err
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		wait, err = time.ParseDuration(v)
		if err != nil || wait < 0 || wait > s.cfg.MaxWait {
			return fieldError("wait", "want a duration such as 30s, at most %s", s.cfg.MaxWait)
		}
	}
	mq := hub.MessageQuery{Renter: p.account, Limit: limit}
	if rid := q.Get("rental"); rid != "" {
		if _, err := s.ownRental(r, p, rid); err != nil {
			return err
		}
		mq.RentalID = rid
	}
	if mq.After, err = s.cursorOf(ctx, p, q.Get("after")); err != nil {
		return err
	}
	var sub *liveSub
	if wait > 0 {
		var cancel func()
		var ok bool
		if sub, cancel, ok = s.live.subscribe(p.account); !ok {
			return s.tooManyLive(w)
		}
		defer cancel()
	}
	ms, err := s.cfg.Store.ListMessages(ctx, mq)
	if err != nil {
		return err
	}
	if len(ms) == 0 && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
	poll:
		for len(ms) == 0 {
			select {
			case <-sub.ch:
			case <-t.C:
				break poll
			case <-ctx.Done():
				return nil
			}
			if ms, err = s.cfg.Store.ListMessages(ctx, mq); err != nil {
				return err
			}
		}
	}
	out := MessageList{Messages: make([]MessageView, 0, len(ms)), Next: q.Get("after")}
	for _, m := range ms {
		v, err := s.messageView(ctx, m)
		if err != nil {
			return err
		}
		out.Messages = append(out.Messages, v)
		out.Next = m.ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request, p principal) error {
	m, err := s.ownMessage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.messageView(r.Context(), m)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request, p principal) error {
	m, err := s.ownMessage(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteMessage(r.Context(), m.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
