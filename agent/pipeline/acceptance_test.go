package pipeline_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/agent/modemsim"
	"github.com/ness-network/ness-sms/agent/pipeline/pipelinetest"
	"github.com/ness-network/ness-sms/wire"
)

var (
	smsCount = flag.Int("ness.sms", 3000, "SMS TestAcceptanceKills injects")
	kills    = flag.Int("ness.kills", 10, "SIGKILLs TestAcceptanceKills deals the agent")
	outage   = flag.Duration("ness.outage", 60*time.Second, "how long TestAcceptanceBrokerOutage keeps the broker down")
)

// world is one acceptance run's parts: private broker, stand-in hub, simulator with its
// sockets, enrolled agent data directory, and the renter's subscriber.
type world struct {
	t        *testing.T
	broker   *pipelinetest.Broker
	hub      *pipelinetest.Hub
	sim      *modemsim.Simulator
	sockets  string
	dataDir  string
	agentID  string
	hubKey   *wire.Identity
	renter   *wire.Identity
	provider *wire.Identity

	mu     sync.Mutex
	copies map[string]int             // publishes seen by the renter subscriber, by id
	opened map[string]*wire.Plaintext // by id
	badMsg []string

	cmd  *exec.Cmd
	env  []string // added to the agent's environment (later values win)
	next int      // number of the next injected SMS, so every text is unique across inject calls
}

func newWorld(t *testing.T, slots int) *world {
	t.Helper()
	w := &world{t: t, copies: map[string]int{}, opened: map[string]*wire.Plaintext{}}
	var err error
	for _, p := range []**wire.Identity{&w.hubKey, &w.renter, &w.provider} {
		if *p, err = wire.GenerateIdentity(); err != nil {
			t.Fatal(err)
		}
	}
	w.broker = pipelinetest.StartBroker(t)
	w.hub = pipelinetest.StartHub(t, w.broker.URL, w.hubKey)
	w.sim, err = modemsim.New(modemsim.Config{Slots: slots, Capacity: 50, Seed: rand.Int64()})
	if err != nil {
		t.Fatal(err)
	}
	w.sockets, err = os.MkdirTemp("/tmp", "ness-sock-") // short path: unix socket names are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(w.sockets) })
	closer, err := w.sim.ServeSockets(w.sockets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })

	// Enrol: the agent's key is made in its data directory, the provider signs its certificate.
	w.dataDir = t.TempDir()
	id, _, err := identity.LoadOrCreateKey(w.dataDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.agentID = id.AgentID()
	cert, err := wire.NewAgentCert(id.Verify, w.provider, "", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cert.MarshalJSON()
	if err := os.WriteFile(filepath.Join(w.dataDir, identity.CertFileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	w.hub.AddAgent(cert)
	// Every SIM is leased to the renter.
	for _, s := range w.sim.Slots() {
		w.hub.PublishLease(pipelinetest.Lease(t, w.hubKey, w.agentID, s.Identity().ICCID, w.renter.Public, 1,
			time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)))
	}
	// The renter's subscriber opens everything on the agent's SMS topic.
	rc := pipelinetest.PersistentClient(t, w.broker.URL, "renter-"+w.agentID[:8], w.onSMS, func(c mqtt.Client) {
		c.Subscribe(wire.SMSTopic(w.agentID), 1, w.onSMS).WaitTimeout(10 * time.Second)
	})
	// Subscribed before the agent starts (the connect handler above runs asynchronously and
	// could come after the first SMS; a CI dry run saw the renter miss one).
	if tok := rc.Subscribe(wire.SMSTopic(w.agentID), 1, w.onSMS); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("renter subscribe: %v", tok.Error())
	}
	return w
}

func (w *world) onSMS(_ mqtt.Client, m mqtt.Message) {
	s, err := wire.DecodeSMS(m.Payload())
	var pt *wire.Plaintext
	if err == nil {
		pt, err = s.Open(w.renter)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.badMsg = append(w.badMsg, err.Error())
		return
	}
	w.copies[s.ID]++
	w.opened[s.ID] = pt
}

func (w *world) startAgent() {
	w.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(agentEnv(w.dataDir, w.broker.URL, w.hubKey.Verify.String(), w.sockets, len(w.sim.Slots())), w.env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("start agent: %v", err)
	}
	w.cmd = cmd
}

func (w *world) killAgent() {
	w.cmd.Process.Signal(syscall.SIGKILL)
	w.cmd.Wait()
}

func (w *world) stopAgent() {
	w.t.Helper()
	w.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			w.t.Errorf("agent exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		w.t.Errorf("agent did not stop within 30 s of SIGTERM")
		w.killAgent()
	}
}

// sent is one injected SMS.
type sent struct {
	slot       int
	from, text string
}

var texts = []string{
	"Your code is %d",
	"Ваш код подтверждения: %d",                                                                    // UCS-2
	"%d: " + strings.Repeat("A long message that needs several parts to arrive in one piece. ", 4), // multipart GSM 7-bit
	"%d 🎉 " + strings.Repeat("Привет, это длинное сообщение в UCS-2. ", 3),                         // multipart UCS-2 with a surrogate pair
	"{%d} [brackets] ~ € ^ extension table",
}

// inject sends n SMS at random slots, retrying a slot whose storage is full.
func (w *world) inject(n int, pace time.Duration) []sent {
	w.t.Helper()
	var out []sent
	for range n {
		i := w.next
		w.next++
		s := sent{slot: rand.IntN(len(w.sim.Slots())), from: fmt.Sprintf("+49170%07d", rand.IntN(1e7)),
			text: fmt.Sprintf(texts[i%len(texts)], i)}
		if i%7 == 3 {
			s.from = "NESSBANK"
		}
		for {
			sl := w.sim.Slots()[s.slot]
			_, err := sl.InjectSMS(s.from, s.text, time.Time{})
			if err == nil {
				break
			}
			if !strings.Contains(err.Error(), "full") {
				w.t.Fatalf("inject %d on slot %d: %v", i, s.slot, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		out = append(out, s)
		if pace > 0 {
			time.Sleep(pace)
		}
	}
	return out
}

// waitAll waits until the renter has every injected SMS and every SIM is empty, then checks
// each SMS exactly once by id, opening to its sender and text.
func (w *world) waitAll(want []sent, timeout time.Duration) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		got := len(w.opened)
		w.mu.Unlock()
		left := 0
		for _, s := range w.sim.Slots() {
			left += len(s.Status().Messages)
		}
		if got >= len(want) && left == 0 && w.hub.Count() >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("after %s: renter has %d of %d SMS, hub %d, %d PDUs left on the SIMs", timeout, got, len(want), w.hub.Count(), left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.badMsg) > 0 {
		w.t.Errorf("%d SMS did not open with the renter's key, e.g. %s", len(w.badMsg), w.badMsg[0])
	}
	byText := map[string]int{}
	for id, pt := range w.opened {
		byText[pt.Text]++
		if pt.Flags != 0 {
			w.t.Errorf("sms %s: flags %v, want none", id, pt.Flags.Names())
		}
	}
	for _, s := range want {
		if n := byText[s.text]; n != 1 {
			w.t.Errorf("SMS %q from %s on slot %d: received under %d ids, want exactly 1", s.text, s.from, s.slot, n)
		}
	}
	senders := map[string]string{}
	for _, s := range want {
		senders[s.text] = s.from
	}
	for id, pt := range w.opened {
		if from, ok := senders[pt.Text]; !ok {
			w.t.Errorf("sms %s: text %q was never injected", id, pt.Text)
		} else if pt.Sender != from {
			w.t.Errorf("sms %s: sender %q, want %q", id, pt.Sender, from)
		}
	}
	if len(w.opened) != len(want) {
		w.t.Errorf("renter has %d distinct ids, want %d", len(w.opened), len(want))
	}
	if r := w.hub.Rejected(); len(r) > 0 {
		w.t.Errorf("hub rejected %d messages, e.g. %v", len(r), r[0])
	}
}

// TestAcceptanceKills: SMS injected at random slots of 32 while the agent process is SIGKILLed
// and restarted; the renter gets every SMS exactly once by id and every SIM ends empty.
func TestAcceptanceKills(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: 3,000 SMS and 10 SIGKILLs take about 35 s (use -ness.sms=300 -ness.kills=3 for a quick run)")
	}
	n, kills := *smsCount, *kills
	w := newWorld(t, 32)
	w.startAgent()
	var injected []sent
	done := make(chan struct{})
	pace := 10 * time.Millisecond
	go func() {
		defer close(done)
		injected = w.inject(n, pace)
	}()
	every := time.Duration(n) * pace / time.Duration(kills+1)
	for k := range kills {
		time.Sleep(every/2 + rand.N(every))
		w.killAgent()
		t.Logf("SIGKILL %d: renter has %d so far", k+1, func() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.opened) }())
		w.startAgent()
	}
	<-done
	w.waitAll(injected, 3*time.Minute)
	w.stopAgent()
	// Clean stop: the retained agent status says offline.
	st := retainedStatus(t, w.broker.URL, w.agentID)
	if st == nil || st.Online {
		t.Errorf("retained agent status after a clean stop: %+v, want online=false", st)
	}
}

// retainedStatus reads the retained agent status (nil when none within 3 s).
func retainedStatus(t *testing.T, url, agentID string) *wire.Status {
	t.Helper()
	ch := make(chan *wire.Status, 1)
	pipelinetest.Client(t, url, fmt.Sprintf("status-%d", rand.Int()), nil, func(c mqtt.Client) {
		c.Subscribe(wire.StatusTopic(agentID), 1, func(_ mqtt.Client, m mqtt.Message) {
			if s, err := wire.DecodeStatus(m.Payload()); err == nil {
				select {
				case ch <- s:
				default:
				}
			}
		})
	})
	select {
	case s := <-ch:
		return s
	case <-time.After(3 * time.Second):
		return nil
	}
}

// TestAcceptanceBrokerOutage: the private broker is stopped mid-run; SMS keep leaving the SIMs
// into the outbox, nothing is lost, and the flow resumes when the broker is back.
func TestAcceptanceBrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skipf("short mode: keeps the broker down for %s", *outage)
	}
	w := newWorld(t, 8)
	w.startAgent()
	first := w.inject(40, 5*time.Millisecond)
	w.waitAll(first, time.Minute)
	w.broker.Stop()
	down := time.Now()
	during := w.inject(120, 10*time.Millisecond)
	// While the broker is down the SIMs still drain into the outbox.
	for {
		left := 0
		for _, s := range w.sim.Slots() {
			left += len(s.Status().Messages)
		}
		if left == 0 {
			break
		}
		if time.Since(down) > *outage {
			t.Fatalf("%d PDUs still on the SIMs after %s without a broker", left, *outage)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Until(down.Add(*outage)))
	w.broker.Start()
	up := time.Now()
	w.waitAll(append(first, during...), 2*time.Minute)
	t.Logf("broker down %s; all %d SMS delivered %s after it came back", *outage, len(first)+len(during), time.Since(up).Round(time.Millisecond))
	w.stopAgent()
}

// TestHubReadyRepublishes: SMS the broker acknowledged while no hub was subscribed (Mosquitto
// restores a hub's session after a restart without its shared subscription) reach the hub as
// soon as a hub says ready, not after the republish timeout (an hour here): a hub subscribing
// again without saying ready gets nothing; its ready brings every one, each once by id.
func TestHubReadyRepublishes(t *testing.T) {
	w := newWorld(t, 2)
	w.env = []string{"NESS_AGENT_REPUBLISH_TIMEOUT=1h"}
	w.startAgent()
	defer w.stopAgent()
	first := w.inject(3, 0)
	w.waitAll(first, time.Minute)
	w.hub.Unsubscribe()
	dropped := w.inject(4, 0)
	// The agent publishes them (the renter's subscriber gets them); the hub, unsubscribed, not.
	deadline := time.Now().Add(time.Minute)
	for {
		w.mu.Lock()
		got := len(w.opened)
		w.mu.Unlock()
		if got == len(first)+len(dropped) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("renter's subscriber has %d of %d SMS after a minute", got, len(first)+len(dropped))
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.hub.Subscribe(false)
	time.Sleep(3 * time.Second)
	if n := w.hub.Count(); n != len(first) {
		t.Fatalf("hub subscribed again without ready has %d SMS, want %d: what published them again?", n, len(first))
	}
	start := time.Now()
	w.hub.SendReady()
	w.waitAll(append(first, dropped...), 30*time.Second)
	t.Logf("all %d SMS at the hub %v after its ready (republish timeout 1h)", len(first)+len(dropped), time.Since(start).Round(time.Millisecond))
}
