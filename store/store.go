// Package store is shenfen's persistence: one implementation of the storage
// interfaces that the domain packages (registry, status, proofing, oidc,
// audit) declare, over two SQL drivers.
//
// SQLite is the embedded default. It is reached through modernc.org/sqlite, a
// pure-Go translation of SQLite: the binary stays free of cgo for storage,
// cross-compiles, and needs nothing installed. Write transactions are opened
// with BEGIN IMMEDIATE (DSN _txlock=immediate) and a busy timeout, so that
// concurrent writers queue instead of deadlocking on lock upgrades; the
// database runs in WAL mode so readers never wait for the writer.
//
// PostgreSQL is the path past one machine. It is reached through pgx
// (github.com/jackc/pgx/v5) behind database/sql, so that both drivers share
// one code path; SQL is written with ? placeholders and rebound to $n for
// PostgreSQL.
//
// Schema changes are versioned migrations, kept per domain (see migrate.go),
// applied in one transaction each at Open.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write would violate a uniqueness rule or an
// expected state (for example a single-use value used twice).
var ErrConflict = errors.New("store: conflict")

// Dialect names the SQL dialect of an open database.
type Dialect int

const (
	// SQLite is the embedded database.
	SQLite Dialect = iota
	// Postgres is PostgreSQL (or a PostgreSQL-compatible server).
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// DB is an open shenfen database.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	// durable is the pool of durable transactions (InTxDurable): on SQLite
	// a second pool over the same file whose connections run with
	// synchronous=FULL; on PostgreSQL sql itself (every commit is durable
	// with synchronous_commit on, the default).
	durable *sql.DB
	// durableCommits counts commits through the durable pool (tests).
	durableCommits atomic.Int64
	// failoverRetries counts BEGINs retried while no primary answered.
	failoverRetries atomic.Int64
	// locks are the named locks of a SQLite database (lock.go).
	locks localLocks
}

// Open opens (creating if needed) the database named by url and applies any
// pending migrations. A url starting with postgres:// or postgresql:// selects
// PostgreSQL; anything else is a SQLite file path (an optional sqlite: prefix
// is stripped).
func Open(ctx context.Context, url string) (*DB, error) {
	var db *DB
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		s := sql.OpenDB(waitingConnector{stdlib.GetConnector(*cfg)})
		s.SetMaxOpenConns(32)
		s.SetMaxIdleConns(32)
		s.SetConnMaxIdleTime(5 * time.Minute)
		db = &DB{sql: s, dialect: Postgres}
	default:
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			return nil, errors.New("store: empty database path")
		}
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("store: create database directory: %w", err)
			}
		}
		s, err := sql.Open("sqlite", sqliteDSN(path, "NORMAL"))
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		s.SetMaxOpenConns(8)
		s.SetMaxIdleConns(8)
		d, err := sql.Open("sqlite", sqliteDSN(path, "FULL"))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		d.SetMaxOpenConns(2)
		d.SetMaxIdleConns(2)
		db = &DB{sql: s, dialect: SQLite, durable: d}
	}
	if db.durable == nil {
		db.durable = db.sql
	}
	if err := db.sql.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect %s: %w", db.dialect, err)
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Durability on SQLite. Connections run with synchronous=NORMAL: in WAL
// mode a commit is atomic and survives a crash of the process, but a power
// loss can undo the last commits (the WAL is synced only at checkpoints).
// What must survive power loss once acknowledged (status changes, the
// allocation of a card's status index, audit log entries) commits through
// InTxDurable, on a second pool whose connections run with synchronous=FULL:
// the commit returns only after the WAL is synced, and since the WAL is one
// sequential file that sync also makes every earlier commit durable.
// Measured with BenchmarkSynchronous (docs/api.md, "Durability"): a FULL
// commit costs 10-18 times a NORMAL one (about 0.6-1.2 ms against 65 µs on
// this machine's disk), too much for the rate limiter's write on every
// request, nothing next to an issuance's signatures.

// sqliteJournalSizeLimit bounds the WAL file: after a checkpoint SQLite
// truncates it to at most this size (without it the WAL keeps its largest
// size forever). The server also checkpoints with TRUNCATE every minute
// (DB.Checkpoint), so a burst of writes does not leave a large WAL behind.
const sqliteJournalSizeLimit = 32 << 20

// sqliteDSN is the modernc.org/sqlite DSN for path with the given
// synchronous setting.
func sqliteDSN(path, synchronous string) string {
	return "file:" + path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + synchronous + ")&_pragma=foreign_keys(1)" +
		"&_pragma=journal_size_limit(" + strconv.Itoa(sqliteJournalSizeLimit) + ")"
}

// Checkpoint moves the SQLite WAL into the database file and truncates
// it (PRAGMA wal_checkpoint(TRUNCATE)); a no-op on PostgreSQL. It returns
// whether the checkpoint could not finish because of readers (busy) and the
// WAL size in pages before it.
func (db *DB) Checkpoint(ctx context.Context) (busy bool, walPages int, err error) {
	if db.dialect != SQLite {
		return false, 0, nil
	}
	var b, moved int
	if err := db.sql.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&b, &walPages, &moved); err != nil {
		return false, 0, fmt.Errorf("store: checkpoint: %w", err)
	}
	return b != 0, walPages, nil
}

// Close closes the database.
func (db *DB) Close() error {
	err := db.sql.Close()
	if db.durable != nil && db.durable != db.sql {
		err = errors.Join(err, db.durable.Close())
	}
	return err
}

// FailoverRetries is how many times a transaction's BEGIN was retried
// because no primary answered (see retry.go).
func (db *DB) FailoverRetries() int64 { return db.failoverRetries.Load() }

// Dialect reports which SQL dialect the database speaks.
func (db *DB) Dialect() Dialect { return db.dialect }

// Ping checks that the database answers; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// SQL exposes the underlying *sql.DB for benchmarks and tools.
func (db *DB) SQL() *sql.DB { return db.sql }

// rebind rewrites ? placeholders to $1, $2, ... for PostgreSQL. shenfen's SQL
// never has a literal question mark inside a string.
func (db *DB) rebind(q string) string {
	if db.dialect != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Tx is a transaction in progress; its methods take ? placeholders.
type Tx struct {
	tx *sql.Tx
	db *DB
}

// Exec runs a statement inside the transaction.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.db.rebind(q), args...)
}

// Query runs a query inside the transaction.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.db.rebind(q), args...)
}

// QueryRow runs a single-row query inside the transaction.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.db.rebind(q), args...)
}

// Prepare prepares a statement inside the transaction.
func (t *Tx) Prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, t.db.rebind(q))
}

// Dialect reports the dialect of the transaction's database.
func (t *Tx) Dialect() Dialect { return t.db.dialect }

// InTx runs fn inside one transaction: committed if fn returns nil, rolled
// back otherwise, so an operation that touches several rows is all or nothing.
// Inside [DB.Atomically] (ctx carries its transaction) fn joins that
// transaction instead.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	return db.inTx(ctx, db.sql, fn)
}

// InTxDurable is InTx for a write that must survive power loss once it is
// acknowledged: on SQLite the commit syncs the WAL (synchronous=FULL).
// Inside [DB.Atomically] or [DB.AtomicallyDurable] fn joins that
// transaction (durable only if that one is).
func (db *DB) InTxDurable(ctx context.Context, fn func(*Tx) error) error {
	return db.inTx(ctx, db.durable, fn)
}

func (db *DB) inTx(ctx context.Context, pool *sql.DB, fn func(*Tx) error) error {
	if tx, ok := ctx.Value(txKey{db}).(*Tx); ok {
		return fn(tx)
	}
	var tx *sql.Tx
	err := db.retryConnect(ctx, func() error {
		var err error
		tx, err = pool.BeginTx(ctx, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(&Tx{tx: tx, db: db}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	if pool == db.durable {
		db.durableCommits.Add(1)
	}
	return nil
}

// txKey is the context key of a transaction of db begun by Atomically.
type txKey struct{ db *DB }

// Atomically runs fn inside one transaction and hands it a context that
// carries the transaction: every [DB.InTx] on db made with that context
// joins it, so that the writes of several domain stores (a card's status
// and its audit log entry) commit together or not at all. fn must do its
// writes through InTx (as every domain store does); a write through
// [DB.Exec] would run outside the transaction and, on SQLite, wait for it.
func (db *DB) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.InTx(ctx, func(tx *Tx) error {
		return fn(context.WithValue(ctx, txKey{db}, tx))
	})
}

// AtomicallyDurable is Atomically with a durable commit (InTxDurable).
func (db *DB) AtomicallyDurable(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.InTxDurable(ctx, func(tx *Tx) error {
		return fn(context.WithValue(ctx, txKey{db}, tx))
	})
}

// Exec runs a statement outside any explicit transaction.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.sql.ExecContext(ctx, db.rebind(q), args...)
}

// Query runs a query outside any explicit transaction.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, db.rebind(q), args...)
}

// QueryRow runs a single-row query outside any explicit transaction.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, db.rebind(q), args...)
}

// notFound maps sql.ErrNoRows to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// isUniqueViolation reports whether err is a uniqueness violation in either
// dialect.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}
