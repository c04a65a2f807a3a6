package modemsim

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/agent/pdu"
)

// MaxBodyBytes bounds a control API request body.
const MaxBodyBytes = 64 << 10

// maxPulse bounds a PWRKEY pulse given through the API (SIM800 re-powers after 33 s).
const maxPulse = 120 * time.Second

// Handler returns the control API (docs/MODEMSIM.md). Serve it on loopback only: it has no
// authentication.
func (sim *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "slots": len(sim.slots), "model": sim.cfg.Model.Name})
	})
	mux.HandleFunc("GET /slots", func(w http.ResponseWriter, r *http.Request) {
		out := make([]SlotStatus, 0, len(sim.slots))
		for _, s := range sim.slots {
			out = append(out, s.Status())
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /slots/{n}", sim.withSlot(func(s *Slot, w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, s.Status())
		return nil
	}))
	mux.HandleFunc("POST /slots/{n}/sms", sim.withSlot(sim.postSMS))
	mux.HandleFunc("POST /slots/{n}/pdu", sim.withSlot(sim.postPDU))
	mux.HandleFunc("POST /slots/{n}/fault", sim.withSlot(sim.postFault))
	mux.HandleFunc("POST /slots/{n}/power", sim.withSlot(sim.postPower))
	mux.HandleFunc("POST /slots/{n}/pwrkey", sim.withSlot(sim.postPwrkey))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s (see docs/MODEMSIM.md)", r.Method, r.URL.Path)})
	})
	return mux
}

// apiError is an error with the HTTP status it maps to.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// statusOf maps errors to HTTP statuses, in this one place.
func statusOf(err error) int {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.status
	case errors.Is(err, ErrStorageFull):
		return http.StatusInsufficientStorage
	case errors.Is(err, ErrNoSIM):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (sim *Simulator) withSlot(h func(*Slot, http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw := r.PathValue("n")
		n, err := strconv.Atoi(raw)
		if err != nil || strconv.Itoa(n) != raw {
			writeError(w, &apiError{http.StatusNotFound, fmt.Sprintf("slot %q is not a slot number", raw)})
			return
		}
		s, err := sim.Slot(n)
		if err != nil {
			writeError(w, &apiError{http.StatusNotFound, err.Error()})
			return
		}
		if err := h(s, w, r); err != nil {
			sim.cfg.Logger.Info("control request failed", "slot", n, "path", r.URL.Path, "err", err)
			writeError(w, err)
		}
	}
}

// DecodeJSON decodes exactly one JSON object from r into dst, refusing unknown fields, trailing
// data and bodies over MaxBodyBytes. Its errors name the offending field and say what is wanted.
func DecodeJSON(r io.Reader, dst any) error {
	lr := &io.LimitedReader{R: r, N: MaxBodyBytes + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if lr.N <= 0 {
		return &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", MaxBodyBytes)}
	}
	if err != nil {
		return jsonError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return badRequest("body has data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("body is empty; want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body is truncated JSON")
	case errors.As(err, &syn):
		return badRequest("body is not valid JSON at offset %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("body must be a JSON object, not %s", typ.Value)
		}
		return badRequest("field %q: want %s, got JSON %s", typ.Field, jsonKind(typ.Type.String()), typ.Value)
	case errors.As(err, &tooBig):
		return &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", MaxBodyBytes)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("body: %v", err)
}

func jsonKind(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64":
		return "an integer"
	}
	return goType
}

// SMSRequest is the body of POST /slots/{n}/sms.
type SMSRequest struct {
	From *string `json:"from"`
	Text *string `json:"text"`
	Time *string `json:"time,omitempty"` // RFC 3339; default now
}

// ParseSMSRequest decodes and checks a POST /slots/{n}/sms body.
func ParseSMSRequest(r io.Reader) (from, text string, at time.Time, err error) {
	var req SMSRequest
	if err := DecodeJSON(r, &req); err != nil {
		return "", "", time.Time{}, err
	}
	if req.From == nil {
		return "", "", time.Time{}, badRequest(`field "from" is required`)
	}
	if err := pdu.CheckOriginator(*req.From); err != nil {
		return "", "", time.Time{}, badRequest(`field "from": %v`, err)
	}
	if req.Text == nil {
		return "", "", time.Time{}, badRequest(`field "text" is required`)
	}
	if *req.Text == "" {
		return "", "", time.Time{}, badRequest(`field "text" is empty`)
	}
	if req.Time != nil {
		at, err = time.Parse(time.RFC3339, *req.Time)
		if err != nil {
			return "", "", time.Time{}, badRequest(`field "time": want RFC 3339 such as "2024-05-01T12:00:00+02:00": %v`, err)
		}
		if y := at.Year(); y < 2000 || y > 2069 {
			return "", "", time.Time{}, badRequest(`field "time": year %d cannot be sent (a two-digit SCTS year reads as 2000-2069 here)`, y)
		}
		_, off := at.Zone()
		if off%900 != 0 || off > 14*3600 || off < -14*3600 {
			return "", "", time.Time{}, badRequest(`field "time": offset must be whole quarter hours within ±14:00`)
		}
	}
	return *req.From, *req.Text, at, nil
}

func (sim *Simulator) postSMS(s *Slot, w http.ResponseWriter, r *http.Request) error {
	from, text, at, err := ParseSMSRequest(r.Body)
	if err != nil {
		return err
	}
	d, err := s.InjectSMS(from, text, at)
	if err != nil {
		if errors.Is(err, ErrStorageFull) || errors.Is(err, ErrNoSIM) {
			return fmt.Errorf("slot %d: %w", s.n, err)
		}
		return badRequest(`field "text": %v`, err)
	}
	sim.cfg.Logger.Info("sms injected", "slot", s.n, "from", from, "parts", len(d.Indexes), "direct", d.Direct)
	writeJSON(w, http.StatusOK, d)
	return nil
}

// PDURequest is the body of POST /slots/{n}/pdu.
type PDURequest struct {
	PDU *string `json:"pdu"`
}

// maxPDUBytes is the largest SMSC part (12 octets) plus the largest TPDU (176 octets).
const maxPDUBytes = 12 + 176

// ParsePDURequest decodes and checks a POST /slots/{n}/pdu body. The PDU must be hex and start
// with a consistent SMSC length octet; the TPDU itself is stored as given, even if malformed.
func ParsePDURequest(r io.Reader) ([]byte, error) {
	var req PDURequest
	if err := DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.PDU == nil {
		return nil, badRequest(`field "pdu" is required`)
	}
	b, err := hex.DecodeString(strings.TrimSpace(*req.PDU))
	if err != nil {
		return nil, badRequest(`field "pdu": not hex: %v`, err)
	}
	switch {
	case len(b) == 0:
		return nil, badRequest(`field "pdu" is empty`)
	case len(b) > maxPDUBytes:
		return nil, badRequest(`field "pdu": %d octets, more than %d`, len(b), maxPDUBytes)
	case int(b[0]) > 11:
		return nil, badRequest(`field "pdu": SMSC length octet %d is over 11`, b[0])
	case len(b) <= 1+int(b[0]):
		return nil, badRequest(`field "pdu": no TPDU after the %d-octet SMSC part`, b[0])
	}
	return b, nil
}

func (sim *Simulator) postPDU(s *Slot, w http.ResponseWriter, r *http.Request) error {
	b, err := ParsePDURequest(r.Body)
	if err != nil {
		return err
	}
	d, err := s.InjectPDUs(b)
	if err != nil {
		return fmt.Errorf("slot %d: %w", s.n, err)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// FaultRequest is the body of POST /slots/{n}/fault.
type FaultRequest struct {
	Kind *string `json:"kind"`
}

// ParseFaultRequest decodes and checks a POST /slots/{n}/fault body.
func ParseFaultRequest(r io.Reader) (Fault, error) {
	var req FaultRequest
	if err := DecodeJSON(r, &req); err != nil {
		return "", err
	}
	if req.Kind == nil {
		return "", badRequest(`field "kind" is required`)
	}
	f, err := ParseFault(*req.Kind)
	if err != nil {
		return "", badRequest(`field "kind": %v`, err)
	}
	return f, nil
}

func (sim *Simulator) postFault(s *Slot, w http.ResponseWriter, r *http.Request) error {
	f, err := ParseFaultRequest(r.Body)
	if err != nil {
		return err
	}
	if err := s.SetFault(f); err != nil {
		return badRequest(`field "kind": %v`, err)
	}
	sim.cfg.Logger.Info("fault set", "slot", s.n, "fault", f)
	writeJSON(w, http.StatusOK, s.Status())
	return nil
}

// PowerRequest is the body of POST /slots/{n}/power.
type PowerRequest struct {
	On *bool `json:"on"`
}

func (sim *Simulator) postPower(s *Slot, w http.ResponseWriter, r *http.Request) error {
	var req PowerRequest
	if err := DecodeJSON(r.Body, &req); err != nil {
		return err
	}
	if req.On == nil {
		return badRequest(`field "on" is required`)
	}
	s.SetPower(*req.On)
	sim.cfg.Logger.Info("supply switched", "slot", s.n, "on", *req.On)
	writeJSON(w, http.StatusOK, s.Status())
	return nil
}

// PwrkeyRequest is the body of POST /slots/{n}/pwrkey.
type PwrkeyRequest struct {
	MS *int64 `json:"ms"`
}

// PwrkeyResponse is the answer to POST /slots/{n}/pwrkey: whether the pulse switched the module,
// and the slot afterwards.
type PwrkeyResponse struct {
	Toggled bool `json:"toggled"`
	SlotStatus
}

func (sim *Simulator) postPwrkey(s *Slot, w http.ResponseWriter, r *http.Request) error {
	var req PwrkeyRequest
	if err := DecodeJSON(r.Body, &req); err != nil {
		return err
	}
	if req.MS == nil {
		return badRequest(`field "ms" is required`)
	}
	if *req.MS <= 0 || time.Duration(*req.MS)*time.Millisecond > maxPulse {
		return badRequest(`field "ms": %d is out of range 1-%d`, *req.MS, maxPulse.Milliseconds())
	}
	toggled := s.PressPowerKey(time.Duration(*req.MS) * time.Millisecond)
	sim.cfg.Logger.Info("pwrkey pulse", "slot", s.n, "ms", *req.MS, "toggled", toggled)
	writeJSON(w, http.StatusOK, PwrkeyResponse{Toggled: toggled, SlotStatus: s.Status()})
	return nil
}
