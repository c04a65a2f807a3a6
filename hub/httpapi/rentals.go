package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/payment"
	"github.com/ness-network/ness-sms/wire"
)

// Rental periods.
var periods = map[string]time.Duration{
	"daily":   24 * time.Hour,
	"weekly":  7 * 24 * time.Hour,
	"monthly": 30 * 24 * time.Hour,
}

func priceFor(n hub.Number, period string) hub.Micro {
	switch period {
	case "daily":
		return n.PricePerDay
	case "weekly":
		return n.PricePerWeek
	}
	return n.PricePerMonth
}

// RentalRequest is the body of POST /v1/rentals.
type RentalRequest struct {
	Number    string `json:"number"`     // E.164 from GET /v1/numbers
	Duration  string `json:"duration"`   // daily, weekly or monthly
	RenterKey string `json:"renter_key"` // X25519 public key (base64) SMS are sealed to
	// Payment is how the rental is paid: dev (at once, the development chain; the default),
	// escrow (2-of-3 multisig; needs EscrowKey) or randpay (per SMS; needs Budget).
	Payment   string `json:"payment,omitempty"`
	EscrowKey string `json:"escrow_key,omitempty"` // renter's secp256k1 public key, 33-byte compressed hex
	Budget    string `json:"budget,omitempty"`     // randpay: the most the renter pays, EMC
}

func (q *RentalRequest) validate() error {
	if !hub.ValidE164(q.Number) {
		return fieldError("number", "want E.164: + and 2-15 digits")
	}
	if _, ok := periods[q.Duration]; !ok {
		return fieldError("duration", "want daily, weekly or monthly")
	}
	if _, err := wire.ParseSealKey("renter_key", q.RenterKey); err != nil {
		return fieldError("renter_key", "want a base64 X25519 public key (32 bytes)")
	}
	switch q.Payment {
	case "", "dev":
	case "escrow":
		if err := payment.CheckKey(q.EscrowKey); err != nil {
			return fieldError("escrow_key", "want your secp256k1 public key, 33-byte compressed hex")
		}
	case "randpay":
		if b, err := emercoin.ParseAmount(q.Budget); err != nil || b <= 0 {
			return fieldError("budget", "want the most you pay for this rental's SMS, EMC (\"10\")")
		}
	default:
		return fieldError("payment", "want dev, escrow or randpay")
	}
	if q.Payment != "escrow" && q.EscrowKey != "" {
		return fieldError("escrow_key", "only with payment escrow")
	}
	if q.Payment != "randpay" && q.Budget != "" {
		return fieldError("budget", "only with payment randpay")
	}
	return nil
}

// ExtendRequest is the body of POST /v1/rentals/{id}/extend.
type ExtendRequest struct {
	Duration string `json:"duration"` // daily, weekly or monthly
}

func (q *ExtendRequest) validate() error {
	if _, ok := periods[q.Duration]; !ok {
		return fieldError("duration", "want daily, weekly or monthly")
	}
	return nil
}

// RentalView is a rental as its renter sees it.
type RentalView struct {
	ID        string    `json:"id"`
	Number    string    `json:"number"`
	Status    string    `json:"status"` // pending, active, ended, cancelled
	From      time.Time `json:"from"`
	Until     time.Time `json:"until"`
	RenterKey string    `json:"renter_key"` // X25519, base64
	LeaseSeq  uint64    `json:"lease_seq"`
	// Lease is the hub-signed lease the agent received (JSON, base64 of the exact bytes).
	Lease   string    `json:"lease,omitempty"`
	Created time.Time `json:"created"`
	Paid    string    `json:"paid,omitempty"` // EMC paid by this request (create, extend)
	// Payment is dev, escrow or randpay; Escrow says where to pay (create of an escrow rental).
	Payment string       `json:"payment,omitempty"`
	Escrow  *EscrowView  `json:"escrow,omitempty"`
	Randpay *RandpayView `json:"randpay,omitempty"`
}

func rentalView(r hub.Rental) RentalView {
	return RentalView{ID: r.ID, Number: r.E164, Status: string(r.Status), From: r.From, Until: r.Until,
		RenterKey: base64.StdEncoding.EncodeToString(r.RenterSealKey), LeaseSeq: r.LeaseSeq,
		Lease: base64.StdEncoding.EncodeToString(r.SignedLease), Created: r.CreatedAt}
}

// RentalList is the caller's rentals, oldest first.
type RentalList struct {
	Rentals []RentalView `json:"rentals"`
}

// ownRental returns the caller's rental id; another account's rental is not found.
func (s *Server) ownRental(r *http.Request, p principal, id string) (hub.Rental, error) {
	rent, err := s.cfg.Store.GetRental(r.Context(), id)
	if errors.Is(err, hub.ErrNotFound) || err == nil && !bytes.Equal(rent.RenterSignKey, p.account) {
		return hub.Rental{}, errorf(KindNotFound, "no rental %q of yours", id)
	}
	return rent, err
}

func (s *Server) createRental(w http.ResponseWriter, r *http.Request, p principal) error {
	var q RentalRequest
	if err := decodeBody(w, r, 4<<10, &q); err != nil {
		return err
	}
	ctx := r.Context()
	seal, _ := wire.ParseSealKey("renter_key", q.RenterKey)
	n, err := s.cfg.Store.GetNumber(ctx, q.Number)
	if errors.Is(err, hub.ErrNotFound) {
		return &Error{Kind: KindNotFound, Field: "number", Message: "no such number in the catalogue"}
	} else if err != nil {
		return err
	}
	agent, err := s.cfg.Store.GetAgent(ctx, n.AgentID)
	if err != nil {
		return err
	}
	method := q.Payment
	if method == "" {
		method = "dev"
	}
	var providerEscrowKey string
	if method != "dev" {
		c, err := s.chain()
		if err != nil {
			return err
		}
		if method == "escrow" {
			if providerEscrowKey, err = c.Book.ProviderKey(n.E164); err != nil {
				return err
			} else if providerEscrowKey == "" {
				return &Error{Kind: KindConflict, Field: "payment", Message: "the provider gave no escrow key for this number; pay with dev or randpay, or pick another number"}
			}
		}
	}
	s.rentMu.Lock()
	defer s.rentMu.Unlock()
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	if _, err := s.cfg.Store.ActiveLease(ctx, n.ICCID, now); err == nil {
		return &Error{Kind: KindConflict, Field: "number", Message: "number is rented; pick another from GET /v1/numbers"}
	} else if !errors.Is(err, hub.ErrNotFound) {
		return err
	}
	rent := hub.Rental{ID: randomID("rnt_"), E164: n.E164, ICCID: n.ICCID, RenterSealKey: seal[:],
		RenterSignKey: p.account, From: now, Until: now.Add(periods[q.Duration]), CreatedAt: now,
		Status: hub.RentalPending}
	// Claim the SIM before any payment: a rental another hub instance made at the same moment
	// is refused here (409), so no payment is ever taken for a rental that cannot begin.
	if err := s.cfg.Store.PutRentalExclusive(ctx, rent); err != nil {
		return err
	}
	price := priceFor(n, q.Duration)
	v, err := s.payNew(ctx, rent, method, q, n, agent, price, providerEscrowKey)
	if err != nil {
		rent.Status = hub.RentalCancelled
		if cerr := s.cfg.Store.PutRental(context.WithoutCancel(ctx), rent); cerr != nil {
			s.log.Error("unpaid rental not cancelled; its SIM stays claimed until the rental's end", "rental", rent.ID, "err", cerr)
		}
		return err
	}
	w.Header().Set("Location", "/v1/rentals/"+rent.ID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// payNew takes the payment of a new rental, stored pending, and begins its lease when it is
// paid (dev, randpay); an escrow rental stays pending until the watcher sees its funding.
func (s *Server) payNew(ctx context.Context, rent hub.Rental, method string, q RentalRequest, n hub.Number, agent hub.Agent,
	price hub.Micro, providerEscrowKey string) (RentalView, error) {
	var v RentalView
	switch method {
	case "dev":
		if _, err := s.cfg.Payments.Pay(ctx, PaymentRequest{RentalID: rent.ID, Number: n.E164, Period: q.Duration,
			Renter: rent.RenterSignKey, Provider: agent.ProviderKey, Amount: price}); err != nil {
			return v, s.paymentError(err)
		}
	case "randpay":
		budget, _ := emercoin.ParseAmount(q.Budget)
		c := s.cfg.Chain
		c.Payee.Open(rent.ID, budget)
		if err := c.Book.Put(payment.RentalPay{Rental: rent.ID, Method: "randpay", Budget: budget}); err != nil {
			return v, err
		}
	case "escrow":
		bp, err := s.openEscrow(ctx, rent, q.EscrowKey, providerEscrowKey, price, periods[q.Duration])
		if err != nil {
			return v, err
		}
		ev, err := s.escrowView(ctx, bp)
		if err != nil {
			return v, err
		}
		v = rentalView(rent)
		v.Payment, v.Escrow = method, &ev
		return v, nil
	}
	rent, err := s.cfg.Leases.Begin(ctx, rent)
	if err != nil && rent.LeaseSeq == 0 {
		return v, err
	}
	if err != nil {
		s.log.Warn("rental recorded but lease not published", "rental", rent.ID, "err", err)
	}
	v = rentalView(rent)
	v.Payment = method
	if method == "dev" {
		v.Paid = price.String()
	}
	if method == "randpay" {
		rv, err := s.randpayView(s.cfg.Chain, rent.ID, payment.RentalPay{Budget: emercoin.Amount(0)})
		if err == nil {
			v.Randpay = &rv
		}
	}
	return v, nil
}

func (s *Server) paymentError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	s.log.Warn("payment failed", "err", err)
	return errorf(KindPaymentRequired, "payment failed: %v", err)
}

func (s *Server) listRentals(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !hub.RentalStatus(status).Valid() {
		return fieldError("status", "want pending, active, ended or cancelled")
	}
	rs, err := s.cfg.Store.ListRentals(r.Context(), p.account)
	if err != nil {
		return err
	}
	out := RentalList{Rentals: []RentalView{}}
	for _, x := range rs {
		if status == "" || string(x.Status) == status {
			out.Rentals = append(out.Rentals, rentalView(x))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getRental(w http.ResponseWriter, r *http.Request, p principal) error {
	rent, err := s.ownRental(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rentalView(rent))
	return nil
}

func (s *Server) extendRental(w http.ResponseWriter, r *http.Request, p principal) error {
	var q ExtendRequest
	if err := decodeBody(w, r, 1<<10, &q); err != nil {
		return err
	}
	ctx := r.Context()
	s.rentMu.Lock()
	defer s.rentMu.Unlock()
	rent, err := s.ownRental(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if c := s.cfg.Chain; c != nil {
		if bp, err := c.Book.Get(rent.ID); err == nil {
			return errorf(KindConflict, "rental %s is paid with %s; rent the number again for a new period", rent.ID, bp.Method)
		}
	}
	now := s.cfg.Now()
	if rent.Status != hub.RentalActive || !now.Before(rent.Until) {
		return errorf(KindConflict, "rental %s is %s; only an active rental can be extended", rent.ID, rent.Status)
	}
	n, err := s.cfg.Store.GetNumber(ctx, rent.E164)
	if err != nil {
		return err
	}
	agent, err := s.cfg.Store.GetAgent(ctx, n.AgentID)
	if err != nil {
		return err
	}
	price := priceFor(n, q.Duration)
	if _, err := s.cfg.Payments.Pay(ctx, PaymentRequest{RentalID: rent.ID, Number: n.E164, Period: q.Duration,
		Renter: p.account, Provider: agent.ProviderKey, Amount: price}); err != nil {
		return s.paymentError(err)
	}
	rent.Until = rent.Until.Add(periods[q.Duration])
	rent, err = s.cfg.Leases.Begin(ctx, rent)
	if err != nil && rent.LeaseSeq == 0 {
		return err
	}
	if err != nil {
		s.log.Warn("rental extended but lease not published", "rental", rent.ID, "err", err)
	}
	v := rentalView(rent)
	v.Paid = price.String()
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) cancelRental(w http.ResponseWriter, r *http.Request, p principal) error {
	s.rentMu.Lock()
	defer s.rentMu.Unlock()
	rent, err := s.ownRental(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if c := s.cfg.Chain; c != nil {
		if bp, err := c.Book.Get(rent.ID); err == nil {
			switch bp.Method {
			case "escrow":
				if rent, err = s.cancelEscrow(r.Context(), c, rent, bp); err != nil {
					return err
				}
				writeJSON(w, http.StatusOK, rentalView(rent))
				return nil
			case "randpay":
				if rent.Status == hub.RentalActive {
					if _, err := s.endRandpay(r.Context(), c, bp, "ended by the renter"); err != nil {
						return err
					}
					rent, err = s.cfg.Store.GetRental(r.Context(), rent.ID)
					if err != nil {
						return err
					}
					writeJSON(w, http.StatusOK, rentalView(rent))
					return nil
				}
			}
		} else if !errors.Is(err, payment.ErrNoPayment) {
			return err
		}
	}
	if rent.Status != hub.RentalActive {
		return errorf(KindConflict, "rental %s is already %s", rent.ID, rent.Status)
	}
	rent, err = s.cfg.Leases.End(r.Context(), rent.ID, s.cfg.Now())
	if err != nil && rent.LeaseSeq == 0 {
		return err
	}
	if err != nil {
		s.log.Warn("rental ended but ended lease not published", "rental", rent.ID, "err", err)
	}
	writeJSON(w, http.StatusOK, rentalView(rent))
	return nil
}
