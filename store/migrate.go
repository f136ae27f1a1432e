package store

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Migration is one versioned schema change of one domain. Each domain
// (registry, status, proofing, ...) numbers its own migrations from 1, so
// that domains evolve independently; a migration that is the same in both
// dialects may leave Postgres empty.
type Migration struct {
	Domain   string
	Version  int
	SQLite   string
	Postgres string
}

var (
	migrationsMu sync.Mutex
	migrations   []Migration
)

// register adds migrations; each domain's file calls it from init.
func register(ms ...Migration) {
	migrationsMu.Lock()
	defer migrationsMu.Unlock()
	migrations = append(migrations, ms...)
}

func (db *DB) migrate(ctx context.Context) error {
	// CREATE TABLE IF NOT EXISTS is not safe against itself on PostgreSQL
	// (two servers starting at once on a new database: one fails on the
	// catalog's unique index), so it runs under the migrators' lock too.
	if err := db.InTx(ctx, func(tx *Tx) error {
		if db.dialect == Postgres {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7411)`); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		domain TEXT NOT NULL,
		version INTEGER NOT NULL,
		applied_at BIGINT NOT NULL,
		PRIMARY KEY (domain, version))`)
		return err
	}); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	migrationsMu.Lock()
	ms := append([]Migration(nil), migrations...)
	migrationsMu.Unlock()
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Domain != ms[j].Domain {
			return ms[i].Domain < ms[j].Domain
		}
		return ms[i].Version < ms[j].Version
	})
	for _, m := range ms {
		q := m.SQLite
		if db.dialect == Postgres && m.Postgres != "" {
			q = m.Postgres
		}
		err := db.InTx(ctx, func(tx *Tx) error {
			if db.dialect == Postgres {
				// Serialise concurrent migrators (several processes starting at once).
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7411)`); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE domain = ? AND version = ?`,
				m.Domain, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (domain, version, applied_at) VALUES (?, ?, ?)`,
				m.Domain, m.Version, time.Now().Unix())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s/%d: %w", m.Domain, m.Version, err)
		}
	}
	return nil
}
