package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

func init() {
	register(Migration{
		Domain:  "ratelimit",
		Version: 1,
		// One row per limited key: its theoretical arrival time (GCRA), in
		// Unix microseconds. The key is a keyed hash of what is limited.
		SQLite:   `CREATE TABLE rate_limits (key BLOB PRIMARY KEY, tat INTEGER NOT NULL)`,
		Postgres: `CREATE TABLE rate_limits (key BYTEA PRIMARY KEY, tat BIGINT NOT NULL)`,
	})
}

// RateLimiter is a per-key rate limit kept in the database: every server
// process that shares the database counts together, and a restart forgets
// nothing. It is the generic cell rate algorithm (GCRA), the token bucket
// written as one timestamp per key: a key may take burst events at once and
// then one per interval. Each event is one upsert that both checks and
// spends, so concurrent requests cannot overspend.
type RateLimiter struct {
	db        *DB
	name      string
	every     time.Duration
	tolerance time.Duration // every × (burst − 1)
	hash      func(key string) []byte
	calls     atomic.Uint64
}

// sweepEvery is how many events pass between two deletions of the rows of
// keys that are back to a full bucket.
const sweepEvery = 1024

// RateLimiter returns the limiter called name (limiters with different
// names never share a key) that allows burst events at once and then one
// per every, per key. hash maps the name and key to the bytes stored: keys
// name ID numbers, addresses and device keys, so hash must be keyed (the
// sealer's blind index), never a plain digest.
func (db *DB) RateLimiter(name string, every time.Duration, burst int, hash func(key string) []byte) *RateLimiter {
	burst = max(burst, 1)
	return &RateLimiter{db: db, name: name, every: every, tolerance: every * time.Duration(burst-1), hash: hash}
}

// Take implements proofing.RateLimiter: it takes one event for key at now,
// or, when key is over its limit, reports how long until one is allowed.
func (l *RateLimiter) Take(ctx context.Context, key string, now time.Time) (bool, time.Duration, error) {
	k := l.hash(l.name + "\x00" + key)
	n, t, tau := now.UnixMicro(), l.every.Microseconds(), l.tolerance.Microseconds()
	greatest := "max"
	if l.db.Dialect() == Postgres {
		greatest = "GREATEST"
	}
	q := `INSERT INTO rate_limits (key, tat) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET tat = ` + greatest + `(rate_limits.tat, ?) + ?
		WHERE ` + greatest + `(rate_limits.tat, ?) - ? <= ?
		RETURNING tat`
	var tat int64
	err := l.db.QueryRow(ctx, q, k, n+t, n, t, n, n, tau).Scan(&tat)
	switch {
	case err == nil:
		if l.calls.Add(1)%sweepEvery == 0 {
			l.Sweep(ctx, now) // best effort: a row left behind only costs space
		}
		return true, 0, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, 0, fmt.Errorf("store: rate limit: %w", err)
	}
	// Over the limit: nothing was written.
	if err := l.db.QueryRow(ctx, `SELECT tat FROM rate_limits WHERE key = ?`, k).Scan(&tat); err != nil {
		return false, 0, fmt.Errorf("store: rate limit: %w", err)
	}
	wait := max(tat, n) - tau - n
	return false, max(time.Duration(wait)*time.Microsecond, time.Microsecond), nil
}

// Remaining implements proofing.Remainer: how many events key may take at
// now, without taking one (a key without a row has its full burst).
func (l *RateLimiter) Remaining(ctx context.Context, key string, now time.Time) (int, error) {
	k := l.hash(l.name + "\x00" + key)
	burst := int(l.tolerance/l.every) + 1
	var tat int64
	err := l.db.QueryRow(ctx, `SELECT tat FROM rate_limits WHERE key = ?`, k).Scan(&tat)
	if errors.Is(err, sql.ErrNoRows) {
		return burst, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: rate limit: %w", err)
	}
	// An event is allowed while max(tat, now) - now <= tolerance, and each
	// one moves tat by every.
	n := now.UnixMicro()
	slack := l.tolerance.Microseconds() - (max(tat, n) - n)
	if slack < 0 {
		return 0, nil
	}
	return min(int(slack/l.every.Microseconds())+1, burst), nil
}

// Sweep deletes the rows of keys whose bucket is full again at now (they
// are the same as no row) and reports how many.
func (l *RateLimiter) Sweep(ctx context.Context, now time.Time) (int64, error) {
	res, err := l.db.Exec(ctx, `DELETE FROM rate_limits WHERE tat < ?`, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: rate limit sweep: %w", err)
	}
	return res.RowsAffected()
}
