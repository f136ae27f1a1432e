package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

func init() {
	register(Migration{
		Domain:  "seal",
		Version: 1,
		// The master key's check values (package seal): one per key ID,
		// recorded when the key first seals data here, compared at every
		// start so that a wrong key file stops the command instead of
		// sealing new data under another key.
		SQLite:   `CREATE TABLE seal_key_checks (key_id INTEGER PRIMARY KEY, check_value BLOB NOT NULL, created_at BIGINT NOT NULL)`,
		Postgres: `CREATE TABLE seal_key_checks (key_id INTEGER PRIMARY KEY, check_value BYTEA NOT NULL, created_at BIGINT NOT NULL)`,
	})
}

// KeyChecks returns the recorded master key check values by key ID.
func (db *DB) KeyChecks(ctx context.Context) (map[byte][]byte, error) {
	rows, err := db.Query(ctx, `SELECT key_id, check_value FROM seal_key_checks`)
	if err != nil {
		return nil, fmt.Errorf("store: key checks: %w", err)
	}
	defer rows.Close()
	out := map[byte][]byte{}
	for rows.Next() {
		var id int
		var v []byte
		if err := rows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("store: key checks: %w", err)
		}
		if id < 0 || id > 255 {
			return nil, fmt.Errorf("store: key checks: key id %d out of range", id)
		}
		out[byte(id)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: key checks: %w", err)
	}
	return out, nil
}

// AddKeyChecks records check values of key IDs that have none; a key ID
// already recorded keeps its value (the caller compares after adding, so
// that two processes starting at once agree on one key).
func (db *DB) AddKeyChecks(ctx context.Context, checks map[byte][]byte, now time.Time) error {
	return db.InTx(ctx, func(tx *Tx) error {
		for id, v := range checks {
			if _, err := tx.Exec(ctx, `INSERT INTO seal_key_checks (key_id, check_value, created_at) VALUES (?, ?, ?)
				ON CONFLICT (key_id) DO NOTHING`, int(id), v, now.Unix()); err != nil {
				return fmt.Errorf("store: add key check: %w", err)
			}
		}
		return nil
	})
}

// bookkeeping are the tables that a new database has rows in, or that
// hold no data sealed with the master key.
var bookkeeping = map[string]bool{
	"schema_migrations": true,
	"seal_key_checks":   true,
	"audit_head":        true, // one row, the tree size (audit_leaves holds the entries)
}

// TablesWithData returns the names of the tables, other than the schema's
// bookkeeping and the key checks, that hold at least one row: an empty
// result means a new database, the only one for which a new master key may
// be made.
func (db *DB) TablesWithData(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.dialect == Postgres {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`
	}
	rows, err := db.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: list tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: list tables: %w", err)
		}
		if !bookkeeping[n] {
			tables = append(tables, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tables: %w", err)
	}
	slices.Sort(tables)
	var full []string
	for _, t := range tables {
		var one int
		// Table names come from the catalog, not from input; quoted as
		// identifiers all the same.
		err := db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM "`+t+`" LIMIT 1) AS t`).Scan(&one)
		if err != nil {
			return nil, fmt.Errorf("store: table %s: %w", t, err)
		}
		if one > 0 {
			full = append(full, t)
		}
	}
	return full, nil
}
