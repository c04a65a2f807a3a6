package pipeline_test

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/agent/outbox"
	"github.com/ness-network/ness-sms/agent/pipeline"
	"github.com/ness-network/ness-sms/wire"
)

// TestMalformedKeptAsJunk: a malformed line from the modem layer, and a PDU whose hex is fine
// but which does not decode, both end in the outbox's junk quarantine with their raw bytes,
// counted as decode errors for their slot, and never published.
func TestMalformedKeptAsJunk(t *testing.T) {
	agentKey, _ := wire.GenerateIdentity()
	hub, _ := wire.GenerateIdentity()
	dir := t.TempDir()
	ob, err := outbox.Open(filepath.Join(dir, outbox.FileName), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	leases, err := identity.OpenLeases(filepath.Join(dir, identity.LeasesFileName), agentKey.AgentID(), []wire.VerifyKey{hub.Verify}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := &capture{sms: map[string]*wire.SMS{}, seen: make(chan struct{}, 1)}
	var mu sync.Mutex
	decodeErrors := map[int]int{}
	pl, err := pipeline.New(pipeline.Config{Identity: agentKey, HubKeys: []wire.VerifyKey{hub.Verify}, Outbox: ob, Leases: leases,
		Publisher: pub, ScanInterval: 20 * time.Millisecond,
		OnDecodeError: func(slot int) { mu.Lock(); decodeErrors[slot]++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	<-pl.Started()
	defer func() { cancel(); <-done }()

	const iccid = "89490000000000000001"
	now := time.Now()
	line := []byte("07911326040000F0ZZ")
	// Malformed line: stored synchronously, so the supervisor may delete it on return.
	if err := pl.StorePart(ctx, agent.ReceivedPart{Slot: 2, ICCID: iccid, Storage: "SM", Index: 4, PDU: line, ReceivedAt: now, Malformed: "not hexadecimal"}); err != nil {
		t.Fatalf("StorePart malformed: %v", err)
	}
	// The same line again (a re-read after a crash before the delete) is not kept twice.
	if err := pl.StorePart(ctx, agent.ReceivedPart{Slot: 2, ICCID: iccid, Storage: "SM", Index: 4, PDU: line, ReceivedAt: now, Malformed: "not hexadecimal"}); err != nil {
		t.Fatalf("StorePart malformed again: %v", err)
	}
	// Hex is fine, the TPDU is not: an SMS-DELIVER cut off inside the originator address.
	bad, _ := hex.DecodeString("0004" + "0B91")
	if err := pl.StorePart(ctx, agent.ReceivedPart{Slot: 5, ICCID: iccid, Storage: "SM", Index: 9, PDU: bad, ReceivedAt: now}); err != nil {
		t.Fatalf("StorePart undecodable: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var junk []outbox.Quarantined
	for {
		q, err := ob.Quarantine()
		if err != nil {
			t.Fatal(err)
		}
		junk = junk[:0]
		for _, e := range q {
			if e.Bucket == outbox.JunkBucket {
				junk = append(junk, e)
			}
		}
		if len(junk) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(junk) != 2 {
		t.Fatalf("junk entries: got %d, want 2 (the malformed line once, the undecodable PDU)", len(junk))
	}
	raws := map[string]string{}
	for _, e := range junk {
		raws[string(e.Raw)] = e.Reason
	}
	if r, ok := raws[string(line)]; !ok || !strings.Contains(r, "slot 2") || !strings.Contains(r, "not hexadecimal") {
		t.Errorf("malformed line: got reason %q (kept %v), want the raw line with slot 2 and the reason", r, ok)
	}
	if r, ok := raws[string(bad)]; !ok || !strings.Contains(r, "slot 5") {
		t.Errorf("undecodable PDU: got reason %q (kept %v), want the raw PDU with slot 5", r, ok)
	}
	mu.Lock()
	if decodeErrors[5] != 1 {
		t.Errorf("decode errors reported for slot 5: got %d, want 1", decodeErrors[5])
	}
	mu.Unlock()
	st, err := ob.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Parts != 0 || st.Sealed != 0 || st.Published != 0 || st.Quarantined != 2 {
		t.Errorf("outbox: got %d parts, %d sealed, %d published, %d quarantined; want 0, 0, 0, 2", st.Parts, st.Sealed, st.Published, st.Quarantined)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if len(pub.sms) != 0 {
		t.Errorf("published %d SMS, want none", len(pub.sms))
	}
}
