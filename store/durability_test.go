package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/status"
)

// openSync opens a fresh SQLite database with the given synchronous
// setting.
func openSync(tb testing.TB, synchronous string) *DB {
	tb.Helper()
	s, err := sql.Open("sqlite", sqliteDSN(filepath.Join(tb.TempDir(), "s.db"), synchronous))
	if err != nil {
		tb.Fatal(err)
	}
	db := &DB{sql: s, dialect: SQLite}
	if err := db.migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkSynchronous measures one acknowledged write (a single-row
// commit, the shape of a status change or of an issuance's last commit)
// under synchronous=NORMAL and FULL; the ratio FULL/NORMAL is the price of
// durability against power loss. Run with -benchtime=2000x -count=3.
func BenchmarkSynchronous(b *testing.B) {
	for _, mode := range []string{"NORMAL", "FULL"} {
		b.Run(mode, func(b *testing.B) {
			db := openSync(b, mode)
			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			var key [8]byte
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				binary.BigEndian.PutUint64(key[:], uint64(i))
				if err := db.InTx(ctx, func(tx *Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO single_use (key, expires_at) VALUES (?, ?)`, key[:], exp.UnixMicro())
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSQLitePragmas: every pooled connection runs with synchronous=NORMAL
// (1), WAL and the journal size limit, and a checkpoint truncates the WAL.
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Hold several connections at once so the pool opens more than one.
	var conns []*sql.Conn
	for range 4 {
		c, err := db.sql.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var sync, limit int
		var mode string
		if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA journal_size_limit`).Scan(&limit); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if sync != 1 || limit != sqliteJournalSizeLimit || mode != "wal" {
			t.Fatalf("connection %d: synchronous %d, journal_size_limit %d, journal_mode %s", i, sync, limit, mode)
		}
		c.Close()
	}
	// A burst of writes grows the WAL; a checkpoint truncates it to zero.
	wal := path + "-wal"
	for i := range 2000 {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], uint64(i))
		if _, err := db.SingleUse().UseOnce(ctx, append(k[:], make([]byte, 200)...), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if size(t, wal) == 0 {
		t.Fatal("the WAL did not grow")
	}
	busy, pages, err := db.Checkpoint(ctx)
	if err != nil || busy {
		t.Fatalf("checkpoint: busy %v, err %v", busy, err)
	}
	if pages < 0 || size(t, wal) != 0 {
		t.Fatalf("WAL after checkpoint: %d bytes (%d pages before)", size(t, wal), pages)
	}
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestDurableCommits: status changes, status index allocation and audit
// log appends commit through the durable pool, whose connections run with
// synchronous=FULL; ordinary transactions do not.
func TestDurableCommits(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pragma := func(tx *Tx) int {
		var n int
		if err := tx.QueryRow(ctx, `PRAGMA synchronous`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var got int
	db.InTxDurable(ctx, func(tx *Tx) error { got = pragma(tx); return nil })
	if got != 2 {
		t.Fatalf("durable transaction runs with synchronous=%d, want 2 (FULL)", got)
	}
	db.InTx(ctx, func(tx *Tx) error { got = pragma(tx); return nil })
	if got != 1 {
		t.Fatalf("ordinary transaction runs with synchronous=%d, want 1 (NORMAL)", got)
	}
	st := db.Status()
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"allocate status index", func() error {
			_, _, err := st.AllocateStatus(ctx, 2, func() status.ListInfo {
				return status.ListInfo{ID: "l1", Bits: 2, Size: 16, Key: []byte("k"), Created: time.Now()}
			})
			return err
		}},
		{"set status", func() error {
			_, err := st.SetStatus(ctx, "l1", 0, status.Suspended, func(status.Status) error { return nil })
			return err
		}},
		{"status change with its audit entry", func() error {
			return st.Atomically(ctx, func(ctx context.Context) error {
				_, err := st.SetStatus(ctx, "l1", 0, status.Invalid, func(status.Status) error { return nil })
				return err
			})
		}},
		{"audit append", func() error {
			return db.Audit().AuditTx(ctx, func(audit.Tx) error { return nil })
		}},
	} {
		before := db.durableCommits.Load()
		if err := tc.op(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if db.durableCommits.Load() != before+1 {
			t.Errorf("%s: not committed durably", tc.name)
		}
	}
	before := db.durableCommits.Load()
	if _, err := db.SingleUse().UseOnce(ctx, []byte("k"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if db.durableCommits.Load() != before {
		t.Error("an ordinary write went through the durable pool")
	}
}
