// Package pipeline carries every SMS from the SIM to the hub's receipt: it is the agent's
// implementation of agent.PartSink and the only writer of the outbox.
//
// The flow of one SMS:
//
//  1. StorePart (called by the slot supervisor) writes the raw PDU to the outbox with fsync and
//     returns nil; only then does the supervisor delete it from the SIM. A full outbox returns
//     an error wrapping outbox.ErrFull and the SMS waits on the SIM, the overflow buffer.
//  2. The assembler goroutine decodes each new part and joins concatenated parts (one
//     pdu.Reassembler per SIM, with a timeout after which an incomplete set is delivered
//     marked incomplete). Junk (WAP push, voicemail indications, silent SMS, undecodable PDUs,
//     a second PDU claiming a part number already held) is logged, counted and dropped: it is
//     assembled into a message and acknowledged at once, so it leaves the outbox and never
//     clogs anything. Undecodable and conflicting PDUs keep their raw bytes in the outbox's
//     junk quarantine (outbox.PutJunk), as do PDU lines the modem layer could not parse
//     (agent.ReceivedPart.Malformed, stored at once by StorePart), and count as decode errors.
//  3. A seal worker assembles the message in the outbox under its id (wire.MessageID over the
//     agent id, the ICCID and all parts' raw PDUs, so the same PDUs read again after a crash
//     give the same id), seals the plaintext to the renter of the SIM's current lease, or to
//     the provider's X25519 key from the agent certificate when there is none (never to a
//     renter), signs it and stores the signed JSON (outbox Seal).
//  4. The publisher goroutine publishes sealed messages with QoS 1, at most MaxInFlight at a
//     time, reading the outbox page by page (never all of it into memory), records each
//     PUBACK (MarkPublished) and republishes a message whose receipt has not come within
//     RepublishTimeout. Nothing is published without a valid agent certificate.
//  5. HandleMessage takes what the broker delivers: a hub-signed receipt (checked against the
//     pinned hub keys) acknowledges its message in the outbox; a lease goes to the lease store.
//
// A restart resumes every state: unassembled parts are fed to the reassemblers again, assembled
// messages are sealed, sealed and published ones are (re)published.
//
// Goroutines and what they own: the assembler goroutine owns the reassemblers (asm); the seal
// workers own nothing but their job; the publisher goroutine owns the scan state, and shares
// inflight (under mu) with the publish goroutines it starts; queue and closed are guarded by
// mu and written by any StorePart caller.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/outbox"
	"github.com/ness-network/ness-sms/agent/pdu"
	"github.com/ness-network/ness-sms/wire"
)

// Publisher sends one message with QoS 1 and returns when the broker acknowledged it (mqttlink.Link).
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte, retained bool) error
}

// linkState is implemented by publishers that know whether they are connected; the publisher
// goroutine then skips scans while down and scans at once when the link comes back.
type linkState interface {
	Connected() bool
	Changed() <-chan struct{}
}

// LeaseStore is where leases come from (identity.Leases).
type LeaseStore interface {
	// Current returns the lease to seal an SMS on iccid under now, or nil.
	Current(iccid string) *wire.Lease
	// Offer considers a lease payload received on the lease topic of iccid.
	Offer(iccid string, payload []byte) (accepted bool, err error)
}

// Config configures a Pipeline. Zero durations get the documented defaults.
type Config struct {
	Identity  *wire.Identity   // the device key
	Cert      *wire.AgentCert  // the agent certificate; nil: messages are kept but never published
	HubKeys   []wire.VerifyKey // pinned hub keys (NESS_AGENT_HUB_KEY) for receipts
	Outbox    *outbox.Outbox
	Leases    LeaseStore
	Publisher Publisher

	// Now is the agent clock; default time.Now.
	Now func() time.Time
	// ReassemblyTimeout: an incomplete multipart set is delivered this long after its first
	// part was fed (again after a restart); default 10 min.
	ReassemblyTimeout time.Duration
	// RepublishTimeout: a published message without a receipt is published again after this;
	// default 60 s.
	RepublishTimeout time.Duration
	// PublishTimeout bounds the wait for one PUBACK; default 30 s.
	PublishTimeout time.Duration
	// MaxInFlight bounds concurrent publishes waiting for a PUBACK; default 32.
	MaxInFlight int
	// SealWorkers is the number of goroutines assembling and sealing; default 4.
	SealWorkers int
	// ScanInterval is how often the outbox is looked at for due messages without any other
	// wake-up; default 1 s.
	ScanInterval time.Duration
	// ShutdownGrace bounds how long Run waits, once its context ends, for in-flight publishes
	// and queued parts; default 10 s.
	ShutdownGrace time.Duration

	Logger  *slog.Logger
	Metrics *Metrics // nil: not counted
	// OnPublished, when set, is called after each PUBACK with the message and the agent clock
	// (benchmarks and tests).
	OnPublished func(m *wire.SMS, at time.Time)
	// OnDecodeError, when set, is called with the slot of each PDU kept as junk because it
	// did not decode (the supervisor counts it in the slot's status).
	OnDecodeError func(slot int)

	// StoreOnly runs the pipeline without publishing: StorePart still writes every PDU to the
	// outbox (so the SIMs drain and nothing is lost) but nothing is assembled, sealed or
	// published until a start without StoreOnly. Leases, Publisher and HubKeys are not needed.
	// StoreOnlyReason says why (logged at start and every hour).
	StoreOnly       bool
	StoreOnlyReason string
}

// ErrClosed is returned by StorePart once the pipeline is shutting down: keep the SMS on the SIM.
var ErrClosed = errors.New("pipeline: shutting down")

// ErrNoICCID is returned by StorePart for a part without a valid ICCID: the message id and the
// lease depend on it, so the SMS stays on the SIM until the supervisor can read the ICCID.
var ErrNoICCID = errors.New("pipeline: part has no valid ICCID")

// Pipeline is the SMS flow; see the package documentation.
type Pipeline struct {
	cfg     Config
	agentID string
	log     *slog.Logger
	m       *Metrics

	wake     chan struct{} // one slot: new parts queued (StorePart → assembler)
	sealed   chan struct{} // one slot: a message was sealed (seal worker → publisher)
	ready    chan struct{} // one slot: publish again what was sent before readyAt (→ publisher)
	jobs     chan job      // assembler → seal workers
	started  chan struct{} // closed when Run has resumed the outbox's state
	finished chan struct{} // closed when the assembler has drained the queue after shutdown

	mu       sync.Mutex
	queue    []outbox.Part       // stored parts not yet fed to a reassembler
	closed   bool                // StorePart refuses new parts
	inflight map[string]struct{} // ids being published
	// readyAt: a hub subscribed (or this agent reconnected) at this time; every message sent
	// before it and still without a receipt may have been dropped by the broker and is
	// published again at once, not after RepublishTimeout.
	readyAt      time.Time
	lastHubReady time.Time // the last hub ready acted on (hubReadyDue)

	// asm is owned by the assembler goroutine.
	asm map[string]*pdu.Reassembler

	certWarned time.Time // owned by the publisher goroutine
}

// job is one assembled message for a seal worker.
type job struct {
	a     *pdu.Assembled // nil for a message to (re)seal from the outbox alone
	id    string
	keys  []outbox.Key
	junk  string // non-empty: drop it, with this reason
	first outbox.Part
}

// New checks cfg and returns a pipeline; Run starts it.
func New(cfg Config) (*Pipeline, error) {
	switch {
	case cfg.Identity == nil:
		return nil, errors.New("pipeline: no device identity")
	case cfg.Outbox == nil:
		return nil, errors.New("pipeline: no outbox")
	case cfg.StoreOnly:
	case cfg.Leases == nil:
		return nil, errors.New("pipeline: no lease store")
	case cfg.Publisher == nil:
		return nil, errors.New("pipeline: no publisher")
	case len(cfg.HubKeys) == 0:
		return nil, errors.New("pipeline: NESS_AGENT_HUB_KEY: no pinned hub key")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ReassemblyTimeout, 10*time.Minute)
	def(&cfg.RepublishTimeout, 60*time.Second)
	def(&cfg.PublishTimeout, 30*time.Second)
	def(&cfg.ScanInterval, time.Second)
	def(&cfg.ShutdownGrace, 10*time.Second)
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 32
	}
	if cfg.SealWorkers <= 0 {
		cfg.SealWorkers = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &Pipeline{
		cfg: cfg, agentID: cfg.Identity.AgentID(), log: cfg.Logger.With("component", "pipeline"), m: cfg.Metrics,
		wake: make(chan struct{}, 1), sealed: make(chan struct{}, 1), ready: make(chan struct{}, 1), jobs: make(chan job, 64),
		started: make(chan struct{}), finished: make(chan struct{}),
		inflight: map[string]struct{}{}, asm: map[string]*pdu.Reassembler{},
	}, nil
}

var (
	_ agent.PartSink   = (*Pipeline)(nil)
	_ agent.PDUChecker = (*Pipeline)(nil)
)

// CheckPDU reports whether a PDU read from a SIM decodes; one that does not would be kept as
// junk. The slot asks before it stores a PDU, so that a PDU garbled by line noise (hex and length
// intact) is read again instead of being junked and deleted: it hands over an undecodable PDU
// only once it read back identically over a sweep interval (agent.JunkReads).
func (p *Pipeline) CheckPDU(b []byte) error {
	_, err := pdu.Decode(b, true)
	return err
}

// StorePart stores one PDU read from a SIM durably in the outbox; see agent.PartSink. It is
// safe for concurrent use by every slot.
func (p *Pipeline) StorePart(ctx context.Context, rp agent.ReceivedPart) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rp.Malformed != "" {
		return p.storeMalformed(rp)
	}
	if err := wire.CheckICCID(rp.ICCID); err != nil {
		p.m.PartsRefused.WithLabelValues("no_iccid").Inc()
		return fmt.Errorf("slot %d: %w: %v", rp.Slot, ErrNoICCID, err)
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		p.m.PartsRefused.WithLabelValues("shutdown").Inc()
		return ErrClosed
	}
	// A +CMT delivery was never stored on the SIM: it comes with Index -1 and no storage. The
	// outbox keeps the index only for reports, so it is stored as 0 with the empty storage.
	part := outbox.Part{Key: outbox.PartKey(rp.ICCID, rp.PDU), Slot: rp.Slot, ICCID: rp.ICCID,
		Storage: rp.Storage, Index: max(rp.Index, 0), PDU: rp.PDU, Received: rp.ReceivedAt}
	added, err := p.cfg.Outbox.PutPart(part)
	if err != nil {
		if errors.Is(err, outbox.ErrFull) {
			p.m.PartsRefused.WithLabelValues("full").Inc()
		} else {
			p.m.PartsRefused.WithLabelValues("error").Inc()
		}
		return err
	}
	if !added {
		p.m.PartsDuplicate.Inc()
		return nil
	}
	p.m.PartsStored.Inc()
	if p.cfg.StoreOnly {
		return nil // assembled at the next start that may publish
	}
	p.mu.Lock()
	p.queue = append(p.queue, part)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// storeMalformed keeps the raw line of a PDU the modem layer could not parse as junk in the
// outbox (durably, before the supervisor deletes it from the SIM), counts and reports it.
func (p *Pipeline) storeMalformed(rp agent.ReceivedPart) error {
	key := outbox.PartKey(rp.ICCID, append([]byte("malformed\x00"), rp.PDU...))
	reason := fmt.Sprintf("malformed PDU line from slot %d, ICCID %q, %s index %d, read %s: %s",
		rp.Slot, rp.ICCID, rp.Storage, rp.Index, rp.ReceivedAt.UTC().Format(time.RFC3339), rp.Malformed)
	added, err := p.cfg.Outbox.PutJunk(key, rp.PDU, reason)
	switch {
	case errors.Is(err, outbox.ErrJunkFull):
		// Still reported (with the bytes) in the log; the SIM must not fill with junk.
		p.log.Error("junk quarantine full: malformed PDU only logged", "slot", rp.Slot, "raw", fmt.Sprintf("%q", rp.PDU), "reason", rp.Malformed)
	case err != nil:
		p.m.PartsRefused.WithLabelValues("error").Inc()
		return err
	case !added:
		return nil // kept before a crash; the supervisor deletes it again
	}
	p.m.Junk.WithLabelValues("malformed").Inc()
	p.log.Warn("malformed PDU kept as junk", "slot", rp.Slot, "iccid", rp.ICCID, "index", rp.Index, "raw", fmt.Sprintf("%q", rp.PDU), "reason", rp.Malformed)
	return nil
}

// Started is closed once Run has loaded the outbox's state after a start.
func (p *Pipeline) Started() <-chan struct{} { return p.started }

// Run resumes the outbox's state and runs the flow until ctx ends. Then it stops accepting
// parts, assembles and seals what is queued, and waits up to ShutdownGrace for in-flight
// publishes, and returns nil. Everything not finished stays in the outbox for the next start.
func (p *Pipeline) Run(ctx context.Context) error {
	if p.cfg.StoreOnly {
		return p.runStoreOnly(ctx)
	}
	parts, err := p.cfg.Outbox.Parts()
	if err != nil {
		return fmt.Errorf("pipeline: resume: %w", err)
	}
	p.mu.Lock()
	p.queue = append(parts, p.queue...) // StorePart may have run before Run; duplicates are harmless
	p.mu.Unlock()
	var toSeal []string
	for m, err := range p.cfg.Outbox.Pending(outbox.Assembled) {
		if err != nil {
			return fmt.Errorf("pipeline: resume: %w", err)
		}
		toSeal = append(toSeal, m.ID)
	}
	p.log.Info("pipeline started", "agent", p.agentID, "parts", len(parts), "assembled", len(toSeal))
	close(p.started)

	// Shutdown: the assembler and the seal workers finish what is queued, on their own
	// context; the publisher stops taking new work at once and waits out its in-flight
	// publishes up to the grace period.
	drainCtx, drainCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer drainCancel()
	var workers sync.WaitGroup
	for range p.cfg.SealWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			p.sealWorker(drainCtx)
		}()
	}
	asmDone := make(chan struct{})
	go func() {
		defer close(asmDone)
		for _, id := range toSeal {
			p.jobs <- job{id: id}
		}
		p.assembler(ctx)
		close(p.jobs)
	}()
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		p.publisher(ctx, drainCtx)
	}()

	<-ctx.Done()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	grace := time.NewTimer(p.cfg.ShutdownGrace)
	defer grace.Stop()
	allDone := make(chan struct{})
	go func() {
		<-asmDone
		workers.Wait()
		<-pubDone
		close(allDone)
	}()
	select {
	case <-allDone:
		p.log.Info("pipeline stopped cleanly")
	case <-grace.C:
		drainCancel()
		p.log.Warn("pipeline shutdown grace ended; unfinished work stays in the outbox", "grace", p.cfg.ShutdownGrace)
		<-allDone
	}
	return nil
}

// take removes and returns the queued parts.
func (p *Pipeline) take() []outbox.Part {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queue
	p.queue = nil
	return q
}

// assembler feeds parts to the reassemblers and hands complete (or timed-out) messages to the
// seal workers. On ctx's end it drains the queue once more and returns.
func (p *Pipeline) assembler(ctx context.Context) {
	tick := time.NewTicker(min(p.cfg.ReassemblyTimeout/4, time.Second))
	defer tick.Stop()
	for {
		for _, part := range p.take() {
			p.feed(part)
		}
		for _, r := range p.asm {
			for _, a := range r.Expire() {
				p.deliver(a)
			}
		}
		p.m.ReassemblyPending.Set(float64(p.pendingSets()))
		select {
		case <-ctx.Done():
			for _, part := range p.take() {
				p.feed(part)
			}
			return
		case <-p.wake:
		case <-tick.C:
		}
	}
}

func (p *Pipeline) pendingSets() int {
	n := 0
	for iccid, r := range p.asm {
		k := r.Pending()
		n += k
		if k == 0 {
			// Keep it: its memory of recently delivered parts catches re-reads. It is one
			// small map per SIM ever seen since start.
			_ = iccid
		}
	}
	return n
}

// feed decodes one stored part and adds it to its SIM's reassembler.
func (p *Pipeline) feed(part outbox.Part) {
	key := string(part.Key[:])
	msg, err := pdu.Decode(part.PDU, true)
	if err != nil {
		p.log.Warn("undecodable PDU dropped", "slot", part.Slot, "iccid", part.ICCID, "pdu", fmt.Sprintf("%X", part.PDU), "err", err)
		p.jobs <- job{id: wire.MessageID(p.agentID, part.ICCID, [][]byte{part.PDU}), keys: []outbox.Key{part.Key},
			junk: "malformed", first: part}
		return
	}
	r := p.asm[part.ICCID]
	if r == nil {
		r = pdu.NewReassembler(p.cfg.ReassemblyTimeout, p.cfg.Now)
		p.asm[part.ICCID] = r
	}
	a, err := r.Add(part.ICCID, pdu.Part{Message: msg, Raw: part.PDU, Key: key})
	switch {
	case errors.Is(err, pdu.ErrDuplicate):
		p.log.Debug("part fed twice", "slot", part.Slot, "iccid", part.ICCID)
		return
	case err != nil:
		p.log.Warn("PDU the reassembler refused dropped", "slot", part.Slot, "iccid", part.ICCID, "pdu", fmt.Sprintf("%X", part.PDU), "err", err)
		p.jobs <- job{id: wire.MessageID(p.agentID, part.ICCID, [][]byte{part.PDU}), keys: []outbox.Key{part.Key},
			junk: "malformed", first: part}
		return
	case a == nil:
		return
	}
	p.deliver(a)
}

// partsOf returns the outbox keys and raw PDUs of an assembled message.
func partsOf(parts []pdu.Part) ([]outbox.Key, [][]byte) {
	keys := make([]outbox.Key, len(parts))
	raws := make([][]byte, len(parts))
	for i, pp := range parts {
		copy(keys[i][:], pp.Key)
		raws[i] = pp.Raw
	}
	return keys, raws
}

// deliver hands an assembled message (and any conflicting duplicate parts) to the seal workers.
func (p *Pipeline) deliver(a *pdu.Assembled) {
	for _, d := range a.Duplicates {
		keys, raws := partsOf([]pdu.Part{d})
		p.log.Warn("PDU claiming a part number already held dropped", "iccid", a.SIM, "pdu", fmt.Sprintf("%X", d.Raw))
		p.jobs <- job{id: wire.MessageID(p.agentID, a.SIM, raws), keys: keys, junk: "conflicting-part"}
	}
	keys, raws := partsOf(a.Parts)
	j := job{a: a, id: wire.MessageID(p.agentID, a.SIM, raws), keys: keys}
	if a.Junk() {
		j.junk = string(a.Kind)
	}
	p.jobs <- j
}

// sealWorker assembles, seals and signs messages, or drops junk.
func (p *Pipeline) sealWorker(ctx context.Context) {
	for j := range p.jobs {
		if ctx.Err() != nil {
			continue // shutdown grace over: what is left resumes from the outbox next start
		}
		if err := p.process(j); err != nil {
			p.m.Errors.WithLabelValues("seal").Inc()
			p.log.Error("message not sealed; it stays in the outbox and is retried at the next start", "id", j.id, "err", err)
		}
	}
}

func (p *Pipeline) process(j job) error {
	if j.keys != nil {
		created, err := p.cfg.Outbox.Assemble(j.id, j.keys, nil)
		if err != nil {
			return err
		}
		if !created && j.junk == "" {
			// Already assembled before a restart: it is sealed (or published) already, or
			// will be sealed from the Pending(Assembled) scan at start.
			m, err := p.cfg.Outbox.Get(j.id)
			if err != nil || m.State != outbox.Assembled {
				return err
			}
		}
	}
	if j.junk != "" {
		if j.junk == "malformed" || j.junk == "conflicting-part" {
			if err := p.keepJunk(j); err != nil {
				return err
			}
		}
		if _, err := p.cfg.Outbox.Ack(j.id); err != nil {
			return err
		}
		p.m.Junk.WithLabelValues(j.junk).Inc()
		p.log.Info("junk SMS dropped", "id", j.id, "kind", j.junk, "parts", len(j.keys))
		return nil
	}
	m, err := p.cfg.Outbox.Get(j.id)
	if err != nil {
		return err
	}
	if m.State != outbox.Assembled {
		return nil
	}
	a := j.a
	if a == nil {
		if a, err = rebuild(m); err != nil {
			return err
		}
	}
	signed, to, err := p.seal(m, a)
	if err != nil {
		return err
	}
	if err := p.cfg.Outbox.Seal(m.ID, signed); err != nil {
		return err
	}
	p.m.Sealed.WithLabelValues(to).Inc()
	if a.Incomplete {
		p.m.Incomplete.Inc()
	}
	select {
	case p.sealed <- struct{}{}:
	default:
	}
	return nil
}

// keepJunk copies the raw PDUs of a message dropped as undecodable into the outbox's junk
// quarantine before the message is acknowledged (which drops its PDUs), and reports it.
func (p *Pipeline) keepJunk(j job) error {
	m, err := p.cfg.Outbox.Get(j.id)
	if err != nil {
		return err
	}
	for _, part := range m.Parts {
		reason := fmt.Sprintf("%s PDU from slot %d, ICCID %s, %s index %d, read %s", j.junk, part.Slot, part.ICCID,
			part.Storage, part.Index, part.Received.UTC().Format(time.RFC3339))
		if _, err := p.cfg.Outbox.PutJunk(part.Key, part.PDU, reason); err != nil && !errors.Is(err, outbox.ErrJunkFull) {
			return err
		}
		if p.cfg.OnDecodeError != nil {
			p.cfg.OnDecodeError(part.Slot)
		}
	}
	return nil
}

// rebuild decodes and joins a stored message's parts again (after a restart).
func rebuild(m outbox.Message) (*pdu.Assembled, error) {
	if len(m.Parts) == 0 {
		return nil, fmt.Errorf("message %s has no parts", m.ID)
	}
	r := pdu.NewReassembler(0, func() time.Time { return time.Unix(0, 0) })
	for _, part := range m.Parts {
		msg, err := pdu.Decode(part.PDU, true)
		if err != nil {
			return nil, fmt.Errorf("message %s: part: %w", m.ID, err)
		}
		a, err := r.Add(m.ICCID, pdu.Part{Message: msg, Raw: part.PDU, Key: string(part.Key[:])})
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", m.ID, err)
		}
		if a != nil {
			return a, nil
		}
	}
	if as := r.Expire(); len(as) == 1 {
		return as[0], nil
	}
	return nil, fmt.Errorf("message %s: parts do not form one message", m.ID)
}

// seal builds, seals and signs the SMS and returns its JSON and who it is sealed to.
func (p *Pipeline) seal(m outbox.Message, a *pdu.Assembled) ([]byte, string, error) {
	pt := Plaintext(a)
	in := wire.SMSInput{AgentID: p.agentID, Slot: m.Slot, ICCID: m.ICCID, Received: m.Parts[0].Received, Plaintext: pt}
	for _, part := range m.Parts {
		in.Parts = append(in.Parts, part.PDU)
	}
	to := "renter"
	if ls := p.cfg.Leases.Current(m.ICCID); ls != nil {
		in.LeaseSeq, in.Recipient = ls.Seq, ls.Renter
	} else {
		if p.cfg.Cert == nil {
			return nil, "", errors.New("no lease and no agent certificate (whose provider key an SMS without a lease is sealed to)")
		}
		in.Recipient = p.cfg.Cert.ProviderPublic
		pt.Flags |= wire.FlagNoLease
		to = "provider"
	}
	if in.Received.IsZero() || in.Received.Year() < 1970 {
		in.Received = p.cfg.Now()
	}
	s, err := wire.NewSMS(in)
	if err != nil {
		return nil, "", err
	}
	if s.ID != m.ID {
		return nil, "", fmt.Errorf("message id %s from the stored parts differs from the outbox id %s", s.ID, m.ID)
	}
	if err := s.Sign(p.cfg.Identity); err != nil {
		return nil, "", err
	}
	b, err := s.MarshalJSON()
	return b, to, err
}

// Plaintext is what gets sealed for an assembled message: sender, text, SMSC time, parts.
func Plaintext(a *pdu.Assembled) *wire.Plaintext {
	pt := &wire.Plaintext{Version: wire.Version, Sender: cleanLabel(a.Originator.Number, wire.MaxLabel),
		Text: a.Text, SMSCTime: a.Time, Parts: uint32(len(a.Parts)), PartsExpected: uint32(max(a.Total, len(a.Parts))),
		Encoding: string(a.Encoding)}
	if pt.Sender == "" {
		pt.Sender = "unknown"
	}
	if a.Incomplete || pt.Parts < pt.PartsExpected {
		pt.Flags |= wire.FlagIncomplete
	}
	switch a.Encoding {
	case pdu.Encoding8Bit:
		pt.Flags |= wire.Flag8Bit
		pt.Text, pt.Data = "", a.Data
	case pdu.EncodingUCS2:
	default:
		pt.Encoding = wire.EncodingGSM7
	}
	if len(a.Parts) > 0 && a.Parts[0].Message.Class == 0 {
		pt.Flags |= wire.FlagFlash
	}
	if y := pt.SMSCTime.Year(); pt.SMSCTime.IsZero() || y < 1970 || y > 9999 {
		pt.SMSCTime = time.Unix(0, 0).UTC()
	}
	if len(pt.Text) > wire.MaxText {
		pt.Text = strings.ToValidUTF8(pt.Text[:wire.MaxText], "")
	}
	if len(pt.Data) > wire.MaxText {
		pt.Data = pt.Data[:wire.MaxText]
	}
	return pt
}

// cleanLabel makes s a valid wire label: valid UTF-8, no control characters, at most max bytes.
func cleanLabel(s string, maxLen int) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsControl(r) {
			r = '\uFFFD'
		}
		if b.Len()+utf8.RuneLen(r) > maxLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// runStoreOnly keeps the pipeline accepting parts without publishing, and says so at start and
// every hour with the outbox's depth.
func (p *Pipeline) runStoreOnly(ctx context.Context) error {
	close(p.started)
	p.m.Publishing.Set(0)
	say := func() {
		n := -1
		if st, err := p.cfg.Outbox.Stats(); err == nil {
			n = int(st.Count)
		}
		p.log.Error("STORE-ONLY: SMS are read from the SIMs into the outbox but NOT published", "reason", p.cfg.StoreOnlyReason, "outbox_records", n)
	}
	say()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			p.closed = true
			p.mu.Unlock()
			return nil
		case <-t.C:
			say()
		}
	}
}
