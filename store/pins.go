package store

import (
	"context"
	"fmt"
	"time"
)

func init() {
	register(Migration{
		Domain:  "pins",
		Version: 1,
		// Values that every server of one database must agree on, recorded
		// by the first to start (the issuer root certificate's digest): a
		// server whose key directory holds another root stops instead of
		// issuing cards under a root the others do not use.
		SQLite:   `CREATE TABLE pins (name TEXT PRIMARY KEY, value BLOB NOT NULL, created_at BIGINT NOT NULL)`,
		Postgres: `CREATE TABLE pins (name TEXT PRIMARY KEY, value BYTEA NOT NULL, created_at BIGINT NOT NULL)`,
	})
}

// Pin records value under name unless a value is recorded already, and
// returns the recorded value: the caller compares it with its own. Two
// servers pinning at once agree on the first committed.
func (db *DB) Pin(ctx context.Context, name string, value []byte, now time.Time) ([]byte, error) {
	var got []byte
	err := db.InTxDurable(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO pins (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			name, value, now.Unix()); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM pins WHERE name = ?`, name).Scan(&got)
	})
	if err != nil {
		return nil, fmt.Errorf("store: pin %s: %w", name, err)
	}
	return got, nil
}
