package dashboard_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/dashboard"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/notify"
	"github.com/ness-network/ness-sms/wire"
)

// chromiumPath is Debian's chromium (scripts/setup installs it); NESS_CHROMIUM overrides.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("NESS_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("chromium not found at %s: run scripts/setup (installs Debian's chromium package) or set NESS_CHROMIUM", p)
	}
	return p
}

// control is a request from the browser script to the test goroutine, which alone may call
// t.Fatal: publish an SMS or a status as the simulated agent.
type control struct {
	what  string
	text  string
	reply chan map[string]any
}

const (
	iccidDE = "89490200001234567890"
	iccidGB = "89440200001234567891"
	numDE   = "+4915112340001"
	numGB   = "+447700900002"
)

// TestBrowser drives Debian's chromium (playwright-core, web/test/e2e.mjs) against a real hub:
// SQLite store, embedded MQTT broker, ingest, lease issuer, the HTTPS API and this dashboard on
// one loopback listener, with hubtest's simulated agent publishing signed, sealed SMS and signed
// status. The renter creates a key, signs in, filters numbers, rents, extends, and sees an
// injected SMS decrypted (latency measured); the provider imports a PrivatenessTools key file and
// sees a slot go unhealthy when its modem hangs. No private key may appear in any request.
func TestBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	node := needNode(t)
	n := notify.NewLocal()
	h := hubtest.Start(t, hubtest.Options{Notify: n})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	api, err := httpapi.New(httpapi.Config{Store: h.Store, Leases: h.Leases, Notify: n, Origin: origin, IPRate: -1, TokenRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", api.Handler())
	mux.Handle("/", dashboard.Handler())
	ts := httptest.NewUnstartedServer(mux)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { api.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	agent := h.Enroll(t)
	agent.Connect(t, h.URL)
	now := time.Now()
	for _, nb := range []hub.Number{
		{E164: numDE, ICCID: iccidDE, Country: "DE", Features: []string{"sms", "long-sms"}, PricePerDay: 1_000000, PricePerWeek: 5_000000, PricePerMonth: 15_000000, PricePerSMS: 10000},
		{E164: numGB, ICCID: iccidGB, Country: "GB", Features: []string{"sms"}, PricePerDay: 2_000000, PricePerWeek: 9_000000, PricePerMonth: 30_000000, PricePerSMS: 20000},
	} {
		nb.AgentID, nb.UpdatedAt = agent.ID, now
		if err := h.Store.BindNumber(ctx, nb); err != nil {
			t.Fatal(err)
		}
	}
	received := uint64(0)
	status := func(state string, dbm int32, outbox uint32) {
		s := &wire.Status{Version: wire.Version, AgentID: agent.ID, Time: time.Now(), Online: true, Slots: []wire.SlotStatus{
			{Slot: 0, State: state, Since: time.Now().Add(-time.Minute), SignalDBm: dbm, Registration: "home", Operator: "Telekom", ICCID: iccidDE, Received: received, Published: received, OutboxDepth: outbox},
			{Slot: 1, State: wire.SlotRegistered, Since: time.Now().Add(-time.Hour), SignalDBm: -81, Registration: "home", Operator: "EE", ICCID: iccidGB},
		}}
		if state != wire.SlotRegistered {
			s.Slots[0].Registration, s.Slots[0].Operator, s.Slots[0].Errors, s.Slots[0].Resets = "", "", 3, 1
		}
		if err := s.Sign(agent.Identity); err != nil {
			t.Fatal(err)
		}
		b, err := s.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		agent.PublishTo(t, wire.StatusTopic(agent.ID), b)
	}
	status(wire.SlotRegistered, -67, 0)

	// The provider's key as a PrivatenessTools user key file: the browser imports it.
	kf, err := wire.MarshalKeyFile(agent.Provider, "provider", "provider", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var pk struct{ Private, Verify, Public string }
	json.Unmarshal(kf, &pk)
	pt, _ := json.Marshal(map[string]any{"filedata": map[string]string{"vendor": "Privateness", "type": "key", "for": "user"},
		"username": "provider", "private": pk.Private, "public": pk.Public, "verify": pk.Verify})
	tmp := t.TempDir()
	ptFile := filepath.Join(tmp, "provider.key.json")
	if err := os.WriteFile(ptFile, pt, 0o600); err != nil {
		t.Fatal(err)
	}

	// The browser script asks for injections through this control endpoint.
	reqs := make(chan control)
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := control{what: strings.TrimPrefix(r.URL.Path, "/"), text: r.URL.Query().Get("text"), reply: make(chan map[string]any, 1)}
		select {
		case reqs <- c:
		case <-r.Context().Done():
			return
		}
		json.NewEncoder(w).Encode(<-c.reply)
	}))
	t.Cleanup(ctl.Close)

	artifacts := os.Getenv("NESS_ARTIFACTS_DIR")
	if artifacts == "" {
		artifacts, _ = filepath.Abs("artifacts")
	}
	artifacts = filepath.Join(artifacts, "browser")
	os.RemoveAll(artifacts)
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"url": ts.URL, "control": ctl.URL, "artifacts": artifacts, "chromium": chromium,
		"providerKeyFile": ptFile, "providerSeed": pk.Private, "numDE": numDE, "numGB": numGB, "agent": agent.ID})
	nctx, ncancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer ncancel()
	cmd := exec.CommandContext(nctx, node, "web/test/e2e.mjs")
	cmd.Env = append(os.Environ(), "NESS_E2E="+string(cfg))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		select {
		case err := <-exited:
			t.Logf("browser script output:\n%s", out.String())
			if err != nil {
				t.Fatalf("browser script failed: %v (screenshots in %s)", err, artifacts)
			}
			if !strings.Contains(out.String(), "E2E OK") {
				t.Fatal("browser script ended without E2E OK")
			}
			t.Logf("screenshots and network log in %s", artifacts)
			checkNoPlaintext(t, h)
			return
		case c := <-reqs:
			switch c.what {
			case "inject":
				lease := agent.WaitLease(t, iccidDE, 0, 10*time.Second)
				if lease.Renter.IsZero() {
					t.Fatal("lease without renter")
				}
				_, payload := agent.NewSMS(t, hubtest.SMS{ICCID: iccidDE, Slot: 0, Lease: lease, Sender: "+4917099990000", Text: c.text})
				received++
				at := time.Now()
				agent.Publish(t, payload)
				c.reply <- map[string]any{"injected_ms": at.UnixMilli(), "renter": base64.StdEncoding.EncodeToString(lease.Renter[:])}
			case "healthy":
				status(wire.SlotRegistered, -61, 0)
				c.reply <- map[string]any{"at_ms": time.Now().UnixMilli()}
			case "hang":
				// The agent's supervisor reports a modem that stopped answering as recovering
				// (soft reset, then power cycle), with its SMS still in the outbox.
				status("recovering", 0, 2)
				c.reply <- map[string]any{"at_ms": time.Now().UnixMilli()}
			default:
				c.reply <- map[string]any{"error": fmt.Sprintf("unknown control %q", c.what)}
			}
		}
	}
}

// checkNoPlaintext: the hub's SQLite files (database and WAL) hold the injected SMS only sealed.
// They do hold the rented number, which shows the scan reads the real files.
func checkNoPlaintext(t *testing.T, h *hubtest.Hub) {
	t.Helper()
	db := h.SQLitePath()
	if db == "" {
		t.Fatal("hubtest made no SQLite file to scan")
	}
	var all []byte
	for _, p := range []string{db, db + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte(numDE)) {
		t.Fatalf("the SQLite files do not even hold the rented number %s: the scan reads the wrong files", numDE)
	}
	for _, plain := range []string{"verification code", "482913", "+4917099990000"} {
		if bytes.Contains(all, []byte(plain)) {
			t.Errorf("the hub's SQLite files hold the SMS plaintext %q", plain)
		}
	}
}
