package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/wire"
)

// maxResponse bounds a hub answer read into memory (a page of 1000 messages is about 3 MB).
const maxResponse = 16 << 20

// Hub is a client of one hub's API (/v1/…). Create it with New; set Token after SignIn or from
// a saved session.
type Hub struct {
	base  *url.URL // scheme://host[:port], no path
	Token string
	HTTP  *http.Client
}

// New returns a client for the hub at rawURL (http:// or https://, no path beyond "/").
func New(rawURL, token string) (*Hub, error) {
	u, err := ParseHubURL(rawURL)
	if err != nil {
		return nil, err
	}
	return &Hub{base: u, Token: token, HTTP: &http.Client{Timeout: 90 * time.Second}}, nil
}

// ParseHubURL checks a hub URL: http or https, a host, and no path, query or fragment.
func ParseHubURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("hub URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("hub URL %q: want http://host:port or https://host[:port]", raw)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("hub URL %q: want only scheme://host[:port], no path, query or user", raw)
	}
	return u, nil
}

// URL is the hub's base URL.
func (h *Hub) URL() string { return h.base.String() }

// APIError is an error answer of the hub: its HTTP status and the JSON error body.
type APIError struct {
	Status  int
	Code    string // invalid_request, unauthenticated, not_found, conflict, …
	Message string
	Field   string // the request field or parameter at fault, if any
	// RetryAfter is the hub's Retry-After on 429, zero otherwise.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("hub says %s (HTTP %d)", e.Code, e.Status)
	if e.Field != "" {
		s += ": " + e.Field
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Status == http.StatusUnauthorized {
		s += " (sign in again: ness login)"
	}
	return s
}

// IsCode reports whether err is an APIError with the given code.
func IsCode(err error, code string) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == code
}

// DecodeStrict decodes exactly one JSON value from data into v, refusing unknown fields and
// trailing data; what names the document in errors.
func DecodeStrict(what string, data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if d.More() {
		return fmt.Errorf("%s: data after the JSON value", what)
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("%s: data after the JSON value", what)
	}
	return nil
}

// do sends a request to path (with query q) and decodes a 2xx JSON answer into out (nil: the
// body is ignored). A non-2xx answer is an *APIError.
func (h *Hub) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := *h.base
	u.Path = path
	u.RawQuery = q.Encode()
	what := method + " " + path
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	resp, err := h.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", what, err)
	}
	if len(data) > maxResponse {
		return fmt.Errorf("%s: answer larger than %d bytes", what, maxResponse)
	}
	if resp.StatusCode/100 != 2 {
		return apiError(what, resp, data)
	}
	if out == nil {
		return nil
	}
	return DecodeStrict(what+" answer", data, out)
}

// apiError turns an error answer into an *APIError; a body that is not the hub's error shape
// (a proxy's page, say) is quoted briefly.
func apiError(what string, resp *http.Response, data []byte) error {
	e := &APIError{Status: resp.StatusCode}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &body); err == nil && body.Error != nil && body.Error.Code != "" {
		e.Code, e.Message, e.Field = body.Error.Code, body.Error.Message, body.Error.Field
	} else {
		e.Code = "http_" + strconv.Itoa(resp.StatusCode)
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		e.Message = fmt.Sprintf("%s: not an API error body: %q", what, msg)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// SignIn runs the challenge → signature → token flow with an Ed25519 identity and sets h.Token.
// It refuses to sign when the hub names an origin other than the URL the client reached it at,
// so a signature made for one hub cannot be replayed at another.
func (h *Hub) SignIn(ctx context.Context, id *wire.Identity) (*TokenResponse, error) {
	var ch ChallengeResponse
	if err := h.do(ctx, http.MethodPost, "/v1/auth/challenge", nil, nil, &ch); err != nil {
		return nil, err
	}
	if ch.Origin != h.base.String() {
		return nil, fmt.Errorf("sign-in: the hub at %s says its origin is %q; refusing to sign for another origin (reach the hub at its origin URL)",
			h.base, ch.Origin)
	}
	raw, err := wire.DecodeBase64("challenge", ch.Challenge)
	if err != nil {
		return nil, fmt.Errorf("sign-in: %w", err)
	}
	sig, err := wire.SignIn(id, ch.Origin, raw)
	if err != nil {
		return nil, fmt.Errorf("sign-in: %w", err)
	}
	var tok TokenResponse
	req := TokenRequest{Key: id.Verify.String(), Challenge: ch.Challenge, Signature: base64.StdEncoding.EncodeToString(sig)}
	if err := h.do(ctx, http.MethodPost, "/v1/auth/token", nil, req, &tok); err != nil {
		return nil, err
	}
	if tok.Token == "" {
		return nil, errors.New("sign-in: the hub answered without a token")
	}
	h.Token = tok.Token
	return &tok, nil
}

// WhoAmI returns the account of the current token.
func (h *Hub) WhoAmI(ctx context.Context) (*Account, error) {
	var a Account
	return &a, h.do(ctx, http.MethodGet, "/v1/auth/whoami", nil, nil, &a)
}

// Logout revokes the current token.
func (h *Hub) Logout(ctx context.Context) error {
	return h.do(ctx, http.MethodDelete, "/v1/auth/token", nil, nil, nil)
}

// NumberQuery filters the catalogue (GET /v1/numbers); zero fields are not sent.
type NumberQuery struct {
	Country       string
	Features      []string
	MaxPrice      string // EMC per day
	MinReputation int
	Sort          string // number, price, -price, reputation, -reputation
	Limit         int
	Cursor        string
}

// Numbers returns one page of available numbers.
func (h *Hub) Numbers(ctx context.Context, f NumberQuery) (*NumberList, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("country", f.Country)
	for _, ft := range f.Features {
		q.Add("feature", ft)
	}
	set("max_price", f.MaxPrice)
	if f.MinReputation > 0 {
		q.Set("min_reputation", strconv.Itoa(f.MinReputation))
	}
	set("sort", f.Sort)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	set("cursor", f.Cursor)
	var l NumberList
	return &l, h.do(ctx, http.MethodGet, "/v1/numbers", q, nil, &l)
}

// Rent rents a number; SMS to it are sealed to renterKey (X25519).
func (h *Hub) Rent(ctx context.Context, number, duration string, renterKey wire.SealKey) (*RentalView, error) {
	var r RentalView
	req := RentalRequest{Number: number, Duration: duration, RenterKey: renterKey.String()}
	return &r, h.do(ctx, http.MethodPost, "/v1/rentals", nil, req, &r)
}

// Rentals lists the caller's rentals; status "" lists all.
func (h *Hub) Rentals(ctx context.Context, status string) (*RentalList, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	var l RentalList
	return &l, h.do(ctx, http.MethodGet, "/v1/rentals", q, nil, &l)
}

// Extend extends a rental by one more period.
func (h *Hub) Extend(ctx context.Context, id, duration string) (*RentalView, error) {
	var r RentalView
	return &r, h.do(ctx, http.MethodPost, "/v1/rentals/"+url.PathEscape(id)+"/extend", nil, ExtendRequest{Duration: duration}, &r)
}

// Cancel ends a rental now.
func (h *Hub) Cancel(ctx context.Context, id string) (*RentalView, error) {
	var r RentalView
	return &r, h.do(ctx, http.MethodDelete, "/v1/rentals/"+url.PathEscape(id), nil, nil, &r)
}

// MessageQuery pages through messages (GET /v1/messages).
type MessageQuery struct {
	After  string        // last id the caller has
	Rental string        // only this rental's
	Limit  int           // 0: the hub's default
	Wait   time.Duration // long-poll up to this long when nothing is new
}

// Messages returns one page of the caller's messages after q.After.
func (h *Hub) Messages(ctx context.Context, mq MessageQuery) (*MessageList, error) {
	q := url.Values{}
	if mq.After != "" {
		q.Set("after", mq.After)
	}
	if mq.Rental != "" {
		q.Set("rental", mq.Rental)
	}
	if mq.Limit > 0 {
		q.Set("limit", strconv.Itoa(mq.Limit))
	}
	if mq.Wait > 0 {
		q.Set("wait", mq.Wait.String())
	}
	var l MessageList
	return &l, h.do(ctx, http.MethodGet, "/v1/messages", q, nil, &l)
}

// DeleteMessage makes the hub forget a message.
func (h *Hub) DeleteMessage(ctx context.Context, id string) error {
	return h.do(ctx, http.MethodDelete, "/v1/messages/"+url.PathEscape(id), nil, nil, nil)
}

// EnrollAgent uploads an agent certificate signed by the caller's provider key; the answer
// carries the agent's MQTT password (shown once).
func (h *Hub) EnrollAgent(ctx context.Context, cert []byte) (*EnrollResponse, error) {
	var r EnrollResponse
	return &r, h.do(ctx, http.MethodPost, "/v1/provider/agents", nil, AgentRequest{Certificate: bytes.TrimSpace(cert)}, &r)
}

// Agents lists the caller's agents with their slots.
func (h *Hub) Agents(ctx context.Context) (*AgentList, error) {
	var l AgentList
	return &l, h.do(ctx, http.MethodGet, "/v1/provider/agents", nil, nil, &l)
}

// BindNumber binds an E.164 number to a SIM (ICCID) of one of the caller's agents and lists it.
func (h *Hub) BindNumber(ctx context.Context, req NumberRequest) (*ProviderNumber, error) {
	var n ProviderNumber
	return &n, h.do(ctx, http.MethodPost, "/v1/provider/numbers", nil, req, &n)
}

// PatchNumber changes a number's prices and/or features.
func (h *Hub) PatchNumber(ctx context.Context, number string, p NumberPatch) (*ProviderNumber, error) {
	var n ProviderNumber
	return &n, h.do(ctx, http.MethodPatch, "/v1/provider/numbers/"+url.PathEscape(number), nil, p, &n)
}

// ProviderNumbers lists the caller's numbers.
func (h *Hub) ProviderNumbers(ctx context.Context) (*ProviderNumberList, error) {
	var l ProviderNumberList
	return &l, h.do(ctx, http.MethodGet, "/v1/provider/numbers", nil, nil, &l)
}

// Earnings returns what renters paid for the caller's numbers.
func (h *Hub) Earnings(ctx context.Context) (*Earnings, error) {
	var e Earnings
	return &e, h.do(ctx, http.MethodGet, "/v1/provider/earnings", nil, nil, &e)
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
