package store

import (
	"context"
	"fmt"
	"time"
)

func init() {
	register(Migration{
		Domain:  "singleuse",
		Version: 1,
		// One row per used single-use value (a keyed or random value's
		// hash) until it expires; the sweeper deletes expired rows.
		SQLite: `CREATE TABLE single_use (key BLOB PRIMARY KEY, expires_at INTEGER NOT NULL);
			CREATE INDEX single_use_expiry ON single_use (expires_at)`,
		Postgres: `CREATE TABLE single_use (key BYTEA PRIMARY KEY, expires_at BIGINT NOT NULL);
			CREATE INDEX single_use_expiry ON single_use (expires_at)`,
	})
}

// SingleUse records values that may be used once (the wallet's sign-in
// nonces), in the database shared by every server: the first UseOnce of a
// key wins, on any server, and every later one loses.
type SingleUse struct{ db *DB }

// SingleUse returns the database's single-use record.
func (db *DB) SingleUse() *SingleUse { return &SingleUse{db} }

// UseOnce records key as used until expires; it reports false when key was
// used before (and has not yet been swept, which happens only after it
// expired).
func (s *SingleUse) UseOnce(ctx context.Context, key []byte, expires time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `INSERT INTO single_use (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
		key, expires.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("store: single use: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: single use: %w", err)
	}
	return n == 1, nil
}

// Sweep deletes the records that expired before now and reports how many.
func (s *SingleUse) Sweep(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM single_use WHERE expires_at < ?`, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: single use sweep: %w", err)
	}
	return res.RowsAffected()
}
