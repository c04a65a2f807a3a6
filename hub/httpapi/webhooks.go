package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

// Webhook delivery headers.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
	SignatureHeader = "X-Ness-Signature"
	// IdempotencyHeader carries the message id: every delivery of one message, retries and
	// redeliveries alike, has the same one.
	IdempotencyHeader = "Idempotency-Key"
	// WebhookHeader carries the webhook id.
	WebhookHeader = "X-Ness-Webhook"
	// deliveryLease is how long an attempt in flight keeps a delivery from the retry loop.
	deliveryLease = 60 * time.Second
	maxBackoff    = time.Hour
)

// MaxWebhookAttempts is how many webhook deliveries one hub instance attempts at once, in the
// live worker and in the retry loop each.
const MaxWebhookAttempts = 16

// WebhookRequest is the body of POST /v1/webhooks.
type WebhookRequest struct {
	URL    string `json:"url"`
	Rental string `json:"rental,omitempty"` // only this rental's messages; "" = all of the account's
}

func (q *WebhookRequest) validate() error {
	u, err := url.Parse(q.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || len(q.URL) > 2048 {
		return fieldError("url", "want an absolute https:// URL without credentials, at most 2048 bytes")
	}
	if len(q.Rental) > 128 {
		return fieldError("rental", "too long")
	}
	return nil
}

// WebhookView is a webhook; Secret is present only in the answer to its creation.
type WebhookView struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Rental  string    `json:"rental,omitempty"`
	Created time.Time `json:"created"`
	Secret  string    `json:"secret,omitempty"` // HMAC key: the UTF-8 bytes of this string
}

// WebhookList is the caller's webhooks.
type WebhookList struct {
	Webhooks []WebhookView `json:"webhooks"`
}

// DeliveryView is one message's delivery to a webhook.
type DeliveryView struct {
	Message     string    `json:"message"`
	State       string    `json:"state"` // pending, delivered, dead
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastStatus  int       `json:"last_status,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// DeliveryList is a webhook's deliveries, next attempt first.
type DeliveryList struct {
	Deliveries []DeliveryView `json:"deliveries"`
}

// WebhookPayload is the JSON body of a delivery; it is the same bytes on every attempt.
type WebhookPayload struct {
	Type    string      `json:"type"` // "message"
	Webhook string      `json:"webhook"`
	Message MessageView `json:"message"`
}

func webhookView(h hub.Webhook) WebhookView {
	return WebhookView{ID: h.ID, URL: h.URL, Rental: h.RentalID, Created: h.CreatedAt}
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, p principal) error {
	var q WebhookRequest
	if err := decodeBody(w, r, 4<<10, &q); err != nil {
		return err
	}
	if strings.HasPrefix(q.URL, "http://") && !s.cfg.AllowHTTPWebhooks {
		return fieldError("url", "this hub delivers to https:// URLs only")
	}
	if !s.cfg.AllowPrivateWebhooks {
		if err := checkPublicHost(q.URL); err != nil {
			return fieldError("url", "%v", err)
		}
	}
	if q.Rental != "" {
		if _, err := s.ownRental(r, p, q.Rental); err != nil {
			return &Error{Kind: KindNotFound, Field: "rental", Message: "no such rental of yours"}
		}
	}
	secret := "whsec_" + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	h := hub.Webhook{ID: randomID("wh_"), Owner: p.account, RentalID: q.Rental, URL: q.URL, Secret: []byte(secret),
		CreatedAt: hub.StoreTime(s.cfg.Now())}
	if err := s.cfg.Store.PutWebhook(r.Context(), h); err != nil {
		return err
	}
	v := webhookView(h)
	v.Secret = secret
	w.Header().Set("Location", "/v1/webhooks/"+h.ID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) ownWebhook(r *http.Request, p principal) (hub.Webhook, error) {
	id := r.PathValue("id")
	h, err := s.cfg.Store.GetWebhook(r.Context(), id)
	if errors.Is(err, hub.ErrNotFound) || err == nil && !bytes.Equal(h.Owner, p.account) {
		return hub.Webhook{}, errorf(KindNotFound, "no webhook %q of yours", id)
	}
	return h, err
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, p principal) error {
	hs, err := s.cfg.Store.ListWebhooks(r.Context(), p.account)
	if err != nil {
		return err
	}
	out := WebhookList{Webhooks: []WebhookView{}}
	for _, h := range hs {
		out.Webhooks = append(out.Webhooks, webhookView(h))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, p principal) error {
	h, err := s.ownWebhook(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookView(h))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, p principal) error {
	h, err := s.ownWebhook(r, p)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteWebhook(r.Context(), h.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	for k := range q {
		if k != "state" && k != "limit" {
			return fieldError(k, "unknown query parameter")
		}
	}
	h, err := s.ownWebhook(r, p)
	if err != nil {
		return err
	}
	st := hub.DeliveryState(q.Get("state"))
	switch st {
	case "", hub.DeliveryPending, hub.DeliveryDelivered, hub.DeliveryDead:
	default:
		return fieldError("state", "want pending, delivered or dead")
	}
	limit, err := parseLimit(q, hub.DefaultListLimit, hub.MaxListLimit)
	if err != nil {
		return err
	}
	ds, err := s.cfg.Store.ListDeliveries(r.Context(), hub.DeliveryQuery{WebhookID: h.ID, State: st, Limit: limit})
	if err != nil {
		return err
	}
	out := DeliveryList{Deliveries: []DeliveryView{}}
	for _, d := range ds {
		v := DeliveryView{Message: d.MessageID, State: string(d.State), Attempts: d.Attempts, LastStatus: d.LastStatus,
			LastError: d.LastError, Created: d.CreatedAt, Updated: d.UpdatedAt}
		if d.State == hub.DeliveryPending {
			v.NextAttempt = d.NextAttempt
		}
		out.Deliveries = append(out.Deliveries, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// SignWebhook returns the SignatureHeader value for body at time t.
func SignWebhook(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks a SignatureHeader value against the raw body, for webhook receivers:
// the HMAC must match and t must be within tolerance of now (replay window).
func VerifyWebhook(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("webhook signature: want t=<unix>,v1=<hex>")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook signature: timestamp %d is %s from now, outside ±%s", sec, d.Round(time.Second), tolerance)
	}
	want := SignWebhook(secret, time.Unix(sec, 0), body)
	_, wantSig, _ := strings.Cut(want, ",v1=")
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(wantSig)) {
			return nil
		}
	}
	return errors.New("webhook signature: no v1 signature matches")
}

type hookJob struct {
	messageID, rentalID string
	owner               []byte
}

// webhookWorker creates a delivery for every webhook that wants each message and makes the
// first attempt. CreateDelivery is unique per (webhook, message), so of several hub instances
// hearing the same event one delivers.
func (s *Server) webhookWorker(ctx context.Context, jobs <-chan hookJob) {
	sem := make(chan struct{}, MaxWebhookAttempts)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var job hookJob
		select {
		case <-ctx.Done():
			return
		case job = <-jobs:
		}
		hooks, err := s.cfg.Store.ListWebhooks(ctx, job.owner)
		if err != nil {
			s.log.Warn("webhooks: list", "err", err)
			continue
		}
		for _, h := range hooks {
			if h.RentalID != "" && h.RentalID != job.rentalID {
				continue
			}
			now := s.cfg.Now()
			d := hub.Delivery{WebhookID: h.ID, MessageID: job.messageID, State: hub.DeliveryPending,
				NextAttempt: now.Add(deliveryLease), CreatedAt: now, UpdatedAt: now}
			created, err := s.cfg.Store.CreateDelivery(ctx, d)
			if err != nil || !created {
				if err != nil && ctx.Err() == nil {
					s.log.Warn("webhooks: create delivery", "webhook", h.ID, "message", job.messageID, "err", err)
				}
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				s.attempt(ctx, h, d)
			}()
		}
	}
}

// retryLoop attempts pending deliveries whose time has come (retries, and first attempts a
// stopped instance left in flight) until ctx ends.
func (s *Server) retryLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.WebhookPollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.hookKick:
		}
		caught := s.catchUp(ctx)
		due, err := s.cfg.Store.ListDeliveries(ctx, hub.DeliveryQuery{State: hub.DeliveryPending, DueBy: s.cfg.Now(), Limit: 100})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("webhooks: list due deliveries", "err", err)
			}
			due = nil // the caught-up ones are still attempted
		}
		var wg sync.WaitGroup
		// A backlog is sent MaxWebhookAttempts at a time. A slot is taken before the delivery's
		// lease is (re)taken, so the lease covers the attempt however long the slot took.
		sem := make(chan struct{}, MaxWebhookAttempts)
		start := func(h hub.Webhook, d hub.Delivery) {
			sem <- struct{}{}
			// Claimed only as listed: another instance that listed it too, or finished it
			// meanwhile, keeps it.
			prev := d.NextAttempt
			d.NextAttempt, d.UpdatedAt = s.cfg.Now().Add(deliveryLease), s.cfg.Now()
			if ok, err := s.cfg.Store.ClaimDelivery(ctx, d, prev, d.NextAttempt); !ok || err != nil {
				if err != nil && ctx.Err() == nil {
					s.log.Warn("webhooks: claim delivery", "webhook", d.WebhookID, "message", d.MessageID, "err", err)
				}
				<-sem
				return
			}
			wg.Add(1)
			go func() { defer func() { <-sem; wg.Done() }(); s.attempt(ctx, h, d) }()
		}
		for _, c := range caught {
			start(c.hook, c.d)
		}
		for _, d := range due {
			h, err := s.cfg.Store.GetWebhook(ctx, d.WebhookID)
			if err != nil {
				continue // deleted meanwhile
			}
			start(h, d)
		}
		wg.Wait()
	}
}

// attempt POSTs the message to the webhook once and records the result: delivered, a retry
// after an exponential backoff, or dead after Config.WebhookAttempts attempts.
func (s *Server) attempt(ctx context.Context, h hub.Webhook, d hub.Delivery) {
	status, err := s.post(ctx, h, d.MessageID)
	if ctx.Err() != nil {
		return // shutting down: the delivery stays pending and is retried after its lease
	}
	now := s.cfg.Now()
	d.Attempts++
	d.UpdatedAt, d.LastStatus = now, status
	switch {
	case err == nil:
		d.State, d.LastError = hub.DeliveryDelivered, ""
		if err := s.cfg.Store.MarkDelivered(ctx, d.MessageID); err != nil {
			s.log.Warn("webhooks: mark delivered", "message", d.MessageID, "err", err)
		}
	case errors.Is(err, errGone) || d.Attempts >= s.cfg.WebhookAttempts:
		d.State, d.LastError = hub.DeliveryDead, err.Error()
		s.log.Warn("webhook delivery dead-lettered", "webhook", h.ID, "message", d.MessageID, "attempts", d.Attempts, "err", err)
	default:
		back := s.cfg.WebhookBackoff << (d.Attempts - 1)
		if back > maxBackoff || back <= 0 {
			back = maxBackoff
		}
		d.NextAttempt, d.LastError = now.Add(back), err.Error()
	}
	if err := s.cfg.Store.UpdateDelivery(ctx, d); err != nil && ctx.Err() == nil {
		s.log.Warn("webhooks: record attempt", "webhook", h.ID, "message", d.MessageID, "err", err)
	}
}

// hookAttempt is a delivery to attempt now.
type hookAttempt struct {
	hook hub.Webhook
	d    hub.Delivery
}

// catchUp creates the deliveries that live events did not: an event the notifier dropped, a full
// webhook queue, a hub that was down when the message arrived. It pages through
// Store.ListMissingDeliveries from s.hookCursor (0 after a start, so a restarted hub looks at
// every message once) and returns the deliveries it created, for the caller to attempt: like the
// live path, the instance whose CreateDelivery inserted the row is the one that sends it, so two
// hubs scanning at once deliver once. Only retryLoop's goroutine calls it.
func (s *Server) catchUp(ctx context.Context) []hookAttempt {
	const page = 500
	var out []hookAttempt
	for ctx.Err() == nil {
		missing, upTo, err := s.cfg.Store.ListMissingDeliveries(ctx, s.hookCursor, page)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("webhooks: list missing deliveries", "err", err)
			}
			return out
		}
		hooks := map[string]*hub.Webhook{} // nil: deleted meanwhile
		for _, m := range missing {
			h, ok := hooks[m.WebhookID]
			if !ok {
				if w, err := s.cfg.Store.GetWebhook(ctx, m.WebhookID); err == nil {
					h = &w
				}
				hooks[m.WebhookID] = h
			}
			if h == nil {
				continue
			}
			now := s.cfg.Now()
			d := hub.Delivery{WebhookID: m.WebhookID, MessageID: m.MessageID, State: hub.DeliveryPending,
				NextAttempt: now.Add(deliveryLease), CreatedAt: now, UpdatedAt: now}
			created, err := s.cfg.Store.CreateDelivery(ctx, d)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("webhooks: create missing delivery", "webhook", m.WebhookID, "message", m.MessageID, "err", err)
				}
				return out // the cursor stays: retried at the next tick
			}
			if created {
				s.log.Info("webhooks: delivery created by catch-up (its live event was missed)", "webhook", m.WebhookID, "message", m.MessageID)
				out = append(out, hookAttempt{*h, d})
			}
		}
		s.hookCursor = upTo
		if len(missing) < page {
			return out
		}
	}
	return out
}

var errGone = errors.New("message deleted by its renter")

func (s *Server) post(ctx context.Context, h hub.Webhook, messageID string) (int, error) {
	m, err := s.cfg.Store.GetMessage(ctx, messageID)
	if err != nil {
		return 0, err
	}
	if m.Deleted {
		return 0, errGone
	}
	v, err := s.messageView(ctx, m)
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(WebhookPayload{Type: "message", Webhook: h.ID, Message: v})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ness-hub-webhooks/1")
	req.Header.Set(SignatureHeader, SignWebhook(string(h.Secret), s.cfg.Now(), body))
	req.Header.Set(IdempotencyHeader, messageID)
	req.Header.Set(WebhookHeader, h.ID)
	resp, err := s.cfg.WebhookClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// newWebhookClient is the default webhook client: a 10 s timeout, no redirects (a receiver
// answering 3xx is a failed attempt), no proxy from the environment, and unless allowPrivate a
// dialer that connects to public addresses only. The check is on the address actually dialled,
// after name resolution, so a name that resolves to an internal address later is refused too.
func newWebhookClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook: dial %s: %w", address, err)
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("webhook: %s is not a public address; receivers on loopback or private networks are refused", ap.Addr())
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = d.DialContext
	return &http.Client{Timeout: 10 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// nonPublic are special-purpose ranges beyond those netip.Addr's predicates cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// publicAddr reports whether a is a globally routable unicast address.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// checkPublicHost refuses a webhook URL whose host is an IP literal outside the public
// internet, or localhost; names are checked again when delivery dials them.
func checkPublicHost(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%s is this machine; this hub delivers to public addresses only", host)
	}
	if a, err := netip.ParseAddr(host); err == nil && !publicAddr(a) {
		return fmt.Errorf("%s is not a public address; this hub delivers to public addresses only", host)
	}
	return nil
}
