package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ness-network/ness-sms/hub"
)

// liveHub routes message events (from Config.Notify, so from every hub instance) to the
// streams and long-polls of the rental's renter. A subscriber is only woken: it reads what is
// new from the Store with its cursor, so a dropped or duplicated event loses or repeats nothing.
type liveHub struct {
	s *Server

	mu   sync.Mutex                       // guards subs
	subs map[string]map[*liveSub]struct{} // by account key
}

type liveSub struct {
	ch chan struct{} // capacity 1: a pending wake-up
}

func newLiveHub(s *Server) *liveHub {
	return &liveHub{s: s, subs: map[string]map[*liveSub]struct{}{}}
}

// subscribe registers a stream or long-poll of account; ok is false, and nothing registered,
// when the account already holds Config.MaxLivePerAccount of them.
func (h *liveHub) subscribe(account []byte) (sub *liveSub, cancel func(), ok bool) {
	sub = &liveSub{ch: make(chan struct{}, 1)}
	k := string(account)
	h.mu.Lock()
	if len(h.subs[k]) >= h.s.cfg.MaxLivePerAccount {
		h.mu.Unlock()
		return nil, nil, false
	}
	if h.subs[k] == nil {
		h.subs[k] = map[*liveSub]struct{}{}
	}
	h.subs[k][sub] = struct{}{}
	h.mu.Unlock()
	return sub, func() {
		h.mu.Lock()
		delete(h.subs[k], sub)
		if len(h.subs[k]) == 0 {
			delete(h.subs, k)
		}
		h.mu.Unlock()
	}, true
}

// tooManyLive is the answer to a stream or long-poll over Config.MaxLivePerAccount.
func (s *Server) tooManyLive(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", "5")
	return errorf(KindRateLimited, "this account already has %d streams and long-polls open here; close one or retry in 5 s", s.cfg.MaxLivePerAccount)
}

// wakeAll wakes every stream and long-poll: they re-read the Store from their cursors.
func (h *liveHub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.subs {
		for sub := range subs {
			select {
			case sub.ch <- struct{}{}:
			default:
			}
		}
	}
}

func (h *liveHub) wake(account []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs[string(account)] {
		select {
		case sub.ch <- struct{}{}:
		default:
		}
	}
}

// run routes events until ctx ends; webhooks are queued to their own worker so a slow receiver
// never delays a stream.
func (h *liveHub) run(ctx context.Context) {
	events, cancel := h.s.cfg.Notify.Subscribe()
	defer cancel()
	hooks := make(chan hookJob, 4096)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.s.webhookWorker(ctx, hooks) }()
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Resync {
				// Events may have been missed (the PostgreSQL listener reconnected, or this
				// subscriber fell behind): streams re-read from their cursors, and the webhook
				// dispatcher scans for messages without deliveries now.
				h.wakeAll()
				select {
				case h.s.hookKick <- struct{}{}:
				default:
				}
				continue
			}
			if ev.RentalID == "" {
				continue // sealed to the provider: never delivered to a renter
			}
			owner, err := h.s.owner(ctx, ev.RentalID)
			if err != nil {
				// The store is failing (restarting?): wake every stream, which re-reads by cursor;
				// the webhook catch-up scan creates the delivery.
				h.s.log.Warn("live delivery: rental of message", "message", ev.MessageID, "rental", ev.RentalID, "err", err)
				h.wakeAll()
				continue
			}
			h.wake(owner)
			select {
			case hooks <- hookJob{messageID: ev.MessageID, rentalID: ev.RentalID, owner: owner}:
			default:
				h.s.log.Warn("webhook queue full; message not queued for webhooks", "message", ev.MessageID)
			}
		}
	}
}

// stream serves GET /v1/stream: a WebSocket sending the caller's messages as StreamEvent text
// frames, first those after ?after= (the last id the client has), then live.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	for k := range q {
		if k != "after" {
			return fieldError(k, "unknown query parameter")
		}
	}
	after, err := s.cursorOf(r.Context(), p, q.Get("after"))
	if err != nil {
		return err
	}
	sub, cancel, ok := s.live.subscribe(p.account) // before the first read: nothing slips between
	if !ok {
		return s.tooManyLive(w)
	}
	defer cancel()
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{StreamSubprotocol}})
	if err != nil {
		return nil // Accept has answered the client
	}
	defer c.CloseNow()
	ctx := closeOnData(r.Context(), c)
	tick := time.NewTicker(s.cfg.StreamPollInterval)
	defer tick.Stop()
	for {
		// The token is checked again before every read: a stream outlives requests, and revoking
		// or expiring its token must end it too.
		if _, err := s.cfg.Store.GetToken(ctx, p.tokenHash, s.cfg.Now()); err != nil {
			if errors.Is(err, hub.ErrNotFound) {
				c.Close(websocket.StatusPolicyViolation, "token revoked or expired; sign in again")
			} else if ctx.Err() == nil {
				s.log.Error("stream: check token", "err", err)
				c.Close(websocket.StatusInternalError, "store error")
			}
			return nil
		}
		ms, err := s.cfg.Store.ListMessages(ctx, hub.MessageQuery{Renter: p.account, After: after, Limit: hub.DefaultListLimit})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("stream: list messages", "err", err)
				c.Close(websocket.StatusInternalError, "store error")
			}
			return nil
		}
		for _, m := range ms {
			v, err := s.messageView(ctx, m)
			if err != nil {
				c.Close(websocket.StatusInternalError, "store error")
				return nil
			}
			b, _ := json.Marshal(StreamEvent{Type: "message", Message: &v})
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			err = c.Write(wctx, websocket.MessageText, b)
			wcancel()
			if err != nil {
				return nil
			}
			after = m.Seq
			if err := s.cfg.Store.MarkDelivered(ctx, m.ID); err != nil && ctx.Err() == nil {
				s.log.Warn("stream: mark delivered", "message", m.ID, "err", err)
			}
		}
		if len(ms) == hub.DefaultListLimit {
			continue
		}
		select {
		case <-ctx.Done():
			c.Close(websocket.StatusNormalClosure, "")
			return nil
		case <-sub.ch:
		case <-tick.C:
		}
	}
}

// closeOnData reads the stream's client side in the background, handling control frames, and
// drops the connection at once when the client sends a data frame, which the stream never
// expects. Not c.CloseRead: on a data frame it starts a close handshake that first drains the
// frame's announced payload with no deadline (coder/websocket v1.8.15), so a client announcing a
// 2^63-byte frame and going quiet would hold the connection forever. The returned context ends
// when the client goes away.
func closeOnData(ctx context.Context, c *websocket.Conn) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		if _, _, err := c.Reader(ctx); err == nil {
			c.CloseNow()
		}
	}()
	return ctx
}
