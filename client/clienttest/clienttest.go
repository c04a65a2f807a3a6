// Package clienttest runs a real hub for the client's tests: hubtest's hub (SQLite, embedded
// broker, ingest, lease issuer) with the HTTPS API (hub/httpapi) on a loopback listener, and a
// simulated agent enrolled and connected to the broker that publishes signed, sealed SMS.
package clienttest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/notify"
	"github.com/ness-network/ness-sms/wire"
)

// Env is a running hub with its API.
type Env struct {
	Hub *hubtest.Hub
	URL string // http://127.0.0.1:PORT, also the hub's origin
	// Agent is enrolled (its certificate signed by Agent.Provider) and connected.
	Agent *hubtest.Agent
}

// Start starts the hub, the API and one connected agent; t.Cleanup stops them.
func Start(t testing.TB) *Env {
	t.Helper()
	n := notify.NewLocal()
	h := hubtest.Start(t, hubtest.Options{Notify: n})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	api, err := httpapi.New(httpapi.Config{Store: h.Store, Leases: h.Leases, Notify: n, Origin: url, IPRate: -1, TokenRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { api.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	a := h.Enroll(t)
	a.Connect(t, h.URL)
	return &Env{Hub: h, URL: url, Agent: a}
}

// ICCID returns a valid ICCID unique to n within a test.
func ICCID(n int) string { return fmt.Sprintf("89490200001%08d", n) }

// PublishStatus publishes the agent's signed status with one registered slot per ICCID
// (slot i holds iccids[i]) and waits until the hub lists them.
func (e *Env) PublishStatus(t testing.TB, iccids ...string) {
	t.Helper()
	a := e.Agent
	st := &wire.Status{Version: wire.Version, AgentID: a.ID, Time: time.Now().Truncate(time.Millisecond), Online: true}
	for i, c := range iccids {
		st.Slots = append(st.Slots, wire.SlotStatus{Slot: uint32(i), State: wire.SlotRegistered, SignalDBm: -71,
			Registration: "home", Operator: "NESS Sim", ICCID: c})
	}
	if err := st.Sign(a.Identity); err != nil {
		t.Fatal(err)
	}
	body, err := st.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	a.PublishTo(t, wire.StatusTopic(a.ID), body)
	deadline := time.Now().Add(10 * time.Second)
	for {
		sl, err := e.Hub.Store.ListSlots(context.Background(), a.ID)
		if err == nil && len(sl) == len(iccids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent status: hub lists %d slots after 10s, want %d (err %v)", len(sl), len(iccids), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SMS publishes an SMS on iccid (slot) sealed under lease, as the agent does, and returns its id.
func (e *Env) SMS(t testing.TB, slot int, l *wire.Lease, sender, text string) string {
	t.Helper()
	m, payload := e.Agent.NewSMS(t, hubtest.SMS{ICCID: l.ICCID, Slot: slot, Lease: l, Sender: sender, Text: text})
	e.Agent.Publish(t, payload)
	return m.ID
}
