package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/status"
)

func init() {
	register(Migration{Domain: "status", Version: 1,
		SQLite: `
CREATE TABLE status_lists (
	id TEXT PRIMARY KEY,
	bits INTEGER NOT NULL,
	size INTEGER NOT NULL,
	allocated BIGINT NOT NULL DEFAULT 0,
	perm_key BLOB NOT NULL,
	version BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);
CREATE INDEX status_lists_open ON status_lists (bits, created_at);
CREATE TABLE status_entries (
	list_id TEXT NOT NULL REFERENCES status_lists (id),
	idx BIGINT NOT NULL,
	status INTEGER NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (list_id, idx)
);`,
		Postgres: `
CREATE TABLE status_lists (
	id TEXT PRIMARY KEY,
	bits INTEGER NOT NULL,
	size INTEGER NOT NULL,
	allocated BIGINT NOT NULL DEFAULT 0,
	perm_key BYTEA NOT NULL,
	version BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);
CREATE INDEX status_lists_open ON status_lists (bits, created_at);
CREATE TABLE status_entries (
	list_id TEXT NOT NULL REFERENCES status_lists (id),
	idx BIGINT NOT NULL,
	status INTEGER NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (list_id, idx)
);`})
}

// StatusStore is the status domain's storage (status.Store).
type StatusStore struct{ db *DB }

// Status returns the status lists' storage.
func (db *DB) Status() *StatusStore { return &StatusStore{db: db} }

var _ status.Store = (*StatusStore)(nil)

// Atomically implements status.Atomic: the status change and the writes of
// the service's Changed hook (the audit log entry) share one transaction,
// committed durably (an acknowledged revocation survives power loss).
func (s *StatusStore) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.AtomicallyDurable(ctx, fn)
}

const statusListCols = `id, bits, size, allocated, perm_key, version, created_at`

func scanStatusList(sc interface{ Scan(...any) error }) (status.ListInfo, error) {
	var l status.ListInfo
	var created int64
	var alloc int64
	if err := sc.Scan(&l.ID, &l.Bits, &l.Size, &alloc, &l.Key, &l.Version, &created); err != nil {
		return l, err
	}
	l.Allocated = uint64(alloc)
	l.Created = time.Unix(created, 0).UTC()
	return l, nil
}

// AllocateStatus takes the next counter value of an open shard.
func (s *StatusStore) AllocateStatus(ctx context.Context, bits int, newList status.NewListFunc) (status.ListInfo, uint64, error) {
	var info status.ListInfo
	var n uint64
	err := s.db.InTxDurable(ctx, func(tx *Tx) error {
		for try := 0; try < 4; try++ {
			var id string
			err := tx.QueryRow(ctx, `SELECT id FROM status_lists WHERE bits = ? AND allocated < size
				ORDER BY created_at, id LIMIT 1`, bits).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				l := newList()
				if l.Bits != bits {
					return fmt.Errorf("store: new status list has %d bits, want %d", l.Bits, bits)
				}
				if _, err := tx.Exec(ctx, `INSERT INTO status_lists (id, bits, size, allocated, perm_key, version, created_at)
					VALUES (?, ?, ?, 0, ?, 0, ?)`, l.ID, l.Bits, l.Size, l.Key, l.Created.Unix()); err != nil {
					return fmt.Errorf("store: open status list: %w", err)
				}
				id = l.ID
			} else if err != nil {
				return fmt.Errorf("store: find open status list: %w", err)
			}
			// The row lock taken by UPDATE serialises concurrent allocators
			// on PostgreSQL; SQLite transactions are serial already.
			info, err = scanStatusList(tx.QueryRow(ctx, `UPDATE status_lists SET allocated = allocated + 1
				WHERE id = ? AND allocated < size RETURNING `+statusListCols, id))
			if errors.Is(err, sql.ErrNoRows) {
				continue // filled by a concurrent allocator: pick again
			}
			if err != nil {
				return fmt.Errorf("store: allocate status entry: %w", err)
			}
			n = info.Allocated - 1
			return nil
		}
		return fmt.Errorf("store: allocate status entry: %w", ErrConflict)
	})
	return info, n, err
}

// AllocateStatusSpread takes n counter values from several open shards in
// one transaction (status.Service.AllocateBatch).
func (s *StatusStore) AllocateStatusSpread(ctx context.Context, bits, n, spread int, newList status.NewListFunc,
	pick func(i, open int) int) ([]status.ListInfo, []uint64, error) {
	infos := make([]status.ListInfo, 0, n)
	ns := make([]uint64, 0, n)
	err := s.db.InTxDurable(ctx, func(tx *Tx) error {
		infos, ns = infos[:0], ns[:0]
		open := func() ([]string, error) {
			rows, err := tx.Query(ctx, `SELECT id FROM status_lists WHERE bits = ? AND allocated < size ORDER BY created_at, id`, bits)
			if err != nil {
				return nil, fmt.Errorf("store: find open status lists: %w", err)
			}
			defer rows.Close()
			var ids []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					return nil, err
				}
				ids = append(ids, id)
			}
			return ids, rows.Err()
		}
		ids, err := open()
		if err != nil {
			return err
		}
		for len(ids) < spread {
			l := newList()
			if l.Bits != bits {
				return fmt.Errorf("store: new status list has %d bits, want %d", l.Bits, bits)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO status_lists (id, bits, size, allocated, perm_key, version, created_at)
				VALUES (?, ?, ?, 0, ?, 0, ?)`, l.ID, l.Bits, l.Size, l.Key, l.Created.Unix()); err != nil {
				return fmt.Errorf("store: open status list: %w", err)
			}
			ids = append(ids, l.ID)
		}
		for i := 0; i < n; i++ {
			id := ids[pick(i, len(ids))]
			// The row lock taken by UPDATE serialises concurrent allocators
			// on PostgreSQL; SQLite transactions are serial already.
			info, err := scanStatusList(tx.QueryRow(ctx, `UPDATE status_lists SET allocated = allocated + 1
				WHERE id = ? AND allocated < size RETURNING `+statusListCols, id))
			if errors.Is(err, sql.ErrNoRows) {
				// Filled: open a new shard in its place and draw again.
				l := newList()
				if _, err := tx.Exec(ctx, `INSERT INTO status_lists (id, bits, size, allocated, perm_key, version, created_at)
					VALUES (?, ?, ?, 0, ?, 0, ?)`, l.ID, l.Bits, l.Size, l.Key, l.Created.Unix()); err != nil {
					return fmt.Errorf("store: open status list: %w", err)
				}
				if ids, err = open(); err != nil {
					return err
				}
				i--
				continue
			}
			if err != nil {
				return fmt.Errorf("store: allocate status entry: %w", err)
			}
			infos = append(infos, info)
			ns = append(ns, info.Allocated-1)
		}
		return nil
	})
	return infos, ns, err
}

// StatusList returns one shard.
func (s *StatusStore) StatusList(ctx context.Context, id string) (status.ListInfo, error) {
	l, err := scanStatusList(s.db.QueryRow(ctx, `SELECT `+statusListCols+` FROM status_lists WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return l, status.ErrNotFound
	}
	return l, err
}

// StatusLists returns every shard, oldest first.
func (s *StatusStore) StatusLists(ctx context.Context) ([]status.ListInfo, error) {
	rows, err := s.db.Query(ctx, `SELECT `+statusListCols+` FROM status_lists ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []status.ListInfo
	for rows.Next() {
		l, err := scanStatusList(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// SetStatus changes one entry in one transaction.
func (s *StatusStore) SetStatus(ctx context.Context, id string, index uint64, next status.Status, check func(old status.Status) error) (status.Status, error) {
	old := status.Valid
	err := s.db.InTxDurable(ctx, func(tx *Tx) error {
		lock := `SELECT version FROM status_lists WHERE id = ?`
		if tx.Dialect() == Postgres {
			lock += ` FOR UPDATE` // serialise changes of one list
		}
		var version int64
		if err := tx.QueryRow(ctx, lock, id).Scan(&version); errors.Is(err, sql.ErrNoRows) {
			return status.ErrNotFound
		} else if err != nil {
			return err
		}
		var cur int
		err := tx.QueryRow(ctx, `SELECT status FROM status_entries WHERE list_id = ? AND idx = ?`, id, int64(index)).Scan(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			old = status.Valid
		case err != nil:
			return err
		default:
			old = status.Status(cur)
		}
		if err := check(old); err != nil {
			return err
		}
		if old == next {
			return nil
		}
		if next == status.Valid {
			_, err = tx.Exec(ctx, `DELETE FROM status_entries WHERE list_id = ? AND idx = ?`, id, int64(index))
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO status_entries (list_id, idx, status, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (list_id, idx) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`,
				id, int64(index), int(next), time.Now().Unix())
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE status_lists SET version = version + 1 WHERE id = ?`, id)
		return err
	})
	return old, err
}

// GetStatus returns one entry's status.
func (s *StatusStore) GetStatus(ctx context.Context, id string, index uint64) (status.Status, error) {
	var cur int
	err := s.db.QueryRow(ctx, `SELECT status FROM status_entries WHERE list_id = ? AND idx = ?`, id, int64(index)).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return status.Valid, nil
	}
	return status.Status(cur), err
}

// StatusEntries calls fn for every non-valid entry of a list.
func (s *StatusStore) StatusEntries(ctx context.Context, id string, fn func(status.Entry) error) error {
	rows, err := s.db.Query(ctx, `SELECT idx, status FROM status_entries WHERE list_id = ?`, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var st int
		if err := rows.Scan(&idx, &st); err != nil {
			return err
		}
		if err := fn(status.Entry{Index: uint64(idx), Status: status.Status(st)}); err != nil {
			return err
		}
	}
	return rows.Err()
}
