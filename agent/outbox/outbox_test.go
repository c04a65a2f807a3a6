package outbox_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/outbox"
	bolt "go.etcd.io/bbolt"
)

// clock is a settable agent clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const iccid = "8944500000000000001"

func openTest(t *testing.T, path string, c *clock, opts outbox.Options) *outbox.Outbox {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), outbox.FileName)
	}
	opts.Now = c.Now
	o, err := outbox.Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// part returns the n-th test part, read on slot at the clock's time.
func part(c *clock, slot, n int) outbox.Part {
	pdu := []byte(fmt.Sprintf("\x07\x91pdu-%d-%d", slot, n))
	return outbox.Part{
		Key: outbox.PartKey(iccid, pdu), Slot: slot, ICCID: iccid,
		Storage: "SM", Index: n, PDU: pdu, Received: c.Now(),
	}
}

func mustPut(t *testing.T, o *outbox.Outbox, p outbox.Part) {
	t.Helper()
	added, err := o.PutPart(p)
	if err != nil || !added {
		t.Fatalf("PutPart(%s): got (%v, %v), want (true, nil)", p.Key, added, err)
	}
}

func mustStats(t *testing.T, o *outbox.Outbox) outbox.Stats {
	t.Helper()
	st, err := o.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

// counts is the per-state part of Stats.
type counts struct{ parts, assembled, sealed, published, acked int }

func countsOf(st outbox.Stats) counts {
	return counts{st.Parts, st.Assembled, st.Sealed, st.Published, st.Acknowledged}
}

func TestLifecycle(t *testing.T) {
	c := newClock()
	o := openTest(t, "", c, outbox.Options{})
	p1 := part(c, 3, 1)
	c.Advance(time.Second)
	p2 := part(c, 3, 2)
	mustPut(t, o, p2) // stored out of order: Parts sorts by received time
	mustPut(t, o, p1)

	parts, err := o.Parts()
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].Key != p1.Key || parts[1].Key != p2.Key {
		t.Fatalf("Parts: got %v, want [%s %s] oldest first", parts, p1.Key, p2.Key)
	}
	if !bytes.Equal(parts[0].PDU, p1.PDU) || parts[0].Slot != 3 || parts[0].Index != 1 || parts[0].Storage != "SM" ||
		!parts[0].Received.Equal(p1.Received) {
		t.Errorf("Parts[0]: got %+v, want %+v", parts[0], p1)
	}
	if got, want := countsOf(mustStats(t, o)), (counts{parts: 2}); got != want {
		t.Errorf("after PutPart: got %+v, want %+v", got, want)
	}

	const id = "00aa11bb"
	c.Advance(time.Second)
	created, err := o.Assemble(id, []outbox.Key{p1.Key, p2.Key}, []byte("meta"))
	if err != nil || !created {
		t.Fatalf("Assemble: got (%v, %v), want (true, nil)", created, err)
	}
	m, err := o.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if m.State != outbox.Assembled || len(m.Parts) != 2 || !bytes.Equal(m.Parts[1].PDU, p2.PDU) ||
		string(m.Meta) != "meta" || m.Slot != 3 || m.ICCID != iccid || !m.Assembled.Equal(c.Now()) {
		t.Errorf("after Assemble: got %+v", m)
	}
	if parts, _ := o.Parts(); len(parts) != 0 {
		t.Errorf("Parts after Assemble: got %d, want 0", len(parts))
	}

	steps := []struct {
		name  string
		do    func() error
		state outbox.State
		want  counts
	}{
		{"seal", func() error { return o.Seal(id, []byte("sealed-1")) }, outbox.Sealed, counts{sealed: 1}},
		{"publish", func() error { return o.MarkPublished(id, c.Now()) }, outbox.Published, counts{published: 1}},
		{"republish", func() error { return o.MarkPublished(id, c.Now().Add(time.Minute)) }, outbox.Published, counts{published: 1}},
		{"ack", func() error {
			acked, err := o.Ack(id)
			if err == nil && !acked {
				err = errors.New("Ack returned false for a published message")
			}
			return err
		}, outbox.Acknowledged, counts{acked: 1}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		m, err := o.Get(id)
		if err != nil {
			t.Fatalf("%s: Get: %v", s.name, err)
		}
		if m.State != s.state {
			t.Errorf("%s: got state %s, want %s", s.name, m.State, s.state)
		}
		if got := countsOf(mustStats(t, o)); got != s.want {
			t.Errorf("%s: got counts %+v, want %+v", s.name, got, s.want)
		}
	}
	m, _ = o.Get(id)
	if m.PublishAttempts != 2 || !m.LastPublish.Equal(c.Now().Add(time.Minute)) {
		t.Errorf("publish bookkeeping: got attempts %d last %v, want 2 at %v", m.PublishAttempts, m.LastPublish, c.Now().Add(time.Minute))
	}
	if m.Parts != nil || m.Sealed != nil || m.Meta != nil || !m.Acked.Equal(c.Now()) {
		t.Errorf("acknowledged message keeps payload or lacks ack time: %+v", m)
	}
	if st := mustStats(t, o); st.Count != 0 || st.Bytes != 0 {
		t.Errorf("after ack: got Count %d Bytes %d, want 0 0", st.Count, st.Bytes)
	}
}

// newMessage stores and assembles one single-part message and brings it to state s.
func newMessage(t *testing.T, o *outbox.Outbox, c *clock, n int, s outbox.State) string {
	t.Helper()
	p := part(c, n%32, n)
	mustPut(t, o, p)
	if s == outbox.Received {
		return ""
	}
	id := fmt.Sprintf("%064x", n+1)
	if _, err := o.Assemble(id, []outbox.Key{p.Key}, nil); err != nil {
		t.Fatal(err)
	}
	if s >= outbox.Sealed {
		if err := o.Seal(id, []byte("sealed")); err != nil {
			t.Fatal(err)
		}
	}
	if s >= outbox.Published {
		if err := o.MarkPublished(id, c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if s >= outbox.Acknowledged {
		if _, err := o.Ack(id); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func TestTransitions(t *testing.T) {
	c := newClock()
	o := openTest(t, "", c, outbox.Options{})
	const unknown = "ffff"
	tests := []struct {
		name    string
		from    outbox.State
		op      func(id string) error
		wantErr error
		want    outbox.State
	}{
		{"seal assembled", outbox.Assembled, func(id string) error { return o.Seal(id, []byte("x")) }, nil, outbox.Sealed},
		{"reseal sealed", outbox.Sealed, func(id string) error { return o.Seal(id, []byte("y")) }, nil, outbox.Sealed},
		{"seal published", outbox.Published, func(id string) error { return o.Seal(id, []byte("x")) }, outbox.ErrState, outbox.Published},
		{"seal acknowledged", outbox.Acknowledged, func(id string) error { return o.Seal(id, []byte("x")) }, outbox.ErrState, outbox.Acknowledged},
		{"seal empty payload", outbox.Assembled, func(id string) error { return o.Seal(id, nil) }, outbox.ErrInvalid, outbox.Assembled},
		{"publish assembled", outbox.Assembled, func(id string) error { return o.MarkPublished(id, c.Now()) }, outbox.ErrState, outbox.Assembled},
		{"publish sealed", outbox.Sealed, func(id string) error { return o.MarkPublished(id, c.Now()) }, nil, outbox.Published},
		{"publish acknowledged is a no-op", outbox.Acknowledged, func(id string) error { return o.MarkPublished(id, c.Now()) }, nil, outbox.Acknowledged},
		{"ack assembled", outbox.Assembled, func(id string) error { _, err := o.Ack(id); return err }, nil, outbox.Acknowledged},
		{"ack sealed (receipt before MarkPublished)", outbox.Sealed, func(id string) error { _, err := o.Ack(id); return err }, nil, outbox.Acknowledged},
		{"ack twice", outbox.Acknowledged, func(id string) error {
			if acked, err := o.Ack(id); err != nil || acked {
				return fmt.Errorf("second Ack: got (%v, %v), want (false, nil)", acked, err)
			}
			return nil
		}, nil, outbox.Acknowledged},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newMessage(t, o, c, i, tt.from)
			err := tt.op(id)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			m, err := o.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			if m.State != tt.want {
				t.Errorf("got state %s, want %s", m.State, tt.want)
			}
		})
	}

	t.Run("reseal replaces payload", func(t *testing.T) {
		id := newMessage(t, o, c, 100, outbox.Sealed)
		if err := o.Seal(id, []byte("second")); err != nil {
			t.Fatal(err)
		}
		if m, _ := o.Get(id); string(m.Sealed) != "second" {
			t.Errorf("got sealed %q, want %q", m.Sealed, "second")
		}
	})
	t.Run("unknown ids", func(t *testing.T) {
		if err := o.Seal(unknown, []byte("x")); !errors.Is(err, outbox.ErrNotFound) {
			t.Errorf("Seal(unknown): got %v, want ErrNotFound", err)
		}
		if err := o.MarkPublished(unknown, c.Now()); !errors.Is(err, outbox.ErrNotFound) {
			t.Errorf("MarkPublished(unknown): got %v, want ErrNotFound", err)
		}
		if acked, err := o.Ack(unknown); acked || err != nil {
			t.Errorf("Ack(unknown): got (%v, %v), want (false, nil)", acked, err)
		}
		if _, err := o.Get(unknown); !errors.Is(err, outbox.ErrNotFound) {
			t.Errorf("Get(unknown): got %v, want ErrNotFound", err)
		}
		for _, bad := range []string{"", "ABCD", "abc", "xyz0", strings.Repeat("a", 130)} {
			if _, err := o.Ack(bad); !errors.Is(err, outbox.ErrInvalid) {
				t.Errorf("Ack(%q): got %v, want ErrInvalid", bad, err)
			}
		}
	})
}

func TestPutPartIdempotent(t *testing.T) {
	c := newClock()
	o := openTest(t, "", c, outbox.Options{AckRetention: time.Hour})
	p := part(c, 0, 1)
	mustPut(t, o, p)
	again := p
	again.Index = 7 // same PDU re-read at another index after a crash: same key
	if added, err := o.PutPart(again); added || err != nil {
		t.Fatalf("PutPart of a stored part: got (%v, %v), want (false, nil)", added, err)
	}
	const id = "0123"
	for _, s := range []string{"assembled", "acknowledged"} {
		switch s {
		case "assembled":
			if _, err := o.Assemble(id, []outbox.Key{p.Key}, nil); err != nil {
				t.Fatal(err)
			}
		case "acknowledged":
			if _, err := o.Ack(id); err != nil {
				t.Fatal(err)
			}
		}
		if added, err := o.PutPart(p); added || err != nil {
			t.Errorf("PutPart of a part already %s: got (%v, %v), want (false, nil)", s, added, err)
		}
	}
	if st := mustStats(t, o); st.Parts != 0 {
		t.Errorf("got %d parts, want 0", st.Parts)
	}

	// After the retention the tombstone and its part keys are gone.
	c.Advance(59 * time.Minute)
	if n, err := o.Prune(); n != 0 || err != nil {
		t.Errorf("Prune before retention: got (%d, %v), want (0, nil)", n, err)
	}
	c.Advance(time.Minute)
	if n, err := o.Prune(); n != 1 || err != nil {
		t.Errorf("Prune after retention: got (%d, %v), want (1, nil)", n, err)
	}
	if _, err := o.Get(id); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("Get after prune: got %v, want ErrNotFound", err)
	}
	if added, err := o.PutPart(p); !added || err != nil {
		t.Errorf("PutPart after prune: got (%v, %v), want (true, nil)", added, err)
	}
}

func TestAssemble(t *testing.T) {
	c := newClock()
	o := openTest(t, "", c, outbox.Options{})
	a, b := part(c, 1, 1), part(c, 1, 2)
	other := part(c, 2, 3)
	other.ICCID = "8944500000000000099"
	other.Key = outbox.PartKey(other.ICCID, other.PDU)
	for _, p := range []outbox.Part{a, b, other} {
		mustPut(t, o, p)
	}
	missing := outbox.PartKey(iccid, []byte("never stored"))
	tests := []struct {
		name    string
		id      string
		keys    []outbox.Key
		wantErr error
	}{
		{"missing part", "aa01", []outbox.Key{a.Key, missing}, outbox.ErrNotFound},
		{"parts from two SIMs", "aa02", []outbox.Key{a.Key, other.Key}, outbox.ErrInvalid},
		{"no parts", "aa03", nil, outbox.ErrInvalid},
		{"part twice", "aa04", []outbox.Key{a.Key, a.Key}, outbox.ErrInvalid},
		{"bad id", "AA05", []outbox.Key{a.Key}, outbox.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created, err := o.Assemble(tt.id, tt.keys, nil)
			if created || !errors.Is(err, tt.wantErr) {
				t.Errorf("Assemble(%s): got (%v, %v), want (false, %v)", tt.id, created, err, tt.wantErr)
			}
			if st := mustStats(t, o); st.Parts != 3 || st.Assembled != 0 {
				t.Errorf("after failed Assemble: got %d parts %d messages, want 3 and 0", st.Parts, st.Assembled)
			}
		})
	}
	t.Run("idempotent by id", func(t *testing.T) {
		if created, err := o.Assemble("aa10", []outbox.Key{a.Key, b.Key}, nil); !created || err != nil {
			t.Fatalf("first Assemble: got (%v, %v), want (true, nil)", created, err)
		}
		if created, err := o.Assemble("aa10", []outbox.Key{a.Key, b.Key}, nil); created || err != nil {
			t.Fatalf("second Assemble: got (%v, %v), want (false, nil)", created, err)
		}
		if st := mustStats(t, o); st.Parts != 1 || st.Assembled != 1 || st.Count != 2 {
			t.Errorf("got %d parts %d assembled count %d, want 1 1 2", st.Parts, st.Assembled, st.Count)
		}
	})
}

func TestRestartResumes(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), outbox.FileName)
	o := openTest(t, path, c, outbox.Options{})
	ids := map[outbox.State]string{}
	for i, s := range []outbox.State{outbox.Received, outbox.Assembled, outbox.Sealed, outbox.Published, outbox.Acknowledged} {
		ids[s] = newMessage(t, o, c, i, s)
		c.Advance(time.Second)
	}
	before := mustStats(t, o)
	var msgs []outbox.Message
	for s := outbox.Assembled; s <= outbox.Acknowledged; s++ {
		m, err := o.Get(ids[s])
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}

	o = openTest(t, path, c, outbox.Options{})
	after := mustStats(t, o)
	if countsOf(after) != countsOf(before) || after.Count != before.Count || after.Bytes != before.Bytes ||
		!after.Oldest.Equal(before.Oldest) {
		t.Errorf("stats after reopen: got %+v, want %+v", after, before)
	}
	if want := (counts{1, 1, 1, 1, 1}); countsOf(after) != want {
		t.Errorf("got counts %+v, want %+v", countsOf(after), want)
	}
	for _, want := range msgs {
		got, err := o.Get(want.ID)
		if err != nil {
			t.Fatalf("Get(%s) after reopen: %v", want.ID, err)
		}
		if got.State != want.State || len(got.Parts) != len(want.Parts) || !bytes.Equal(got.Sealed, want.Sealed) ||
			got.PublishAttempts != want.PublishAttempts || !got.LastPublish.Equal(want.LastPublish) {
			t.Errorf("Get(%s) after reopen: got %+v, want %+v", want.ID, got, want)
		}
	}
	due, err := o.DuePublish(c.Now().Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due[0].ID != ids[outbox.Sealed] || due[1].ID != ids[outbox.Published] {
		t.Errorf("DuePublish after reopen: got %d messages, want the sealed and the published one", len(due))
	}
	if parts, _ := o.Parts(); len(parts) != 1 {
		t.Errorf("Parts after reopen: got %d, want 1", len(parts))
	}
}

func TestDuePublish(t *testing.T) {
	c := newClock()
	o := openTest(t, "", c, outbox.Options{})
	newMessage(t, o, c, 1, outbox.Assembled)
	sealed := newMessage(t, o, c, 2, outbox.Sealed)
	published := newMessage(t, o, c, 3, outbox.Published) // last publish at c.Now()
	newMessage(t, o, c, 4, outbox.Acknowledged)
	const timeout = 30 * time.Second
	tests := []struct {
		name string
		now  time.Time
		want []string
	}{
		{"just published", c.Now(), []string{sealed}},
		{"before timeout", c.Now().Add(timeout - time.Nanosecond), []string{sealed}},
		{"at timeout", c.Now().Add(timeout), []string{sealed, published}},
		{"clock set back", c.Now().Add(-time.Hour), []string{sealed, published}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due, err := o.DuePublish(tt.now, timeout)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range due {
				got = append(got, m.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("DuePublish(%v): got %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

func TestBoundedSize(t *testing.T) {
	c := newClock()
	tests := []struct {
		name string
		opts outbox.Options
		fits int
	}{
		{"count", outbox.Options{MaxCount: 3}, 3},
		// Each test part record is 48 bytes: 4 fit under 200.
		{"bytes", outbox.Options{MaxBytes: 200, MaxCount: -1}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := openTest(t, "", c, tt.opts)
			for i := range tt.fits {
				mustPut(t, o, part(c, 0, i))
			}
			added, err := o.PutPart(part(c, 0, tt.fits))
			if added || !errors.Is(err, outbox.ErrFull) {
				t.Fatalf("PutPart over the limit: got (%v, %v), want (false, ErrFull)", added, err)
			}
			if st := mustStats(t, o); !st.Full || st.Parts != tt.fits {
				t.Errorf("got Full %v with %d parts, want true with %d", st.Full, st.Parts, tt.fits)
			}
			// A part already stored is still recognised when full.
			if added, err := o.PutPart(part(c, 0, 0)); added || err != nil {
				t.Errorf("PutPart of a stored part when full: got (%v, %v), want (false, nil)", added, err)
			}
			// Draining makes room: acknowledge one message made of two parts.
			id := "beef"
			if _, err := o.Assemble(id, []outbox.Key{part(c, 0, 0).Key, part(c, 0, 1).Key}, nil); err != nil {
				t.Fatal(err)
			}
			if err := o.Seal(id, []byte("s")); err != nil {
				t.Fatal(err)
			}
			if _, err := o.Ack(id); err != nil {
				t.Fatal(err)
			}
			mustPut(t, o, part(c, 0, tt.fits))
			if st := mustStats(t, o); st.Count != int64(tt.fits-1) {
				t.Errorf("after drain: got Count %d, want %d", st.Count, tt.fits-1)
			}
		})
	}
}

// TestCorruptQuarantine writes garbage straight into the bbolt buckets and checks that the
// outbox opens, moves exactly the garbage to quarantine, reports it and keeps the rest.
func TestCorruptQuarantine(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), outbox.FileName)
	o := openTest(t, path, c, outbox.Options{})
	good := part(c, 0, 1)
	mustPut(t, o, good)
	sealed := newMessage(t, o, c, 2, outbox.Sealed)
	o.Close()

	key32 := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	garbage := []struct{ bucket, key, value string }{
		{"parts", string(key32(1)), ""},
		{"parts", string(key32(2)), "\x02Pnewer version"},
		{"parts", string(key32(3)), "\x01P\x00"},
		{"parts", "short key", "\x01P"},
		{"messages", "abcd", "\x01M\x07garbage"},
		{"messages", "not hex", "\x01M\x01"},
		{"seen", "x", "y"},
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, g := range garbage {
			if err := tx.Bucket([]byte(g.bucket)).Put([]byte(g.key), []byte(g.value)); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	var logBuf bytes.Buffer
	o = openTest(t, path, c, outbox.Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	st := mustStats(t, o)
	if st.Quarantined != len(garbage) || st.Parts != 1 || st.Sealed != 1 || st.Count != 2 {
		t.Errorf("stats: got %+v, want %d quarantined, 1 part, 1 sealed, Count 2", st, len(garbage))
	}
	if got := strings.Count(logBuf.String(), "moved to quarantine"); got != len(garbage) {
		t.Errorf("log: got %d corrupt record lines, want %d:\n%s", got, len(garbage), logBuf.String())
	}
	q, err := o.Quarantine()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, r := range q {
		found[r.Bucket+"/"+string(r.Key)+"="+string(r.Raw)] = r.Reason != "" && r.At.Equal(c.Now())
	}
	for _, g := range garbage {
		if !found[g.bucket+"/"+g.key+"="+g.value] {
			t.Errorf("quarantine: %s/%q with its raw bytes, reason and time not listed", g.bucket, g.key)
		}
	}
	if parts, err := o.Parts(); err != nil || len(parts) != 1 || parts[0].Key != good.Key {
		t.Errorf("Parts: got (%v, %v), want the good part", parts, err)
	}
	if err := o.MarkPublished(sealed, c.Now()); err != nil {
		t.Errorf("good message blocked by corrupt neighbours: %v", err)
	}
}

func TestConcurrentPutPart(t *testing.T) {
	c := newClock()
	o := openTest(t, "", c, outbox.Options{})
	const slots, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, slots*each)
	for s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := part(c, s, i)
				if added, err := o.PutPart(p); err != nil || !added {
					errs <- fmt.Errorf("slot %d part %d: got (%v, %v)", s, i, added, err)
				}
				// Half of them are re-read, as after a failed AT+CMGD.
				if i%2 == 0 {
					if added, err := o.PutPart(p); err != nil || added {
						errs <- fmt.Errorf("slot %d part %d again: got (%v, %v)", s, i, added, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := mustStats(t, o); st.Parts != slots*each || st.Count != slots*each {
		t.Errorf("got %d parts, Count %d, want %d", st.Parts, st.Count, slots*each)
	}
}

func TestPendingPagesAndAllowsWrites(t *testing.T) {
	c := newClock()
	o := openTest(t, "", c, outbox.Options{})
	defer outbox.SetPageSize(7)()
	const n = 30 // several pages, the last one partial
	for i := range n {
		newMessage(t, o, c, i, outbox.Sealed)
	}
	newMessage(t, o, c, n, outbox.Assembled)
	seen := 0
	for m, err := range o.Pending(outbox.Sealed) {
		if err != nil {
			t.Fatal(err)
		}
		if m.State != outbox.Sealed {
			t.Errorf("Pending(sealed) yielded %s in state %s", m.ID, m.State)
		}
		if err := o.MarkPublished(m.ID, c.Now()); err != nil { // a write inside the loop
			t.Fatal(err)
		}
		seen++
	}
	if seen != n {
		t.Errorf("Pending(sealed): got %d messages, want %d", seen, n)
	}
	if st := mustStats(t, o); st.Published != n || st.Assembled != 1 {
		t.Errorf("got %d published %d assembled, want %d and 1", st.Published, st.Assembled, n)
	}
	for _, err := range o.Pending(outbox.Received) {
		if !errors.Is(err, outbox.ErrInvalid) {
			t.Errorf("Pending(received): got %v, want ErrInvalid", err)
		}
	}
}

func TestStatsOldest(t *testing.T) {
	c := newClock()
	o := openTest(t, "", c, outbox.Options{})
	if st := mustStats(t, o); !st.Oldest.IsZero() || st.OldestAge != 0 || st.Full {
		t.Errorf("empty outbox: got %+v", st)
	}
	start := c.Now()
	newMessage(t, o, c, 1, outbox.Published)
	c.Advance(time.Minute)
	newMessage(t, o, c, 2, outbox.Received)
	c.Advance(time.Minute)
	st := mustStats(t, o)
	if !st.Oldest.Equal(start) || st.OldestAge != 2*time.Minute {
		t.Errorf("got oldest %v age %v, want %v age 2m", st.Oldest, st.OldestAge, start)
	}
}

func TestOpenErrors(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), outbox.FileName)
	openTest(t, path, c, outbox.Options{})
	if _, err := outbox.Open(path, outbox.Options{LockTimeout: 50 * time.Millisecond}); err == nil {
		t.Errorf("second Open of a file in use: got nil error, want a timeout")
	}

	other := filepath.Join(t.TempDir(), outbox.FileName)
	o := openTest(t, other, c, outbox.Options{})
	o.Close()
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte{9}) })
	db.Close()
	if _, err := outbox.Open(other, outbox.Options{}); err == nil || !strings.Contains(err.Error(), "unknown outbox format") {
		t.Errorf("Open of a newer format: got %v, want unknown outbox format", err)
	}
}

func TestPutPartValidates(t *testing.T) {
	c := newClock()
	o := openTest(t, "", c, outbox.Options{})
	tests := []struct {
		name string
		edit func(p *outbox.Part)
	}{
		{"empty PDU", func(p *outbox.Part) { p.PDU = nil }},
		{"long PDU", func(p *outbox.Part) { p.PDU = make([]byte, 600) }},
		{"long ICCID", func(p *outbox.Part) { p.ICCID = strings.Repeat("8", 33) }},
		{"negative slot", func(p *outbox.Part) { p.Slot = -1 }},
		{"zero key", func(p *outbox.Part) { p.Key = outbox.Key{} }},
		{"storage with space", func(p *outbox.Part) { p.Storage = "S M" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := part(c, 0, 1)
			tt.edit(&p)
			if added, err := o.PutPart(p); added || !errors.Is(err, outbox.ErrInvalid) {
				t.Errorf("PutPart: got (%v, %v), want (false, ErrInvalid)", added, err)
			}
		})
	}
}
