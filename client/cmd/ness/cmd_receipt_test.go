package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/chainjob"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/proof"
)

// TestEveryDeliveredMessageVerifies is issue 8's acceptance for proofs: SMS go through a real
// hub (embedded broker, SQLite, ingest), the daily job anchors the day on the emulator over
// loopback JSON-RPC, and every message's inclusion proof verifies with proof.VerifyReceipt and
// with `ness verify-receipt --rpc`; a tampered receipt and an unmined anchor do not.
func TestEveryDeliveredMessageVerifies(t *testing.T) {
	ctx := context.Background()
	const n = 13 // not a power of two: uneven subtrees
	// The hub's clock stands still at noon of today (UTC), so no run straddles midnight.
	day := time.Now().UTC().Truncate(24 * time.Hour)
	h := hubtest.Start(t, hubtest.Options{Now: func() time.Time { return day.Add(12 * time.Hour) }})
	a := h.Enroll(t)
	a.Connect(t, h.URL)
	var ids []string
	for i := 0; i < n; i++ {
		m, payload := a.NewSMS(t, hubtest.SMS{ICCID: "8949000000000000011", Text: fmt.Sprintf("code %d", i)})
		a.Publish(t, payload)
		ids = append(ids, m.ID)
	}
	a.WaitReceipts(t, n, 20*time.Second)

	node, err := emulator.New(emulator.Config{Path: filepath.Join(t.TempDir(), "emc-chain.json")})
	if err != nil {
		t.Fatal(err)
	}
	url, err := node.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	c, _ := emercoin.New(emercoin.Config{URL: url})
	job := &chainjob.Job{Store: h.Store, Chain: c, HubID: "hub-test", Dir: t.TempDir(),
		Now: func() time.Time { return day.Add(25 * time.Hour) }}
	d, err := job.Anchor(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.MessageIDs) != n {
		t.Fatalf("anchored %d receipts, want %d", len(d.MessageIDs), n)
	}

	first, err := job.Prove(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := verifyReceipt(t, url, first); code != 1 || !strings.Contains(stderr, "name not found") && !strings.Contains(stderr, "failed to read from name DB") {
		t.Fatalf("before the anchor is mined: exit %d (%s), want 1 and name not found", code, stderr)
	}
	node.Mine(1)

	for _, id := range ids {
		in, err := job.Prove(ctx, id)
		if err != nil {
			t.Fatalf("Prove(%s): %v", id, err)
		}
		if _, err := proof.VerifyReceipt(ctx, c, in.HubID, day, in.Receipt, in.Proof); err != nil {
			t.Errorf("proof.VerifyReceipt(%s): %v", id, err)
		}
		code, stdout, stderr := verifyReceipt(t, url, in)
		if code != 0 {
			t.Errorf("ness verify-receipt %s: exit %d: %s", id, code, stderr)
			continue
		}
		var out verifyReceiptJSON
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || !out.OK || out.MessageID != id || out.Count != n || out.MerkleRoot != d.MerkleRoot {
			t.Errorf("ness verify-receipt %s: printed %s (%v)", id, stdout, err)
		}
	}

	bad := first
	bad.Receipt = append(bytes.Clone(first.Receipt), ' ')
	if code, _, stderr := verifyReceipt(t, url, bad); code != 1 || !strings.Contains(stderr, "not in the anchored tree") {
		t.Errorf("tampered receipt: exit %d (%s), want 1", code, stderr)
	}
	other := first
	other.Proof.Index = (first.Proof.Index + 1) % n
	if code, _, _ := verifyReceipt(t, url, other); code != 1 {
		t.Errorf("receipt at the wrong index: exit %d, want 1", code)
	}
	if code, _, stderr := verifyReceipt(t, "http://127.0.0.1:1/", first); code != 3 || !strings.Contains(stderr, "unreachable") && !strings.Contains(stderr, "refused") {
		t.Errorf("node unreachable: exit %d (%s), want 3", code, stderr)
	}
}

func verifyReceipt(t *testing.T, url string, in chainjob.Inclusion) (code int, stdout, stderr string) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "proof.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code = run(&cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb},
		[]string{"verify-receipt", "--rpc", url, "--proof", f, "--timeout", "5s"})
	return code, out.String(), errb.String()
}
