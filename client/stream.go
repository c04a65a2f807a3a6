package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
)

// Stream is one open WebSocket of GET /v1/stream.
type Stream struct {
	conn *websocket.Conn
	// Last is the id of the last message Next returned (or the after it was opened with).
	Last string
}

// Stream opens the live message stream, first replaying every message after the id after
// ("" for all).
func (h *Hub) Stream(ctx context.Context, after string) (*Stream, error) {
	u := *h.base
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path = "/v1/stream"
	if after != "" {
		u.RawQuery = url.Values{"after": {after}}.Encode()
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{
		HTTPClient: h.HTTP,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + h.Token}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			// coder/websocket keeps up to 1 KiB of a refused handshake's body.
			var data []byte
			if resp.Body != nil {
				data, _ = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			}
			return nil, apiError("GET /v1/stream", resp, data)
		}
		return nil, fmt.Errorf("GET /v1/stream: %w", err)
	}
	conn.SetReadLimit(1 << 20) // a message view holds the signed SMS (≤ 256 KiB) and a certificate
	return &Stream{conn: conn, Last: after}, nil
}

// Next waits for the next message.
func (s *Stream) Next(ctx context.Context) (MessageView, error) {
	for {
		typ, data, err := s.conn.Read(ctx)
		if err != nil {
			return MessageView{}, err
		}
		if typ != websocket.MessageText {
			return MessageView{}, errors.New("stream: binary frame; the hub sends JSON text frames")
		}
		var ev StreamEvent
		if err := DecodeStrict("stream event", data, &ev); err != nil {
			return MessageView{}, &badFrameError{err}
		}
		if ev.Type != "message" || ev.Message == nil {
			continue // an event type this client does not know yet
		}
		s.Last = ev.Message.ID
		return *ev.Message, nil
	}
}

// Close closes the stream.
func (s *Stream) Close() error { return s.conn.Close(websocket.StatusNormalClosure, "") }

// TailOptions tune Tail.
type TailOptions struct {
	After string // resume after this id ("" replays everything first)
	// OnConnect, if set, is called each time the stream (re)connects, with the id it resumes after.
	OnConnect func(after string)
	// OnError, if set, is told about each dropped connection before the retry.
	OnError func(err error, retryIn time.Duration)
	// MaxBackoff caps the reconnect delay (default 30s).
	MaxBackoff time.Duration
}

// Tail streams messages to fn until ctx ends (then it returns nil) or fn fails. A dropped
// connection is re-opened with jittered exponential backoff, resuming after the last message
// handed to fn, so nothing is lost or repeated. An authentication or request error from the
// hub ends it.
func (h *Hub) Tail(ctx context.Context, o TailOptions, fn func(MessageView) error) error {
	after := o.After
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	backoff := 250 * time.Millisecond
	for {
		s, err := h.Stream(ctx, after)
		if err == nil {
			if o.OnConnect != nil {
				o.OnConnect(after)
			}
			for {
				var v MessageView
				v, err = s.Next(ctx)
				if err != nil {
					break
				}
				backoff = 250 * time.Millisecond
				if ferr := fn(v); ferr != nil {
					s.conn.CloseNow()
					return ferr
				}
				after = v.ID
			}
			s.conn.CloseNow()
		}
		if ctx.Err() != nil {
			return nil
		}
		var bad *badFrameError
		if errors.As(err, &bad) {
			return err // the same frame would come again after a reconnect
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.Status/100 == 4 && ae.Status != http.StatusTooManyRequests {
			return err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		if ae != nil && ae.RetryAfter > wait {
			wait = ae.RetryAfter
		}
		if o.OnError != nil {
			o.OnError(err, wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, o.MaxBackoff)
	}
}

// badFrameError is a stream frame that does not decode.
type badFrameError struct{ err error }

func (e *badFrameError) Error() string { return e.err.Error() }
func (e *badFrameError) Unwrap() error { return e.err }
