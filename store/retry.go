package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Failover. A PostgreSQL URL may name several hosts with
// target_session_attrs=read-write (libpq's multi-host syntax, which pgx
// follows): every new connection goes to whichever host is the primary now.
// When the primary dies, the pool's connections to it fail; the statements
// in flight on them fail with them and their transactions are reported as
// failed, never as committed (a COMMIT whose answer never came may have
// committed or not, and the caller is told it failed: an acknowledged
// write is one whose COMMIT was answered). New transactions wait at BEGIN,
// retrying with backoff for up to FailoverWait, until a primary accepts
// connections again: BEGIN changes nothing, so retrying it is always safe,
// and no other statement is retried here (a write that failed is the
// caller's to retry, and only when it is idempotent).

// FailoverWait bounds how long a transaction waits at BEGIN for a primary
// (Patroni promotes a replica about ttl = 10 s after the old primary's
// death in scripts/cluster.sh; production settings are similar).
const FailoverWait = 30 * time.Second

// isConnErr reports whether err means the connection or the server is
// gone or not (yet) a primary, rather than a failed statement.
func isConnErr(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 57P01-57P03: the server is shutting
		// down or starting up; 25006: read-only transaction (a connection
		// that reached a replica).
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" ||
			pe.Code == "57P03" || pe.Code == "25006"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return pgconn.SafeToRetry(err)
}

// retryConnect runs fn, an operation that changes nothing in the database
// (taking a connection, BEGIN), again while it fails with a connection
// error, for up to FailoverWait or until ctx ends. SQLite is not retried.
func (db *DB) retryConnect(ctx context.Context, fn func() error) error {
	err := fn()
	if db.dialect != Postgres || !isConnErr(err) {
		return err
	}
	deadline := time.Now().Add(FailoverWait)
	backoff := 50 * time.Millisecond
	for isConnErr(err) && time.Now().Before(deadline) {
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		if backoff < time.Second {
			backoff *= 2
		}
		db.failoverRetries.Add(1)
		err = fn()
	}
	return err
}

// waitingConnector makes the pool's new connections wait through a
// failover: a connection attempt that found no primary (every host down,
// starting up or read-only) is tried again with backoff for up to
// FailoverWait or until the caller's context ends. Connecting sends no
// statement, so every caller (a transaction, a single statement, a lock)
// can wait this way safely. Refusals that waiting cannot cure (a wrong
// password, a missing database) are returned at once.
type waitingConnector struct{ driver.Connector }

func (w waitingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	deadline := time.Now().Add(FailoverWait)
	backoff := 50 * time.Millisecond
	for {
		c, err := w.Connector.Connect(ctx)
		if err == nil || !noPrimary(err) || !time.Now().Before(deadline) {
			return c, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
		if backoff < time.Second {
			backoff *= 2
		}
	}
}

// noPrimary reports whether a connection attempt failed for want of a
// primary, rather than being refused by one.
func noPrimary(err error) bool {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 28: invalid authorization; 3D: invalid catalog name (no such
		// database); 42: the role does not exist and the like.
		return !strings.HasPrefix(pe.Code, "28") && !strings.HasPrefix(pe.Code, "3D") && !strings.HasPrefix(pe.Code, "42")
	}
	return true
}
