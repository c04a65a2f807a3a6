// Package httpapi is the hub's HTTPS API for renters and providers (/v1/…): sign-in with an
// Ed25519 key or an Emercoin signed message, bearer tokens, the number catalogue, rentals (whose
// leases reach the agent at once through hub/lease), messages (list with cursor and long-poll,
// WebSocket stream fed by hub/notify, signed webhooks with retries and a dead letter list), and
// provider endpoints (enrol agents, bind numbers, prices, earnings).
//
// Every message the API serves carries the agent's exact signed bytes and the agent's
// certificate, so a client checks it itself: the hub is not trusted with content.
//
// Errors have one JSON shape, {"error":{"code","message","field"}}; error kinds map to HTTP
// statuses in statusOf alone. Request bodies are decoded strictly (decodeJSON). docs/API.md and
// the OpenAPI document served at /v1/openapi.json describe the API.
package httpapi

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/notify"
)

// Leases issues and ends the signed leases of rentals (hub/lease.Issuer).
type Leases interface {
	Begin(ctx context.Context, r hub.Rental) (hub.Rental, error)
	End(ctx context.Context, rentalID string, at time.Time) (hub.Rental, error)
}

// Notifier hands out live events of stored messages from every hub instance
// (notify.Local, notify.Postgres).
type Notifier interface {
	Subscribe() (<-chan notify.Event, func())
}

// Config configures a Server. Store, Leases, Notify and Origin are required.
type Config struct {
	Store  hub.Store
	Leases Leases
	Notify Notifier
	// Payments takes rental payments; default DevPayments (paid at once, development chain).
	Payments Payments
	// Chain enables the on-chain payment methods escrow and randpay (chainpay.go); nil: only
	// dev payments, and the escrow/randpay endpoints answer 501.
	Chain *ChainPayments
	// Proofs serves GET /v1/messages/{id}/proof (a *chainjob.Job); nil: the route answers 501.
	Proofs Prover
	// Origin is this hub's web origin ("https://hub.example:8443"); sign-in signatures are over
	// it, so one for another hub cannot be replayed here.
	Origin string
	// Emercoin is the network whose addresses may sign in with an Emercoin signed message; nil
	// turns that sign-in off (501).
	Emercoin *emercoin.Network
	Now      func() time.Time // default time.Now
	Log      *slog.Logger     // default discards

	TokenTTL     time.Duration // default 24h
	ChallengeTTL time.Duration // default 5m
	MaxWait      time.Duration // longest long-poll ?wait=; default 60s

	// Per-IP and per-token request rates; zero: defaults (IP 50/s burst 100, token 20/s burst 40).
	// Negative: no limit.
	IPRate, TokenRate   rate.Limit
	IPBurst, TokenBurst int

	// Webhook delivery: the HTTP client (default: 10s timeout, no redirects, connects only to
	// public addresses unless AllowPrivateWebhooks), how many attempts before a delivery is dead
	// (default 8), the first retry delay, doubled each time (default 2s, capped at 1h).
	// AllowHTTPWebhooks permits http:// URLs; otherwise https only. AllowPrivateWebhooks permits
	// receivers on loopback, private, link-local and other non-public addresses; otherwise such
	// URLs are refused and connections to such addresses are never made (no SSRF into the hub's
	// network). Both are development settings (tests, a receiver on this machine).
	WebhookClient        *http.Client
	WebhookAttempts      int
	WebhookBackoff       time.Duration
	AllowHTTPWebhooks    bool
	AllowPrivateWebhooks bool
	WebhookPollEvery     time.Duration // how often due retries are looked for; default 1s
	StreamPollInterval   time.Duration // a stream re-reads its cursor this often without events; default 15s
	// MaxLivePerAccount is how many streams and long-polls one account may hold open at once on
	// this instance; one more is refused with 429. Default 32.
	MaxLivePerAccount int
}

// Server serves the API. Create it with New, mount Handler, and call Run for live delivery.
type Server struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	live   *liveHub
	ipLim  *limiters
	tokLim *limiters

	// hookCursor is the message Seq up to which every webhook delivery exists (webhook catch-up);
	// owned by the retryLoop goroutine.
	hookCursor int64
	// hookKick makes the retry loop scan for missing deliveries at once (a notifier resync).
	hookKick chan struct{}

	rentMu sync.Mutex // serialises availability check + lease of a number within this instance
	certs  certCache
	owners sync.Map // rental id → renter account key ([]byte)
	chaps  openChaps

	patterns []string // every route, for the OpenAPI coverage test
}

// New checks cfg and builds the server; nothing runs until Run.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("httpapi: Config.Store is nil")
	case cfg.Leases == nil:
		return nil, errors.New("httpapi: Config.Leases is nil")
	case cfg.Notify == nil:
		return nil, errors.New("httpapi: Config.Notify is nil")
	case cfg.Origin == "":
		return nil, errors.New("httpapi: Config.Origin is empty (the hub's https:// origin, signed at sign-in)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Payments == nil {
		cfg.Payments = DevPayments{Store: cfg.Store}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.TokenTTL, 24*time.Hour)
	def(&cfg.ChallengeTTL, 5*time.Minute)
	def(&cfg.MaxWait, 60*time.Second)
	def(&cfg.WebhookBackoff, 2*time.Second)
	def(&cfg.WebhookPollEvery, time.Second)
	def(&cfg.StreamPollInterval, 15*time.Second)
	if cfg.MaxLivePerAccount <= 0 {
		cfg.MaxLivePerAccount = 32
	}
	if cfg.WebhookAttempts <= 0 {
		cfg.WebhookAttempts = 8
	}
	if cfg.WebhookClient == nil {
		cfg.WebhookClient = newWebhookClient(cfg.AllowPrivateWebhooks)
	}
	if cfg.IPRate == 0 {
		cfg.IPRate, cfg.IPBurst = 50, 100
	}
	if cfg.TokenRate == 0 {
		cfg.TokenRate, cfg.TokenBurst = 20, 40
	}
	s := &Server{cfg: cfg, log: cfg.Log, mux: http.NewServeMux(),
		ipLim: newLimiters(cfg.IPRate, cfg.IPBurst, cfg.Now), tokLim: newLimiters(cfg.TokenRate, cfg.TokenBurst, cfg.Now)}
	s.live = newLiveHub(s)
	s.hookKick = make(chan struct{}, 1)
	s.routes()
	return s, nil
}

// Handler returns the API handler (paths under /v1/).
func (s *Server) Handler() http.Handler { return s.mux }

// Run delivers live: it routes message events to streams and long-polls, dispatches webhooks
// and retries due deliveries, until ctx ends (then it returns nil).
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.live.run(ctx) }()
	go func() { defer wg.Done(); s.retryLoop(ctx) }()
	wg.Wait()
	return nil
}

// handlerFunc is an endpoint: it writes its answer or returns an error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// authedFunc is an endpoint that needs a signed-in caller.
type authedFunc func(w http.ResponseWriter, r *http.Request, p principal) error

func (s *Server) routes() {
	s.handle("POST /v1/auth/challenge", s.challenge)
	s.handle("POST /v1/auth/token", s.token)
	s.handle("POST /v1/auth/emercoin", s.emercoinToken)
	s.authed("DELETE /v1/auth/token", s.revoke)
	s.authed("GET /v1/auth/whoami", s.whoami)

	s.handle("GET /v1/numbers", s.listNumbers)

	s.authed("POST /v1/rentals", s.createRental)
	s.authed("GET /v1/rentals", s.listRentals)
	s.authed("GET /v1/rentals/{id}", s.getRental)
	s.authed("POST /v1/rentals/{id}/extend", s.extendRental)
	s.authed("DELETE /v1/rentals/{id}", s.cancelRental)
	s.authed("GET /v1/rentals/{id}/escrow", s.getEscrow)
	s.authed("POST /v1/rentals/{id}/escrow/sign", s.signEscrow)
	s.authed("GET /v1/rentals/{id}/randpay", s.getRandpay)
	s.authed("POST /v1/rentals/{id}/randpay", s.postRandpay)

	s.authed("GET /v1/messages", s.listMessages)
	s.authed("GET /v1/messages/{id}", s.getMessage)
	s.authed("DELETE /v1/messages/{id}", s.deleteMessage)
	s.authed("GET /v1/messages/{id}/proof", s.getProof)
	s.authed("GET /v1/stream", s.stream)

	s.authed("POST /v1/webhooks", s.createWebhook)
	s.authed("GET /v1/webhooks", s.listWebhooks)
	s.authed("GET /v1/webhooks/{id}", s.getWebhook)
	s.authed("DELETE /v1/webhooks/{id}", s.deleteWebhook)
	s.authed("GET /v1/webhooks/{id}/deliveries", s.listDeliveries)

	s.authed("POST /v1/provider/agents", s.enrollAgent)
	s.authed("GET /v1/provider/agents", s.listAgents)
	s.authed("GET /v1/provider/agents/{id}", s.getAgent)
	s.authed("POST /v1/provider/numbers", s.bindNumber)
	s.authed("GET /v1/provider/numbers", s.listProviderNumbers)
	s.authed("PATCH /v1/provider/numbers/{number}", s.patchNumber)
	s.authed("GET /v1/provider/earnings", s.earnings)

	s.handle("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Write(OpenAPI)
		return nil
	})
	s.handle("/v1/", func(w http.ResponseWriter, r *http.Request) error {
		return errorf(KindNotFound, "no endpoint %s %s (see /v1/openapi.json)", r.Method, r.URL.Path)
	})
}

// OpenAPI is the OpenAPI 3 document of this API (docs/openapi.json).
//
//go:embed openapi.json
var OpenAPI []byte

func (s *Server) handle(pattern string, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !s.allowIP(w, r) {
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) authed(pattern string, h authedFunc) {
	s.handle(pattern, func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if ok, wait := s.tokLim.allow(string(p.tokenHash)); !ok {
			return rateLimited(w, wait)
		}
		return h(w, r, p)
	})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, internal := asAPIError(err)
	if internal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.Kind == KindUnauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ness-hub"`)
	}
	writeJSON(w, statusOf(e.Kind), ErrorBody{Error: e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the response failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// randomID returns prefix + 32 hex digits of randomness.
func randomID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s%x", prefix, b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
