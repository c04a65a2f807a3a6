package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ness-network/ness-sms/hub"
	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/hub/storetest"
)

func open(t *testing.T) hub.Store {
	t.Helper()
	s, err := sqlite.OpenDir(context.Background(), filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) { storetest.Run(t, open) }

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	a := storetest.Agent("persist")
	if err := s.UpsertAgent(ctx, a); err != nil {
		t.Fatalf("UpsertAgent: %v", err)
	}
	s.Close()

	s, err = sqlite.OpenDir(ctx, dir)
	if err != nil {
		t.Fatalf("OpenDir again: %v", err)
	}
	defer s.Close()
	if _, err := s.GetAgent(ctx, a.ID); err != nil {
		t.Errorf("GetAgent after reopen: %v", err)
	}
	var versions, maxVersion int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&versions, &maxVersion); err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	if versions != maxVersion || versions < 1 {
		t.Errorf("schema_migrations rows after two opens: got %d rows up to version %d, want one row per version", versions, maxVersion)
	}
	for _, c := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	} {
		var got string
		if err := s.DB().QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s: got %q, want %q", c.pragma, got, c.want)
		}
	}
}

// Several hubs (or a restarted one racing an old one) opening the same new file must all succeed.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Open: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		open func() error
		want string
	}{
		{"empty dir", func() error { _, err := sqlite.OpenDir(context.Background(), ""); return err }, "empty data directory"},
		{"dir is a file", func() error { _, err := sqlite.OpenDir(context.Background(), file); return err }, "create data directory"},
		{"not a database", func() error { _, err := sqlite.Open(context.Background(), notDB); return err }, "garbage.db"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.open()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// Two stores on one file (two ness-hub processes sharing a data directory) renting one number at
// once: the database, not a lock in one process, lets only one through.
func TestRentConcurrentlyAcrossStores(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var stores []hub.Store
	for range 2 {
		s, err := sqlite.OpenDir(context.Background(), dir)
		if err != nil {
			t.Fatalf("OpenDir: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	storetest.RentConcurrently(t, stores...)
}
