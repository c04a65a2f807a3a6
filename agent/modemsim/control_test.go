package modemsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// startAPI serves a simulator's control API on a loopback port.
func startAPI(t *testing.T, cfg Config) (*Simulator, string) {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler()) // 127.0.0.1:0
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func call(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, url, raw, err)
		}
	}
	return resp.StatusCode, out
}

func TestControlBadRequests(t *testing.T) {
	_, base := startAPI(t, Config{Slots: 2})
	tests := []struct {
		path, body string
		status     int
		wantInErr  string
	}{
		{"/slots/0/sms", ``, 400, "empty"},
		{"/slots/0/sms", `{"from":"+1555","text":"hi","extra":1}`, 400, `"extra"`},
		{"/slots/0/sms", `{"from":1555,"text":"hi"}`, 400, `"from"`},
		{"/slots/0/sms", `{"text":"hi"}`, 400, `"from" is required`},
		{"/slots/0/sms", `{"from":"+1555"}`, 400, `"text" is required`},
		{"/slots/0/sms", `{"from":"+1555","text":""}`, 400, `"text" is empty`},
		{"/slots/0/sms", `{"from":"a very long sender name","text":"x"}`, 400, `"from"`},
		{"/slots/0/sms", `{"from":"+1555","text":"x","time":"yesterday"}`, 400, `"time"`},
		{"/slots/0/sms", `{"from":"+1555","text":"x","time":"2024-01-01T00:00:00+00:07"}`, 400, `"time"`},
		{"/slots/0/sms", `{"from":"+1555","text":"x"} {}`, 400, "after the JSON"},
		{"/slots/0/sms", `[1,2]`, 400, "JSON object"},
		{"/slots/0/sms", `{"from":`, 400, "truncated"},
		{"/slots/0/sms", `{"from":"+1555","text":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "larger"},
		{"/slots/0/pdu", `{"pdu":"zz"}`, 400, `"pdu": not hex`},
		{"/slots/0/pdu", `{"pdu":"0791"}`, 400, `"pdu": no TPDU`},
		{"/slots/0/pdu", `{"pdu":"FF00"}`, 400, `SMSC length`},
		{"/slots/0/pdu", `{}`, 400, `"pdu" is required`},
		{"/slots/0/fault", `{"kind":"explode"}`, 400, `"kind"`},
		{"/slots/0/power", `{"on":"yes"}`, 400, `"on"`},
		{"/slots/0/power", `{}`, 400, `"on" is required`},
		{"/slots/0/pwrkey", `{"ms":-5}`, 400, `"ms"`},
		{"/slots/0/pwrkey", `{"ms":1.5}`, 400, `"ms"`},
		{"/slots/9/power", `{"on":true}`, 404, "slot 9"},
		{"/slots/x/power", `{"on":true}`, 404, "not a slot number"},
		{"/slots/01/power", `{"on":true}`, 404, "not a slot number"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+truncate(tt.body, 40), func(t *testing.T) {
			status, out := call(t, "POST", base+tt.path, tt.body)
			msg, _ := out["error"].(string)
			if status != tt.status || !strings.Contains(msg, tt.wantInErr) {
				t.Errorf("POST %s %s: got %d %q, want %d with %q", tt.path, truncate(tt.body, 40), status, msg, tt.status, tt.wantInErr)
			}
		})
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func TestControlSMSAndStatus(t *testing.T) {
	sim, base := startAPI(t, Config{Slots: 2, Capacity: 2})
	status, out := call(t, "POST", base+"/slots/1/sms", `{"from":"+15551234567","text":"hello","time":"2024-05-01T12:00:00+02:00"}`)
	if status != 200 {
		t.Fatalf("POST sms: %d %v", status, out)
	}
	if idx, _ := out["indexes"].([]any); len(idx) != 1 || idx[0] != float64(0) {
		t.Errorf("indexes %v, want [0]", out["indexes"])
	}
	status, out = call(t, "GET", base+"/slots/1", "")
	if status != 200 {
		t.Fatalf("GET slot: %d", status)
	}
	id := sim.slots[1].Identity()
	for k, want := range map[string]any{"slot": float64(1), "model": "sim7600", "power": true, "status": true,
		"state": "on", "fault": "none", "iccid": id.ICCID, "imsi": id.IMSI} {
		if out[k] != want {
			t.Errorf("GET /slots/1 %q = %v, want %v", k, out[k], want)
		}
	}
	msgs, _ := out["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("messages %v, want 1", out["messages"])
	}
	m := msgs[0].(map[string]any)
	if m["index"] != float64(0) || m["status"] != "unread" || decodePDU(t, m["pdu"].(string)).OA.Number() != "+15551234567" {
		t.Errorf("message %v", m)
	}
	if _, ok := out["recent_commands"].([]any); !ok {
		t.Errorf("recent_commands missing or not an array: %v", out["recent_commands"])
	}
	// Raw PDU, stored as is.
	pdu := m["pdu"].(string)
	status, out = call(t, "POST", base+"/slots/1/pdu", `{"pdu":"`+strings.ToLower(pdu)+`"}`)
	if status != 200 {
		t.Fatalf("POST pdu: %d %v", status, out)
	}
	if got := sim.slots[1].Status().Messages[1].PDU; got != pdu {
		t.Errorf("stored pdu %s, want %s", got, pdu)
	}
	// Storage (capacity 2) is now full.
	status, out = call(t, "POST", base+"/slots/1/sms", `{"from":"+1555","text":"no room"}`)
	if status != 507 || !strings.Contains(out["error"].(string), "full") {
		t.Errorf("POST sms into full storage: %d %v, want 507", status, out)
	}
	// GET /slots lists all.
	resp, err := http.Get(base + "/slots")
	if err != nil {
		t.Fatal(err)
	}
	var all []SlotStatus
	json.NewDecoder(resp.Body).Decode(&all)
	resp.Body.Close()
	if len(all) != 2 || all[0].Slot != 0 || all[1].Slot != 1 {
		t.Errorf("GET /slots: %+v", all)
	}
	if status, _ := call(t, "GET", base+"/healthz", ""); status != 200 {
		t.Errorf("GET /healthz: %d", status)
	}
	if status, _ := call(t, "POST", base+"/slots/1/fault", `{"kind":"nosim"}`); status != 200 {
		t.Errorf("POST fault nosim: %d", status)
	}
	if status, _ := call(t, "POST", base+"/slots/1/sms", `{"from":"+1555","text":"x"}`); status != 409 {
		t.Errorf("POST sms without SIM: %d, want 409", status)
	}
}

func TestControlPower(t *testing.T) {
	clk := newFakeClock()
	sim, base := startAPI(t, Config{Slots: 1, PowerOffAtStart: true, Clock: clk})
	steps := []struct {
		path, body string
		toggled    any
		power      bool
		state      string
	}{
		{"/slots/0/pwrkey", `{"ms":600}`, false, false, "off"}, // no supply
		{"/slots/0/power", `{"on":true}`, nil, true, "off"},
		{"/slots/0/pwrkey", `{"ms":100}`, false, true, "off"}, // too short for sim7600 (300 ms)
		{"/slots/0/pwrkey", `{"ms":600}`, true, true, "booting"},
		{"/slots/0/pwrkey", `{"ms":3000}`, true, true, "off"},
		{"/slots/0/pwrkey", `{"ms":600}`, true, true, "booting"},
		{"/slots/0/power", `{"on":false}`, nil, false, "off"},
	}
	for _, st := range steps {
		status, out := call(t, "POST", base+st.path, st.body)
		if status != 200 {
			t.Fatalf("POST %s %s: %d %v", st.path, st.body, status, out)
		}
		if out["toggled"] != st.toggled || out["power"] != st.power || out["state"] != st.state {
			t.Errorf("POST %s %s: toggled %v power %v state %v, want %v %v %v", st.path, st.body,
				out["toggled"], out["power"], out["state"], st.toggled, st.power, st.state)
		}
	}
	_ = sim
}

func FuzzControlJSON(f *testing.F) {
	for _, s := range []string{`{"from":"+15551234567","text":"hi"}`, `{"from":"NESS","text":"x","time":"2024-01-01T00:00:00Z"}`,
		`{"pdu":"07915155000000F0040B915155214365F700006211821015740006E4B4BC3CA603"}`, `{"kind":"hang"}`,
		`{"on":true}`, `{"ms":500}`, `{}`, `null`, `[]`, `{"from":null}`, `{"text":"\ud83d"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if from, text, at, err := ParseSMSRequest(bytes.NewReader(body)); err == nil {
			if from == "" || text == "" {
				t.Fatalf("accepted %q with empty from/text", body)
			}
			if _, err := EncodeDeliver(from, text, orNow(at), "+15550000000", 1); err != nil && !strings.Contains(err.Error(), "parts") {
				t.Fatalf("accepted %q but cannot encode: %v", body, err)
			}
		} else if statusOf(err) != 400 && statusOf(err) != 413 {
			t.Fatalf("%q: status %d for %v", body, statusOf(err), err)
		}
		if pdu, err := ParsePDURequest(bytes.NewReader(body)); err == nil {
			if len(pdu) < 2 || len(pdu) <= int(pdu[0])+1 {
				t.Fatalf("accepted pdu %X without TPDU", pdu)
			}
			decodeStored(pdu) // must not panic on whatever was accepted
		}
		if f, err := ParseFaultRequest(bytes.NewReader(body)); err == nil {
			if _, err := ParseFault(string(f)); err != nil {
				t.Fatalf("accepted unknown fault %q", f)
			}
		}
	})
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
