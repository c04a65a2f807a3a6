// Package ingest takes agents' messages from MQTT into the hub: signed, sealed SMS and signed
// status reports (including the "offline" last will).
//
// For each SMS it parses the topic, decodes the payload strictly (package wire), checks that the
// agent named by the topic sent it, verifies the agent's certificate (validity, provider
// signature) and the message signature, checks the lease the message names (a lease the hub
// issued to that agent for that SIM, sealed to that lease's renter; or sequence 0, sealed to the
// provider and never delivered to a renter), stores it once and answers with a hub-signed receipt
// on the agent's receipt topic. A message the hub already has is not stored again; its receipt is
// sent again (duplicate set), so the agent can let it go.
//
// Everything else is dropped and counted by reason (Metrics): oversized, garbled, forged,
// replayed or wrongly-addressed payloads never stop ingest. The hub sees only ciphertext and
// routing data; nothing here logs a payload.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/wire"
)

// Reasons a payload is dropped; the label values of the dropped counter.
const (
	ReasonOversized    = "oversized"     // larger than the wire limit for its kind
	ReasonTopic        = "topic"         // topic is not an agent's sms/status topic
	ReasonGarbled      = "garbled"       // not a well-formed message of its kind
	ReasonWrongAgent   = "wrong_agent"   // the message names another agent than its topic
	ReasonUnknownAgent = "unknown_agent" // no enrolled agent with that id
	ReasonCert         = "cert"          // stored certificate invalid, expired or not for this key
	ReasonSignature    = "signature"     // the agent's signature does not verify (forged)
	ReasonLease        = "lease"         // names no lease the hub issued to this agent for the SIM, or is sealed to another key
	ReasonConflict     = "id_conflict"   // a stored message with the same id came from another agent
	ReasonStale        = "stale"         // a status older than the one stored (replayed)
	ReasonStore        = "store_error"   // the database failed; the agent will send again
	ReasonReceipt      = "receipt_error" // the receipt could not be published; the agent will send again
)

// Reasons lists every drop reason, for dashboards and tests.
var Reasons = []string{ReasonOversized, ReasonTopic, ReasonGarbled, ReasonWrongAgent, ReasonUnknownAgent,
	ReasonCert, ReasonSignature, ReasonLease, ReasonConflict, ReasonStale, ReasonStore, ReasonReceipt}

// DropError is returned by HandleSMS and HandleStatus for a payload they dropped.
type DropError struct {
	Reason string // one of the Reason constants
	Err    error
}

func (e *DropError) Error() string { return "dropped (" + e.Reason + "): " + e.Err.Error() }
func (e *DropError) Unwrap() error { return e.Err }

func drop(reason string, err error) error { return &DropError{Reason: reason, Err: err} }

func dropf(reason, format string, args ...any) error {
	return &DropError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the drop reason of err, or "" when err is nil or not a DropError.
func ReasonOf(err error) string {
	var d *DropError
	if errors.As(err, &d) {
		return d.Reason
	}
	return ""
}

// Notifier is told about every accepted message, stored now or already stored (a redelivery),
// so that a hub instance holding the renter's connection can deliver it live (see hub/notify).
// A redelivery is announced again because its first announcement may never have been made: a
// commit that succeeded while the connection broke (PostgreSQL restarting) looks like a failure,
// and the agent's resend is then the only chance to wake the renter's stream. Subscribers read
// by cursor and create webhook deliveries once, so a repeated event delivers nothing twice.
type Notifier interface {
	Publish(ctx context.Context, m hub.Message) error
}

// Publisher publishes one MQTT message and waits until the broker has it; MQTTPublisher adapts
// a paho client.
type Publisher interface {
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
}

// MaxClockSkew is how far an agent's received time may lie outside its lease's window (agent
// and hub clocks differ, and an SMS read just before a lease ended is published just after).
const MaxClockSkew = 10 * time.Minute

// Config configures an Ingester.
type Config struct {
	Store hub.Store
	// Key is the hub key; it signs receipts. All hub instances of a deployment share it.
	Key *wire.Identity
	// Receipts publishes receipts to agents. Required.
	Receipts Publisher
	// Notify, when set, hears of every newly stored message.
	Notify Notifier
	// Now is the hub's clock (certificate validity, stored-at times). Default time.Now.
	Now func() time.Time
	// Log receives one line per dropped payload (never the payload); default discards.
	Log *slog.Logger
	// Metrics counts results; default NewMetrics(nil) (unregistered).
	Metrics *Metrics
	// Workers is how many messages are verified and stored at once in Run; default 4.
	Workers int
	// Share, when set, makes Run subscribe to agents' SMS through the shared subscription
	// $share/<Share>/…, so several hub instances split the work.
	Share string
	// Timeout bounds the handling of one message (store and receipt). Default 30s.
	Timeout time.Duration
	// RetryEvery is how often Run checks, while SMS of some agents failed to be stored or
	// receipted, whether the store works again, to tell those agents ready (they publish again
	// at once instead of after their republish timeout). Default 2s.
	RetryEvery time.Duration
}

// Ingester verifies, stores and receipts agents' messages.
type Ingester struct {
	cfg Config
	log *slog.Logger
	m   *Metrics

	retryMu sync.Mutex
	retry   map[string]struct{} // agents with an SMS dropped for store_error or receipt_error
}

// maxRetryAgents bounds Ingester.retry; beyond it agents rely on their republish timeout.
const maxRetryAgents = 100000

// New checks cfg and returns an Ingester; nothing is opened or subscribed until Run.
func New(cfg Config) (*Ingester, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("ingest: Config.Store is nil")
	case cfg.Key == nil:
		return nil, errors.New("ingest: Config.Key (the hub key) is nil")
	case cfg.Receipts == nil:
		return nil, errors.New("ingest: Config.Receipts is nil")
	case cfg.Workers < 0:
		return nil, fmt.Errorf("ingest: Config.Workers is %d, want >= 0", cfg.Workers)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.RetryEvery <= 0 {
		cfg.RetryEvery = 2 * time.Second
	}
	return &Ingester{cfg: cfg, log: cfg.Log, m: cfg.Metrics, retry: map[string]struct{}{}}, nil
}

// Metrics returns the ingester's counters.
func (in *Ingester) Metrics() *Metrics { return in.m }

// Subscriptions returns the topic filters Run subscribes to: agents' SMS (through the shared
// subscription $share/<Share>/… when Config.Share is set, so each SMS goes to one instance) and
// their statuses. Statuses are never shared: a broker sends no retained messages to a shared
// subscription, and every instance should learn the retained statuses at start; applying a
// status twice is harmless.
func (in *Ingester) Subscriptions() []string {
	subs := wire.HubSubscriptions()
	if in.cfg.Share != "" {
		for i, s := range subs {
			if t, err := wire.ParseTopic(strings.ReplaceAll(s, "+", fmt.Sprintf("%032x", 0))); err == nil && t.Kind == wire.TopicSMS {
				subs[i] = "$share/" + in.cfg.Share + "/" + s
			}
		}
	}
	return subs
}

// Result is what HandleSMS did with a message it accepted.
type Result struct {
	Message   hub.Message
	Duplicate bool          // already stored: not stored again, receipt sent again
	Receipt   *wire.Receipt // the receipt sent
}

// HandleSMS processes one payload received on topic: decode, verify, check the lease, store
// once, send the receipt. A dropped payload returns a *DropError (counted); nothing panics on
// any input.
func (in *Ingester) HandleSMS(ctx context.Context, topic string, payload []byte) (Result, error) {
	start := time.Now()
	res, err := in.handleSMS(ctx, topic, payload)
	if r := ReasonOf(err); r != "" {
		in.m.dropped.WithLabelValues(r).Inc()
		in.log.Warn("sms dropped", "reason", r, "topic", truncate(topic), "bytes", len(payload), "err", err)
		if r == ReasonStore || r == ReasonReceipt {
			// The SMS is fine; the hub is not. Tell the agent ready once the store works again.
			if t, terr := wire.ParseTopic(topic); terr == nil {
				in.retryMu.Lock()
				if len(in.retry) < maxRetryAgents {
					in.retry[t.AgentID] = struct{}{}
				}
				in.retryMu.Unlock()
			}
		}
	} else if err == nil {
		if res.Duplicate {
			in.m.messages.WithLabelValues("duplicate").Inc()
		} else {
			in.m.messages.WithLabelValues("stored").Inc()
		}
		in.m.duration.Observe(time.Since(start).Seconds())
	}
	return res, err
}

// DecodeSMS is the decoding half of HandleSMS, without the store: the topic must be an agent's
// SMS topic, the payload a well-formed SMS within the size limit, from the topic's agent. The
// fuzz target runs it on arbitrary input.
func DecodeSMS(topic string, payload []byte) (*wire.SMS, error) {
	if len(payload) > wire.MaxMessageJSON {
		return nil, dropf(ReasonOversized, "%d bytes exceeds the SMS limit of %d", len(payload), wire.MaxMessageJSON)
	}
	t, err := wire.ParseTopic(topic)
	if err != nil {
		return nil, drop(ReasonTopic, err)
	}
	if t.Kind != wire.TopicSMS {
		return nil, dropf(ReasonTopic, "topic %s carries %s, not sms", truncate(topic), t.Kind)
	}
	m, err := wire.DecodeSMS(payload)
	if err != nil {
		return nil, drop(ReasonGarbled, err)
	}
	if m.AgentID != t.AgentID {
		return nil, dropf(ReasonWrongAgent, "message from agent %s published on agent %s's topic", m.AgentID, t.AgentID)
	}
	return m, nil
}

// agentCert returns the agent's enrolled record and its certificate, checked at now: well
// formed, signed by the provider, valid, for the stored agent key and provider.
func (in *Ingester) agentCert(ctx context.Context, agentID string) (hub.Agent, *wire.AgentCert, error) {
	a, err := in.cfg.Store.GetAgent(ctx, agentID)
	if errors.Is(err, hub.ErrNotFound) {
		return hub.Agent{}, nil, dropf(ReasonUnknownAgent, "agent %s is not enrolled", agentID)
	}
	if err != nil {
		return hub.Agent{}, nil, drop(ReasonStore, err)
	}
	c, err := wire.DecodeAgentCert(a.Certificate)
	if err != nil {
		return hub.Agent{}, nil, dropf(ReasonCert, "agent %s: stored certificate: %w", agentID, err)
	}
	if err := c.Verify(in.cfg.Now()); err != nil {
		return hub.Agent{}, nil, dropf(ReasonCert, "agent %s: %w", agentID, err)
	}
	if c.AgentID != agentID || !bytes.Equal(c.AgentKey[:], a.PublicKey) || !bytes.Equal(c.ProviderVerify[:], a.ProviderKey) {
		return hub.Agent{}, nil, dropf(ReasonCert, "agent %s: certificate does not match the enrolled agent and provider keys", agentID)
	}
	return a, c, nil
}

func (in *Ingester) handleSMS(ctx context.Context, topic string, payload []byte) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.Timeout)
	defer cancel()
	m, err := DecodeSMS(topic, payload)
	if err != nil {
		return Result{}, err
	}
	_, cert, err := in.agentCert(ctx, m.AgentID)
	if err != nil {
		return Result{}, err
	}
	if err := m.Verify(cert.AgentKey); err != nil {
		return Result{}, drop(ReasonSignature, err)
	}
	rentalID, err := in.checkLease(ctx, m, cert)
	if err != nil {
		return Result{}, err
	}
	// The stored form is the message re-marshalled from its decoded fields: the agent's signed
	// content and signature, in one canonical JSON spelling whatever spacing the agent used.
	signed, err := m.MarshalJSON()
	if err != nil {
		return Result{}, drop(ReasonGarbled, err)
	}
	now := hub.StoreTime(in.cfg.Now())
	msg := hub.Message{ID: m.ID, AgentID: m.AgentID, Slot: int(m.Slot), ICCID: m.ICCID, RentalID: rentalID,
		LeaseSeq: m.LeaseSeq, RecipientKey: m.Recipient[:], ReceivedAt: m.Received, StoredAt: now, Signed: signed}
	// The receipt of a new message is signed first, so message and receipt are stored in one
	// transaction (one commit); a redelivered one gets a receipt naming its first storage.
	rc := &wire.Receipt{MessageID: m.ID, AgentID: m.AgentID, Received: now}
	if err := rc.Sign(in.cfg.Key); err != nil {
		return Result{}, drop(ReasonReceipt, err)
	}
	body, err := rc.MarshalJSON()
	if err != nil {
		return Result{}, drop(ReasonReceipt, err)
	}
	stored, err := in.cfg.Store.PutMessageReceipt(ctx, msg, hub.Receipt{MessageID: m.ID, Signed: body, CreatedAt: now})
	if err != nil {
		return Result{}, drop(ReasonStore, err)
	}
	res := Result{Message: msg, Duplicate: !stored}
	if !stored {
		prev, err := in.cfg.Store.GetMessage(ctx, m.ID)
		if err != nil {
			return Result{}, drop(ReasonStore, err)
		}
		if prev.AgentID != m.AgentID {
			return Result{}, dropf(ReasonConflict, "message %s is stored from agent %s, not %s", m.ID, prev.AgentID, m.AgentID)
		}
		res.Message = prev
		rc = &wire.Receipt{MessageID: m.ID, AgentID: m.AgentID, Received: prev.StoredAt, Duplicate: true}
		if err := rc.Sign(in.cfg.Key); err != nil {
			return Result{}, drop(ReasonReceipt, err)
		}
		if body, err = rc.MarshalJSON(); err != nil {
			return Result{}, drop(ReasonReceipt, err)
		}
		// The first receipt is kept (a message stored before receipts were written with it gets one now).
		if err := in.cfg.Store.PutReceipt(ctx, hub.Receipt{MessageID: m.ID, Signed: body, CreatedAt: now}); err != nil {
			return Result{}, drop(ReasonStore, err)
		}
	}
	if in.cfg.Notify != nil {
		if err := in.cfg.Notify.Publish(ctx, res.Message); err != nil {
			// The message is stored; renters fetch it with GET even when the live push fails.
			in.log.Warn("notify new message failed", "message", m.ID, "err", err)
			in.m.notifyErrors.Inc()
		}
	}
	if err := in.cfg.Receipts.Publish(ctx, wire.ReceiptTopic(m.AgentID), 1, false, body); err != nil {
		return Result{}, drop(ReasonReceipt, fmt.Errorf("publish receipt for %s: %w", m.ID, err))
	}
	res.Receipt = rc
	return res, nil
}

// checkLease returns the rental the message was sealed under ("" for sequence 0, sealed to the
// provider).
func (in *Ingester) checkLease(ctx context.Context, m *wire.SMS, cert *wire.AgentCert) (string, error) {
	if m.LeaseSeq == 0 {
		if m.Recipient != cert.ProviderPublic {
			return "", dropf(ReasonLease, "message %s names no lease but is not sealed to the provider's key", m.ID)
		}
		return "", nil
	}
	l, err := in.cfg.Store.GetLease(ctx, m.ICCID, m.LeaseSeq)
	if errors.Is(err, hub.ErrNotFound) {
		return "", dropf(ReasonLease, "message %s names lease %s#%d, which the hub never issued", m.ID, m.ICCID, m.LeaseSeq)
	}
	if err != nil {
		return "", drop(ReasonStore, err)
	}
	switch {
	case l.AgentID != m.AgentID:
		return "", dropf(ReasonLease, "message %s: lease %s#%d was issued to agent %s, not %s", m.ID, m.ICCID, m.LeaseSeq, l.AgentID, m.AgentID)
	case !bytes.Equal(l.RenterSealKey, m.Recipient[:]):
		return "", dropf(ReasonLease, "message %s is not sealed to the renter of lease %s#%d", m.ID, m.ICCID, m.LeaseSeq)
	case m.Received.Before(l.From.Add(-MaxClockSkew)) || !m.Received.Before(l.Until.Add(MaxClockSkew)):
		return "", dropf(ReasonLease, "message %s received at %s, outside lease %s#%d (%s to %s)", m.ID,
			m.Received.Format(time.RFC3339), m.ICCID, m.LeaseSeq, l.From.Format(time.RFC3339), l.Until.Format(time.RFC3339))
	}
	return l.RentalID, nil
}

// HandleStatus processes one payload received on an agent's status topic (all slots, or the
// last will: online false with no slots) or slot status topic (exactly that slot). An empty
// payload (a cleared retained status) is ignored.
func (in *Ingester) HandleStatus(ctx context.Context, topic string, payload []byte) error {
	err := in.handleStatus(ctx, topic, payload)
	switch r := ReasonOf(err); {
	case r != "":
		in.m.statusDropped.WithLabelValues(r).Inc()
		in.log.Warn("status dropped", "reason", r, "topic", truncate(topic), "bytes", len(payload), "err", err)
	case err == nil:
		in.m.statuses.Inc()
	}
	return err
}

func (in *Ingester) handleStatus(ctx context.Context, topic string, payload []byte) error {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.Timeout)
	defer cancel()
	if len(payload) > wire.MaxStatusJSON {
		return dropf(ReasonOversized, "%d bytes exceeds the status limit of %d", len(payload), wire.MaxStatusJSON)
	}
	t, err := wire.ParseTopic(topic)
	if err != nil {
		return drop(ReasonTopic, err)
	}
	if t.Kind != wire.TopicStatus && t.Kind != wire.TopicSlotStatus {
		return dropf(ReasonTopic, "topic %s carries %s, not a status", truncate(topic), t.Kind)
	}
	if len(payload) == 0 {
		return nil
	}
	s, err := wire.DecodeStatus(payload)
	if err != nil {
		return drop(ReasonGarbled, err)
	}
	if s.AgentID != t.AgentID {
		return dropf(ReasonWrongAgent, "status from agent %s published on agent %s's topic", s.AgentID, t.AgentID)
	}
	if t.Kind == wire.TopicSlotStatus && (len(s.Slots) != 1 || int(s.Slots[0].Slot) != t.Slot) {
		return dropf(ReasonWrongAgent, "status on slot %d's topic must carry exactly slot %d", t.Slot, t.Slot)
	}
	_, cert, err := in.agentCert(ctx, s.AgentID)
	if err != nil {
		return err
	}
	if err := s.Verify(cert.AgentKey); err != nil {
		return drop(ReasonSignature, err)
	}
	now := in.cfg.Now()
	if t.Kind == wire.TopicStatus {
		// The last will is signed when the agent connects, so it is older than the statuses
		// that follow; it is still the newest news when the broker sends it.
		if err := in.cfg.Store.SetAgentSeen(ctx, s.AgentID, s.Online, now); err != nil {
			return drop(ReasonStore, err)
		}
	}
	if len(s.Slots) == 0 {
		return nil
	}
	known, err := in.cfg.Store.ListSlots(ctx, s.AgentID)
	if err != nil {
		return drop(ReasonStore, err)
	}
	last := make(map[int]time.Time, len(known))
	for _, k := range known {
		last[k.Slot] = k.UpdatedAt
	}
	stale := 0
	for _, sl := range s.Slots {
		at := hub.StoreTime(s.Time)
		if prev, ok := last[int(sl.Slot)]; ok && at.Before(prev) {
			stale++
			continue
		}
		rec := hub.Slot{AgentID: s.AgentID, Slot: int(sl.Slot), ICCID: sl.ICCID, State: sl.State,
			Signal: csq(sl.SignalDBm), Registration: sl.Registration, Operator: sl.Operator,
			Status: payload, UpdatedAt: at}
		if err := in.cfg.Store.UpsertSlotStatus(ctx, rec); err != nil {
			return drop(ReasonStore, err)
		}
	}
	if stale == len(s.Slots) {
		return dropf(ReasonStale, "status of %s is older than the stored one", s.Time.Format(time.RFC3339Nano))
	}
	return nil
}

// csq converts dBm to the 0–31 CSQ scale (99 unknown) the hub keeps.
func csq(dbm int32) int {
	if dbm == 0 {
		return 99
	}
	v := (int(dbm) + 113) / 2
	return min(max(v, 0), 31)
}

func truncate(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// Run subscribes client to Subscriptions and processes messages, at most Config.Workers at
// once, until ctx ends; then it unsubscribes, finishes the messages in hand and returns nil.
// While it runs, a client made with ClientOptions subscribes again on every reconnect.
//
// The client should be made with ClientOptions: a persistent session (clean session off, a fixed
// client id) so QoS 1 messages wait at the broker while the hub is away; unordered delivery, so
// paho's router never blocks on a busy handler (a handler waiting for a worker while a worker
// waits for the PUBACK of its receipt would otherwise deadlock the client); and manual
// acknowledgement: each message is acknowledged after it has been stored and receipted, so a hub
// that dies halfway gets it again, and the broker's in-flight window bounds how many wait.
func (in *Ingester) Run(ctx context.Context, client mqtt.Client) error {
	sem := make(chan struct{}, in.cfg.Workers)
	var wg sync.WaitGroup
	var mu sync.RWMutex // guards closed; handlers run on paho goroutines
	closed := false
	// Handling uses a context that outlives ctx: a message in hand at shutdown is finished
	// (within Config.Timeout), not half-done.
	hctx := context.WithoutCancel(ctx)
	handler := func(_ mqtt.Client, msg mqtt.Message) {
		mu.RLock()
		if closed {
			mu.RUnlock()
			return // not acknowledged: the broker sends it again
		}
		wg.Add(1)
		mu.RUnlock()
		defer wg.Done()
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-sem }()
		if t, err := wire.ParseTopic(msg.Topic()); err == nil && t.Kind == wire.TopicSMS {
			in.HandleSMS(hctx, msg.Topic(), msg.Payload())
		} else {
			in.HandleStatus(hctx, msg.Topic(), msg.Payload())
		}
		msg.Ack()
	}
	subs := in.Subscriptions()
	filters := map[string]byte{}
	for _, s := range subs {
		filters[s] = 1
	}
	subscribe := func(sctx context.Context, c mqtt.Client) error {
		tok := c.SubscribeMultiple(filters, handler)
		if err := waitToken(sctx, tok); err != nil {
			return err
		}
		return subscribeGranted(tok, subs)
	}
	// Every later connect subscribes again (the client's OnConnect handler, see ClientOptions):
	// a broker that lost its state (restarted without persistence, session expired) answers
	// session_present=false and would otherwise keep the hub connected but deaf. subMu
	// serialises these subscriptions with the unsubscription at shutdown.
	var subMu sync.Mutex
	stopped := false
	setConnectHook(client, func(c mqtt.Client) {
		for backoff := time.Second; ; backoff = min(2*backoff, 30*time.Second) {
			subMu.Lock()
			if stopped || ctx.Err() != nil {
				subMu.Unlock()
				return
			}
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := subscribe(sctx, c)
			cancel()
			subMu.Unlock()
			if err == nil {
				in.log.Info("ingest subscribed again after (re)connect", "filters", subs)
				in.announceReady(ctx, c)
				return
			}
			if ctx.Err() != nil {
				return
			}
			if !c.IsConnectionOpen() {
				in.log.Warn("ingest subscription after reconnect failed; the next connect subscribes again", "err", err)
				return
			}
			in.log.Error("ingest subscription after reconnect failed; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
		}
	})
	err := subscribe(ctx, client)
	if err == nil {
		// No ready here: a hub process starting anew finds its session (and its shared
		// subscription) as the broker kept it, with what came meanwhile queued; only a
		// reconnect within the process can follow a broker restart (the connect hook above).
		in.log.Info("ingest subscribed", "filters", subs, "workers", in.cfg.Workers)
		retryDone := make(chan struct{})
		go func() { defer close(retryDone); in.retryLoop(ctx, client) }()
		<-ctx.Done()
		<-retryDone
	}
	setConnectHook(client, nil)
	subMu.Lock()
	stopped = true
	subMu.Unlock()
	if err == nil {
		ut := client.Unsubscribe(subs...)
		uctx, cancel := context.WithTimeout(hctx, 5*time.Second)
		waitToken(uctx, ut)
		cancel()
	}
	mu.Lock()
	closed = true
	mu.Unlock()
	wg.Wait()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("ingest: subscribe %v: %w", subs, err)
	}
	return nil
}

// announceReady tells every enrolled agent that this hub has just subscribed again after a
// reconnect (wire.ReadyTopic, QoS 0). A broker can acknowledge an agent's SMS and route it to nobody: Mosquitto 2.0 does not
// persist shared subscriptions, so after a restart the hubs' restored sessions have none until
// each hub subscribes again, and the agents, back first, publish into the void. An agent that
// gets ready publishes again at once what still has no receipt (the store keeps each message
// once), instead of after its RepublishTimeout.
func (in *Ingester) announceReady(ctx context.Context, c mqtt.Client) {
	agents, err := in.cfg.Store.ListAgents(ctx)
	if err != nil {
		in.log.Warn("ingest: cannot list agents to tell them the hub is ready; they publish again after their republish timeout", "err", err)
		return
	}
	var ids []string
	for _, a := range agents {
		if a.MQTTPasswordHash != "" { // a revoked agent cannot connect
			ids = append(ids, a.ID)
		}
	}
	n, err := in.sendReady(ctx, c, ids)
	if err != nil {
		in.log.Warn("ingest: ready not sent; the remaining agents publish again after their republish timeout",
			"err", err, "sent", n)
	}
	in.log.Info("ingest: told the agents this hub is subscribed", "agents", n)
}

// sendReady publishes ready (QoS 0, the hub's client id as payload) to each agent in ids, in
// order, and counts them; it stops at the first failure and returns how many were sent.
func (in *Ingester) sendReady(ctx context.Context, c mqtt.Client, ids []string) (int, error) {
	opts := c.OptionsReader()
	payload := []byte(opts.ClientID())
	n := 0
	defer func() { in.m.readySent.Add(float64(n)) }()
	for _, id := range ids {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := waitToken(pctx, c.Publish(wire.ReadyTopic(id), 0, false, payload))
		cancel()
		if err != nil {
			return n, fmt.Errorf("ready to agent %s: %w", id, err)
		}
		n++
	}
	return n, nil
}

// retryLoop tells agents whose SMS failed to be stored or receipted that the hub is ready, as
// soon as the store answers again, until ctx ends.
func (in *Ingester) retryLoop(ctx context.Context, c mqtt.Client) {
	t := time.NewTicker(in.cfg.RetryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		in.retryMu.Lock()
		var probe string
		for id := range in.retry {
			probe = id
			break
		}
		in.retryMu.Unlock()
		if probe == "" || !c.IsConnectionOpen() {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := in.cfg.Store.GetAgent(pctx, probe)
		cancel()
		if err != nil && !errors.Is(err, hub.ErrNotFound) {
			continue // the store still fails
		}
		in.retryMu.Lock()
		ids := make([]string, 0, len(in.retry))
		for id := range in.retry {
			ids = append(ids, id)
		}
		clear(in.retry)
		in.retryMu.Unlock()
		sent, err := in.sendReady(ctx, c, ids)
		if err != nil { // keep the rest for the next round
			in.retryMu.Lock()
			for _, id := range ids[sent:] {
				in.retry[id] = struct{}{}
			}
			in.retryMu.Unlock()
		}
		if sent > 0 {
			in.log.Info("ingest: store answers again; told the agents whose SMS failed to send them again", "agents", sent)
		}
	}
}

func subscribeGranted(tok mqtt.Token, subs []string) error {
	st, ok := tok.(*mqtt.SubscribeToken)
	if !ok {
		return nil
	}
	for topic, qos := range st.Result() {
		if qos == 0x80 {
			return fmt.Errorf("broker refused the subscription %s (check the hub's MQTT credential and ACL)", topic)
		}
	}
	return nil
}

func waitToken(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
