package httpapi

// On-chain rental payments: a 2-of-3 multisig escrow (renter, provider, hub as arbiter) and
// RANDPAY per delivered SMS (docs/EMERCOIN.md). The hub never holds the renter's keys; it holds
// the arbiter key and, for RANDPAY, is the payee on the provider's behalf.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/payment"
)

// ChainPayments enables the payment methods "escrow" and "randpay" of POST /v1/rentals.
// Run Server.TickPayments every few seconds: it watches escrow funding (the lease begins once it
// has the confirmations), plans the release at a rental's end, issues RANDPAY challenges for
// delivered SMS and ends rentals whose budget is exhausted or whose payment is missing.
type ChainPayments struct {
	Escrows *payment.Escrows
	Payee   *payment.Payee
	Book    *payment.Book
	Network emercoin.Network // addresses of the renter's and provider's keys; zero: MainNet
	// FundingWindow is how long an escrow rental waits for its funding before it is cancelled
	// (when nothing was paid); default 1h.
	FundingWindow time.Duration
	// Grace is how long a RANDPAY challenge may stay unanswered before the rental is ended;
	// default 10m.
	Grace time.Duration
}

func (c *ChainPayments) fundingWindow() time.Duration {
	if c.FundingWindow > 0 {
		return c.FundingWindow
	}
	return time.Hour
}

func (c *ChainPayments) grace() time.Duration {
	if c.Grace > 0 {
		return c.Grace
	}
	return 10 * time.Minute
}

// openChaps are the RANDPAY challenges issued and not yet answered, per rental (memory only:
// the node forgets its challenges on restart too).
type openChaps struct {
	mu sync.Mutex
	m  map[string][]ChapView
}

func (o *openChaps) list(rental string) []ChapView {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]ChapView{}, o.m[rental]...)
}

func (o *openChaps) add(rental string, c ChapView) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string][]ChapView{}
	}
	o.m[rental] = append(o.m[rental], c)
}

func (o *openChaps) take(rental, chap string) (ChapView, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	cs := o.m[rental]
	for i, c := range cs {
		if c.Chap == chap {
			o.m[rental] = append(cs[:i:i], cs[i+1:]...)
			return c, true
		}
	}
	return ChapView{}, false
}

// EscrowView is GET /v1/rentals/{id}/escrow: where to pay, how far the funding is, and the
// spend waiting for its second signature.
type EscrowView struct {
	State         string     `json:"state"` // funding, active, release, refund, released, refunded, cancelled
	Address       string     `json:"address"`
	Amount        string     `json:"amount"` // EMC to pay to address
	Received      string     `json:"received"`
	Confirmations int64      `json:"confirmations"`
	MinConf       int        `json:"min_conf"`
	RedeemScript  string     `json:"redeem_script"`
	RenterKey     string     `json:"renter_key"`
	ProviderKey   string     `json:"provider_key"`
	ArbiterKey    string     `json:"arbiter_key"`
	FeeBps        int        `json:"fee_bps"`
	Anchor        string     `json:"anchor"` // ness:escrow:<id>
	Deadline      time.Time  `json:"deadline,omitempty"`
	Spend         *SpendView `json:"spend,omitempty"` // state release or refund: what to sign
	TxID          string     `json:"txid,omitempty"`  // the settling transaction
}

// SpendView is a planned release or refund, signed by the hub; the renter or the provider adds
// the second signature (signrawtransactionwithkey with prev, or payment.SignOffline) and POSTs
// the hex to /v1/rentals/{id}/escrow/sign.
type SpendView struct {
	Kind   string            `json:"kind"` // release or refund
	Hex    string            `json:"hex"`
	Prev   []emercoin.PrevTx `json:"prev"`
	To     string            `json:"to"`
	Payout string            `json:"payout"`
	HubFee string            `json:"hub_fee"`
	TxFee  string            `json:"tx_fee"`
}

// SignRequest is the body of POST /v1/rentals/{id}/escrow/sign.
type SignRequest struct {
	Hex string `json:"hex"` // the spend with the second signature
}

// RandpayView is GET /v1/rentals/{id}/randpay: the budget and the challenges to answer.
type RandpayView struct {
	Budget     string     `json:"budget"`
	Spent      string     `json:"spent"`
	Reserved   string     `json:"reserved"`
	Amount     string     `json:"amount"` // each challenge's amount; a win costs it
	Risk       int        `json:"risk"`   // 1 in risk challenges is won
	Ended      bool       `json:"ended"`
	Challenges []ChapView `json:"challenges"`
}

// ChapView is one unanswered challenge: pay it with randpay_mktx <chap> and POST the tx.
type ChapView struct {
	Chap    string    `json:"chap"`
	Message string    `json:"message"` // the delivered SMS it charges for
	Issued  time.Time `json:"issued"`
}

// RandpayRequest is the body of POST /v1/rentals/{id}/randpay.
type RandpayRequest struct {
	Chap string `json:"chap"`
	Tx   string `json:"tx"` // randpay_mktx's hex
}

// RandpayResult is the answer to POST /v1/rentals/{id}/randpay.
type RandpayResult struct {
	Won    bool        `json:"won"`
	Sent   bool        `json:"sent"`
	TxID   string      `json:"txid,omitempty"`
	Amount string      `json:"amount"`
	Budget RandpayView `json:"randpay"`
}

func (s *Server) chain() (*ChainPayments, error) {
	if s.cfg.Chain == nil {
		return nil, &Error{Kind: KindNotImplemented, Field: "payment", Message: "this hub takes no on-chain payments (no Emercoin node); use payment dev"}
	}
	return s.cfg.Chain, nil
}

// openEscrow claims nothing itself: rent is already stored pending. It opens the escrow and
// records it in the book.
func (s *Server) openEscrow(ctx context.Context, rent hub.Rental, renterKey, providerKey string, price hub.Micro, period time.Duration) (payment.RentalPay, error) {
	c := s.cfg.Chain
	e, err := c.Escrows.Open(ctx, randomID("esc_"), rent.ID, renterKey, providerKey, emercoin.Amount(price))
	if err != nil {
		return payment.RentalPay{}, err
	}
	pa, err := payment.KeyAddress(c.Network, providerKey)
	if err != nil {
		return payment.RentalPay{}, err
	}
	ra, err := payment.KeyAddress(c.Network, renterKey)
	if err != nil {
		return payment.RentalPay{}, err
	}
	p := payment.RentalPay{Rental: rent.ID, Method: "escrow", Period: period, Escrow: &e, State: payment.StateFunding,
		Deadline: s.cfg.Now().Add(c.fundingWindow()).UTC(), ProviderAddr: pa, RenterAddr: ra}
	return p, c.Book.Put(p)
}

func (s *Server) escrowView(ctx context.Context, p payment.RentalPay) (EscrowView, error) {
	c := s.cfg.Chain
	e := p.Escrow
	name, _ := payment.EscrowName(e.ID)
	v := EscrowView{State: p.State, Address: e.Address, Amount: e.Amount.String(), Received: emercoin.Amount(0).String(),
		MinConf: c.Escrows.MinConf, RedeemScript: e.RedeemScript, RenterKey: e.RenterKey, ProviderKey: e.ProviderKey,
		ArbiterKey: e.ArbiterKey, FeeBps: e.FeeBps, Anchor: name, TxID: p.TxID}
	if v.MinConf <= 0 {
		v.MinConf = payment.DefaultMinConf
	}
	if p.State == payment.StateFunding {
		v.Deadline = p.Deadline
	}
	if p.State == payment.StateFunding || p.State == payment.StateActive {
		f, err := c.Escrows.Status(ctx, *e)
		if err != nil {
			return v, err
		}
		v.Received, v.Confirmations = f.Received.String(), f.Confirmations
	}
	if sp := p.Spend; sp != nil && (p.State == payment.StateRelease || p.State == payment.StateRefund) {
		v.Spend = &SpendView{Kind: string(sp.Kind), Hex: sp.Hex, Prev: sp.Prev, To: sp.To, Payout: sp.Payout.String(),
			HubFee: sp.HubFee.String(), TxFee: sp.NetworkFx.String()}
	}
	return v, nil
}

// escrowParty returns the rental if the caller is its renter or the provider of its number.
func (s *Server) escrowParty(r *http.Request, p principal, id string) (hub.Rental, error) {
	ctx := r.Context()
	rent, err := s.cfg.Store.GetRental(ctx, id)
	if errors.Is(err, hub.ErrNotFound) {
		return hub.Rental{}, errorf(KindNotFound, "no rental %q of yours", id)
	} else if err != nil {
		return hub.Rental{}, err
	}
	if bytes.Equal(rent.RenterSignKey, p.account) {
		return rent, nil
	}
	if p.isProvider() {
		if n, err := s.cfg.Store.GetNumber(ctx, rent.E164); err == nil {
			if a, err := s.cfg.Store.GetAgent(ctx, n.AgentID); err == nil && bytes.Equal(a.ProviderKey, p.provider[:]) {
				return rent, nil
			}
		}
	}
	return hub.Rental{}, errorf(KindNotFound, "no rental %q of yours", id)
}

func (s *Server) bookEntry(rentalID, method string) (*ChainPayments, payment.RentalPay, error) {
	c, err := s.chain()
	if err != nil {
		return nil, payment.RentalPay{}, err
	}
	p, err := c.Book.Get(rentalID)
	if errors.Is(err, payment.ErrNoPayment) || err == nil && p.Method != method {
		return nil, payment.RentalPay{}, errorf(KindNotFound, "rental %s is not paid with %s", rentalID, method)
	}
	return c, p, err
}

func (s *Server) getEscrow(w http.ResponseWriter, r *http.Request, p principal) error {
	rent, err := s.escrowParty(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	_, bp, err := s.bookEntry(rent.ID, "escrow")
	if err != nil {
		return err
	}
	v, err := s.escrowView(r.Context(), bp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) signEscrow(w http.ResponseWriter, r *http.Request, p principal) error {
	var q SignRequest
	if err := decodeBody(w, r, 64<<10, &q); err != nil {
		return err
	}
	if q.Hex == "" {
		return fieldError("hex", "want the spend's hex with your signature added")
	}
	rent, err := s.escrowParty(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.rentMu.Lock()
	defer s.rentMu.Unlock()
	c, bp, err := s.bookEntry(rent.ID, "escrow")
	if err != nil {
		return err
	}
	if bp.Spend == nil || bp.State != payment.StateRelease && bp.State != payment.StateRefund {
		return errorf(KindConflict, "escrow of rental %s is %s: nothing to sign", rent.ID, bp.State)
	}
	sp := *bp.Spend
	sp.Hex = q.Hex
	txid, err := c.Escrows.Settle(r.Context(), *bp.Escrow, &sp)
	if err != nil {
		return err
	}
	bp.TxID, bp.Spend = txid, &sp
	if sp.Kind == payment.Refund {
		bp.State = payment.StateRefunded
	} else {
		bp.State = payment.StateReleased
	}
	if err := c.Book.Put(bp); err != nil {
		return err
	}
	s.log.Info("escrow settled", "rental", rent.ID, "kind", sp.Kind, "txid", txid, "payout", sp.Payout)
	v, err := s.escrowView(r.Context(), bp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// planSpend plans a release (to the provider) or refund (to the renter), adds the hub's
// signature and records it as waiting for the second one. Call with rentMu held.
func (s *Server) planSpend(ctx context.Context, c *ChainPayments, bp payment.RentalPay, kind payment.SpendKind) (payment.RentalPay, error) {
	to, state := bp.ProviderAddr, payment.StateRelease
	if kind == payment.Refund {
		to, state = bp.RenterAddr, payment.StateRefund
	}
	sp, err := c.Escrows.Plan(ctx, *bp.Escrow, kind, to)
	if err != nil {
		return bp, err
	}
	if _, err := c.Escrows.Arbitrate(ctx, *bp.Escrow, sp); err != nil {
		return bp, err
	}
	bp.Spend, bp.State = sp, state
	return bp, c.Book.Put(bp)
}

// cancelEscrow handles DELETE of an escrow rental. Call with rentMu held.
func (s *Server) cancelEscrow(ctx context.Context, c *ChainPayments, rent hub.Rental, bp payment.RentalPay) (hub.Rental, error) {
	switch {
	case rent.Status == hub.RentalPending && bp.State == payment.StateFunding:
		f, err := c.Escrows.Status(ctx, *bp.Escrow)
		if err != nil {
			return rent, err
		}
		switch {
		case f.Funded:
			if bp, err = s.planSpend(ctx, c, bp, payment.Refund); err != nil {
				return rent, err
			}
		case f.Received == 0:
			bp.State = payment.StateCancelled
			if err := c.Book.Put(bp); err != nil {
				return rent, err
			}
		default:
			return rent, errorf(KindConflict, "the escrow has received %s at %d confirmations; cancel again once it has %d to be refunded",
				f.Received, f.Confirmations, c.Escrows.MinConf)
		}
		rent.Status = hub.RentalCancelled
		return rent, s.cfg.Store.PutRental(ctx, rent)
	case rent.Status == hub.RentalActive:
		rent, err := s.endLease(ctx, rent)
		if err != nil {
			return rent, err
		}
		if bp.State == payment.StateActive {
			if _, err := s.planSpend(ctx, c, bp, payment.Release); err != nil {
				s.log.Warn("escrow release not planned; the payment watcher retries", "rental", rent.ID, "err", err)
			}
		}
		return rent, nil
	}
	return rent, errorf(KindConflict, "rental %s is already %s", rent.ID, rent.Status)
}

func (s *Server) endLease(ctx context.Context, rent hub.Rental) (hub.Rental, error) {
	r, err := s.cfg.Leases.End(ctx, rent.ID, s.cfg.Now())
	if err != nil && r.LeaseSeq == 0 {
		return rent, err
	}
	if err != nil {
		s.log.Warn("rental ended but ended lease not published", "rental", rent.ID, "err", err)
	}
	return r, nil
}

func (s *Server) randpayView(c *ChainPayments, rentalID string, bp payment.RentalPay) (RandpayView, error) {
	b, err := c.Payee.Budget(rentalID)
	if errors.Is(err, payment.ErrUnknownRental) {
		b = payment.Budget{Limit: bp.Budget}
	} else if err != nil {
		return RandpayView{}, err
	}
	amount, risk := c.Payee.Amount, c.Payee.Risk
	if amount == 0 {
		amount = payment.DefaultAmount
	}
	if risk == 0 {
		risk = payment.DefaultRisk
	}
	return RandpayView{Budget: b.Limit.String(), Spent: b.Spent.String(), Reserved: b.Reserved.String(),
		Amount: amount.String(), Risk: risk, Ended: bp.Ended, Challenges: s.chaps.list(rentalID)}, nil
}

func (s *Server) getRandpay(w http.ResponseWriter, r *http.Request, p principal) error {
	rent, err := s.ownRental(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.rentMu.Lock()
	defer s.rentMu.Unlock()
	c, bp, err := s.bookEntry(rent.ID, "randpay")
	if err != nil {
		return err
	}
	if bp, err = s.tickRandpay(r.Context(), c, bp); err != nil {
		return err
	}
	v, err := s.randpayView(c, rent.ID, bp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) postRandpay(w http.ResponseWriter, r *http.Request, p principal) error {
	var q RandpayRequest
	if err := decodeBody(w, r, 32<<10, &q); err != nil {
		return err
	}
	switch {
	case q.Chap == "":
		return fieldError("chap", "want a challenge from GET /v1/rentals/{id}/randpay")
	case q.Tx == "":
		return fieldError("tx", "want randpay_mktx's hex")
	}
	rent, err := s.ownRental(r, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	c, bp, err := s.bookEntry(rent.ID, "randpay")
	if err != nil {
		return err
	}
	open, ok := s.chaps.take(rent.ID, q.Chap)
	if !ok {
		return &Error{Kind: KindInvalid, Field: "chap", Message: "no open challenge " + q.Chap + " for this rental"}
	}
	res, err := c.Payee.Accept(r.Context(), rent.ID, q.Chap, q.Tx)
	if err != nil {
		// A challenge is single use: the SMS it charged for gets a new one, due as the old one was.
		if chap, cerr := c.Payee.Challenge(r.Context(), rent.ID); cerr == nil {
			open.Chap = chap
			s.chaps.add(rent.ID, open)
		}
		return err
	}
	v, err := s.randpayView(c, rent.ID, bp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, RandpayResult{Won: res.Won, Sent: res.Sent, TxID: res.TxID, Amount: res.Amount.String(), Budget: v})
	return nil
}

// tickRandpay issues a challenge for each SMS delivered under the rental since the last one,
// and ends the rental when its budget is exhausted or a challenge went unanswered past the
// grace. Call with rentMu held.
func (s *Server) tickRandpay(ctx context.Context, c *ChainPayments, bp payment.RentalPay) (payment.RentalPay, error) {
	if bp.Ended {
		return bp, nil
	}
	now := s.cfg.Now()
	for _, ch := range s.chaps.list(bp.Rental) {
		if now.Sub(ch.Issued) > c.grace() {
			return s.endRandpay(ctx, c, bp, "payment missing past the grace")
		}
	}
	ms, err := s.cfg.Store.ListMessages(ctx, hub.MessageQuery{RentalID: bp.Rental, After: bp.LastSeq, Limit: hub.MaxListLimit})
	if err != nil {
		return bp, err
	}
	for _, m := range ms {
		chap, err := c.Payee.Challenge(ctx, bp.Rental)
		if errors.Is(err, payment.ErrBudgetExhausted) {
			if len(s.chaps.list(bp.Rental)) == 0 {
				return s.endRandpay(ctx, c, bp, "budget exhausted")
			}
			break // outstanding challenges may still lose; look again after they are answered
		}
		if err != nil {
			return bp, err
		}
		s.chaps.add(bp.Rental, ChapView{Chap: chap, Message: m.ID, Issued: now.UTC()})
		bp.LastSeq = m.Seq
	}
	return bp, c.Book.Put(bp)
}

func (s *Server) endRandpay(ctx context.Context, c *ChainPayments, bp payment.RentalPay, why string) (payment.RentalPay, error) {
	rent, err := s.cfg.Store.GetRental(ctx, bp.Rental)
	if err != nil {
		return bp, err
	}
	if rent.Status == hub.RentalActive {
		if _, err := s.endLease(ctx, rent); err != nil {
			return bp, err
		}
	}
	bp.Ended = true
	s.log.Info("randpay rental ended", "rental", bp.Rental, "why", why)
	return bp, c.Book.Put(bp)
}

// TickPayments is the payment watcher's step (ness-hub runs it every few seconds): escrow
// rentals whose funding has its confirmations begin (their lease reaches the agent); unfunded
// ones past their funding window are cancelled; funded ones past their end get the release
// planned and signed by the hub; RANDPAY rentals get challenges for newly delivered SMS. Errors
// of one rental are logged and do not stop the others; the first is returned.
func (s *Server) TickPayments(ctx context.Context) error {
	c := s.cfg.Chain
	if c == nil {
		return nil
	}
	ps, err := c.Book.List()
	if err != nil {
		return err
	}
	var first error
	for _, bp := range ps {
		if err := s.tickOne(ctx, c, bp); err != nil {
			s.log.Warn("payment watcher", "rental", bp.Rental, "method", bp.Method, "state", bp.State, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func (s *Server) tickOne(ctx context.Context, c *ChainPayments, bp payment.RentalPay) error {
	s.rentMu.Lock()
	defer s.rentMu.Unlock()
	if bp, err := c.Book.Get(bp.Rental); err != nil {
		return err
	} else if bp.Method == "randpay" {
		_, err := s.tickRandpay(ctx, c, bp)
		return err
	}
	bp, _ = c.Book.Get(bp.Rental)
	now := s.cfg.Now()
	switch bp.State {
	case payment.StateFunding:
		f, err := c.Escrows.Confirm(ctx, *bp.Escrow)
		if errors.Is(err, payment.ErrNotFunded) {
			if now.After(bp.Deadline) && f.Received == 0 {
				rent, err := s.cfg.Store.GetRental(ctx, bp.Rental)
				if err != nil {
					return err
				}
				rent.Status = hub.RentalCancelled
				if err := s.cfg.Store.PutRental(ctx, rent); err != nil {
					return err
				}
				bp.State = payment.StateCancelled
				return c.Book.Put(bp)
			}
			return nil
		}
		if err != nil {
			return err
		}
		rent, err := s.cfg.Store.GetRental(ctx, bp.Rental)
		if err != nil {
			return err
		}
		if rent.Status != hub.RentalPending {
			return nil
		}
		at := now.UTC().Truncate(time.Millisecond)
		rent.From, rent.Until = at, at.Add(bp.Period)
		rent, err = s.cfg.Leases.Begin(ctx, rent)
		if err != nil && rent.LeaseSeq == 0 {
			return err
		}
		bp.State = payment.StateActive
		if err := c.Book.Put(bp); err != nil {
			return err
		}
		s.log.Info("escrow funded; lease issued", "rental", bp.Rental, "received", f.Received, "confirmations", f.Confirmations)
	case payment.StateActive:
		rent, err := s.cfg.Store.GetRental(ctx, bp.Rental)
		if err != nil {
			return err
		}
		if rent.Status == hub.RentalActive && now.Before(rent.Until) {
			return nil
		}
		_, err = s.planSpend(ctx, c, bp, payment.Release)
		return err
	}
	return nil
}
