// Package pgtest gives tests a fresh, uniquely named PostgreSQL database that is dropped when the
// test ends. It uses the server at NESS_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable). When that server does not answer
// the test fails with how to start it, unless NESS_TEST_NO_POSTGRES=1 says to skip.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultAdminURL is the server the tests use when NESS_TEST_POSTGRES is not set.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the URL of the database the tests connect to for creating and dropping databases.
func AdminURL() string {
	if u := os.Getenv("NESS_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// NewDatabase creates a database named ness_test_<random> and returns its URL; t.Cleanup drops it
// (with FORCE, so connections left open by the test do not keep it).
func NewDatabase(t testing.TB) string {
	t.Helper()
	if os.Getenv("NESS_TEST_NO_POSTGRES") == "1" {
		t.Skip("NESS_TEST_NO_POSTGRES=1: skipping a test that needs PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("PostgreSQL at %s is not reachable: %v\n"+
			"start it with `scripts/setup services`, point NESS_TEST_POSTGRES at another server, "+
			"or set NESS_TEST_NO_POSTGRES=1 to skip these tests", AdminURL(), err)
	}
	defer admin.Close(context.Background())
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random database name: %v", err)
	}
	name := "ness_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Errorf("drop database %s: connect: %v", name, err)
			return
		}
		defer admin.Close(context.Background())
		if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("NESS_TEST_POSTGRES %q: %v", AdminURL(), err)
	}
	u.Path = "/" + name
	return u.String()
}
