package store_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// lockPair returns two handles on one database: on PostgreSQL two separate
// pools (as two servers have), on SQLite the same DB (one process).
func lockPair(t *testing.T) map[string][2]*store.DB {
	t.Helper()
	out := map[string][2]*store.DB{}
	s := storetest.SQLite(t)
	out["sqlite"] = [2]*store.DB{s, s}
	if os.Getenv("SHENFEN_TEST_POSTGRES") != "off" {
		u := storetest.NewPostgresDatabase(t)
		var p [2]*store.DB
		for i := range p {
			db, err := store.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			p[i] = db
		}
		out["postgres"] = p
	}
	return out
}

func TestLock(t *testing.T) {
	for name, dbs := range lockPair(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, b := dbs[0], dbs[1]
			unlock, err := a.TryLock(ctx, "sweep")
			if err != nil {
				t.Fatal(err)
			}
			// Held: the other server's try fails at once, another name is free.
			if _, err := b.TryLock(ctx, "sweep"); !errors.Is(err, store.ErrLocked) {
				t.Fatalf("second TryLock = %v, want ErrLocked", err)
			}
			other, err := b.TryLock(ctx, "keys")
			if err != nil {
				t.Fatalf("other name: %v", err)
			}
			other()
			// A waiter gets the lock once the holder releases it, not before.
			got := make(chan func(), 1)
			go func() {
				u, err := b.Lock(ctx, "sweep")
				if err != nil {
					t.Error(err)
					close(got)
					return
				}
				got <- u
			}()
			select {
			case <-got:
				t.Fatal("Lock returned while the lock was held")
			case <-time.After(200 * time.Millisecond):
			}
			unlock()
			unlock() // twice is harmless
			select {
			case u := <-got:
				if u == nil {
					t.FailNow()
				}
				u()
			case <-time.After(10 * time.Second):
				t.Fatal("Lock did not return after the holder unlocked")
			}
			// A waiter gives up with its context.
			u, err := a.Lock(ctx, "sweep")
			if err != nil {
				t.Fatal(err)
			}
			defer u()
			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			if _, err := b.Lock(short, "sweep"); err == nil {
				t.Fatal("Lock returned while held elsewhere")
			}
		})
	}
}

// TestLockDiesWithSession: a server that crashes (its session ends) does
// not keep the lock from the others.
func TestLockDiesWithSession(t *testing.T) {
	dbs, ok := lockPair(t)["postgres"]
	if !ok {
		t.Skip("PostgreSQL off")
	}
	ctx := context.Background()
	a, b := dbs[0], dbs[1]
	if _, err := a.TryLock(ctx, "rotate"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryLock(ctx, "rotate"); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("TryLock = %v, want ErrLocked", err)
	}
	// Kill the holder's backend as a crash would.
	if _, err := b.Exec(ctx, `SELECT pg_terminate_backend(l.pid) FROM pg_locks l
		WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		u, err := b.TryLock(ctx, "rotate")
		if err == nil {
			u()
			break
		}
		if !errors.Is(err, store.ErrLocked) || time.Now().After(deadline) {
			t.Fatalf("after the holder's session ended: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
