package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/audit"
)

func init() {
	const schema = `
CREATE TABLE audit_head (
	id INTEGER PRIMARY KEY,
	size BIGINT NOT NULL
);
INSERT INTO audit_head (id, size) VALUES (1, 0);
CREATE TABLE audit_leaves (
	idx BIGINT PRIMARY KEY,
	data %[1]s NOT NULL,
	hash %[1]s NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE audit_nodes (
	level INTEGER NOT NULL,
	idx BIGINT NOT NULL,
	hash %[1]s NOT NULL,
	PRIMARY KEY (level, idx)
);
CREATE TABLE audit_tree_heads (
	size BIGINT PRIMARY KEY,
	ts BIGINT NOT NULL,
	root %[1]s NOT NULL,
	jws TEXT NOT NULL
);
CREATE TABLE audit_disclosures (
	leaf_idx BIGINT PRIMARY KEY REFERENCES audit_leaves (idx),
	subject TEXT NOT NULL,
	at BIGINT NOT NULL,
	sealed %[1]s NOT NULL
);
CREATE INDEX audit_disclosures_subject ON audit_disclosures (subject, at);`
	register(Migration{Domain: "audit", Version: 1,
		SQLite:   fmt.Sprintf(schema, "BLOB"),
		Postgres: fmt.Sprintf(schema, "BYTEA"),
	})
}

func init() {
	// Issuance leaves by the digest of the issuer-signed credential, so a
	// holder finds the leaf of its own card (GET /audit/issuance/{digest}).
	// The backfill reads the digests of the issuance leaves logged before.
	const table = `CREATE TABLE audit_issuances (
	digest TEXT PRIMARY KEY,
	leaf_idx BIGINT NOT NULL REFERENCES audit_leaves (idx)
);
`
	register(Migration{Domain: "audit_issuances", Version: 1,
		SQLite: table + `INSERT INTO audit_issuances (digest, leaf_idx)
	SELECT json_extract(CAST(data AS TEXT), '$.digest'), idx FROM audit_leaves
	WHERE json_extract(CAST(data AS TEXT), '$.type') = 'issuance'
	AND json_extract(CAST(data AS TEXT), '$.digest') IS NOT NULL
	ON CONFLICT DO NOTHING;`,
		Postgres: table + `INSERT INTO audit_issuances (digest, leaf_idx)
	SELECT convert_from(data, 'UTF8')::jsonb->>'digest', idx FROM audit_leaves
	WHERE convert_from(data, 'UTF8')::jsonb->>'type' = 'issuance'
	AND convert_from(data, 'UTF8')::jsonb->>'digest' IS NOT NULL
	ON CONFLICT DO NOTHING;`,
	})
	// Batch-issuance leaves (single-use credentials, one leaf per batch) are
	// found by their digest too.
	register(Migration{Domain: "audit_issuances", Version: 2,
		SQLite: `INSERT INTO audit_issuances (digest, leaf_idx)
	SELECT json_extract(CAST(data AS TEXT), '$.digest'), idx FROM audit_leaves
	WHERE json_extract(CAST(data AS TEXT), '$.type') = 'batch-issuance'
	AND json_extract(CAST(data AS TEXT), '$.digest') IS NOT NULL
	ON CONFLICT DO NOTHING;`,
		Postgres: `INSERT INTO audit_issuances (digest, leaf_idx)
	SELECT convert_from(data, 'UTF8')::jsonb->>'digest', idx FROM audit_leaves
	WHERE convert_from(data, 'UTF8')::jsonb->>'type' = 'batch-issuance'
	AND convert_from(data, 'UTF8')::jsonb->>'digest' IS NOT NULL
	ON CONFLICT DO NOTHING;`,
	})
}

// AuditStore is the audit domain's storage (audit.Store). The log is
// append-only by construction: nothing here updates or deletes a leaf, a
// node or a tree head.
type AuditStore struct{ db *DB }

// Audit returns the audit log's storage.
func (db *DB) Audit() *AuditStore { return &AuditStore{db: db} }

var _ audit.Store = (*AuditStore)(nil)

type querier interface {
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
}

func readNode(ctx context.Context, q querier, level uint8, index uint64) (audit.Hash, error) {
	var h audit.Hash
	var b []byte
	err := q.QueryRow(ctx, `SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?`, int(level), int64(index)).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return h, audit.ErrNotFound
	}
	if err != nil {
		return h, err
	}
	if len(b) != len(h) {
		return h, fmt.Errorf("store: audit node %d/%d of %d bytes", level, index, len(b))
	}
	copy(h[:], b)
	return h, nil
}

// Node reads a stored subtree hash.
func (s *AuditStore) Node(ctx context.Context, level uint8, index uint64) (audit.Hash, error) {
	return readNode(ctx, s.db, level, index)
}

type auditTx struct{ tx *Tx }

func (t auditTx) Node(ctx context.Context, level uint8, index uint64) (audit.Hash, error) {
	return readNode(ctx, t.tx, level, index)
}

func (t auditTx) Size(ctx context.Context) (uint64, error) {
	q := `SELECT size FROM audit_head WHERE id = 1`
	if t.tx.Dialect() == Postgres {
		q += ` FOR UPDATE` // the log's write lock
	}
	var n int64
	err := t.tx.QueryRow(ctx, q).Scan(&n)
	return uint64(n), err
}

func (t auditTx) Append(ctx context.Context, l audit.Leaf, nodes []audit.Node) error {
	if _, err := t.tx.Exec(ctx, `INSERT INTO audit_leaves (idx, data, hash, created_at) VALUES (?, ?, ?, ?)`,
		int64(l.Index), l.Data, l.Hash[:], time.Now().Unix()); err != nil {
		return fmt.Errorf("store: audit leaf %d: %w", l.Index, err)
	}
	for _, n := range nodes {
		if _, err := t.tx.Exec(ctx, `INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)`,
			int(n.Level), int64(n.Index), n.Hash[:]); err != nil {
			return fmt.Errorf("store: audit node %d/%d: %w", n.Level, n.Index, err)
		}
	}
	if l.Issuance != "" {
		// The first leaf of a digest keeps it (a digest is of a signed
		// credential: the same one is not issued twice).
		if _, err := t.tx.Exec(ctx, `INSERT INTO audit_issuances (digest, leaf_idx) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING`,
			l.Issuance, int64(l.Index)); err != nil {
			return fmt.Errorf("store: audit issuance %d: %w", l.Index, err)
		}
	}
	res, err := t.tx.Exec(ctx, `UPDATE audit_head SET size = ? WHERE id = 1 AND size = ?`, int64(l.Index+1), int64(l.Index))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: audit head moved under the write lock: %w", ErrConflict)
	}
	return nil
}

func (t auditTx) PutDisclosure(ctx context.Context, d audit.StoredDisclosure) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO audit_disclosures (leaf_idx, subject, at, sealed) VALUES (?, ?, ?, ?)`,
		int64(d.LeafIndex), d.Subject, d.At.Unix(), d.Sealed)
	return err
}

// AuditTx runs fn in one transaction; on PostgreSQL fn's first Size call
// takes the head row lock, on SQLite the transaction is the writer.
func (s *AuditStore) AuditTx(ctx context.Context, fn func(audit.Tx) error) error {
	return s.db.InTxDurable(ctx, func(tx *Tx) error { return fn(auditTx{tx}) })
}

// AuditSize is the number of leaves.
func (s *AuditStore) AuditSize(ctx context.Context) (uint64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT size FROM audit_head WHERE id = 1`).Scan(&n)
	return uint64(n), err
}

// AuditLeaf returns one leaf.
func (s *AuditStore) AuditLeaf(ctx context.Context, index uint64) (audit.Leaf, error) {
	l := audit.Leaf{Index: index}
	var h []byte
	err := s.db.QueryRow(ctx, `SELECT data, hash FROM audit_leaves WHERE idx = ?`, int64(index)).Scan(&l.Data, &h)
	if errors.Is(err, sql.ErrNoRows) {
		return l, audit.ErrNotFound
	}
	copy(l.Hash[:], h)
	return l, err
}

// IssuanceLeaf returns the index of the issuance leaf with a digest, or
// an error wrapping audit.ErrNotFound.
func (s *AuditStore) IssuanceLeaf(ctx context.Context, digest string) (uint64, error) {
	var idx int64
	err := s.db.QueryRow(ctx, `SELECT leaf_idx FROM audit_issuances WHERE digest = ?`, digest).Scan(&idx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, audit.ErrNotFound
	}
	return uint64(idx), err
}

// SaveTreeHead stores a signed head; one already stored for the size wins.
func (s *AuditStore) SaveTreeHead(ctx context.Context, h audit.TreeHead) error {
	_, err := s.db.Exec(ctx, `INSERT INTO audit_tree_heads (size, ts, root, jws) VALUES (?, ?, ?, ?)
		ON CONFLICT (size) DO NOTHING`, int64(h.Size), h.Timestamp.UnixMilli(), h.Root[:], h.JWS)
	return err
}

func scanTreeHead(r *sql.Row) (audit.TreeHead, error) {
	var h audit.TreeHead
	var size, ts int64
	var root []byte
	err := r.Scan(&size, &ts, &root, &h.JWS)
	if errors.Is(err, sql.ErrNoRows) {
		return h, audit.ErrNotFound
	}
	h.Size, h.Timestamp = uint64(size), time.UnixMilli(ts).UTC()
	copy(h.Root[:], root)
	return h, err
}

// LatestTreeHead returns the largest signed head.
func (s *AuditStore) LatestTreeHead(ctx context.Context) (audit.TreeHead, error) {
	return scanTreeHead(s.db.QueryRow(ctx, `SELECT size, ts, root, jws FROM audit_tree_heads ORDER BY size DESC LIMIT 1`))
}

// TreeHeadAt returns the signed head of a size.
func (s *AuditStore) TreeHeadAt(ctx context.Context, size uint64) (audit.TreeHead, error) {
	return scanTreeHead(s.db.QueryRow(ctx, `SELECT size, ts, root, jws FROM audit_tree_heads WHERE size = ?`, int64(size)))
}

// Disclosures returns a subject's disclosures, newest first.
func (s *AuditStore) Disclosures(ctx context.Context, subject string, limit int) ([]audit.StoredDisclosure, error) {
	rows, err := s.db.Query(ctx, `SELECT leaf_idx, at, sealed FROM audit_disclosures WHERE subject = ?
		ORDER BY at DESC, leaf_idx DESC LIMIT ?`, subject, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.StoredDisclosure
	for rows.Next() {
		d := audit.StoredDisclosure{Subject: subject}
		var idx, at int64
		if err := rows.Scan(&idx, &at, &d.Sealed); err != nil {
			return nil, err
		}
		d.LeafIndex, d.At = uint64(idx), time.Unix(at, 0).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}
