package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/postgres"
	"github.com/ness-network/ness-sms/hub/postgres/pgtest"
	"github.com/ness-network/ness-sms/hub/storetest"
)

func open(t *testing.T) hub.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) { storetest.Run(t, open) }

// Several hubs starting at once on a new database: every one must open, and each migration must be
// applied exactly once.
func TestConcurrentMigrations(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const hubs = 6
	stores := make([]*postgres.Store, hubs)
	errs := make([]error, hubs)
	var wg sync.WaitGroup
	for i := range hubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = postgres.Open(context.Background(), url)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("hub %d: Open: %v", i, err)
		} else {
			defer stores[i].Close()
		}
	}
	if t.Failed() {
		return
	}
	var rows, distinct, maxVersion int
	err := stores[0].Pool().QueryRow(context.Background(),
		`SELECT count(*), count(DISTINCT version), max(version) FROM schema_migrations`).Scan(&rows, &distinct, &maxVersion)
	if err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	if rows != distinct || rows != maxVersion {
		t.Errorf("schema_migrations after %d concurrent opens: got %d rows (%d versions, up to %d), want one row per version", hubs, rows, distinct, maxVersion)
	}
}

// Two stores on one database stand for two hub instances: the exactly-once and lease-sequence
// promises must hold across them, not only inside one pool.
func TestTwoInstances(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	a, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open a: %v", err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open b: %v", err)
	}
	defer b.Close()
	ag := storetest.Agent("two-hubs")
	if err := a.UpsertAgent(ctx, ag); err != nil {
		t.Fatalf("UpsertAgent: %v", err)
	}
	m := hub.Message{ID: "shared", AgentID: ag.ID, ICCID: storetest.ICCID(1), RecipientKey: make([]byte, 32),
		ReceivedAt: time.Now(), Signed: []byte("x")}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := hub.Store(a)
			if i%2 == 1 {
				s = b
			}
			ok, err := s.PutMessage(ctx, m)
			if err != nil {
				t.Errorf("PutMessage: %v", err)
			}
			if ok {
				mu.Lock()
				stored++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if stored != 1 {
		t.Errorf("PutMessage of one id through two instances: got %d stored=true, want 1", stored)
	}
	x, err := a.NextLeaseSeq(ctx, storetest.ICCID(1))
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.NextLeaseSeq(ctx, storetest.ICCID(1))
	if err != nil {
		t.Fatal(err)
	}
	if y != x+1 {
		t.Errorf("NextLeaseSeq on instance b after a gave %d: got %d, want %d", x, y, x+1)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct{ name, url, want string }{
		{"not a URL", "::nonsense", "parse database URL"},
		{"nobody listening", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "connect to 127.0.0.1:1/x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := postgres.Open(ctx, c.url)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open(%q): got error %v, want one containing %q", c.url, err, c.want)
			}
		})
	}
}

// Two hub instances on one PostgreSQL database renting one number at once: the database, not a
// lock in one process, lets only one through.
func TestRentConcurrentlyAcrossStores(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var stores []hub.Store
	for range 2 {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	storetest.RentConcurrently(t, stores...)
}
