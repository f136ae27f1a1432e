package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/operator"
)

func init() {
	const accesses = `
CREATE TABLE audit_accesses (
	leaf_idx BIGINT PRIMARY KEY REFERENCES audit_leaves (idx),
	subject TEXT NOT NULL,
	at BIGINT NOT NULL,
	sealed %[1]s NOT NULL
);
CREATE INDEX audit_accesses_subject ON audit_accesses (subject, at);`
	register(Migration{Domain: "audit", Version: 2,
		SQLite:   fmt.Sprintf(accesses, "BLOB"),
		Postgres: fmt.Sprintf(accesses, "BYTEA"),
	})
	const operators = `
CREATE TABLE operators (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	badge TEXT NOT NULL,
	office TEXT NOT NULL,
	roles TEXT NOT NULL,
	secret_hash TEXT NOT NULL,
	disabled INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);
CREATE TABLE operator_approvals (
	id TEXT PRIMARY KEY,
	permission TEXT NOT NULL,
	requester TEXT NOT NULL,
	state TEXT NOT NULL,
	approver TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	decided_at BIGINT NOT NULL DEFAULT 0,
	sealed %[1]s NOT NULL
);
CREATE INDEX operator_approvals_state ON operator_approvals (state, created_at);`
	// The import that created a record and the last import that changed
	// it: a citizen's history shows both (bulk operations are recorded once,
	// not per record). A record holds the imports' numbers (a few bytes,
	// not a 40-byte source id per row of 1.4 billion); nullable columns
	// without a default: no table rewrite on either database.
	register(Migration{Domain: "registry_imports", Version: 1,
		SQLite: `CREATE TABLE registry_import_batches (
	id INTEGER PRIMARY KEY,
	source TEXT NOT NULL UNIQUE
);
ALTER TABLE registry_records ADD COLUMN import_first INTEGER;
ALTER TABLE registry_records ADD COLUMN import_last INTEGER;`,
		Postgres: `CREATE TABLE registry_import_batches (
	id BIGSERIAL PRIMARY KEY,
	source TEXT NOT NULL UNIQUE
);
ALTER TABLE registry_records ADD COLUMN import_first BIGINT;
ALTER TABLE registry_records ADD COLUMN import_last BIGINT;`,
	})
	register(Migration{Domain: "operator", Version: 1,
		SQLite:   fmt.Sprintf(operators, "BLOB"),
		Postgres: fmt.Sprintf(operators, "BYTEA"),
	})
}

func (t auditTx) PutAccess(ctx context.Context, a audit.StoredAccess) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO audit_accesses (leaf_idx, subject, at, sealed) VALUES (?, ?, ?, ?)`,
		int64(a.LeafIndex), a.Subject, a.At.Unix(), a.Sealed)
	return err
}

var _ audit.AccessStore = (*AuditStore)(nil)

func scanAccesses(rows *sql.Rows, err error) ([]audit.StoredAccess, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.StoredAccess
	for rows.Next() {
		var a audit.StoredAccess
		var idx, at int64
		if err := rows.Scan(&idx, &a.Subject, &at, &a.Sealed); err != nil {
			return nil, err
		}
		a.LeafIndex, a.At = uint64(idx), time.Unix(at, 0).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// Accesses returns a subject's operator accesses, newest first.
func (s *AuditStore) Accesses(ctx context.Context, subject string, limit int) ([]audit.StoredAccess, error) {
	return scanAccesses(s.db.Query(ctx, `SELECT leaf_idx, subject, at, sealed FROM audit_accesses WHERE subject = ?
		ORDER BY at DESC, leaf_idx DESC LIMIT ?`, subject, limit))
}

// AccessesFrom returns the accesses from a leaf index on, in leaf order.
func (s *AuditStore) AccessesFrom(ctx context.Context, from uint64, limit int) ([]audit.StoredAccess, error) {
	return scanAccesses(s.db.Query(ctx, `SELECT leaf_idx, subject, at, sealed FROM audit_accesses WHERE leaf_idx >= ?
		ORDER BY leaf_idx LIMIT ?`, int64(from), limit))
}

// Operators is the operator registry and the four-eyes requests.
type Operators struct{ db *DB }

// Operators returns the operator store.
func (db *DB) Operators() *Operators { return &Operators{db: db} }

// AddOperator stores a new operator; an existing id is [operator.ErrConflict].
func (o *Operators) AddOperator(ctx context.Context, op operator.Operator) error {
	if err := op.Check(); err != nil {
		return err
	}
	res, err := o.db.Exec(ctx, `INSERT INTO operators (id, name, badge, office, roles, secret_hash, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (id) DO NOTHING`,
		op.ID, op.Name, op.Badge, op.Office, operator.FormatRoles(op.Roles), op.SecretHash, op.CreatedAt.Unix())
	if err != nil {
		return fmt.Errorf("store: add operator: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: operator %q exists", operator.ErrConflict, op.ID)
	}
	return nil
}

const operatorCols = `id, name, badge, office, roles, secret_hash, disabled, created_at`

func scanOperator(sc interface{ Scan(...any) error }) (operator.Operator, error) {
	var op operator.Operator
	var roles string
	var disabled int
	var created int64
	if err := sc.Scan(&op.ID, &op.Name, &op.Badge, &op.Office, &roles, &op.SecretHash, &disabled, &created); err != nil {
		return op, err
	}
	for _, r := range strings.Split(roles, ",") {
		if r != "" {
			op.Roles = append(op.Roles, operator.Role(r))
		}
	}
	op.Disabled, op.CreatedAt = disabled != 0, time.Unix(created, 0).UTC()
	return op, nil
}

// Operator returns one operator, or [operator.ErrNotFound].
func (o *Operators) Operator(ctx context.Context, id string) (operator.Operator, error) {
	op, err := scanOperator(o.db.QueryRow(ctx, `SELECT `+operatorCols+` FROM operators WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return op, operator.ErrNotFound
	}
	return op, err
}

// ListOperators returns every operator, by id.
func (o *Operators) ListOperators(ctx context.Context) ([]operator.Operator, error) {
	rows, err := o.db.Query(ctx, `SELECT `+operatorCols+` FROM operators ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []operator.Operator
	for rows.Next() {
		op, err := scanOperator(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

// SetOperator changes an operator's roles, secret hash (when not empty)
// and disabled flag.
func (o *Operators) SetOperator(ctx context.Context, id string, roles []operator.Role, secretHash string, disabled bool) error {
	d := 0
	if disabled {
		d = 1
	}
	res, err := o.db.Exec(ctx, `UPDATE operators SET roles = ?, disabled = ?,
		secret_hash = CASE WHEN ? = '' THEN secret_hash ELSE ? END WHERE id = ?`,
		operator.FormatRoles(roles), d, secretHash, secretHash, id)
	if err != nil {
		return fmt.Errorf("store: set operator: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return operator.ErrNotFound
	}
	return nil
}

// PutApproval stores a new pending request.
func (o *Operators) PutApproval(ctx context.Context, a operator.Approval) error {
	_, err := o.db.Exec(ctx, `INSERT INTO operator_approvals (id, permission, requester, state, created_at, sealed)
		VALUES (?, ?, ?, 'pending', ?, ?)`, a.ID, string(a.Permission), a.Requester, a.CreatedAt.Unix(), a.Sealed)
	if err != nil {
		return fmt.Errorf("store: put approval: %w", err)
	}
	return nil
}

const approvalCols = `id, permission, requester, state, approver, created_at, decided_at, sealed`

func scanApproval(sc interface{ Scan(...any) error }) (operator.Approval, error) {
	var a operator.Approval
	var created, decided int64
	err := sc.Scan(&a.ID, &a.Permission, &a.Requester, &a.State, &a.Approver, &created, &decided, &a.Sealed)
	a.CreatedAt = time.Unix(created, 0).UTC()
	if decided != 0 {
		a.DecidedAt = time.Unix(decided, 0).UTC()
	}
	return a, err
}

// Approval returns one request, or [operator.ErrNotFound].
func (o *Operators) Approval(ctx context.Context, id string) (operator.Approval, error) {
	a, err := scanApproval(o.db.QueryRow(ctx, `SELECT `+approvalCols+` FROM operator_approvals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, operator.ErrNotFound
	}
	return a, err
}

// PendingApprovals lists pending requests, oldest first, at most limit.
func (o *Operators) PendingApprovals(ctx context.Context, limit int) ([]operator.Approval, error) {
	rows, err := o.db.Query(ctx, `SELECT `+approvalCols+` FROM operator_approvals WHERE state = 'pending'
		ORDER BY created_at, id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []operator.Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// DecideApproval moves a pending request to state ("approved" or
// "rejected") by approver, once: a request already decided, or decided by
// its own requester, is [operator.ErrConflict].
func (o *Operators) DecideApproval(ctx context.Context, id, state, approver string, at time.Time) error {
	if state != "approved" && state != "rejected" {
		return fmt.Errorf("%w: state %q", operator.ErrInvalid, state)
	}
	res, err := o.db.Exec(ctx, `UPDATE operator_approvals SET state = ?, approver = ?, decided_at = ?
		WHERE id = ? AND state = 'pending' AND requester <> ?`, state, approver, at.Unix(), id, approver)
	if err != nil {
		return fmt.Errorf("store: decide approval: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: request %q is not pending or is the approver's own", operator.ErrConflict, id)
	}
	return nil
}

// ImportsOf returns the ids of the import that created the record with
// this blind index and of the last import that changed it ("" for none),
// or ErrNotFound.
func (r *Registry) ImportsOf(ctx context.Context, index []byte) (first, last string, err error) {
	var f, l sql.NullString
	err = r.db.QueryRow(ctx, `SELECT b1.source, b2.source FROM registry_records r
		LEFT JOIN registry_import_batches b1 ON b1.id = r.import_first
		LEFT JOIN registry_import_batches b2 ON b2.id = r.import_last
		WHERE r.idx = ?`, index).Scan(&f, &l)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNotFound
	}
	return f.String, l.String, err
}

// importBatch returns the number of an import's source, made on first use.
func importBatch(ctx context.Context, tx *Tx, source string) (int64, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO registry_import_batches (source) VALUES (?) ON CONFLICT (source) DO NOTHING`, source); err != nil {
		return 0, fmt.Errorf("store: import batch: %w", err)
	}
	var id int64
	if err := tx.QueryRow(ctx, `SELECT id FROM registry_import_batches WHERE source = ?`, source).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: import batch: %w", err)
	}
	return id, nil
}
