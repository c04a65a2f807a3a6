package proof_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
	"github.com/ness-network/ness-sms/hub/emercoin/emulator"
	"github.com/ness-network/ness-sms/hub/proof"
)

// ctLeaves and ctRoots are Certificate Transparency's Merkle tree test data (RFC 6962 shape,
// the same hashing this package uses), an independent check of Root.
var ctLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
var ctRoots = []string{
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

func TestRootCTVectors(t *testing.T) {
	var tr proof.Tree
	for i, l := range ctLeaves {
		b, _ := hex.DecodeString(l)
		tr.Add(b)
		if got := tr.Root().String(); got != ctRoots[i] {
			t.Errorf("root of %d leaves: got %s, want %s", i+1, got, ctRoots[i])
		}
	}
}

func TestInclusionEveryLeaf(t *testing.T) {
	for n := 1; n <= 33; n++ {
		var tr proof.Tree
		for i := 0; i < n; i++ {
			tr.Add([]byte(fmt.Sprintf("receipt %d", i)))
		}
		root := tr.Root()
		for i := 0; i < n; i++ {
			p, err := tr.Prove(i)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.Verify(root, []byte(fmt.Sprintf("receipt %d", i)), p); err != nil {
				t.Fatalf("n=%d leaf %d: %v", n, i, err)
			}
			if err := proof.Verify(root, []byte(fmt.Sprintf("receipt %d!", i)), p); !errors.Is(err, proof.ErrMismatch) {
				t.Fatalf("n=%d leaf %d, altered receipt: got %v, want ErrMismatch", n, i, err)
			}
			if n > 1 {
				q := p
				q.Index = int64((i + 1) % n)
				if err := proof.Verify(root, []byte(fmt.Sprintf("receipt %d", i)), q); err == nil {
					t.Fatalf("n=%d leaf %d claimed at index %d: verified", n, i, q.Index)
				}
				q = p
				q.Path = q.Path[:len(q.Path)-1]
				if err := proof.Verify(root, []byte(fmt.Sprintf("receipt %d", i)), q); err == nil {
					t.Fatalf("n=%d leaf %d with a short path: verified", n, i)
				}
			}
		}
	}
}

func TestNameAndPeriod(t *testing.T) {
	day := time.Date(2025, 11, 13, 23, 59, 0, 0, time.FixedZone("X", -3600))
	name, err := proof.Name("hub-1", day)
	if err != nil || name != "ness:proofs:sms:hub-1:20251114" {
		t.Fatalf("Name: got %q %v, want ness:proofs:sms:hub-1:20251114 (UTC day)", name, err)
	}
	if got := proof.Period(day); got != "2025-11-14T00:00:00Z/24h" {
		t.Fatalf("Period: got %q", got)
	}
	for _, bad := range []string{"", "Hub", "a:b", "-x"} {
		if _, err := proof.Name(bad, day); err == nil {
			t.Errorf("Name(%q): got no error", bad)
		}
	}
}

// TestAnchorOnEmulator: receipts → tree → anchored record → every receipt verifies against the
// chain; a receipt of another day or an altered one does not.
func TestAnchorOnEmulator(t *testing.T) {
	ctx := context.Background()
	node, err := emulator.New(emulator.Config{Path: filepath.Join(t.TempDir(), "chain.json")})
	if err != nil {
		t.Fatal(err)
	}
	url, err := node.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	c, _ := emercoin.New(emercoin.Config{URL: url})
	day := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var tr proof.Tree
	receipts := make([][]byte, 100)
	for i := range receipts {
		receipts[i] = []byte(fmt.Sprintf(`{"receipt":%d}`, i))
		tr.Add(receipts[i])
	}
	if _, err := proof.Publish(ctx, c, "hub-a", day, &tr); err != nil {
		t.Fatal(err)
	}
	if _, err := proof.Publish(ctx, c, "hub-a", day, &tr); !errors.Is(err, emercoin.ErrPendingOperation) {
		t.Fatalf("second anchor of the same day before a block: got %v, want ErrPendingOperation", err)
	}
	node.Mine(1)
	if _, err := proof.Publish(ctx, c, "hub-a", day, &tr); !errors.Is(err, emercoin.ErrNameExists) {
		t.Fatalf("second anchor of the same day: got %v, want ErrNameExists", err)
	}
	for i, r := range receipts {
		p, _ := tr.Prove(i)
		// The proof travels as JSON to the renter.
		b, _ := json.Marshal(p)
		q, err := proof.DecodeProof(b)
		if err != nil {
			t.Fatal(err)
		}
		a, err := proof.VerifyReceipt(ctx, c, "hub-a", day, r, q)
		if err != nil || a.Count != 100 {
			t.Fatalf("receipt %d: got %+v %v, want verified against count 100", i, a, err)
		}
	}
	p, _ := tr.Prove(3)
	if _, err := proof.VerifyReceipt(ctx, c, "hub-a", day, []byte("forged"), p); !errors.Is(err, proof.ErrMismatch) {
		t.Fatalf("forged receipt: got %v, want ErrMismatch", err)
	}
	if _, err := proof.VerifyReceipt(ctx, c, "hub-a", day.AddDate(0, 0, 1), receipts[3], p); !errors.Is(err, emercoin.ErrNameNotFound) {
		t.Fatalf("receipt checked against a day never anchored: got %v, want ErrNameNotFound", err)
	}
}

func FuzzDecodeProof(f *testing.F) {
	var tr proof.Tree
	for i := 0; i < 5; i++ {
		tr.Add([]byte{byte(i)})
	}
	p, _ := tr.Prove(4)
	b, _ := json.Marshal(p)
	f.Add(b)
	f.Add([]byte(`{"index":0,"count":1,"path":[]}`))
	f.Add([]byte(`{"index":2,"count":1,"path":["00"]}`))
	f.Add([]byte(`{"index":0,"count":2,"path":["` + fmt.Sprintf("%064x", 0) + `"],"x":1}`))
	root := tr.Root()
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := proof.DecodeProof(b)
		if err != nil {
			return
		}
		// A decoded proof never verifies a receipt that is not in the tree.
		if err := proof.Verify(root, []byte("not a leaf"), p); err == nil {
			t.Fatalf("proof %s verified a receipt not in the tree", b)
		}
	})
}

func FuzzParseAnchor(f *testing.F) {
	f.Add([]byte(`{"merkle_root":"` + fmt.Sprintf("%064x", 1) + `","count":3,"period":"2025-11-13T00:00:00Z/24h"}`))
	f.Add([]byte(`{"merkle_root":"zz","count":-1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := proof.ParseAnchor(b)
		if err != nil {
			return
		}
		back, err := proof.ParseAnchor(a.Value())
		if err != nil || back != a {
			t.Fatalf("ParseAnchor(Value(%+v)) = %+v, %v", a, back, err)
		}
	})
}
