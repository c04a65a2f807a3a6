package pipeline_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/agent/outbox"
	"github.com/ness-network/ness-sms/agent/pdu"
	"github.com/ness-network/ness-sms/agent/pipeline"
	"github.com/ness-network/ness-sms/agent/pipeline/pipelinetest"
	"github.com/ness-network/ness-sms/wire"
)

// capture is a Publisher that keeps every SMS published.
type capture struct {
	mu   sync.Mutex
	sms  map[string]*wire.SMS
	seen chan struct{}
}

func (c *capture) Publish(_ context.Context, topic string, payload []byte, _ bool) error {
	if t, err := wire.ParseTopic(topic); err != nil || t.Kind != wire.TopicSMS {
		return nil
	}
	m, err := wire.DecodeSMS(payload)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.sms[m.ICCID] = m
	c.mu.Unlock()
	select {
	case c.seen <- struct{}{}:
	default:
	}
	return nil
}

// TestLeaseChoice: an SMS is sealed to a renter only under a lease signed by a pinned hub key,
// for this agent and SIM, not expired, not replayed; everything else goes to the provider.
func TestLeaseChoice(t *testing.T) {
	ids := map[string]*wire.Identity{}
	for _, name := range []string{"agent", "hub", "hub2", "forger", "provider", "renter", "other"} {
		id, err := wire.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	agentID := ids["agent"].AgentID()
	now := time.Now()
	lease := func(signer string, iccid, agent string, seq uint64, renter string, from, until time.Time) []byte {
		l := pipelinetest.Lease(t, ids[signer], agent, iccid, ids[renter].Public, seq, from, until)
		b, _ := l.MarshalJSON()
		return b
	}
	valid := func(signer, iccid string, seq uint64, renter string) []byte {
		return lease(signer, iccid, agentID, seq, renter, now.Add(-time.Hour), now.Add(time.Hour))
	}
	tampered := func(iccid string) []byte { // claims the hub key, signature by another key
		l := pipelinetest.Lease(t, ids["forger"], agentID, iccid, ids["renter"].Public, 1, now.Add(-time.Hour), now.Add(time.Hour))
		l.Hub = ids["hub"].Verify
		b, _ := l.MarshalJSON()
		return b
	}
	tests := []struct {
		name   string
		offers [][]byte // in order, on the SIM's lease topic
		want   string   // identity the SMS must be sealed to
		seq    uint64
	}{
		{"hub-signed", [][]byte{valid("hub", "8949000000000000001", 1, "renter")}, "renter", 1},
		{"rotated hub key", [][]byte{valid("hub2", "8949000000000000002", 1, "renter")}, "renter", 1},
		{"signed by another key", [][]byte{valid("forger", "8949000000000000003", 1, "renter")}, "provider", 0},
		{"claims hub key, forged signature", [][]byte{tampered("8949000000000000004")}, "provider", 0},
		{"expired", [][]byte{lease("hub", "8949000000000000005", agentID, 1, "renter", now.Add(-2*time.Hour), now.Add(-time.Hour))}, "provider", 0},
		{"not yet valid", [][]byte{lease("hub", "8949000000000000006", agentID, 1, "renter", now.Add(time.Hour), now.Add(2*time.Hour))}, "provider", 0},
		{"replayed lower sequence", [][]byte{valid("hub", "8949000000000000007", 5, "renter"), valid("hub", "8949000000000000007", 3, "other")}, "renter", 5},
		{"ended early by a newer lease", [][]byte{valid("hub", "8949000000000000008", 1, "renter"),
			lease("hub", "8949000000000000008", agentID, 2, "renter", now.Add(-time.Hour), now.Add(-time.Minute))}, "provider", 0},
		{"another agent's lease", [][]byte{lease("hub", "8949000000000000009", wire.AgentIDOf(ids["other"].Verify), 1, "renter", now.Add(-time.Hour), now.Add(time.Hour))}, "provider", 0},
		{"another SIM's lease", [][]byte{valid("hub", "8949000000000000099", 1, "renter")}, "provider", 0},
	}
	dir := t.TempDir()
	ob, err := outbox.Open(filepath.Join(dir, outbox.FileName), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	hubKeys := []wire.VerifyKey{ids["hub"].Verify, ids["hub2"].Verify}
	leases, err := identity.OpenLeases(filepath.Join(dir, identity.LeasesFileName), agentID, hubKeys, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := wire.NewAgentCert(ids["agent"].Verify, ids["provider"], "", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pub := &capture{sms: map[string]*wire.SMS{}, seen: make(chan struct{}, 1)}
	pl, err := pipeline.New(pipeline.Config{Identity: ids["agent"], Cert: cert, HubKeys: hubKeys, Outbox: ob, Leases: leases, Publisher: pub, ScanInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		for _, o := range tc.offers {
			l, err := wire.DecodeLease(o)
			if err != nil {
				t.Fatal(err)
			}
			pl.HandleMessage(wire.LeaseTopic(agentID, l.ICCID), o)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go pl.Run(ctx)
	<-pl.Started()
	iccids := []string{}
	for i, tc := range tests {
		iccid := fmt.Sprintf("89490000000000000%02d", i+1)
		if tc.name == "another SIM's lease" {
			iccid = "8949000000000000010"
		}
		iccids = append(iccids, iccid)
		pdus, err := pdu.EncodeDeliver("+4917000000"+fmt.Sprint(i), "lease test "+tc.name, now, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := pl.StorePart(ctx, agent.ReceivedPart{Slot: i, ICCID: iccid, Storage: "SM", PDU: pdus[0], ReceivedAt: now}); err != nil {
			t.Fatalf("%s: store part: %v", tc.name, err)
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		pub.mu.Lock()
		n := len(pub.sms)
		pub.mu.Unlock()
		if n == len(tests) {
			break
		}
		select {
		case <-pub.seen:
		case <-deadline:
			t.Fatalf("published %d of %d SMS", n, len(tests))
		}
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub.mu.Lock()
			m := pub.sms[iccids[i]]
			pub.mu.Unlock()
			if m.Recipient != ids[tc.want].Public || m.LeaseSeq != tc.seq {
				t.Fatalf("sealed to %s under lease seq %d, want %s (%s) seq %d", m.Recipient, m.LeaseSeq, tc.want, ids[tc.want].Public, tc.seq)
			}
			pt, err := m.Open(ids[tc.want])
			if err != nil {
				t.Fatal(err)
			}
			if wantFlag := tc.want == "provider"; (pt.Flags&wire.FlagNoLease != 0) != wantFlag {
				t.Errorf("no_lease flag = %v, want %v", pt.Flags&wire.FlagNoLease != 0, wantFlag)
			}
			if pt.Text != "lease test "+tc.name {
				t.Errorf("text %q, want %q", pt.Text, "lease test "+tc.name)
			}
			if err := m.Verify(ids["agent"].Verify); err != nil {
				t.Errorf("signature: %v", err)
			}
		})
	}
}
