package store_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// TestReconnect: when the server ends every connection of the pool (as a
// primary's death or a failover does), the next transactions succeed on
// new connections, without a restart and without an error for a
// transaction that had not begun.
func TestReconnect(t *testing.T) {
	if storetest.PostgresAdminURL() == "off" {
		t.Skip("PostgreSQL off")
	}
	u := storetest.NewPostgresDatabase(t)
	ctx := context.Background()
	db, err := store.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE t_reconnect (n INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	// Fill the pool with open connections.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.Exec(ctx, `SELECT pg_sleep(0.05)`)
				return err
			})
		}()
	}
	wg.Wait()
	admin, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var killed int
	if err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no connection of the pool to end")
	}
	time.Sleep(100 * time.Millisecond) // the backends are gone
	for i := range 20 {
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO t_reconnect (n) VALUES (?)`, i)
			return err
		}); err != nil {
			t.Fatalf("transaction %d after the server ended %d connections: %v", i, killed, err)
		}
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM t_reconnect`).Scan(&n); err != nil || n != 20 {
		t.Fatalf("rows = %d, %v", n, err)
	}
}
