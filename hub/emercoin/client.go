package emercoin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Config says how to reach emercoind.
type Config struct {
	// URL of the RPC endpoint, e.g. "http://127.0.0.1:6662/" (add "/wallet/<name>" when the node
	// has several wallets).
	URL string
	// User and Password for HTTP basic auth (rpcuser/rpcpassword). When User is empty and
	// CookieFile is set, the cookie file ("__cookie__:<hex>") is read on every call, so a node
	// restart that rewrites it is picked up.
	User, Password string
	CookieFile     string
	// Timeout bounds one HTTP exchange; 0 means 30 s.
	Timeout time.Duration
	// ReadRetries is how many extra attempts a read-only method gets after a transport failure
	// or an HTTP 5xx without a JSON body; 0 means 2, negative means none. Writes are never retried.
	ReadRetries int
	// RetryDelay is the pause before the first retry, doubled each time; 0 means 200 ms.
	RetryDelay time.Duration
	// HTTPClient, when set, is used instead of a client built from Timeout.
	HTTPClient *http.Client
	// Sleep is the retry pause; nil means a context-aware time.Sleep. Tests inject their own.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used to read getwalletinfo's unlocked_until; nil means time.Now.
	Now func() time.Time
}

// Client calls emercoind's JSON-RPC. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	id   atomic.Uint64
}

// New returns a client for cfg. It opens nothing until the first call.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("emercoin: empty RPC URL")
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("emercoin: RPC URL %q: want http:// or https://", cfg.URL)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.ReadRetries == 0 {
		cfg.ReadRetries = 2
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = 200 * time.Millisecond
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	return &Client{cfg: cfg, http: hc}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// readOnly lists the methods that change nothing on the node and may be retried.
var readOnly = map[string]bool{
	"name_show": true, "name_history": true, "name_filter": true, "name_scan": true,
	"name_list": true, "name_mempool": true, "getwalletinfo": true, "validateaddress": true,
	"listreceivedbyaddress": true, "gettransaction": true, "createmultisig": true,
	"verifymessage": true, "getblockchaininfo": true, "getblockcount": true,
}

// Request is the JSON-RPC 1.0 request body the client sends, exactly as emercoind's
// JSONRequest::parse reads it.
type Request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

// Response is the reply envelope: result, error (null or {code, message}) and id.
type Response struct {
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// Call invokes method with positional params and decodes the result into out (which may be nil).
// Read-only methods are retried on transport failures; no method is retried after the node
// answered with a JSON-RPC error.
func (c *Client) Call(ctx context.Context, method string, params []any, out any) error {
	if params == nil {
		params = []any{}
	}
	attempts := 1
	if readOnly[method] && c.cfg.ReadRetries > 0 {
		attempts += c.cfg.ReadRetries
	}
	delay := c.cfg.RetryDelay
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if serr := c.cfg.Sleep(ctx, delay); serr != nil {
				return err
			}
			delay *= 2
		}
		err = c.once(ctx, method, params, out)
		var te *TransportError
		if err == nil || !errors.As(err, &te) || errors.Is(err, ErrUnauthorized) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (c *Client) once(ctx context.Context, method string, params []any, out any) error {
	body, err := json.Marshal(Request{JSONRPC: "1.0", ID: c.id.Add(1), Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("emercoin %s: encode params: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return &TransportError{Method: method, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	user, pass := c.cfg.User, c.cfg.Password
	if user == "" && c.cfg.CookieFile != "" {
		b, err := os.ReadFile(c.cfg.CookieFile)
		if err != nil {
			return &TransportError{Method: method, Err: fmt.Errorf("read cookie file: %w", err)}
		}
		u, p, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
		if !ok {
			return &TransportError{Method: method, Err: fmt.Errorf("cookie file %s: want user:password", c.cfg.CookieFile)}
		}
		user, pass = u, p
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &TransportError{Method: method, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &TransportError{Method: method, HTTPStatus: resp.StatusCode, Err: fmt.Errorf("read body: %w", err)}
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return &TransportError{Method: method, HTTPStatus: resp.StatusCode, Err: errors.New("authorization failed")}
	}
	r, derr := DecodeResponse(raw)
	if derr != nil {
		// No JSON-RPC body: a proxy error page, a half-started node. Transport-level.
		return &TransportError{Method: method, HTTPStatus: resp.StatusCode, Err: derr}
	}
	if r.Error != nil {
		r.Error.Method = method
		r.Error.HTTPStatus = resp.StatusCode
		return r.Error
	}
	if resp.StatusCode != http.StatusOK {
		return &TransportError{Method: method, HTTPStatus: resp.StatusCode, Err: errors.New("HTTP error with a null error object")}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("emercoin %s: decode result %.200s: %w", method, r.Result, err)
	}
	return nil
}

// ErrBadResponse is wrapped by DecodeResponse for bodies that are not a JSON-RPC reply.
var ErrBadResponse = errors.New("not a JSON-RPC response")

// DecodeResponse parses a reply body. It accepts exactly one JSON object holding "result" or
// a non-null "error"; anything else is ErrBadResponse.
func DecodeResponse(b []byte) (*Response, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	_, hasResult := probe["result"]
	errRaw, hasErr := probe["error"]
	if !hasResult && !hasErr {
		return nil, fmt.Errorf("%w: neither result nor error", ErrBadResponse)
	}
	var r Response
	r.Result = probe["result"]
	r.ID = probe["id"]
	if hasErr && string(errRaw) != "null" {
		var e RPCError
		if err := json.Unmarshal(errRaw, &e); err != nil {
			return nil, fmt.Errorf("%w: error object: %v", ErrBadResponse, err)
		}
		r.Error = &e
	}
	return &r, nil
}
