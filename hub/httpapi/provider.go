package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/ingest"
	"github.com/ness-network/ness-sms/hub/payment"
	"github.com/ness-network/ness-sms/wire"
)

// AgentRequest is the body of POST /v1/provider/agents.
type AgentRequest struct {
	// Certificate is the agent certificate (wire JSON form) signed by the caller's key.
	Certificate json.RawMessage `json:"certificate"`
}

func (q *AgentRequest) validate() error {
	if len(q.Certificate) == 0 || string(q.Certificate) == "null" {
		return fieldError("certificate", "required: the agent certificate signed with your provider key")
	}
	return nil
}

// AgentView is an agent as its provider sees it.
type AgentView struct {
	ID       string     `json:"id"`
	Key      string     `json:"key"` // agent's Ed25519 key
	Online   bool       `json:"online"`
	LastSeen time.Time  `json:"last_seen,omitzero"`
	Enrolled time.Time  `json:"enrolled"`
	NotAfter time.Time  `json:"cert_not_after,omitzero"`
	Slots    []SlotView `json:"slots"`
	Numbers  []string   `json:"numbers"` // E.164 numbers bound to this agent's SIMs
}

// SlotView is one SIM slot's last reported health.
type SlotView struct {
	Slot         int       `json:"slot"`
	ICCID        string    `json:"iccid,omitempty"`
	State        string    `json:"state"`
	Signal       int       `json:"signal"` // CSQ 0-31, 99 unknown
	Registration string    `json:"registration,omitempty"`
	Operator     string    `json:"operator,omitempty"`
	Updated      time.Time `json:"updated"`
	// Status is the agent's last signed status for this slot (wire JSON, base64 of the exact
	// bytes): outbox depth, counters and signal in dBm, checkable under the agent's key.
	Status string `json:"status,omitempty"`
}

// EnrollResponse answers POST /v1/provider/agents. The MQTT password is shown only here.
type EnrollResponse struct {
	Agent        AgentView `json:"agent"`
	MQTTUsername string    `json:"mqtt_username"`
	MQTTPassword string    `json:"mqtt_password"`
}

// AgentList is the caller's agents.
type AgentList struct {
	Agents []AgentView `json:"agents"`
}

// NumberRequest is the body of POST /v1/provider/numbers.
type NumberRequest struct {
	Number   string   `json:"number"` // E.164
	Agent    string   `json:"agent"`  // one of the caller's agents
	ICCID    string   `json:"iccid"`  // the SIM that receives the number
	Country  string   `json:"country"`
	Features []string `json:"features"`
	Prices   Prices   `json:"prices"` // EMC decimal strings
	// EscrowKey is the provider's secp256k1 public key (33-byte compressed hex) for escrow
	// rentals of this number; releases pay its P2PKH address. Empty: no escrow rentals.
	EscrowKey string `json:"escrow_key,omitempty"`
}

func (q *NumberRequest) validate() error {
	switch {
	case !hub.ValidE164(q.Number):
		return fieldError("number", "want E.164: + and 2-15 digits")
	case !hub.ValidAgentID(q.Agent):
		return fieldError("agent", "want an agent id (32 lowercase hex digits)")
	case !hub.ValidICCID(q.ICCID):
		return fieldError("iccid", "want 18-22 digits")
	case len(q.Country) != 2 || strings.ToUpper(q.Country) != q.Country:
		return fieldError("country", "want an upper-case ISO 3166-1 alpha-2 code such as DE")
	}
	if err := checkFeatures(q.Features); err != nil {
		return err
	}
	_, err := q.Prices.parse("prices.")
	return err
}

func checkFeatures(fs []string) error {
	if len(fs) > 32 {
		return fieldError("features", "at most 32")
	}
	for _, f := range fs {
		if f == "" || len(f) > 64 || strings.TrimSpace(f) != f {
			return fieldError("features", "each feature 1-64 bytes, no surrounding spaces")
		}
	}
	return nil
}

type microPrices struct{ day, week, month, sms hub.Micro }

func (p Prices) parse(prefix string) (microPrices, error) {
	var out microPrices
	for _, f := range []struct {
		name string
		v    string
		dst  *hub.Micro
	}{{"day", p.Day, &out.day}, {"week", p.Week, &out.week}, {"month", p.Month, &out.month}, {"sms", p.SMS, &out.sms}} {
		m, err := parseMicro(prefix+f.name, f.v)
		if err != nil {
			return out, err
		}
		*f.dst = m
	}
	return out, nil
}

// NumberPatch is the body of PATCH /v1/provider/numbers/{number}; absent fields stay.
type NumberPatch struct {
	Prices   *PricesPatch `json:"prices,omitempty"`
	Features *[]string    `json:"features,omitempty"`
}

// PricesPatch holds the prices to change.
type PricesPatch struct {
	Day   *string `json:"day,omitempty"`
	Week  *string `json:"week,omitempty"`
	Month *string `json:"month,omitempty"`
	SMS   *string `json:"sms,omitempty"`
}

func (q *NumberPatch) validate() error {
	if q.Prices == nil && q.Features == nil {
		return fieldError("body", "nothing to change: give prices and/or features")
	}
	if q.Features != nil {
		if err := checkFeatures(*q.Features); err != nil {
			return err
		}
	}
	if q.Prices != nil {
		for name, v := range map[string]*string{"day": q.Prices.Day, "week": q.Prices.Week, "month": q.Prices.Month, "sms": q.Prices.SMS} {
			if v != nil {
				if _, err := parseMicro("prices."+name, *v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ProviderNumber is a number as its provider sees it.
type ProviderNumber struct {
	Number   string    `json:"number"`
	Agent    string    `json:"agent"`
	ICCID    string    `json:"iccid"`
	Country  string    `json:"country"`
	Features []string  `json:"features"`
	Prices   Prices    `json:"prices"`
	Rented   bool      `json:"rented"`
	Updated  time.Time `json:"updated"`
}

// ProviderNumberList is the caller's numbers.
type ProviderNumberList struct {
	Numbers []ProviderNumber `json:"numbers"`
}

// Earnings is what renters paid for the caller's numbers.
type Earnings struct {
	Total    string        `json:"total"` // EMC
	Payments []PaymentView `json:"payments"`
}

// PaymentView is one payment.
type PaymentView struct {
	ID      string    `json:"id"`
	Rental  string    `json:"rental"`
	Amount  string    `json:"amount"`
	Method  string    `json:"method"`
	Ref     string    `json:"ref,omitempty"`
	Created time.Time `json:"created"`
}

func requireProvider(p principal) error {
	if !p.isProvider() {
		return errorf(KindForbidden, "provider endpoints need an Ed25519 sign-in with your provider key")
	}
	return nil
}

func (s *Server) agentView(r *http.Request, a hub.Agent) (AgentView, error) {
	v := AgentView{ID: a.ID, Key: base64.StdEncoding.EncodeToString(a.PublicKey), Online: a.Online,
		LastSeen: a.LastSeen, Enrolled: a.EnrolledAt, Slots: []SlotView{}, Numbers: []string{}}
	if c, err := wire.DecodeAgentCert(a.Certificate); err == nil {
		v.NotAfter = c.NotAfter
	}
	sl, err := s.cfg.Store.ListSlots(r.Context(), a.ID)
	if err != nil {
		return v, err
	}
	for _, x := range sl {
		v.Slots = append(v.Slots, SlotView{Slot: x.Slot, ICCID: x.ICCID, State: x.State, Signal: x.Signal,
			Registration: x.Registration, Operator: x.Operator, Updated: x.UpdatedAt,
			Status: base64.StdEncoding.EncodeToString(x.Status)})
	}
	ns, err := s.cfg.Store.ListNumbers(r.Context(), hub.NumberFilter{AgentID: a.ID})
	if err != nil {
		return v, err
	}
	for _, n := range ns {
		v.Numbers = append(v.Numbers, n.E164)
	}
	return v, nil
}

func (s *Server) enrollAgent(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireProvider(p); err != nil {
		return err
	}
	var q AgentRequest
	if err := decodeBody(w, r, 8<<10, &q); err != nil {
		return err
	}
	c, err := wire.DecodeAgentCert(q.Certificate)
	if err != nil {
		return fieldError("certificate", "%v", err)
	}
	now := s.cfg.Now()
	if err := c.Verify(now); err != nil {
		return fieldError("certificate", "%v", err)
	}
	if c.ProviderVerify != p.provider {
		return &Error{Kind: KindForbidden, Field: "certificate",
			Message: "certificate is signed by provider " + c.ProviderVerify.String() + ", not by the key you signed in with"}
	}
	if prev, err := s.cfg.Store.GetAgent(r.Context(), c.AgentID); err == nil && !bytes.Equal(prev.ProviderKey, p.provider[:]) {
		return errorf(KindForbidden, "agent %s is enrolled by another provider", c.AgentID)
	} else if err != nil && !errors.Is(err, hub.ErrNotFound) {
		return err
	}
	a, pass, err := ingest.Enroll(r.Context(), s.cfg.Store, q.Certificate, now)
	if err != nil {
		return err
	}
	s.certs.mu.Lock()
	delete(s.certs.m, a.ID)
	s.certs.mu.Unlock()
	v, err := s.agentView(r, a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, EnrollResponse{Agent: v, MQTTUsername: a.ID, MQTTPassword: pass})
	return nil
}

// ownAgents returns the caller's agents.
func (s *Server) ownAgents(r *http.Request, p principal) ([]hub.Agent, error) {
	as, err := s.cfg.Store.ListAgents(r.Context())
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(as, func(a hub.Agent) bool { return !bytes.Equal(a.ProviderKey, p.provider[:]) }), nil
}

func (s *Server) ownAgent(r *http.Request, p principal, id string) (hub.Agent, error) {
	a, err := s.cfg.Store.GetAgent(r.Context(), id)
	if errors.Is(err, hub.ErrNotFound) || err == nil && !bytes.Equal(a.ProviderKey, p.provider[:]) {
		return hub.Agent{}, errorf(KindNotFound, "no agent %q of yours", id)
	}
	return a, err
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireProvider(p); err != nil {
		return err
	}
	as, err := s.ownAgents(r, p)
	if err != nil {
		return err
	}
	out := AgentList{Agents: []AgentView{}}
	for _, a := range as {
		v, err := s.agentView(r, a)
		if err != nil {
			return err
		}
		out.Agents = append(out.Agents, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireProvider(p); err != nil {
		return err
	}
	a, err := s.ownAgent(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.agentView(r, a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) providerNumber(r *http.Request, n hub.Number) (ProviderNumber, error) {
	v := ProviderNumber{Number: n.E164, Agent: n.AgentID, ICCID: n.ICCID, Country: n.Country, Features: n.Features,
		Prices: pricesOf(n), Updated: n.UpdatedAt}
	if v.Features == nil {
		v.Features = []string{}
	}
	_, err := s.cfg.Store.ActiveLease(r.Context(), n.ICCID, s.cfg.Now())
	if err != nil && !errors.Is(err, hub.ErrNotFound) {
		return v, err
	}
	v.Rented = err == nil
	return v, nil
}

func (s *Server) bindNumber(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireProvider(p); err != nil {
		return err
	}
	var q NumberRequest
	if err := decodeBody(w, r, 4<<10, &q); err != nil {
		return err
	}
	if _, err := s.ownAgent(r, p, q.Agent); err != nil {
		return &Error{Kind: KindNotFound, Field: "agent", Message: "no agent " + q.Agent + " of yours"}
	}
	ctx := r.Context()
	s.rentMu.Lock()
	defer s.rentMu.Unlock()
	if prev, err := s.cfg.Store.GetNumber(ctx, q.Number); err == nil {
		if _, err := s.ownAgent(r, p, prev.AgentID); err != nil {
			return &Error{Kind: KindConflict, Field: "number", Message: "number is bound by another provider"}
		}
		if prev.ICCID != q.ICCID {
			if _, err := s.cfg.Store.ActiveLease(ctx, prev.ICCID, s.cfg.Now()); err == nil {
				return &Error{Kind: KindConflict, Field: "iccid", Message: "number is rented on its current SIM; move it when the rental ends"}
			}
		}
	} else if !errors.Is(err, hub.ErrNotFound) {
		return err
	}
	if err := s.checkSIMNotOthers(r, p, q.ICCID, q.Number); err != nil {
		return err
	}
	if q.EscrowKey != "" {
		if s.cfg.Chain == nil {
			return &Error{Kind: KindNotImplemented, Field: "escrow_key", Message: "this hub takes no escrow payments (no Emercoin node)"}
		}
		if err := payment.CheckKey(q.EscrowKey); err != nil {
			return fieldError("escrow_key", "want a secp256k1 public key, 33-byte compressed hex")
		}
	}
	pr, _ := q.Prices.parse("prices.")
	n := hub.Number{E164: q.Number, ICCID: q.ICCID, AgentID: q.Agent, Country: q.Country,
		Features: hub.NormalFeatures(q.Features), PricePerDay: pr.day, PricePerWeek: pr.week,
		PricePerMonth: pr.month, PricePerSMS: pr.sms, UpdatedAt: s.cfg.Now()}
	if err := s.cfg.Store.BindNumber(ctx, n); err != nil {
		return err
	}
	if s.cfg.Chain != nil {
		if err := s.cfg.Chain.Book.SetProviderKey(q.Number, q.EscrowKey); err != nil {
			return err
		}
	}
	n, err := s.cfg.Store.GetNumber(ctx, q.Number)
	if err != nil {
		return err
	}
	v, err := s.providerNumber(r, n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// checkSIMNotOthers refuses to bind a SIM that is another provider's: one that carries another
// provider's number, or that another provider's agent reports in one of its slots. Leases are
// per SIM, so a provider binding someone else's ICCID to a number of their own could otherwise
// make that provider's number look rented, or be refused when it is rented. (It does not prove
// that the caller holds the SIM: an agent of theirs reports it once it is in.)
func (s *Server) checkSIMNotOthers(r *http.Request, p principal, iccid, number string) error {
	ctx := r.Context()
	ns, err := s.cfg.Store.ListNumbers(ctx, hub.NumberFilter{})
	if err != nil {
		return err
	}
	for _, n := range ns {
		if n.ICCID != iccid || n.E164 == number {
			continue
		}
		if err := s.notOthers(r, p, n.AgentID, "this SIM carries another provider's number"); err != nil {
			return err
		}
	}
	slots, err := s.cfg.Store.ListSlots(ctx, "")
	if err != nil {
		return err
	}
	for _, sl := range slots {
		// A report older than a day does not count: the SIM may have moved to the caller since,
		// and an agent that is gone for good must not hold it forever.
		if sl.ICCID != iccid || s.cfg.Now().Sub(sl.UpdatedAt) > simReportValid {
			continue
		}
		if err := s.notOthers(r, p, sl.AgentID, "this SIM is in another provider's agent"); err != nil {
			return err
		}
	}
	return nil
}

// notOthers returns a conflict on iccid with msg when agent id is not the caller's, and a
// store error as it is.
func (s *Server) notOthers(r *http.Request, p principal, id, msg string) error {
	_, err := s.ownAgent(r, p, id)
	var e *Error
	if errors.As(err, &e) && e.Kind == KindNotFound {
		return &Error{Kind: KindConflict, Field: "iccid", Message: msg}
	}
	return err
}

// simReportValid is how long an agent's report of a SIM in its slot keeps other providers from
// binding that SIM.
const simReportValid = 24 * time.Hour

func (s *Server) patchNumber(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireProvider(p); err != nil {
		return err
	}
	var q NumberPatch
	if err := decodeBody(w, r, 4<<10, &q); err != nil {
		return err
	}
	ctx := r.Context()
	s.rentMu.Lock()
	defer s.rentMu.Unlock()
	e164 := r.PathValue("number")
	n, err := s.cfg.Store.GetNumber(ctx, e164)
	if err == nil {
		_, err = s.ownAgent(r, p, n.AgentID)
	}
	if err != nil {
		if _, ok := err.(*Error); ok || errors.Is(err, hub.ErrNotFound) {
			return errorf(KindNotFound, "no number %q of yours", e164)
		}
		return err
	}
	if q.Features != nil {
		n.Features = hub.NormalFeatures(*q.Features)
	}
	if pp := q.Prices; pp != nil {
		for _, f := range []struct {
			v   *string
			dst *hub.Micro
		}{{pp.Day, &n.PricePerDay}, {pp.Week, &n.PricePerWeek}, {pp.Month, &n.PricePerMonth}, {pp.SMS, &n.PricePerSMS}} {
			if f.v != nil {
				*f.dst, _ = parseMicro("prices", *f.v)
			}
		}
	}
	n.UpdatedAt = s.cfg.Now()
	if err := s.cfg.Store.BindNumber(ctx, n); err != nil {
		return err
	}
	v, err := s.providerNumber(r, n)
	if err != nil {
		return err
	}
	v.Features = hub.NormalFeatures(v.Features)
	v.Updated = hub.StoreTime(v.Updated)
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listProviderNumbers(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireProvider(p); err != nil {
		return err
	}
	as, err := s.ownAgents(r, p)
	if err != nil {
		return err
	}
	out := ProviderNumberList{Numbers: []ProviderNumber{}}
	for _, a := range as {
		ns, err := s.cfg.Store.ListNumbers(r.Context(), hub.NumberFilter{AgentID: a.ID})
		if err != nil {
			return err
		}
		for _, n := range ns {
			v, err := s.providerNumber(r, n)
			if err != nil {
				return err
			}
			out.Numbers = append(out.Numbers, v)
		}
	}
	slices.SortFunc(out.Numbers, func(a, b ProviderNumber) int { return strings.Compare(a.Number, b.Number) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) earnings(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requireProvider(p); err != nil {
		return err
	}
	ps, err := s.cfg.Store.ListPayments(r.Context(), p.provider[:])
	if err != nil {
		return err
	}
	var total hub.Micro
	out := Earnings{Payments: []PaymentView{}}
	for _, x := range ps {
		total += x.Amount
		out.Payments = append(out.Payments, PaymentView{ID: x.ID, Rental: x.RentalID, Amount: x.Amount.String(),
			Method: x.Method, Ref: x.Ref, Created: x.CreatedAt})
	}
	out.Total = total.String()
	writeJSON(w, http.StatusOK, out)
	return nil
}
