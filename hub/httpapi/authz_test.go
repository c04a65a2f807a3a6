package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/wire"
)

// TestAuthorizationMatrix: every endpoint that touches a renter's rentals, messages or webhooks,
// or a provider's agents and numbers, called by the wrong principal (another renter, another
// provider, nobody) is refused, and the other renter's stream and webhook receive nothing.
func TestAuthorizationMatrix(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testAuthorizationMatrix(t, b) })
	}
}

func testAuthorizationMatrix(t *testing.T, b backend) {
	e := startEnv(t, b, nil)
	const number, iccid = "+4915100000002", "8949000000000000002"
	prov := e.enrol(t, e.signIn(t))
	prov.bind(t, number, iccid)
	alice := e.signIn(t)
	rental := alice.rent(t, number)
	lease := prov.waitLease(t, iccid, rental.LeaseSeq)
	aliceHook := newReceiver(t, http.StatusNoContent)
	var hook httpapi.WebhookView
	alice.do(t, "POST", "/v1/webhooks", httpapi.WebhookRequest{URL: aliceHook.srv.URL}, http.StatusCreated, &hook)

	// Mallory: a renter with her own account webhook and stream, and a provider with her own agent.
	mallory := e.enrol(t, e.signIn(t))
	malloryHook := newReceiver(t, http.StatusNoContent)
	mallory.do(t, "POST", "/v1/webhooks", httpapi.WebhookRequest{URL: malloryHook.srv.URL}, http.StatusCreated, nil)
	mws, err := mallory.stream(t, "")
	if err != nil {
		t.Fatal(err)
	}
	defer mws.CloseNow()

	msgID := prov.sms(t, lease, "secret code")
	aliceHook.wait(t, 1)
	waitListed(t, alice, msgID)

	// A certificate for alice's provider's agent, signed by mallory: taking over the agent.
	now := time.Now()
	stolen, err := wire.NewAgentCert(prov.agent.Identity.Verify, mallory.id, "", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	stolenJSON, _ := stolen.MarshalJSON()
	// A certificate signed by alice's provider, uploaded by mallory.
	other, _ := wire.GenerateIdentity()
	foreign, _ := wire.NewAgentCert(other.Verify, prov.id, "", now.Add(-time.Hour), now.Add(time.Hour))
	foreignJSON, _ := foreign.MarshalJSON()

	anon := e.anon()
	type call struct {
		method, path string
		body         any
	}
	cases := []struct {
		call
		as   *client
		want []int // any of these
	}{
		{call{"GET", "/v1/rentals/" + rental.ID, nil}, mallory.client, []int{404}},
		{call{"POST", "/v1/rentals/" + rental.ID + "/extend", httpapi.ExtendRequest{Duration: "daily"}}, mallory.client, []int{404}},
		{call{"DELETE", "/v1/rentals/" + rental.ID, nil}, mallory.client, []int{404}},
		{call{"GET", "/v1/messages/" + msgID, nil}, mallory.client, []int{404}},
		{call{"DELETE", "/v1/messages/" + msgID, nil}, mallory.client, []int{404}},
		{call{"GET", "/v1/messages/" + msgID + "/proof", nil}, mallory.client, []int{404}},
		{call{"GET", "/v1/messages?after=" + msgID, nil}, mallory.client, []int{400}},
		{call{"GET", "/v1/messages?rental=" + rental.ID, nil}, mallory.client, []int{404}},
		{call{"GET", "/v1/stream?after=" + msgID, nil}, mallory.client, []int{400}},
		{call{"POST", "/v1/webhooks", httpapi.WebhookRequest{URL: malloryHook.srv.URL, Rental: rental.ID}}, mallory.client, []int{404}},
		{call{"GET", "/v1/webhooks/" + hook.ID, nil}, mallory.client, []int{404}},
		{call{"DELETE", "/v1/webhooks/" + hook.ID, nil}, mallory.client, []int{404}},
		{call{"GET", "/v1/webhooks/" + hook.ID + "/deliveries", nil}, mallory.client, []int{404}},
		{call{"GET", "/v1/provider/agents/" + prov.agent.ID, nil}, mallory.client, []int{404}},
		{call{"POST", "/v1/provider/agents", map[string]any{"certificate": json.RawMessage(stolenJSON)}}, mallory.client, []int{403}},
		{call{"POST", "/v1/provider/agents", map[string]any{"certificate": json.RawMessage(foreignJSON)}}, mallory.client, []int{403}},
		{call{"POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: "+4915100000009", Agent: prov.agent.ID, ICCID: "8949000000000000009",
			Country: "DE", Prices: httpapi.Prices{Day: "1", Week: "1", Month: "1", SMS: "0"}}}, mallory.client, []int{404}},
		{call{"POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: number, Agent: mallory.agent.ID, ICCID: "8949000000000000008",
			Country: "DE", Prices: httpapi.Prices{Day: "0", Week: "0", Month: "0", SMS: "0"}}}, mallory.client, []int{409}},
		{call{"PATCH", "/v1/provider/numbers/" + number, httpapi.NumberPatch{Features: &[]string{"x"}}}, mallory.client, []int{404}},
	}
	// Every authenticated endpoint refuses a caller without a token.
	for _, p := range []string{"/v1/rentals", "/v1/messages", "/v1/stream", "/v1/webhooks", "/v1/provider/agents",
		"/v1/provider/numbers", "/v1/provider/earnings", "/v1/auth/whoami"} {
		cases = append(cases, struct {
			call
			as   *client
			want []int
		}{call{"GET", p, nil}, anon, []int{401}})
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var code int
			var body []byte
			if tc.path == "/v1/stream" || len(tc.path) > 10 && tc.path[:10] == "/v1/stream" {
				conn, err := tc.as.stream(t, tc.path[min(len(tc.path), len("/v1/stream?after=")):])
				var se *statusError
				if err == nil {
					conn.CloseNow()
					t.Fatalf("stream opened, want refused with %v", tc.want)
				}
				if !errors.As(err, &se) {
					t.Fatalf("stream: %v", err)
				}
				code = se.status
			} else {
				code, body, _ = tc.as.req(t, tc.method, tc.path, tc.body)
			}
			ok := false
			for _, w := range tc.want {
				ok = ok || code == w
			}
			if !ok {
				t.Errorf("got %d, want %v; body %s", code, tc.want, body)
			}
		})
	}

	// Lists show nothing of alice's.
	var ml httpapi.MessageList
	mallory.do(t, "GET", "/v1/messages", nil, http.StatusOK, &ml)
	var rl httpapi.RentalList
	mallory.do(t, "GET", "/v1/rentals", nil, http.StatusOK, &rl)
	var al httpapi.AgentList
	mallory.do(t, "GET", "/v1/provider/agents", nil, http.StatusOK, &al)
	var earn httpapi.Earnings
	mallory.do(t, "GET", "/v1/provider/earnings", nil, http.StatusOK, &earn)
	if len(ml.Messages) != 0 || len(rl.Rentals) != 0 || len(al.Agents) != 1 || al.Agents[0].ID != mallory.agent.ID || earn.Total != "0.000000" {
		t.Errorf("mallory's lists: %d messages, %d rentals, agents %+v, earnings %s; want none of alice's", len(ml.Messages), len(rl.Rentals), al.Agents, earn.Total)
	}
	// Alice's things are intact.
	alice.do(t, "GET", "/v1/messages/"+msgID, nil, http.StatusOK, nil)
	alice.do(t, "GET", "/v1/webhooks/"+hook.ID, nil, http.StatusOK, nil)
	var ar httpapi.RentalView
	alice.do(t, "GET", "/v1/rentals/"+rental.ID, nil, http.StatusOK, &ar)
	if ar.Status != "active" || ar.Until != rental.Until {
		t.Errorf("alice's rental after mallory's attempts: %+v, want unchanged", ar)
	}
	// Mallory's stream and webhook got nothing (alice's webhook already had the message).
	if ev, err := next(t, mws, 500*time.Millisecond); err == nil {
		t.Errorf("mallory's stream received %+v", ev)
	}
	malloryHook.mu.Lock()
	n := len(malloryHook.got)
	malloryHook.mu.Unlock()
	if n != 0 {
		t.Errorf("mallory's webhook received %d deliveries, want 0", n)
	}
}
