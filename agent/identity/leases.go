package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/wire"
)

// ErrLeaseRejected is wrapped by every error Leases.Offer returns for a lease it will not use.
var ErrLeaseRejected = errors.New("lease rejected")

// maxLeasesFile bounds the leases file read at start.
const maxLeasesFile = 4 << 20

// Leases keeps the newest lease the hub sent for each SIM of this agent, checked against the
// pinned hub keys, and persists them in a small file so a restart keeps them.
//
// Rules (Offer): the payload is decoded strictly; the lease must name this agent and the SIM of
// the topic it came on, and be signed by one of the pinned hub keys (anything else is forged).
// For one ICCID the highest sequence wins: a lower sequence is a replay and is rejected; the same
// sequence again with identical content is a harmless repeat (retained messages come again on
// every subscribe). A lease whose window has ended is never used; when its sequence is higher
// than the stored one it still replaces it, because that is how the hub ends a lease early.
// Current returns a SIM's lease only while its window is open.
//
// Leases is safe for concurrent use: the MQTT handler goroutine calls Offer, the pipeline's
// sealing goroutine calls Current; mu guards byICCID and the file.
type Leases struct {
	path    string
	agentID string
	hubKeys []wire.VerifyKey
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	byICCID map[string]*wire.Lease
}

// OpenLeases loads the leases file at path (missing is fine) and keeps only leases that still
// verify against hubKeys and name agentID (a rotated-out hub key drops its leases, logged).
func OpenLeases(path, agentID string, hubKeys []wire.VerifyKey, now func() time.Time, log *slog.Logger) (*Leases, error) {
	if len(hubKeys) == 0 {
		return nil, errors.New("leases: no pinned hub key (NESS_AGENT_HUB_KEY)")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Leases{path: path, agentID: agentID, hubKeys: hubKeys, now: now, log: log, byICCID: map[string]*wire.Lease{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leases: read %s: %w", path, err)
	}
	if len(data) > maxLeasesFile {
		return nil, fmt.Errorf("leases: %s: %d bytes exceeds the limit of %d", path, len(data), maxLeasesFile)
	}
	var f struct {
		Leases []json.RawMessage `json:"leases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("leases: %s: %w", path, err)
	}
	for i, raw := range f.Leases {
		ls, err := wire.DecodeLease(raw)
		if err == nil {
			err = l.check(ls, ls.ICCID)
		}
		if err != nil {
			log.Warn("stored lease dropped", "file", path, "index", i, "err", err)
			continue
		}
		if cur := l.byICCID[ls.ICCID]; cur == nil || cur.Seq < ls.Seq {
			l.byICCID[ls.ICCID] = ls
		}
	}
	return l, nil
}

// check verifies everything about a lease except its sequence and window.
func (l *Leases) check(ls *wire.Lease, iccid string) error {
	if ls.ICCID != iccid {
		return fmt.Errorf("lease for ICCID %s arrived on the topic of ICCID %s", ls.ICCID, iccid)
	}
	if ls.AgentID != l.agentID {
		return fmt.Errorf("lease %s#%d names agent %s, not this agent (%s)", ls.ICCID, ls.Seq, ls.AgentID, l.agentID)
	}
	return ls.VerifySignature(l.hubKeys)
}

// Offer considers a lease payload received for iccid (from the topic name). accepted says
// whether it replaced the stored lease; a repeat of the stored lease returns false, nil. Every
// rejection is logged and returned wrapping ErrLeaseRejected.
func (l *Leases) Offer(iccid string, payload []byte) (accepted bool, err error) {
	reject := func(err error) (bool, error) {
		l.log.Warn("lease rejected", "iccid", iccid, "err", err)
		return false, fmt.Errorf("%w: %w", ErrLeaseRejected, err)
	}
	ls, err := wire.DecodeLease(payload)
	if err != nil {
		return reject(err)
	}
	if err := l.check(ls, iccid); err != nil {
		return reject(err)
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.byICCID[iccid]
	switch {
	case cur != nil && ls.Seq < cur.Seq:
		return reject(fmt.Errorf("lease %s#%d is a replay: lease #%d is newer", iccid, ls.Seq, cur.Seq))
	case cur != nil && ls.Seq == cur.Seq:
		a, _ := ls.MarshalJSON()
		b, _ := cur.MarshalJSON()
		if bytes.Equal(a, b) {
			return false, nil
		}
		return reject(fmt.Errorf("lease %s#%d differs from the stored lease with the same sequence", iccid, ls.Seq))
	}
	if !now.Before(ls.ValidUntil) {
		if cur == nil || !cur.Active(now) {
			return reject(fmt.Errorf("lease %s#%d: %w at %s", iccid, ls.Seq, wire.ErrExpired, ls.ValidUntil.Format(time.RFC3339)))
		}
		// A newer lease that has already ended: the hub ended the current one early.
		l.log.Info("lease ended by the hub", "iccid", iccid, "seq", ls.Seq, "ended_seq", cur.Seq)
	}
	prev := cur
	l.byICCID[iccid] = ls
	if err := l.saveLocked(); err != nil {
		if prev == nil {
			delete(l.byICCID, iccid)
		} else {
			l.byICCID[iccid] = prev
		}
		return false, err
	}
	l.log.Info("lease accepted", "iccid", iccid, "seq", ls.Seq, "phone", ls.Phone,
		"valid_from", ls.ValidFrom, "valid_until", ls.ValidUntil, "active", ls.Active(now))
	return true, nil
}

// saveLocked writes every stored lease to the file atomically (mode 0600).
func (l *Leases) saveLocked() error {
	iccids := make([]string, 0, len(l.byICCID))
	for k := range l.byICCID {
		iccids = append(iccids, k)
	}
	sort.Strings(iccids)
	f := struct {
		Leases []*wire.Lease `json:"leases"`
	}{Leases: make([]*wire.Lease, 0, len(iccids))}
	for _, k := range iccids {
		f.Leases = append(f.Leases, l.byICCID[k])
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("leases: encode: %w", err)
	}
	if err := wire.WriteFileAtomic(l.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("leases: write %s: %w", l.path, err)
	}
	return nil
}

// Current returns the lease to seal an SMS on iccid under: the stored lease when its window is
// open now, else nil (seal to the provider).
func (l *Leases) Current(iccid string) *wire.Lease {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.byICCID[iccid]
	if ls == nil || !ls.Active(now) {
		return nil
	}
	c := *ls
	return &c
}

// Len returns the number of SIMs with a stored lease (active or not).
func (l *Leases) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byICCID)
}
