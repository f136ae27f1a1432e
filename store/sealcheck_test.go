package store_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

func TestKeyChecksAndEmptiness(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Unix(1_800_000_000, 0)
		full, err := db.TablesWithData(ctx)
		if err != nil || len(full) != 0 {
			t.Fatalf("a new database has data in %q (%v)", full, err)
		}
		if err := db.AddKeyChecks(ctx, map[byte][]byte{1: []byte("first")}, now); err != nil {
			t.Fatal(err)
		}
		// Key checks alone do not make the database hold data.
		if full, err := db.TablesWithData(ctx); err != nil || len(full) != 0 {
			t.Fatalf("after recording a key check, data in %q (%v)", full, err)
		}
		// A second process recording another value for key 1 does not
		// replace the first; a new key ID is added.
		if err := db.AddKeyChecks(ctx, map[byte][]byte{1: []byte("other"), 2: []byte("second")}, now); err != nil {
			t.Fatal(err)
		}
		got, err := db.KeyChecks(ctx)
		if err != nil || len(got) != 2 || !bytes.Equal(got[1], []byte("first")) || !bytes.Equal(got[2], []byte("second")) {
			t.Fatalf("KeyChecks = %q, %v", got, err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO rate_limits (key, tat) VALUES (?, ?)`, []byte("k"), 1); err != nil {
			t.Fatal(err)
		}
		if full, err := db.TablesWithData(ctx); err != nil || !slices.Equal(full, []string{"rate_limits"}) {
			t.Fatalf("TablesWithData = %q, %v; want [rate_limits]", full, err)
		}
	})
}
