package pdu

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/warthog618/sms/encoding/tpdu"
)

// ErrDuplicate is returned by Reassembler.Add for a part whose raw bytes it already holds or
// delivered within the last timeout: the same PDU read twice. The caller may drop its record.
var ErrDuplicate = errors.New("pdu: duplicate part")

// Part is one decoded PDU handed to a Reassembler.
type Part struct {
	Message *Message
	// Raw is the PDU exactly as the modem returned it.
	Raw []byte
	// Key is the caller's handle for this part, e.g. its outbox record key.
	Key string
}

// Assembled is a message joined from its parts (or a single-part message).
type Assembled struct {
	// SIM is the caller's SIM or slot key the parts were added under.
	SIM        string
	Originator Address
	// Time is the SCTS of the lowest-numbered part present.
	Time     time.Time
	Encoding Encoding
	Kind     Kind
	// Text is the joined text of the parts present, in part order.
	Text string
	// Data is the joined user data of 8-bit parts.
	Data []byte
	// Ref, Ref16 and Total describe the concatenation; Total is 1 for a single-part message.
	Ref   int
	Ref16 bool
	Total int
	// Parts are the parts present, in part order, with their raw bytes and keys.
	Parts []Part
	// Incomplete is set when the timeout delivered the message with parts missing.
	Incomplete bool
	// Missing lists the part numbers that never arrived.
	Missing []int
	// Duplicates are other PDUs that claimed a part number already held (the first copy won).
	Duplicates []Part
}

// Junk reports whether the message is not a text for the renter (see Message.Junk).
func (a *Assembled) Junk() bool { return a.Kind != KindText }

type setKey struct {
	sim, originator string
	ref, total      int
	ref16           bool
}

type pendingSet struct {
	key        setKey
	first      time.Time
	seq        uint64 // arrival order, to make Expire's order stable
	parts      map[int]Part
	duplicates []Part
}

// Reassembler joins the parts of concatenated messages; see the package documentation for the
// policy. It is safe for concurrent use.
type Reassembler struct {
	timeout time.Duration
	now     func() time.Time

	mu     sync.Mutex
	seq    uint64
	sets   map[setKey]*pendingSet
	recent map[[32]byte]time.Time // digests of delivered raw parts → when they are forgotten
}

// NewReassembler returns a Reassembler that delivers incomplete sets timeout after their first
// part arrived, reading the time from now.
func NewReassembler(timeout time.Duration, now func() time.Time) *Reassembler {
	return &Reassembler{timeout: timeout, now: now, sets: map[setKey]*pendingSet{}, recent: map[[32]byte]time.Time{}}
}

// Add adds a part received on the SIM sim. It returns the assembled message when p completes one
// (at once for a single-part message), nil while parts are missing, and ErrDuplicate for a PDU
// already held or recently delivered.
func (r *Reassembler) Add(sim string, p Part) (*Assembled, error) {
	if p.Message == nil {
		return nil, fmt.Errorf("pdu: reassemble: part %q has no decoded message", p.Key)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	digest := sha256.Sum256(p.Raw)
	if until, ok := r.recent[digest]; ok && now.Before(until) {
		return nil, fmt.Errorf("%w: %q was delivered already", ErrDuplicate, p.Key)
	}
	c := p.Message.Concat
	if c == nil || c.Total == 1 {
		a := r.assemble(sim, []Part{p}, nil)
		r.remember(a, now)
		return a, nil
	}
	if c.Part < 1 || c.Part > c.Total {
		return nil, fmt.Errorf("pdu: reassemble: part %d of %d is out of range", c.Part, c.Total)
	}
	k := setKey{sim: sim, originator: p.Message.Originator.Number, ref: c.Ref, total: c.Total, ref16: c.Ref16}
	s := r.sets[k]
	if s == nil {
		r.seq++
		s = &pendingSet{key: k, first: now, seq: r.seq, parts: map[int]Part{}}
		r.sets[k] = s
	}
	if held, ok := s.parts[c.Part]; ok {
		if bytes.Equal(held.Raw, p.Raw) {
			return nil, fmt.Errorf("%w: %q repeats part %d of %d", ErrDuplicate, p.Key, c.Part, c.Total)
		}
		s.duplicates = append(s.duplicates, p)
		return nil, nil
	}
	s.parts[c.Part] = p
	if len(s.parts) < c.Total {
		return nil, nil
	}
	delete(r.sets, k)
	a := r.assembleSet(s)
	r.remember(a, now)
	return a, nil
}

// Expire delivers, marked incomplete, every set whose first part arrived at least the timeout
// ago, oldest first, and forgets delivered parts older than the timeout.
func (r *Reassembler) Expire() []*Assembled {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for d, until := range r.recent {
		if !now.Before(until) {
			delete(r.recent, d)
		}
	}
	var due []*pendingSet
	for k, s := range r.sets {
		if !now.Before(s.first.Add(r.timeout)) {
			due = append(due, s)
			delete(r.sets, k)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].seq < due[j].seq })
	out := make([]*Assembled, 0, len(due))
	for _, s := range due {
		a := r.assembleSet(s)
		r.remember(a, now)
		out = append(out, a)
	}
	return out
}

// Pending returns the number of incomplete sets held.
func (r *Reassembler) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sets)
}

// NextDeadline returns when the oldest pending set falls due, and false when none is pending.
func (r *Reassembler) NextDeadline() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var next time.Time
	for _, s := range r.sets {
		if d := s.first.Add(r.timeout); next.IsZero() || d.Before(next) {
			next = d
		}
	}
	return next, !next.IsZero()
}

func (r *Reassembler) remember(a *Assembled, now time.Time) {
	for _, p := range a.Parts {
		r.recent[sha256.Sum256(p.Raw)] = now.Add(r.timeout)
	}
}

func (r *Reassembler) assembleSet(s *pendingSet) *Assembled {
	nums := make([]int, 0, len(s.parts))
	for n := range s.parts {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	parts := make([]Part, len(nums))
	for i, n := range nums {
		parts[i] = s.parts[n]
	}
	var missing []int
	for n := 1; n <= s.key.total; n++ {
		if _, ok := s.parts[n]; !ok {
			missing = append(missing, n)
		}
	}
	a := r.assemble(s.key.sim, parts, missing)
	a.Duplicates = s.duplicates
	return a
}

// assemble joins parts (sorted by part number, at least one).
func (r *Reassembler) assemble(sim string, parts []Part, missing []int) *Assembled {
	m0 := parts[0].Message
	a := &Assembled{SIM: sim, Originator: m0.Originator, Time: m0.Time, Encoding: m0.Encoding, Kind: m0.Kind,
		Total: 1, Parts: parts, Missing: missing, Incomplete: len(missing) > 0}
	if c := m0.Concat; c != nil {
		a.Ref, a.Ref16, a.Total = c.Ref, c.Ref16, c.Total
	}
	msgs := make([]*Message, len(parts))
	for i, p := range parts {
		msgs[i] = p.Message
	}
	a.Text, a.Data = joinText(msgs)
	return a
}

// joinText joins the parts' texts. Runs of consecutive parts in one encoding are joined before
// decoding, so an escape sequence or a surrogate pair split across two parts survives.
func joinText(msgs []*Message) (string, []byte) {
	var text []byte
	var data []byte
	for i := 0; i < len(msgs); {
		j := i + 1
		for j < len(msgs) && consecutive(msgs[j-1], msgs[j]) {
			j++
		}
		run := msgs[i:j]
		var units []byte
		for _, m := range run {
			units = append(units, m.units...)
		}
		m := run[0]
		switch {
		case m.Compressed:
			data = append(data, units...)
		case m.Encoding == EncodingGSM7:
			t, err := tpdu.DecodeUserData(units, m.udh, tpdu.Alpha7Bit, tpdu.WithAllCharsets)
			if err != nil {
				for _, m := range run {
					t = append(t, m.Text...)
				}
			}
			text = append(text, t...)
		case m.Encoding == EncodingUCS2:
			text = append(text, decodeUCS2(units)...)
		default:
			data = append(data, units...)
			text = append(text, string(units)...)
		}
		i = j
	}
	if len(data) > 0 && !printable(text) {
		text = nil
	}
	return string(text), data
}

func consecutive(a, b *Message) bool {
	return a.Encoding == b.Encoding && a.Compressed == b.Compressed &&
		a.Concat != nil && b.Concat != nil && b.Concat.Part == a.Concat.Part+1
}
