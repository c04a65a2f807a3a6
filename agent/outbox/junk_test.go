package outbox_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ness-network/ness-sms/agent/outbox"
)

func TestPutJunk(t *testing.T) {
	defer outbox.SetMaxJunk(3)()
	c := newClock()
	path := filepath.Join(t.TempDir(), outbox.FileName)
	o := openTest(t, path, c, outbox.Options{MaxCount: 1})
	// The outbox is full of real SMS: junk is still kept (the SIM must drain).
	if _, err := o.PutPart(part(c, 0, 1)); err != nil {
		t.Fatal(err)
	}
	key := func(s string) outbox.Key { return outbox.PartKey(iccid, []byte(s)) }
	long := strings.Repeat("Z", 5000)
	tests := []struct {
		name      string
		key       outbox.Key
		raw       string
		wantAdded bool
		wantErr   error
	}{
		{"first", key("a"), "garbage line", true, nil},
		{"same key again", key("a"), "garbage line", false, nil},
		{"empty raw", key("b"), "", true, nil},
		{"long raw is cut", key("c"), long, true, nil},
		{"over the limit", key("d"), "more", false, outbox.ErrJunkFull},
		{"zero key", outbox.Key{}, "x", false, outbox.ErrInvalid},
	}
	for _, tt := range tests {
		added, err := o.PutJunk(tt.key, []byte(tt.raw), "reason "+tt.name)
		if added != tt.wantAdded || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: PutJunk got (%v, %v), want (%v, %v)", tt.name, added, err, tt.wantAdded, tt.wantErr)
		}
	}
	// Durable: reopen and list.
	o.Close()
	o = openTest(t, path, c, outbox.Options{MaxCount: 1})
	q, err := o.Quarantine()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]outbox.Quarantined{}
	for _, e := range q {
		if e.Bucket != outbox.JunkBucket {
			t.Errorf("quarantine entry in bucket %q, want %q", e.Bucket, outbox.JunkBucket)
		}
		got[e.Reason[:strings.Index(e.Reason+" (", " (")]] = e
	}
	if len(q) != 3 {
		t.Fatalf("junk after reopen: got %d entries, want 3", len(q))
	}
	if e := got["reason first"]; string(e.Raw) != "garbage line" || !e.At.Equal(c.Now()) {
		t.Errorf("first: got raw %q at %v, want %q at %v", e.Raw, e.At, "garbage line", c.Now())
	}
	if e := got["reason long raw is cut"]; len(e.Raw) != 2048 || !strings.Contains(e.Reason, "cut from 5000") {
		t.Errorf("long: got %d bytes, reason %q; want 2048 and a note of the cut", len(e.Raw), e.Reason)
	}
	st, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Quarantined != 3 || st.Count != 1 {
		t.Errorf("stats: got quarantined %d, count %d; want 3 and 1 (junk is not counted against the limit)", st.Quarantined, st.Count)
	}
}
