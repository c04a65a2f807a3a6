package chainjob_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/chainjob"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/proof"
)

// receipts is an in-memory chainjob.Receipts.
type receipts struct {
	mu sync.Mutex
	rs map[string]hub.Receipt
}

func (r *receipts) put(id string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rs == nil {
		r.rs = map[string]hub.Receipt{}
	}
	r.rs[id] = hub.Receipt{MessageID: id, Signed: []byte("signed receipt of " + id), CreatedAt: at}
}

func (r *receipts) ListReceipts(_ context.Context, from, until time.Time) ([]hub.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hub.Receipt
	for _, x := range r.rs {
		if !x.CreatedAt.Before(from) && x.CreatedAt.Before(until) {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].MessageID < out[j].MessageID
	})
	return out, nil
}

func (r *receipts) GetReceipt(_ context.Context, id string) (hub.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	x, ok := r.rs[id]
	if !ok {
		return hub.Receipt{}, fmt.Errorf("receipt %s: %w", id, hub.ErrNotFound)
	}
	return x, nil
}

var day = time.Date(2026, 11, 13, 0, 0, 0, 0, time.UTC)

type env struct {
	job   *chainjob.Job
	store *receipts
	node  *emulator.Node
	c     *emercoin.Client
	now   time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{store: &receipts{}, now: day.Add(36 * time.Hour)}
	node, err := emulator.New(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	url, err := node.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	e.node = node
	e.c, _ = emercoin.New(emercoin.Config{URL: url})
	e.job = &chainjob.Job{Store: e.store, Chain: e.c, HubID: "hub1", Dir: t.TempDir(), Now: func() time.Time { return e.now }}
	return e
}

func TestAnchorAndProve(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for i := 0; i < 7; i++ {
		e.store.put(fmt.Sprintf("m%d", i), day.Add(time.Duration(i)*time.Hour))
	}
	e.store.put("yesterday", day.Add(-time.Second))
	e.store.put("tomorrow", day.Add(24*time.Hour))

	if _, err := e.job.Prove(ctx, "m1"); !errors.Is(err, chainjob.ErrNotAnchored) {
		t.Fatalf("Prove before anchoring: got %v, want ErrNotAnchored", err)
	}
	d, err := e.job.Anchor(ctx, day.Add(5*time.Hour)) // any instant of the day
	if err != nil {
		t.Fatal(err)
	}
	if d.Day != "20261113" || d.Name != "ness:proofs:sms:hub1:20261113" || len(d.MessageIDs) != 7 || d.TxID == "" {
		t.Fatalf("Anchor: got %+v", d)
	}
	e.node.Mine(1)
	again, err := e.job.Anchor(ctx, day)
	if err != nil || again.TxID != d.TxID {
		t.Fatalf("second Anchor: %+v, %v; want the stored day", again, err)
	}
	for i := 0; i < 7; i++ {
		in, err := e.job.Prove(ctx, fmt.Sprintf("m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if in.Proof.Index != int64(i) {
			t.Errorf("m%d: index %d, want %d (stored-time order)", i, in.Proof.Index, i)
		}
		if _, err := proof.VerifyReceipt(ctx, e.c, "hub1", day, in.Receipt, in.Proof); err != nil {
			t.Errorf("m%d: %v", i, err)
		}
		b, _ := json.Marshal(in)
		if back, err := chainjob.DecodeInclusion(b); err != nil || back.MessageID != in.MessageID {
			t.Errorf("DecodeInclusion of served proof: %v", err)
		}
	}
	if _, err := e.job.Prove(ctx, "tomorrow"); !errors.Is(err, chainjob.ErrNotAnchored) {
		t.Errorf("Prove(tomorrow): got %v, want ErrNotAnchored", err)
	}
	if _, err := e.job.Prove(ctx, "nope"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("Prove(unknown): got %v, want hub.ErrNotFound", err)
	}
}

// TestAnchorAfterCrash: the day file is lost after the name was written. The same receipts
// give the same root, so the job adopts the chain's record; other receipts are an error.
func TestAnchorAfterCrash(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.store.put("a", day.Add(time.Hour))
	e.store.put("b", day.Add(2*time.Hour))
	d, err := e.job.Anchor(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	e.node.Mine(1)
	path := e.job.Dir + "/proofs-20261113.json"
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	got, err := e.job.Anchor(ctx, day)
	if err != nil || got.TxID != d.TxID || got.MerkleRoot != d.MerkleRoot {
		t.Fatalf("re-anchor after crash: %+v, %v; want txid %s", got, err, d.TxID)
	}
	os.Remove(path)
	e.store.put("c", day.Add(3*time.Hour))
	if _, err := e.job.Anchor(ctx, day); err == nil || !strings.Contains(err.Error(), "another root") {
		t.Fatalf("receipts changed after anchoring: got %v, want an 'another root' error", err)
	}
}

func TestAnchorRules(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.now = day.Add(23 * time.Hour)
	if _, err := e.job.Anchor(ctx, day); err == nil {
		t.Fatal("anchored a day that has not ended")
	}
	e.now = day.Add(48 * time.Hour)
	d, err := e.job.Anchor(ctx, day)
	if err != nil || d.TxID != "" || len(d.MessageIDs) != 0 {
		t.Fatalf("empty day: %+v, %v; want stored, not anchored", d, err)
	}
	if ops, _ := e.c.NameMempool(ctx); len(ops) != 0 {
		t.Fatalf("empty day wrote %d name operations", len(ops))
	}
}

// TestTick: each finished day of the backfill window is anchored once, oldest first, only
// after the grace period; a later tick writes nothing new.
func TestTick(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.job.Backfill = 3
	for k := 0; k < 3; k++ {
		e.store.put(fmt.Sprintf("d%d", k), day.AddDate(0, 0, k).Add(time.Hour))
	}
	e.now = day.AddDate(0, 0, 3).Add(time.Minute) // 00:01 on day+3: grace not over for day+2
	if err := e.job.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	ops, _ := e.c.NameMempool(ctx)
	if len(ops) != 2 || ops[0].Name != "ness:proofs:sms:hub1:20261113" || ops[1].Name != "ness:proofs:sms:hub1:20261114" {
		t.Fatalf("first tick anchored %+v, want 13th and 14th", ops)
	}
	e.node.Mine(1)
	e.now = day.AddDate(0, 0, 3).Add(10 * time.Minute)
	if err := e.job.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if ops, _ = e.c.NameMempool(ctx); len(ops) != 1 || ops[0].Name != "ness:proofs:sms:hub1:20261115" {
		t.Fatalf("second tick anchored %+v, want only the 15th", ops)
	}
}

func TestDecodeInclusion(t *testing.T) {
	good := `{"hub_id":"hub1","day":"20261113","name":"ness:proofs:sms:hub1:20261113","message_id":"m","receipt":"cg==","proof":{"index":0,"count":1,"path":[]}}`
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"good", good, true},
		{"no name", strings.Replace(good, `"name":"ness:proofs:sms:hub1:20261113",`, "", 1), true},
		{"name of another hub", strings.Replace(good, `sms:hub1:2026`, `sms:hub2:2026`, 1), false},
		{"bad day", strings.Replace(good, `"day":"20261113"`, `"day":"2026-11-13"`, 1), false},
		{"no receipt", strings.Replace(good, `"receipt":"cg==",`, "", 1), false},
		{"index past count", strings.Replace(good, `"index":0`, `"index":1`, 1), false},
		{"unknown key", strings.Replace(good, `{"hub_id"`, `{"x":1,"hub_id"`, 1), false},
		{"trailing", good + "{}", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chainjob.DecodeInclusion([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeInclusion(%s): %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, chainjob.ErrMalformedInclusion) {
				t.Fatalf("error %v is not ErrMalformedInclusion", err)
			}
		})
	}
}

func FuzzDecodeInclusion(f *testing.F) {
	f.Add([]byte(`{"hub_id":"hub1","day":"20261113","message_id":"m","receipt":"cg==","proof":{"index":0,"count":1,"path":[]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := chainjob.DecodeInclusion(b)
		if err != nil {
			return
		}
		out, _ := json.Marshal(in)
		if _, err := chainjob.DecodeInclusion(out); err != nil {
			t.Fatalf("accepted %q but not its re-encoding %s: %v", b, out, err)
		}
	})
}
