// Package storetest opens fresh, isolated databases of every driver for the
// storage conformance suite and for other packages' tests.
//
// SQLite databases live in the test's temporary directory. PostgreSQL
// databases are created on the server named by SHENFEN_TEST_POSTGRES
// (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), one
// new database per call, dropped when the test ends. PostgreSQL being
// unreachable fails the test: the test command starts it, and a conformance
// suite that silently skips a driver proves nothing. Set
// SHENFEN_TEST_POSTGRES=off to run SQLite only (for a quick local loop).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/shenfen/shenfen/store"
)

// PostgresAdminURL is the server the PostgreSQL test databases are created on.
func PostgresAdminURL() string {
	if u := os.Getenv("SHENFEN_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Each runs fn once per driver, as a subtest named for the driver, each with
// a freshly migrated empty database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	if os.Getenv("SHENFEN_TEST_POSTGRES") == "off" {
		return
	}
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite opens a fresh SQLite database in the test's temporary directory.
func SQLite(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "shenfen.db"))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Postgres creates a fresh PostgreSQL database, opens it, and drops it when
// the test ends.
func Postgres(tb testing.TB) *store.DB {
	tb.Helper()
	url := NewPostgresDatabase(tb)
	db, err := store.Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// NewPostgresDatabase creates an empty PostgreSQL database and returns its
// URL; it is dropped when the test ends.
func NewPostgresDatabase(tb testing.TB) string {
	tb.Helper()
	admin := PostgresAdminURL()
	a, err := sql.Open("pgx", admin)
	if err != nil {
		tb.Fatalf("postgres admin: %v", err)
	}
	defer a.Close()
	var b [6]byte
	rand.Read(b[:])
	name := "shenfen_test_" + hex.EncodeToString(b[:])
	if _, err := a.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("PostgreSQL at %s is needed by the conformance suite (the test command starts it): %v", admin, err)
	}
	tb.Cleanup(func() {
		a, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parse %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}
