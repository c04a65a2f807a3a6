package power

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/board"
)

// SimOpener opens the lines of the `sim` board: each one stands for a
// ness-modemsim slot's control and turns the Controller's line operations
// into calls on the simulator's control API, so a simulated slot gets the
// same sequence a real board does:
//
//	power_key: press (1) then release (0)  → POST {base}/slots/{n}/pwrkey {"ms": held}
//	enable:    SetValue(v)                 → POST {base}/slots/{n}/power {"on": v == 1}
//	status:    Value()                     → GET  {base}/slots/{n}, its "status" field
//
// The slot number n is the line's offset (the sim profile's template gives
// slot n offset n). The press width is measured on the injected clock, and
// the simulator decides whether it was long enough to toggle the module.
// The simulator has no reset or flight-mode control, so those roles are
// refused; a Controller without a reset line power cycles instead.
type SimOpener struct {
	base   string
	client *http.Client
	clk    Clock
}

// SimTimeout bounds each control API call when the caller's client has no timeout.
const SimTimeout = 5 * time.Second

// NewSimOpener returns an opener for the control API at base (e.g.
// http://127.0.0.1:7070). client may be nil for a default client with
// SimTimeout.
func NewSimOpener(base string, client *http.Client, clk Clock) (*SimOpener, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sim control URL %q: want http://host:port", base)
	}
	if client == nil {
		client = &http.Client{Timeout: SimTimeout}
	}
	return &SimOpener{base: strings.TrimSuffix(base, "/"), client: client, clk: clk}, nil
}

// Open returns the stand-in for one slot line.
func (s *SimOpener) Open(req Request) (Line, error) {
	n := req.Line.Offset
	if n < 0 {
		return nil, fmt.Errorf("sim slot %d: negative", n)
	}
	base := simSlot{o: s, n: n}
	switch req.Role {
	case board.RolePowerKey:
		l := &simKey{simSlot: base}
		if req.Initial == 1 {
			if err := l.SetValue(1); err != nil {
				return nil, err
			}
		}
		return l, nil
	case board.RoleEnable:
		l := &simSupply{simSlot: base}
		if err := l.SetValue(req.Initial); err != nil {
			return nil, err
		}
		return l, nil
	case board.RoleStatus:
		return &simStatus{simSlot: base}, nil
	}
	return nil, fmt.Errorf("sim slot %d: the simulator has no %s control", n, req.Role)
}

// SimSlotState is what GET {base}/slots/{n} returns (at least).
type SimSlotState struct {
	Slot   int    `json:"slot"`
	Power  bool   `json:"power"`
	Status bool   `json:"status"`
	State  string `json:"state"` // off, booting, on, hung
}

// SlotState reads one simulated slot's state.
func (s *SimOpener) SlotState(ctx context.Context, n int) (SimSlotState, error) {
	var st SimSlotState
	u := fmt.Sprintf("%s/slots/%d", s.base, n)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return st, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return st, fmt.Errorf("sim slot %d: %w", n, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return st, fmt.Errorf("sim slot %d: GET %s: %w", n, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("sim slot %d: GET %s: %s: %s", n, u, resp.Status, snippet(body))
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("sim slot %d: GET %s: bad JSON: %w", n, u, err)
	}
	if st.Slot != n {
		return st, fmt.Errorf("sim slot %d: GET %s: answer is for slot %d", n, u, st.Slot)
	}
	return st, nil
}

func (s *SimOpener) post(n int, what string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	u := fmt.Sprintf("%s/slots/%d/%s", s.base, n, what)
	ctx, cancel := context.WithTimeout(context.Background(), SimTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("sim slot %d: %w", n, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sim slot %d: POST %s %s: %s: %s", n, u, b, resp.Status, snippet(rb))
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

type simSlot struct {
	o *SimOpener
	n int
}

func (simSlot) Close() error { return nil }

// simKey is a power key. Its owner (the slot's Controller) calls it from one
// goroutine at a time; mu only makes that safe to assume.
type simKey struct {
	simSlot
	mu      sync.Mutex
	pressed bool
	since   time.Time
}

func (k *simKey) SetValue(v int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case v == 1 && !k.pressed:
		k.pressed, k.since = true, k.o.clk.Now()
	case v == 0 && k.pressed:
		k.pressed = false
		held := k.o.clk.Now().Sub(k.since)
		return k.o.post(k.n, "pwrkey", map[string]int64{"ms": held.Milliseconds()})
	}
	return nil
}

func (k *simKey) Value() (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pressed {
		return 1, nil
	}
	return 0, nil
}

type simSupply struct{ simSlot }

func (s *simSupply) SetValue(v int) error {
	return s.o.post(s.n, "power", map[string]bool{"on": v == 1})
}

func (s *simSupply) Value() (int, error) {
	st, err := s.o.SlotState(context.Background(), s.n)
	if err != nil {
		return 0, err
	}
	return b2i(st.Power), nil
}

type simStatus struct{ simSlot }

func (s *simStatus) SetValue(int) error {
	return fmt.Errorf("sim slot %d: status is an input", s.n)
}

func (s *simStatus) Value() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), SimTimeout)
	defer cancel()
	st, err := s.o.SlotState(ctx, s.n)
	if err != nil {
		return 0, err
	}
	return b2i(st.Status), nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
