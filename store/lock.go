package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// Cluster-wide locks. Several shenfen servers may share one PostgreSQL
// database; work that must run in one of them at a time (the issuer key
// ring's creation and rotation, the periodic sweeps) takes a named lock
// here. On PostgreSQL it is a session-level advisory lock held on a
// connection of its own, so it is released when the holder unlocks, exits
// or loses its connection (a crash, a failover). On SQLite one process is
// the model (the embedded database has one server): the lock is a mutex of
// this DB value.
//
// Locks order work; they do not guard the database's invariants, which
// every write keeps by itself under row locks (a status change locks its
// list, an audit append the log's head row, an allocation its shard). A
// holder that loses its connection mid-work loses the lock without knowing;
// whatever it then writes is still checked by those row locks.

// ErrLocked is returned by [DB.TryLock] when another holder has the lock.
var ErrLocked = errors.New("store: lock held elsewhere")

// lockKey maps a lock name to PostgreSQL's 64-bit advisory lock space.
func lockKey(name string) int64 {
	h := sha256.Sum256([]byte("shenfen lock " + name))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// localLocks are the in-process locks of a SQLite database.
type localLocks struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (l *localLocks) ch(name string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]chan struct{}{}
	}
	c, ok := l.m[name]
	if !ok {
		c = make(chan struct{}, 1)
		l.m[name] = c
	}
	return c
}

// Lock waits for the named lock and returns the function that releases it.
func (db *DB) Lock(ctx context.Context, name string) (unlock func(), err error) {
	return db.lock(ctx, name, true)
}

// TryLock takes the named lock if no one holds it, else returns
// [ErrLocked] at once.
func (db *DB) TryLock(ctx context.Context, name string) (unlock func(), err error) {
	return db.lock(ctx, name, false)
}

func (db *DB) lock(ctx context.Context, name string, wait bool) (func(), error) {
	if db.dialect != Postgres {
		c := db.locks.ch(name)
		var once sync.Once
		release := func() { once.Do(func() { <-c }) }
		if !wait {
			select {
			case c <- struct{}{}:
				return release, nil
			default:
				return nil, ErrLocked
			}
		}
		select {
		case c <- struct{}{}:
			return release, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	conn, err := db.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", name, err)
	}
	key := lockKey(name)
	if wait {
		_, err = conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key)
	} else {
		var ok bool
		err = conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok)
		if err == nil && !ok {
			conn.Close()
			return nil, ErrLocked
		}
	}
	if err != nil {
		// The connection may hold the lock or be broken: drop it, which
		// releases whatever it held.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
		return nil, fmt.Errorf("store: lock %s: %w", name, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// Unlock on a context of its own: the caller's may have ended.
			if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, key); err != nil {
				// Return the connection as broken so that the pool closes
				// it and the server drops the lock with the session.
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			conn.Close()
		})
	}, nil
}

// conn takes a connection of its own from the pool, waiting through a
// failover like a transaction's begin does.
func (db *DB) conn(ctx context.Context) (*sql.Conn, error) {
	var c *sql.Conn
	err := db.retryConnect(ctx, func() error {
		var err error
		c, err = db.sql.Conn(ctx)
		if err != nil {
			return err
		}
		// A pooled connection may be to a server that died: check it.
		if err := c.PingContext(ctx); err != nil {
			c.Raw(func(any) error { return driver.ErrBadConn })
			c.Close()
			return err
		}
		return nil
	})
	return c, err
}
