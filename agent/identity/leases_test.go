package identity_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/wire"
)

const iccidA = "89490000000000000001"

func signedLease(t testing.TB, hub *wire.Identity, agentID, iccid string, renter wire.SealKey, seq uint64, from, until time.Time) *wire.Lease {
	t.Helper()
	l := &wire.Lease{ICCID: iccid, AgentID: agentID, Renter: renter, Phone: "+4915123456789", ValidFrom: from, ValidUntil: until, Seq: seq}
	if err := l.Sign(hub); err != nil {
		t.Fatal(err)
	}
	return l
}

func payload(t testing.TB, l *wire.Lease) []byte {
	b, err := l.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLeasesPersistAndRotate: accepted leases survive a reopen, the file is 0600, and a hub
// key rotation works with two pinned keys; leases of a key no longer pinned are dropped.
func TestLeasesPersistAndRotate(t *testing.T) {
	agentKey, hub1, hub2, renter1, renter2 := newID(t), newID(t), newID(t), newID(t), newID(t)
	path := filepath.Join(t.TempDir(), identity.LeasesFileName)
	now := func() time.Time { return t0 }
	open := func(keys ...*wire.Identity) *identity.Leases {
		t.Helper()
		var vk []wire.VerifyKey
		for _, k := range keys {
			vk = append(vk, k.Verify)
		}
		l, err := identity.OpenLeases(path, agentKey.AgentID(), vk, now, nil)
		if err != nil {
			t.Fatalf("OpenLeases: %v", err)
		}
		return l
	}
	l := open(hub1)
	ok, err := l.Offer(iccidA, payload(t, signedLease(t, hub1, agentKey.AgentID(), iccidA, renter1.Public, 1, t0.Add(-time.Hour), t0.Add(time.Hour))))
	if !ok || err != nil {
		t.Fatalf("Offer hub1 lease: got %v, %v; want accepted", ok, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("leases file: mode %v (%v), want 0600", st.Mode().Perm(), err)
	}

	// Reopen: the lease is still there.
	if c := open(hub1).Current(iccidA); c == nil || c.Renter != renter1.Public {
		t.Fatalf("after reopen: got %v, want the renter1 lease", c)
	}
	// Rotation, step 1: both keys pinned; hub2 signs the next lease.
	l = open(hub1, hub2)
	if c := l.Current(iccidA); c == nil || c.Seq != 1 {
		t.Fatalf("with both keys pinned: got %v, want lease #1 kept", c)
	}
	ok, err = l.Offer(iccidA, payload(t, signedLease(t, hub2, agentKey.AgentID(), iccidA, renter2.Public, 2, t0.Add(-time.Hour), t0.Add(time.Hour))))
	if !ok || err != nil {
		t.Fatalf("Offer hub2 lease #2: got %v, %v; want accepted", ok, err)
	}
	// A replay of #1 is refused.
	if _, err := l.Offer(iccidA, payload(t, signedLease(t, hub1, agentKey.AgentID(), iccidA, renter1.Public, 1, t0.Add(-time.Hour), t0.Add(time.Hour)))); !errors.Is(err, identity.ErrLeaseRejected) {
		t.Errorf("replayed lease #1: got %v, want ErrLeaseRejected", err)
	}
	// Step 2: hub1 retired. The hub2 lease survives the reopen; a hub1 lease is now forged.
	l = open(hub2)
	if c := l.Current(iccidA); c == nil || c.Renter != renter2.Public || c.Seq != 2 {
		t.Fatalf("after hub1 retired: got %v, want the hub2 lease #2", c)
	}
	if _, err := l.Offer("89490000000000000002", payload(t, signedLease(t, hub1, agentKey.AgentID(), "89490000000000000002", renter1.Public, 1, t0.Add(-time.Hour), t0.Add(time.Hour)))); !errors.Is(err, identity.ErrLeaseRejected) {
		t.Errorf("lease signed by the retired hub1: got %v, want ErrLeaseRejected", err)
	}
	// Step 3: only hub1 pinned again (rolled back): the hub2 lease is dropped at open.
	if c := open(hub1); c.Len() != 0 {
		t.Errorf("open with only hub1 pinned: got %d leases, want 0 (hub2's lease does not verify)", c.Len())
	}
}

func TestOpenLeasesFileErrors(t *testing.T) {
	agentKey, hub := newID(t), newID(t)
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
		wantN   int
	}{
		{"not JSON", []byte("{"), true, 0},
		{"too big", make([]byte, 5<<20), true, 0},
		{"empty list", []byte(`{"leases":[]}`), false, 0},
		{"one good, one junk", []byte(`{"leases":[` + string(payload(t, signedLease(t, hub, agentKey.AgentID(), iccidA, agentKey.Public, 3, t0, t0.Add(time.Hour)))) + `,{"x":1}]}`), false, 1},
		{"another agent's lease", leaseFile(t, signedLease(t, hub, newID(t).AgentID(), iccidA, agentKey.Public, 1, t0, t0.Add(time.Hour))), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), identity.LeasesFileName)
			os.WriteFile(path, tt.data, 0o600)
			l, err := identity.OpenLeases(path, agentKey.AgentID(), []wire.VerifyKey{hub.Verify}, nil, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("OpenLeases: got %v, want error %v", err, tt.wantErr)
			}
			if err == nil && l.Len() != tt.wantN {
				t.Errorf("leases kept: got %d, want %d", l.Len(), tt.wantN)
			}
		})
	}
	if _, err := identity.OpenLeases(filepath.Join(t.TempDir(), "x"), agentKey.AgentID(), nil, nil, nil); err == nil {
		t.Errorf("OpenLeases without hub keys: got nil, want an error")
	}
}

// FuzzOpenLeases: leases.json is read from disk at every start; whatever it holds, opening it
// never panics, and only leases that verify against the pinned key are kept.
func FuzzOpenLeases(f *testing.F) {
	agentKey, _ := wire.GenerateIdentity()
	hub, _ := wire.GenerateIdentity()
	good := signedLease(f, hub, agentKey.AgentID(), iccidA, agentKey.Public, 1, t0, t0.Add(time.Hour))
	for _, s := range [][]byte{leaseFile(f, good), leaseFile(f), []byte(`{"leases":null}`), []byte(`{"leases":[{}]}`), []byte(`[]`), []byte(``)} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, identity.LeasesFileName)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := identity.OpenLeases(path, agentKey.AgentID(), []wire.VerifyKey{hub.Verify}, func() time.Time { return t0 }, nil)
		if err != nil {
			return
		}
		if c := l.Current(iccidA); c != nil {
			if err := c.VerifySignature([]wire.VerifyKey{hub.Verify}); err != nil || c.AgentID != agentKey.AgentID() {
				t.Fatalf("kept a lease that does not verify for this agent: %v", err)
			}
		}
	})
}
