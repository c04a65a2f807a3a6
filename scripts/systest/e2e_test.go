package systest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/wire"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// envInt reads a positive integer setting with a default.
func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// injected is one SMS given to the simulator.
type injected struct {
	k      int
	slot   int
	renter int
	from   string
	text   string
	at     time.Time
}

// ledger is what the test knows: what it injected and what each renter received.
type ledger struct {
	mu        sync.Mutex
	sms       map[int]*injected       // by k
	ids       map[int]map[string]bool // k → message ids it reached its renter under
	live      map[string]int          // message id → live deliveries (WebSocket frames or webhook POSTs)
	firstLive map[int]time.Time
	bad       []string // messages that did not verify, open or match
}

func newLedger() *ledger {
	return &ledger{sms: map[int]*injected{}, ids: map[int]map[string]bool{}, live: map[string]int{}, firstLive: map[int]time.Time{}}
}

func (l *ledger) badf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) < 1000 {
		l.bad = append(l.bad, fmt.Sprintf(format, args...))
	}
}

// check verifies and opens one message a renter got and maps it to the injected SMS.
func (l *ledger) check(m httpapi.MessageView, renter int, r *wire.Identity, provider wire.VerifyKey) (int, bool) {
	signed, err1 := base64.StdEncoding.DecodeString(m.Signed)
	certJSON, err2 := base64.StdEncoding.DecodeString(m.Certificate)
	if err1 != nil || err2 != nil {
		l.badf("message %s: base64: %v %v", m.ID, err1, err2)
		return 0, false
	}
	cert, err := wire.DecodeAgentCert(certJSON)
	if err != nil || cert.ProviderVerify != provider {
		l.badf("message %s: certificate %v (provider ok: %v)", m.ID, err, err == nil && cert.ProviderVerify == provider)
		return 0, false
	}
	sms, err := wire.DecodeSMS(signed)
	if err == nil {
		err = sms.VerifyWithCert(cert, time.Now())
	}
	if err != nil || sms.ID != m.ID {
		l.badf("message %s: verify: %v", m.ID, err)
		return 0, false
	}
	pt, err := sms.Open(r)
	if err != nil {
		l.badf("message %s: renter %d cannot open it: %v", m.ID, renter, err)
		return 0, false
	}
	f := strings.Fields(pt.Text)
	if len(f) < 2 || f[0] != "e2e" {
		l.badf("message %s: text %q is not an injected one", m.ID, pt.Text)
		return 0, false
	}
	k, err := strconv.Atoi(f[1])
	l.mu.Lock()
	in := l.sms[k]
	l.mu.Unlock()
	switch {
	case err != nil || in == nil:
		l.badf("message %s: text %q names no injected SMS", m.ID, pt.Text)
		return 0, false
	case in.renter != renter:
		l.badf("message %s: SMS %d for renter %d reached renter %d", m.ID, k, in.renter, renter)
		return 0, false
	case pt.Sender != in.from || pt.Text != in.text:
		l.badf("message %s: opened to %q %q, injected %q %q", m.ID, pt.Sender, pt.Text, in.from, in.text)
		return 0, false
	}
	return k, true
}

// delivered records a live delivery (WebSocket frame or webhook POST).
func (l *ledger) delivered(m httpapi.MessageView, renter int, r *wire.Identity, provider wire.VerifyKey) {
	k, ok := l.check(m, renter, r, provider)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live[m.ID]++
	if !ok {
		return
	}
	if l.ids[k] == nil {
		l.ids[k] = map[string]bool{}
		l.firstLive[k] = time.Now()
	}
	l.ids[k][m.ID] = true
}

func (l *ledger) counts() (injectedN, deliveredN int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.sms {
		if len(l.ids[k]) > 0 {
			deliveredN++
		}
	}
	return len(l.sms), deliveredN
}

// renter is one renter: its keys, token, rentals and how it receives (WebSocket or webhook).
type renter struct {
	n       int
	api     *apiClient
	webhook bool
	secret  string
}

// network is the whole system, started by startNetwork.
type network struct {
	pg           *pgCluster
	mq           *mosquitto
	hubs         []*hubProc
	sim          *modemsim
	agent        *proc
	provider     *apiClient
	renters      []*renter
	renterOfSlot []int
	led          *ledger
}

// startNetwork starts ness-modemsim (slots), ness-agent, a private Mosquitto and PostgreSQL, two
// ness-hub instances with a shared subscription, and renters (half on webhooks when webhooks
// is set, the rest on WebSocket) who rent every SIM, and waits until the agent holds every
// lease.
func startNetwork(t testing.TB, slots, renters int, webhooks bool) *network {
	t.Helper()
	dir, err := os.MkdirTemp("", "ness-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("NESS_E2E_KEEP") == "1" {
			t.Logf("NESS_E2E_KEEP=1: logs and data kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	bin := binaries(t)
	pg := startPostgres(t)
	mq := startMosquitto(t, dir)
	keyFile, hubKey := writeHubKey(t, dir)
	led := newLedger()

	// Webhook receiver: HTTPS with its own CA, which the hubs trust through SSL_CERT_FILE.
	var renterList []*renter
	var rmu sync.Mutex
	hookSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hook/"))
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rmu.Lock()
		var rt *renter
		if err == nil && n >= 0 && n < len(renterList) {
			rt = renterList[n]
		}
		rmu.Unlock()
		if rt == nil || rt.secret == "" {
			http.Error(w, "unknown hook", http.StatusNotFound)
			return
		}
		if err := httpapi.VerifyWebhook(rt.secret, r.Header.Get("X-Ness-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			led.badf("webhook for renter %d: bad signature: %v", n, err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev struct {
			Type    string              `json:"type"`
			Message httpapi.MessageView `json:"message"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.Type != "message" {
			led.badf("webhook for renter %d: body %q: %v", n, body, err)
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if key := r.Header.Get("Idempotency-Key"); key != ev.Message.ID {
			led.badf("webhook for renter %d: Idempotency-Key %q for message %s", n, key, ev.Message.ID)
		}
		led.delivered(ev.Message, n, rt.api.id, providerKeyOf(renterList))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hookSrv.Close)
	caFile := filepath.Join(dir, "webhook-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hookSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	env := hubEnv(keyFile, pg.DSN, mq, "NESS_HUB_MQTT_SHARE=e2e", "SSL_CERT_FILE="+caFile)
	hubs := []*hubProc{startHub(t, dir, "hub-a", env)}
	hubs = append(hubs, startHub(t, dir, "hub-b", env))
	sim := startModemsim(t, dir, slots, "--boot-delay", "500ms")

	// The agent: its device key from `ness-agent enroll-request`, a certificate signed by the
	// provider, enrolment through the API, Mosquitto's password file rewritten from the store.
	agentDir := filepath.Join(dir, "agent")
	out, err := exec.Command(filepath.Join(bin, "ness-agent"), "enroll-request", "--data-dir", agentDir).Output()
	if err != nil {
		t.Fatalf("ness-agent enroll-request: %v", err)
	}
	req, err := identity.DecodeEnrollRequest(out)
	if err != nil {
		t.Fatalf("enroll request %q: %v", out, err)
	}
	provider := mustSignIn(t, hubs[0].URL)
	now := time.Now()
	cert, err := wire.NewAgentCert(req.AgentKey, provider.id, "", now.Add(-time.Hour), now.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certJSON, _ := cert.MarshalJSON()
	if err := os.WriteFile(filepath.Join(agentDir, identity.CertFileName), certJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	var enr httpapi.EnrollResponse
	if err := provider.call("POST", "/v1/provider/agents", map[string]any{"certificate": json.RawMessage(certJSON)}, http.StatusCreated, &enr); err != nil {
		t.Fatal(err)
	}
	mq.allow(t, map[string]string{req.Agent: enr.MQTTPassword})
	agentProc := newProc(t, dir, "agent", filepath.Join(bin, "ness-agent"), []string{
		"NESS_AGENT_BOARD=sim", fmt.Sprintf("NESS_AGENT_SLOTS=%d", slots), "NESS_AGENT_SIM_DIR=" + sim.dir,
		"NESS_AGENT_SIM_CONTROL=" + sim.control, "NESS_AGENT_DATA_DIR=" + agentDir,
		"NESS_AGENT_MQTT_URL=" + mq.URL, "NESS_AGENT_MQTT_PASSWORD=" + enr.MQTTPassword,
		"NESS_AGENT_HUB_KEY=" + hubKey.Verify.String(),
		"NESS_AGENT_HEALTH_INTERVAL=2s", "NESS_AGENT_SWEEP_INTERVAL=5s", "NESS_AGENT_COMMAND_TIMEOUT=2s",
		"NESS_AGENT_BACKOFF_MAX=5s", "NESS_AGENT_SHUTDOWN_TIMEOUT=5s", "NESS_AGENT_BOOT_TIMEOUT=5s",
		"NESS_AGENT_REPUBLISH_TIMEOUT=10s", "NESS_AGENT_PUBLISH_TIMEOUT=5s",
		"NESS_AGENT_MQTT_BACKOFF_MIN=100ms", "NESS_AGENT_MQTT_BACKOFF_MAX=2s", "NESS_AGENT_STATUS_INTERVAL=10s",
		"NESS_AGENT_LOG_LEVEL=" + logLevel()}, "run")
	agentProc.start(t)
	dumpOnFailure(t, append([]*proc{agentProc, mq.proc, hubs[0].proc, hubs[1].proc, sim.proc}, nil...), pg)

	// Numbers: every SIM bound to the agent; renter i rents slots 4i..4i+3.
	simSlots, err := sim.slots()
	if err != nil || len(simSlots) != slots {
		t.Fatalf("modemsim slots: %v (%d)", err, len(simSlots))
	}
	renterOfSlot := make([]int, slots)
	for _, s := range simSlots {
		if err := provider.call("POST", "/v1/provider/numbers", httpapi.NumberRequest{Number: s.Number, Agent: req.Agent,
			ICCID: s.ICCID, Country: "DE", Features: []string{"sms"},
			Prices: httpapi.Prices{Day: "0.5", Week: "3", Month: "10", SMS: "0.01"}}, http.StatusCreated, nil); err != nil {
			t.Fatalf("bind %s: %v", s.Number, err)
		}
	}
	for i := range renters {
		rt := &renter{n: i, api: mustSignIn(t, hubs[i%2].URL), webhook: webhooks && i >= renters/2}
		for s := i * slots / renters; s < (i+1)*slots/renters; s++ {
			renterOfSlot[s] = i
			if err := rt.api.call("POST", "/v1/rentals", httpapi.RentalRequest{Number: simSlots[s].Number, Duration: "daily",
				RenterKey: rt.api.id.Public.String()}, http.StatusCreated, nil); err != nil {
				t.Fatalf("rent %s: %v", simSlots[s].Number, err)
			}
		}
		rmu.Lock()
		renterList = append(renterList, rt)
		rmu.Unlock()
	}
	providerKey = provider.id.Verify
	for _, rt := range renterList {
		if rt.webhook {
			var wh httpapi.WebhookView
			if err := rt.api.call("POST", "/v1/webhooks", httpapi.WebhookRequest{URL: fmt.Sprintf("%s/hook/%d", hookSrv.URL, rt.n)},
				http.StatusCreated, &wh); err != nil {
				t.Fatal(err)
			}
			rmu.Lock()
			rt.secret = wh.Secret
			rmu.Unlock()
		}
	}
	waitLeases(t, filepath.Join(agentDir, identity.LeasesFileName), simSlots, agentProc)
	nWeb := 0
	if webhooks {
		nWeb = renters / 2
	}
	t.Logf("setup done: 2 hubs, %d slots leased to %d renters (%d on WebSocket, %d on webhooks)", slots, renters, renters-nWeb, nWeb)

	return &network{pg: pg, mq: mq, hubs: hubs, sim: sim, agent: agentProc, provider: provider, renters: renterList,
		renterOfSlot: renterOfSlot, led: led}
}

// TestE2E is issue 11's system test: ness-modemsim (32 slots) → ness-agent → Mosquitto → two
// ness-hub instances on one PostgreSQL (shared subscription) → renters on WebSocket and
// webhooks, while processes are SIGKILLed, Mosquitto is down for 60 s, PostgreSQL restarts and
// modems hang, spew garbage and report full storage. It ends with
//
//	e2e: injected=N delivered=N duplicates=N lost=N kills=N
//
// NESS_E2E_SMS (default 3000) is the minimum number of SMS, NESS_E2E_RATE (default 20) the
// injection rate per second, NESS_E2E_MOSQUITTO_DOWN (default 60) the outage in seconds.
func TestE2E(t *testing.T) {
	requireSystem(t, "mosquitto", "runuser")
	minSMS := envInt(t, "NESS_E2E_SMS", 3000)
	rate := envInt(t, "NESS_E2E_RATE", 20)
	down := time.Duration(envInt(t, "NESS_E2E_MOSQUITTO_DOWN", 60)) * time.Second
	const slots, renters = 32, 8

	nw := startNetwork(t, slots, renters, true)
	pg, mq, hubs, sim, agentProc, provider, renterList, renterOfSlot, led := nw.pg, nw.mq, nw.hubs, nw.sim, nw.agent, nw.provider, nw.renters, nw.renterOfSlot, nw.led
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, rt := range renterList {
		if !rt.webhook {
			wg.Add(1)
			go func() { defer wg.Done(); streamLoop(ctx, rt, hubs, led) }()
		}
	}

	// Injection at `rate` SMS/s on random slots, until the fault plan is done and minSMS went in.
	var kills atomic.Int64
	faultsDone := make(chan struct{})
	injDone := make(chan struct{})
	var refused atomic.Int64
	go func() {
		defer close(injDone)
		tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
		defer tick.Stop()
		k := 0
		for {
			select {
			case <-faultsDone:
				if k >= minSMS {
					return
				}
			default:
			}
			<-tick.C
			slot := rand.IntN(slots)
			in := &injected{k: k, slot: slot, renter: renterOfSlot[slot], from: fmt.Sprintf("+4917%08d", k),
				text: fmt.Sprintf("e2e %d slot %d %s", k, slot, randomWords()), at: time.Now()}
			led.mu.Lock()
			led.sms[k] = in
			led.mu.Unlock()
			st, err := sim.post(fmt.Sprintf("/slots/%d/sms", slot), map[string]string{"from": in.from, "text": in.text})
			if err != nil || st != http.StatusOK {
				led.mu.Lock()
				delete(led.sms, k)
				led.mu.Unlock()
				refused.Add(1)
				continue
			}
			k++
		}
	}()

	// Faults at random moments while the injection runs.
	restart := func(what string, up func() error) {
		time.Sleep(time.Duration(500+rand.IntN(2500)) * time.Millisecond)
		if err := up(); err != nil {
			t.Errorf("restart %s: %v", what, err)
		}
	}
	type fault struct {
		name string
		do   func()
	}
	killHub := func(i int) fault {
		return fault{fmt.Sprintf("SIGKILL hub-%c", 'a'+i), func() {
			hubs[i].kill()
			kills.Add(1)
			restart(hubs[i].name, hubs[i].up)
		}}
	}
	var modemFaults sync.WaitGroup
	modemFault := func(kind string, hold time.Duration) fault {
		return fault{"modem " + kind, func() {
			s := rand.IntN(slots)
			if err := sim.fault(s, kind); err != nil {
				t.Errorf("%v", err)
				return
			}
			modemFaults.Add(1)
			go func() {
				defer modemFaults.Done()
				time.Sleep(hold)
				if err := sim.fault(s, "none"); err != nil {
					t.Errorf("%v", err)
				}
			}()
		}}
	}
	plan := []fault{
		{"SIGKILL agent", func() { agentProc.kill(); kills.Add(1); restart("agent", agentProc.startErr) }},
		{"SIGKILL agent", func() { agentProc.kill(); kills.Add(1); restart("agent", agentProc.startErr) }},
		{"SIGKILL agent", func() { agentProc.kill(); kills.Add(1); restart("agent", agentProc.startErr) }},
		{"SIGKILL agent", func() { agentProc.kill(); kills.Add(1); restart("agent", agentProc.startErr) }},
		killHub(0), killHub(0), killHub(0), killHub(1), killHub(1), killHub(1),
		{"SIGKILL mosquitto", func() { mq.kill(); kills.Add(1); restart("mosquitto", mq.up) }},
		{"SIGKILL mosquitto", func() { mq.kill(); kills.Add(1); restart("mosquitto", mq.up) }},
		{fmt.Sprintf("mosquitto down %v", down), func() {
			mq.stop()
			time.Sleep(down)
			if err := mq.up(); err != nil {
				t.Errorf("mosquitto up: %v", err)
			}
		}},
		{"postgresql restart", func() {
			if err := pg.restart(); err != nil {
				t.Errorf("%v", err)
			}
		}},
		{"postgresql restart", func() {
			if err := pg.restart(); err != nil {
				t.Errorf("%v", err)
			}
		}},
		modemFault("hang", 5*time.Second), modemFault("hang", 5*time.Second),
		modemFault("garbage", 8*time.Second), modemFault("garbage", 8*time.Second),
		modemFault("full", 8*time.Second), modemFault("full", 8*time.Second),
	}
	rand.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	if only := os.Getenv("NESS_E2E_FAULTS"); only != "" { // e.g. "mosquitto,hub-a": only faults naming one of these
		var keep []fault
		for _, f := range plan {
			for _, w := range strings.Split(only, ",") {
				if w != "" && strings.Contains(f.name, w) {
					keep = append(keep, f)
					break
				}
			}
		}
		plan = keep
	}
	start := time.Now()
	for _, f := range plan {
		time.Sleep(time.Duration(3000+rand.IntN(5000)) * time.Millisecond)
		inj, del := led.counts()
		t.Logf("%6.1fs fault: %s (injected %d, delivered %d)", time.Since(start).Seconds(), f.name, inj, del)
		f.do()
	}
	modemFaults.Wait()
	close(faultsDone)
	<-injDone
	inj, del := led.counts()
	t.Logf("%6.1fs injection done: injected %d (refused %d by full/faulted SIMs), delivered %d so far", time.Since(start).Seconds(), inj, refused.Load(), del)

	// Every process must be running now; then wait for the rest to arrive.
	for _, p := range []*proc{agentProc, mq.proc, hubs[0].proc, hubs[1].proc} {
		if p.pid() == 0 || p.exited() {
			t.Errorf("%s is not running at the end:\n%s", p.name, p.tail(3000))
		}
	}
	// Up to 5 minutes for the rest (the agent republishes unreceipted SMS, webhooks retry), but
	// not more than 2 minutes without progress.
	deadline, lastDel, lastProgress := time.Now().Add(5*time.Minute), -1, time.Now()
	for {
		inj, del = led.counts()
		if del != lastDel {
			lastDel, lastProgress = del, time.Now()
		}
		if del >= inj || time.Now().After(deadline) || time.Since(lastProgress) > 2*time.Minute {
			break
		}
		t.Logf("%6.1fs waiting: %d of %d delivered", time.Since(start).Seconds(), del, inj)
		time.Sleep(5 * time.Second)
	}

	// The renters' message lists: each message once, mapped to its injected SMS.
	listCount := map[string]int{}
	listed := map[int]map[string]bool{}
	for _, rt := range renterList {
		after := ""
		for {
			var page httpapi.MessageList
			path := "/v1/messages?limit=100"
			if after != "" {
				path += "&after=" + after
			}
			if err := rt.api.call("GET", path, nil, http.StatusOK, &page); err != nil {
				t.Fatalf("renter %d: list: %v", rt.n, err)
			}
			for _, m := range page.Messages {
				listCount[m.ID]++
				if k, ok := led.check(m, rt.n, rt.api.id, provider.id.Verify); ok {
					if listed[k] == nil {
						listed[k] = map[string]bool{}
					}
					listed[k][m.ID] = true
				}
			}
			if len(page.Messages) == 0 || page.Next == after {
				break
			}
			after = page.Next
		}
	}
	cancel()
	wg.Wait()

	// Nothing may be left on any SIM.
	var left []string
	for range 60 {
		left = left[:0]
		ss, err := sim.slots()
		if err != nil {
			t.Fatalf("modemsim slots: %v", err)
		}
		for _, s := range ss {
			if len(s.Messages) > 0 {
				left = append(left, fmt.Sprintf("slot %d: %d", s.Slot, len(s.Messages)))
			}
		}
		if len(left) == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	if len(left) > 0 {
		t.Errorf("messages left on SIMs: %v", left)
	}

	led.mu.Lock()
	defer led.mu.Unlock()
	var delivered, dups, lost, redeliveries, liveOnly, listOnly int
	var lostList []int
	for k := range led.sms {
		ids := map[string]bool{}
		for id := range led.ids[k] {
			ids[id] = true
		}
		for id := range listed[k] {
			ids[id] = true
		}
		dup := len(ids) > 1
		for id := range listed[k] {
			if listCount[id] > 1 {
				dup = true
			}
		}
		switch {
		case len(led.ids[k]) > 0 && len(listed[k]) > 0:
			delivered++
		case len(led.ids[k]) > 0:
			liveOnly++
			lost++
			lostList = append(lostList, k)
		case len(listed[k]) > 0:
			listOnly++
			lost++
			lostList = append(lostList, k)
		default:
			lost++
			lostList = append(lostList, k)
		}
		if dup {
			dups++
		}
	}
	for _, n := range led.live {
		if n > 1 {
			redeliveries += n - 1
		}
	}
	sort.Ints(lostList)
	if len(lostList) > 20 {
		lostList = lostList[:20]
	}
	for _, b := range led.bad {
		t.Errorf("bad message: %s", b)
	}
	if liveOnly+listOnly > 0 {
		t.Logf("of the lost: %d reached the renter live but are missing from its message list, %d are listed but never came live", liveOnly, listOnly)
	}
	if lost > 0 {
		for _, k := range lostList {
			in := led.sms[k]
			t.Logf("lost: SMS %d slot %d renter %d injected at +%.1fs", k, in.slot, in.renter, in.at.Sub(start).Seconds())
		}
	}
	// Injection → first live delivery, and the slowest SMS with what they went through: the tail
	// says which fault delays delivery (the network is judged on lost and duplicates only).
	type late struct {
		k int
		d time.Duration
	}
	var lat []late
	for k, in := range led.sms {
		if at, ok := led.firstLive[k]; ok {
			lat = append(lat, late{k, at.Sub(in.at)})
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i].d < lat[j].d })
	if n := len(lat); n > 0 {
		t.Logf("injection → live delivery: p50 %v, p99 %v, max %v (%d SMS)", lat[n/2].d.Round(time.Millisecond),
			lat[n*99/100].d.Round(time.Millisecond), lat[n-1].d.Round(time.Millisecond), n)
		for _, l := range lat[max(0, n-5):] {
			in := led.sms[l.k]
			how := "WebSocket"
			if renterList[in.renter].webhook {
				how = "webhook"
			}
			t.Logf("slow: SMS %d slot %d renter %d (%s) injected at +%.1fs, live after %v", l.k, in.slot, in.renter, how,
				in.at.Sub(start).Seconds(), l.d.Round(time.Millisecond))
		}
	}
	fmt.Printf("e2e: redeliveries of the same id (webhook retries, QoS 1, stream resumes): %d\n", redeliveries)
	fmt.Printf("e2e: %d injections refused by full or faulted SIMs (not counted; the next SMS went elsewhere)\n", refused.Load())
	line := fmt.Sprintf("e2e: injected=%d delivered=%d duplicates=%d lost=%d kills=%d", len(led.sms), delivered, dups, lost, kills.Load())
	fmt.Println(line)
	if dups != 0 || lost != 0 || delivered != len(led.sms) {
		t.Errorf("%s: want duplicates=0 lost=0 delivered=injected", line)
	}
	if os.Getenv("NESS_E2E_FAULTS") == "" && (len(led.sms) < minSMS || kills.Load() < 10) {
		t.Errorf("%s: want at least %d SMS and 10 kills", line, minSMS)
	}
}

var providerKey wire.VerifyKey

// logLevel is the agent's and hubs' log level: NESS_E2E_LOG (default warn).
func logLevel() string {
	if v := os.Getenv("NESS_E2E_LOG"); v != "" {
		return v
	}
	return "warn"
}

func providerKeyOf([]*renter) wire.VerifyKey { return providerKey }

// randomWords makes the text vary in length (single SMS up to 160 GSM characters).
func randomWords() string {
	const words = "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa"
	f := strings.Fields(words)
	var b strings.Builder
	for range 1 + rand.IntN(12) {
		b.WriteString(f[rand.IntN(len(f))])
		b.WriteByte(' ')
	}
	return strings.TrimSpace(b.String())
}

// waitLeases waits until the agent has accepted a lease for every SIM.
func waitLeases(t testing.TB, path string, slots []simSlot, agent *proc) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		have := map[string]bool{}
		if b, err := os.ReadFile(path); err == nil {
			var f struct {
				Leases []*wire.Lease `json:"leases"`
			}
			if json.Unmarshal(b, &f) == nil {
				for _, l := range f.Leases {
					have[l.ICCID] = true
				}
			}
		}
		missing := 0
		for _, s := range slots {
			if !have[s.ICCID] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent has no lease for %d of %d SIMs after 90 s:\n%s", missing, len(slots), agent.tail(4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// streamLoop keeps a renter on GET /v1/stream, alternating hubs on every reconnect and resuming
// after the last id it has.
func streamLoop(ctx context.Context, rt *renter, hubs []*hubProc, led *ledger) {
	last := ""
	for i := rt.n; ctx.Err() == nil; i++ {
		u := "ws" + strings.TrimPrefix(hubs[i%len(hubs)].URL, "http") + "/v1/stream"
		if last != "" {
			u += "?after=" + last
		}
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		c, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + rt.api.token}}})
		dcancel()
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
			continue
		}
		c.SetReadLimit(1 << 20)
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				break
			}
			var ev httpapi.StreamEvent
			if err := json.Unmarshal(b, &ev); err != nil || ev.Type != "message" || ev.Message == nil {
				led.badf("renter %d: stream frame %q: %v", rt.n, b, err)
				continue
			}
			led.delivered(*ev.Message, rt.n, rt.api.id, providerKey)
			last = ev.Message.ID
		}
		c.CloseNow()
	}
}

// dumpOnFailure logs the end of every process's log when the test fails.
func dumpOnFailure(t testing.TB, procs []*proc, pg *pgCluster) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, p := range procs {
			t.Logf("---- %s log (end) ----\n%s", p.name, p.tail(6000))
		}
		b, _ := os.ReadFile(filepath.Join(pg.dir, "pg.log"))
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		t.Logf("---- postgres log (end) ----\n%s", b)
	})
}
