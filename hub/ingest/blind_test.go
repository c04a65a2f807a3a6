package ingest_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/ness-network/ness-sms/hub/hubtest"
	"github.com/ness-network/ness-sms/hub/postgres"
	"github.com/ness-network/ness-sms/hub/postgres/pgtest"
	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/internal/testproc"
	"github.com/ness-network/ness-sms/wire"
)

// ingestMarked runs SMS whose sender and text carry marker through a hub on store (nil:
// SQLite), with debug logs into logs, and some hostile payloads so the drop paths log too.
func ingestMarked(t *testing.T, h *hubtest.Hub, sender, text string) {
	t.Helper()
	a := h.Enroll(t)
	a.Connect(t, h.URL)
	renter, _ := wire.GenerateIdentity()
	sim := iccid(t, 8)
	r := h.Rent(t, a, sim, "+491708888888", renter)
	l := a.WaitLease(t, sim, r.LeaseSeq, wait)
	m1, p1 := a.NewSMS(t, hubtest.SMS{ICCID: sim, Lease: l, Sender: sender, Text: text})
	_, p2 := a.NewSMS(t, hubtest.SMS{ICCID: iccid(t, 9), Sender: sender, Text: text + " to provider"})
	a.Publish(t, p1)
	a.Publish(t, p2)
	a.Publish(t, p1)
	m1.Body[0] ^= 1 // forged copy: dropped, logged
	fb, _ := m1.MarshalJSON()
	a.Publish(t, fb)
	a.WaitReceipts(t, 3, wait)
	waitFor(t, "forged copy dropped", func() bool { return h.Metrics.Counts().Dropped["signature"] == 1 })
}

// scanSQLite returns where marker occurs: every table's rows (each column as text and as bytes),
// the database file and its -wal.
func scanSQLite(t *testing.T, path string, marker []byte) []string {
	t.Helper()
	var found []string
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, marker) {
			found = append(found, f)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 8 {
		t.Fatalf("SQLite scan: got tables %v, want the hub's schema", tables)
	}
	for _, tb := range tables {
		rs, err := db.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rs.Columns()
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				var b []byte
				switch v := v.(type) {
				case []byte:
					b = v
				case string:
					b = []byte(v)
				default:
					b = []byte(fmt.Sprint(v))
				}
				if bytes.Contains(b, marker) {
					found = append(found, tb+"."+cols[i])
				}
			}
		}
		rs.Close()
	}
	return found
}

// TestNoPlaintextSQLite: after SMS whose sender and text carry a unique marker went through the
// hub, the marker is in no SQLite table, not in the database file or its WAL, and not in the
// hub's logs (debug level). The scan is shown able to find the marker where it was put on
// purpose.
func TestNoPlaintextSQLite(t *testing.T) {
	marker := "MARK" + hubtest.UniqueID(t)
	sender := "+4915" + "7" + fmt.Sprint(len(marker)) + "0042042" // numeric: the number itself is a marker
	var logs testproc.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := hubtest.Start(t, hubtest.Options{Log: log})
	ingestMarked(t, h, sender, "your code is "+marker)

	path := h.SQLitePath()
	for _, m := range []string{marker, sender} {
		if found := scanSQLite(t, path, []byte(m)); len(found) != 0 {
			t.Errorf("plaintext %q found in %v", m, found)
		}
		if bytes.Contains(logs.Bytes(), []byte(m)) {
			t.Errorf("plaintext %q found in the hub's logs", m)
		}
	}
	if len(logs.Bytes()) == 0 {
		t.Errorf("hub logged nothing: the log scan would prove nothing")
	}

	// The scan finds the marker when it is there: in a table row (through the Store) and in the logs.
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB().Exec(`INSERT INTO tokens(hash, subject, scope, created_at, expires_at) VALUES (?, ?, 'x', 0, 1)`,
		bytes.Repeat([]byte{7}, 32), "subject "+marker); err != nil {
		t.Fatal(err)
	}
	if found := scanSQLite(t, path, []byte(marker)); len(found) == 0 {
		t.Errorf("scan after planting %q: found nothing, want tokens.subject and the file or WAL", marker)
	}
	log.Info("planted", "x", marker)
	if !bytes.Contains(logs.Bytes(), []byte(marker)) {
		t.Errorf("log scan after planting: not found")
	}
}

// TestNoPlaintextPostgres: the same on PostgreSQL, scanning a pg_dump of the database.
func TestNoPlaintextPostgres(t *testing.T) {
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
		if len(matches) == 0 {
			t.Fatalf("pg_dump not found: install PostgreSQL with `scripts/setup packages`")
		}
		pgDump = matches[len(matches)-1]
	}
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	marker := "MARK" + hubtest.UniqueID(t)
	sender := "+4916" + "3" + "0042042" + fmt.Sprint(len(marker))
	var logs testproc.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := hubtest.Start(t, hubtest.Options{Store: s, Log: log})
	ingestMarked(t, h, sender, "your code is "+marker)

	dump := func() []byte {
		out, err := exec.Command(pgDump, "--data-only", "--inserts", "--dbname", url).Output()
		if err != nil {
			t.Fatalf("pg_dump: %v", err)
		}
		if !bytes.Contains(out, []byte("INSERT INTO public.messages")) {
			t.Fatalf("pg_dump holds no messages: the scan would prove nothing:\n%.500s", out)
		}
		return out
	}
	d := dump()
	for _, m := range []string{marker, sender} {
		if bytes.Contains(d, []byte(m)) {
			t.Errorf("plaintext %q found in pg_dump", m)
		}
		if bytes.Contains(logs.Bytes(), []byte(m)) {
			t.Errorf("plaintext %q found in the hub's logs", m)
		}
	}
	if _, err := s.Pool().Exec(context.Background(), `INSERT INTO tokens(hash, subject, scope, created_at, expires_at)
		VALUES ($1, $2, 'x', now(), now())`, bytes.Repeat([]byte{7}, 32), "subject "+marker); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dump()), marker) {
		t.Errorf("pg_dump after planting %q: not found", marker)
	}
}
