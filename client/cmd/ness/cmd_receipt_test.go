package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/client"
	"github.com/ness-network/ness-sms/hub/chainjob"
	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/httpapi"
	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/notify"
	"github.com/ness-network/ness-sms/hub/proof"
	"github.com/ness-network/ness-sms/wire"
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

// TestVerifyReceiptFromHub: `ness verify-receipt --hub --message` end to end. SMS sealed under a
// rental go through a real hub (embedded broker, SQLite, ingest), the day is anchored on the
// emulator, and the renter fetches each proof from the hub's API (GET /v1/messages/{id}/proof on
// loopback) while the anchor is read from the chain. Another renter gets no proof, a day not yet
// anchored is exit 1, and a hub that lies about the receipt is caught by the chain's anchor.
func TestVerifyReceiptFromHub(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	h := hubtest.Start(t, hubtest.Options{Now: func() time.Time { return day.Add(12 * time.Hour) }})
	a := h.Enroll(t)
	a.Connect(t, h.URL)
	renter, _ := wire.GenerateIdentity()
	stranger, _ := wire.GenerateIdentity()
	const iccid = "8949000000000000021"
	r := h.Rent(t, a, iccid, "+4915550000021", renter)
	l, err := wire.DecodeLease(r.SignedLease)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 5 {
		m, payload := a.NewSMS(t, hubtest.SMS{ICCID: iccid, Lease: l, Text: fmt.Sprintf("code %d", i), Received: day.Add(12*time.Hour + time.Duration(i)*time.Second)})
		a.Publish(t, payload)
		ids = append(ids, m.ID)
	}
	a.WaitReceipts(t, len(ids), 20*time.Second)

	node, err := emulator.New(emulator.Config{Path: filepath.Join(t.TempDir(), "emc-chain.json")})
	if err != nil {
		t.Fatal(err)
	}
	rpc, err := node.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	c, _ := emercoin.New(emercoin.Config{URL: rpc})
	job := &chainjob.Job{Store: h.Store, Chain: c, HubID: "hub-test", Dir: t.TempDir(),
		Now: func() time.Time { return day.Add(25 * time.Hour) }}

	// The hub's API; lie, when set, makes it serve a receipt other than the one it anchored.
	var lie atomic.Bool
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubURL := "http://" + ln.Addr().String()
	api, err := httpapi.New(httpapi.Config{Store: h.Store, Leases: h.Leases, Notify: notify.NewLocal(),
		Origin: hubURL, Proofs: job, IPRate: -1, TokenRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !lie.Load() {
			api.Handler().ServeHTTP(w, req)
			return
		}
		rec := httptest.NewRecorder()
		api.Handler().ServeHTTP(rec, req)
		var in chainjob.Inclusion
		if err := json.Unmarshal(rec.Body.Bytes(), &in); err != nil {
			t.Errorf("lying hub: %v", err)
		}
		in.Receipt = append(in.Receipt, ' ')
		json.NewEncoder(w).Encode(in)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	token := func(id *wire.Identity) string {
		tr, err := client.New(hubURL, "")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.SignIn(ctx, id)
		if err != nil {
			t.Fatalf("sign in: %v", err)
		}
		return resp.Token
	}
	renterToken, strangerToken := token(renter), token(stranger)
	verify := func(tok, id string) (int, string, string) {
		return runNess(t, "", "verify-receipt", "--rpc", rpc, "--hub", hubURL, "--token", tok, "--message", id, "--timeout", "5s")
	}

	if code, _, stderr := verify(renterToken, ids[0]); code != 1 || !strings.Contains(stderr, "not anchored yet") {
		t.Errorf("before the day is anchored: exit %d (%s), want 1 and not anchored yet", code, stderr)
	}
	d, err := job.Anchor(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := verify(renterToken, ids[0]); code != 1 || !strings.Contains(stderr, "name not found") && !strings.Contains(stderr, "failed to read from name DB") {
		t.Errorf("anchor not yet mined: exit %d (%s), want 1 and name not found", code, stderr)
	}
	node.Mine(1)
	for _, id := range ids {
		code, stdout, stderr := verify(renterToken, id)
		if code != 0 {
			t.Errorf("ness verify-receipt --message %s: exit %d: %s", id, code, stderr)
			continue
		}
		out := decodeJSON[verifyReceiptJSON](t, "verify-receipt output", stdout)
		if !out.OK || out.MessageID != id || out.Count != int64(len(ids)) || out.MerkleRoot != d.MerkleRoot || out.Name != d.Name {
			t.Errorf("ness verify-receipt --message %s: printed %+v, want ok, count %d, root %s, name %s", id, out, len(ids), d.MerkleRoot, d.Name)
		}
	}

	cases := []struct {
		name     string
		tok, id  string
		lie      bool
		code     int
		inStderr string
	}{
		{"another renter's message", strangerToken, ids[1], false, 1, "not_found"},
		{"unknown message", renterToken, strings.Repeat("ab", 32), false, 1, "not_found"},
		{"no token", "", ids[1], false, 2, "not signed in"},
		{"revoked or unknown token", "not-a-token", ids[1], false, 2, "unauthenticated"},
		{"hub serves another receipt", renterToken, ids[1], true, 1, "not in the anchored tree"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lie.Store(c.lie)
			defer lie.Store(false)
			code, stdout, stderr := verify(c.tok, c.id)
			if code != c.code || !strings.Contains(stderr, c.inStderr) || stdout != "" {
				t.Errorf("verify-receipt --message %s: exit %d, stdout %q, stderr %q; want exit %d, stderr with %q", c.id, code, stdout, stderr, c.code, c.inStderr)
			}
		})
	}
	if code, _, stderr := runNess(t, "", "verify-receipt", "--rpc", rpc, "--proof", "x.json", "--message", ids[0]); code != 2 {
		t.Errorf("--proof with --message: exit %d (%s), want 2", code, stderr)
	}
}
