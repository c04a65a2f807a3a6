package powertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
)

// SimServer fakes ness-modemsim's control API, the contract the sim driver
// is written to:
//
//	POST {base}/slots/{n}/power  {"on": true|false}  supply on or off
//	POST {base}/slots/{n}/pwrkey {"ms": N}           a press; toggles the module when N >= MinPressMS
//	GET  {base}/slots/{n}        {"slot": n, "power": bool, "status": bool, "state": "off|booting|on|hung"}
//
// A module boots at once (state "on") when toggled on with supply; cutting
// supply stops it. Serve it with httptest.NewServer.
type SimServer struct {
	MinPressMS int64

	mu    sync.Mutex
	slots []simSlot
	calls []string
}

type simSlot struct {
	power, on, hung bool
}

// NewSimServer returns a fake with n slots, all without supply.
func NewSimServer(n int, minPressMS int64) *SimServer {
	return &SimServer{MinPressMS: minPressMS, slots: make([]simSlot, n)}
}

// SetHung makes slot n a hung module: it stays on and ignores presses until
// its supply is cut.
func (s *SimServer) SetHung(n int, hung bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots[n].hung = hung
}

// Calls returns every request as "METHOD PATH BODY".
func (s *SimServer) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ServeHTTP implements the contract.
func (s *SimServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slots/{n}", s.get)
	mux.HandleFunc("POST /slots/{n}/power", s.power)
	mux.HandleFunc("POST /slots/{n}/pwrkey", s.pwrkey)
	mux.ServeHTTP(w, r)
}

func (s *SimServer) slot(w http.ResponseWriter, r *http.Request, body any) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("n"))
	s.mu.Lock()
	defer s.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	if body != nil {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if derr := dec.Decode(body); derr != nil {
			s.calls = append(s.calls, call+" (bad body)")
			http.Error(w, "bad body: "+derr.Error(), http.StatusBadRequest)
			return 0, false
		}
		b, _ := json.Marshal(body)
		call += " " + string(b)
	}
	s.calls = append(s.calls, call)
	if err != nil || n < 0 || n >= len(s.slots) {
		http.Error(w, fmt.Sprintf("no slot %q", r.PathValue("n")), http.StatusNotFound)
		return 0, false
	}
	return n, true
}

func (s *SimServer) get(w http.ResponseWriter, r *http.Request) {
	n, ok := s.slot(w, r, nil)
	if !ok {
		return
	}
	s.mu.Lock()
	sl := s.slots[n]
	s.mu.Unlock()
	state := "off"
	switch {
	case sl.power && sl.on && sl.hung:
		state = "hung"
	case sl.power && sl.on:
		state = "on"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"slot": n, "power": sl.power, "status": sl.power && sl.on, "state": state,
	})
}

func (s *SimServer) power(w http.ResponseWriter, r *http.Request) {
	var body struct {
		On *bool `json:"on"`
	}
	n, ok := s.slot(w, r, &body)
	if !ok {
		return
	}
	if body.On == nil {
		http.Error(w, `want {"on": true|false}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots[n].power = *body.On
	if !*body.On {
		s.slots[n].on, s.slots[n].hung = false, false
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *SimServer) pwrkey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		MS *int64 `json:"ms"`
	}
	n, ok := s.slot(w, r, &body)
	if !ok {
		return
	}
	if body.MS == nil || *body.MS < 0 {
		http.Error(w, `want {"ms": N}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := &s.slots[n]
	if sl.power && !sl.hung && *body.MS >= s.MinPressMS {
		sl.on = !sl.on
	}
	w.WriteHeader(http.StatusNoContent)
}
