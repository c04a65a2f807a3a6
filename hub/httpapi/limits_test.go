package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/httpapi"
)

func TestLimitsAndErrors(t *testing.T) {
	e := startEnv(t, backends[0], func(c *httpapi.Config) { c.IPRate, c.IPBurst = 1, 5; c.TokenRate = -1 })
	c := e.anon()
	// The body size limit answers 413 in the error shape.
	code, body, _ := c.req(t, "POST", "/v1/auth/token", `{"key":"`+strings.Repeat("A", 10<<10)+`"}`)
	var eb httpapi.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || code != 413 || eb.Error == nil || eb.Error.Kind != httpapi.KindTooLarge {
		t.Errorf("oversized body: got %d %s, want 413 too_large", code, body)
	}
	// An unknown field names itself.
	code, body, _ = c.req(t, "POST", "/v1/auth/token", `{"kee":"x"}`)
	if json.Unmarshal(body, &eb); code != 400 || eb.Error.Field != "kee" {
		t.Errorf("unknown field: got %d %s, want 400 naming kee", code, body)
	}
	// Burst of 5, then 429 with Retry-After.
	var last int
	var hdr http.Header
	for range 10 {
		last, body, hdr = c.req(t, "GET", "/v1/numbers", nil)
	}
	if json.Unmarshal(body, &eb); last != 429 || hdr.Get("Retry-After") != "1" || eb.Error.Kind != httpapi.KindRateLimited {
		t.Errorf("after 10 requests at burst 5: got %d Retry-After %q body %s, want 429, 1, rate_limited", last, hdr.Get("Retry-After"), body)
	}
}

func TestTokenRateLimit(t *testing.T) {
	e := startEnv(t, backends[0], func(c *httpapi.Config) { c.IPRate = -1; c.TokenRate, c.TokenBurst = 0.5, 3 })
	a, b := e.signIn(t), e.signIn(t)
	codes := ""
	for range 4 {
		code, _, _ := a.req(t, "GET", "/v1/rentals", nil)
		codes += fmt.Sprint(code, " ")
	}
	if codes != "200 200 200 429 " {
		t.Errorf("token a, 4 requests at burst 3: got %s", codes)
	}
	if code, _, h := a.req(t, "GET", "/v1/rentals", nil); code != 429 || h.Get("Retry-After") != "2" {
		t.Errorf("token a again: got %d Retry-After %q, want 429 and 2", code, h.Get("Retry-After"))
	}
	b.do(t, "GET", "/v1/rentals", nil, http.StatusOK, nil) // another token has its own bucket
}

func TestNumbersCatalogue(t *testing.T) {
	e := startEnv(t, backends[0], nil)
	p := e.enrol(t, e.signIn(t))
	for i, price := range []string{"3", "1", "2", "1", "5"} {
		p.do(t, "POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: fmt.Sprintf("+49151000000%02d", i),
			Agent: p.agent.ID, ICCID: fmt.Sprintf("89490000000000000%02d", i), Country: []string{"DE", "DE", "FR", "DE", "DE"}[i],
			Features: [][]string{{"sms"}, {"sms", "long-sms"}, {"sms"}, {"sms"}, {"voice"}}[i],
			Prices:   httpapi.Prices{Day: price, Week: "0", Month: "0", SMS: "0"}}, http.StatusCreated, nil)
	}
	p.do(t, "PATCH", "/v1/provider/numbers/+4915100000004", httpapi.NumberPatch{Prices: &httpapi.PricesPatch{Day: ptr("0.25")}}, http.StatusOK, nil)
	renter := e.signIn(t)
	renter.rent(t, "+4915100000003")
	list := func(q string) (nums []string, next string) {
		var l httpapi.NumberList
		renter.do(t, "GET", "/v1/numbers"+q, nil, http.StatusOK, &l)
		for _, n := range l.Numbers {
			nums = append(nums, n.Number[len(n.Number)-2:])
		}
		return nums, l.Next
	}
	tests := []struct {
		query string
		want  string
	}{
		{"", "[00 01 02 04]"},
		{"?country=de", "[00 01 04]"},
		{"?feature=sms&feature=long-sms", "[01]"},
		{"?max_price=1", "[01 04]"},
		{"?sort=price", "[04 01 02 00]"},
		{"?sort=-price", "[00 02 01 04]"},
		{"?min_reputation=1", "[]"}, // the agent never reported: offline
	}
	for _, tc := range tests {
		if got, _ := list(tc.query); fmt.Sprint(got) != tc.want && !(tc.want == "[]" && got == nil) {
			t.Errorf("GET /v1/numbers%s: got %v, want %s", tc.query, got, tc.want)
		}
	}
	// Pages of two by price, following the cursor.
	var all []string
	q := "?sort=price&limit=2"
	for range 5 {
		got, next := list(q)
		all = append(all, got...)
		if next == "" {
			break
		}
		q = "?sort=price&limit=2&cursor=" + next
	}
	if fmt.Sprint(all) != "[04 01 02 00]" {
		t.Errorf("paged by price: got %v, want [04 01 02 00]", all)
	}
	for _, bad := range []string{"?sort=colour", "?max_price=abc", "?min_reputation=101", "?limit=0", "?cursor=!!", "?colour=red"} {
		if code, _, _ := renter.req(t, "GET", "/v1/numbers"+bad, nil); code != 400 {
			t.Errorf("GET /v1/numbers%s: got %d, want 400", bad, code)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestLivePerAccountCap: one account holds at most MaxLivePerAccount streams and long-polls at
// once; one more, of either kind, is refused with 429 and Retry-After, another account is not
// affected, and closing a stream lets the next one in.
func TestLivePerAccountCap(t *testing.T) {
	e := startEnv(t, backends[0], func(c *httpapi.Config) { c.MaxLivePerAccount = 2; c.IPRate, c.TokenRate = -1, -1 })
	a, b := e.signIn(t), e.signIn(t)
	var open []*websocket.Conn
	defer func() {
		for _, c := range open {
			c.CloseNow()
		}
	}()
	for i := range 2 {
		c, err := a.stream(t, "")
		if err != nil {
			t.Fatalf("stream %d of 2: %v", i+1, err)
		}
		open = append(open, c)
	}
	var se *statusError
	if _, err := a.stream(t, ""); !errors.As(err, &se) || se.status != http.StatusTooManyRequests {
		t.Fatalf("third stream: got %v, want 429", err)
	}
	code, body, hdr := a.req(t, "GET", "/v1/messages?wait=5s", nil)
	var eb httpapi.ErrorBody
	if json.Unmarshal(body, &eb); code != 429 || hdr.Get("Retry-After") != "5" || eb.Error == nil || eb.Error.Kind != httpapi.KindRateLimited {
		t.Errorf("long-poll over the cap: got %d Retry-After %q body %s, want 429, 5, rate_limited", code, hdr.Get("Retry-After"), body)
	}
	a.do(t, "GET", "/v1/messages", nil, http.StatusOK, nil) // a plain list holds nothing open
	other, err := b.stream(t, "")
	if err != nil {
		t.Fatalf("another account's stream: %v", err)
	}
	open = append(open, other)
	open[0].Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := a.stream(t, "")
		if err == nil {
			open = append(open, c)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a stream after closing one: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBindOthersSIM: a provider cannot bind a SIM that carries another provider's number, or
// that another provider's agent reported in one of its slots within the last day; its own SIMs,
// and a report older than a day, do not stop anyone.
func TestBindOthersSIM(t *testing.T) {
	e := startEnv(t, backends[0], nil)
	alice, bob := e.enrol(t, e.signIn(t)), e.enrol(t, e.signIn(t))
	const simA, simB, simC = "8949000000000000091", "8949000000000000092", "8949000000000000093"
	bind := func(p *provider, number, iccid string) (int, *httpapi.Error) {
		code, body, _ := p.req(t, "POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: number, Agent: p.agent.ID,
			ICCID: iccid, Country: "DE", Features: []string{"sms"}, Prices: httpapi.Prices{Day: "0.5", Week: "3", Month: "10", SMS: "0.01"}})
		var eb httpapi.ErrorBody
		json.Unmarshal(body, &eb)
		return code, eb.Error
	}
	alice.bind(t, "+4915100000091", simA)
	if code, err := bind(bob, "+4915100000092", simA); code != http.StatusConflict || err == nil || err.Field != "iccid" {
		t.Errorf("bob binding the SIM of alice's number: got %d %+v, want 409 naming iccid", code, err)
	}
	if code, err := bind(alice, "+4915100000093", simA); code != http.StatusCreated {
		t.Errorf("alice binding a second number on her own SIM: got %d %+v, want 201", code, err)
	}
	now := time.Now()
	for _, sl := range []hub.Slot{
		{AgentID: alice.agent.ID, Slot: 1, ICCID: simB, State: "ready", Status: []byte("{}"), UpdatedAt: now},
		{AgentID: alice.agent.ID, Slot: 2, ICCID: simC, State: "ready", Status: []byte("{}"), UpdatedAt: now.Add(-25 * time.Hour)},
	} {
		if err := e.hub.Store.UpsertSlotStatus(context.Background(), sl); err != nil {
			t.Fatal(err)
		}
	}
	if code, err := bind(bob, "+4915100000094", simB); code != http.StatusConflict || err == nil || err.Field != "iccid" {
		t.Errorf("bob binding a SIM alice's agent reports: got %d %+v, want 409 naming iccid", code, err)
	}
	if code, err := bind(bob, "+4915100000095", simC); code != http.StatusCreated {
		t.Errorf("bob binding a SIM alice's agent last reported 25 h ago: got %d %+v, want 201", code, err)
	}
	if code, err := bind(alice, "+4915100000096", simB); code != http.StatusCreated {
		t.Errorf("alice binding a SIM her agent reports: got %d %+v, want 201", code, err)
	}
}
