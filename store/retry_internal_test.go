package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"net"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

type connCase struct {
	name            string
	err             error
	conn, noPrimary bool
}

// TestConnErrors: which errors mean "no primary now" (wait, retry BEGIN)
// and which are a statement's own failure or a refusal waiting cannot cure.
func TestConnErrors(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code} }
	// Real connection errors: a port nothing listens on, and (when the
	// test server is there) a database that does not exist.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, refused := pgconn.Connect(context.Background(), "postgres://postgres@"+addr+"/x?sslmode=disable&connect_timeout=2")
	cases := []connCase{
		{"nil", nil, false, false},
		{"refused", refused, true, true},
		{"bad conn", driver.ErrBadConn, true, false},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true, false},
		{"admin shutdown", pg("57P01"), true, false},
		{"read-only transaction", pg("25006"), true, false},
		{"unique violation", pg("23505"), false, false},
		{"serialization", pg("40001"), false, false},
		{"canceled", context.Canceled, false, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false, false},
	}
	if u := os.Getenv("SHENFEN_TEST_POSTGRES"); u != "" && u != "off" {
		cfg, err := pgconn.ParseConfig(u)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Database = "shenfen_no_such_database"
		_, missing := pgconn.ConnectConfig(context.Background(), cfg)
		cases = append(cases, connCase{"no such database", missing, true, false})
	}
	for _, tc := range cases {
		if got := isConnErr(tc.err); got != tc.conn {
			t.Errorf("%s: isConnErr = %v, want %v", tc.name, got, tc.conn)
		}
		if got := tc.err != nil && noPrimary(tc.err); got != tc.noPrimary {
			t.Errorf("%s: noPrimary = %v, want %v", tc.name, got, tc.noPrimary)
		}
	}
}
