package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shenfen/shenfen/verifier"
)

func init() {
	const schema = `
CREATE TABLE verifiers (
	id         TEXT PRIMARY KEY,
	cert_hash  TEXT NOT NULL UNIQUE,
	token_hash %[1]s UNIQUE,
	data       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);`
	register(Migration{Domain: "verifiers", Version: 1,
		SQLite:   fmt.Sprintf(schema, "BLOB"),
		Postgres: fmt.Sprintf(schema, "BYTEA"),
	})
}

// Verifiers is the verifier registry's storage (verifier.Store) on a DB.
type Verifiers struct{ db *DB }

var _ verifier.Store = Verifiers{}

// Verifiers returns the verifier registry's storage.
func (db *DB) Verifiers() Verifiers { return Verifiers{db: db} }

func verifierErr(op string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return verifier.ErrNotFound
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("store: verifier %s: %w", op, verifier.ErrConflict)
	}
	return fmt.Errorf("store: verifier %s: %w", op, err)
}

// PutVerifier implements verifier.Store (insert or replace by id).
func (s Verifiers) PutVerifier(ctx context.Context, v verifier.Verifier) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var token any
	if len(v.TokenHash) > 0 {
		token = v.TokenHash
	}
	_, err = s.db.Exec(ctx, `INSERT INTO verifiers (id, cert_hash, token_hash, data, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET cert_hash = excluded.cert_hash, token_hash = excluded.token_hash, data = excluded.data`,
		v.ID, v.CertHash, token, string(data), v.Created.UnixMicro())
	if err != nil {
		return verifierErr("put", err)
	}
	return nil
}

func (s Verifiers) one(ctx context.Context, op, where string, arg any) (verifier.Verifier, error) {
	var v verifier.Verifier
	var data string
	var token []byte
	if err := s.db.QueryRow(ctx, `SELECT data, token_hash FROM verifiers WHERE `+where+` = ?`, arg).Scan(&data, &token); err != nil {
		return v, verifierErr(op, notFound(err))
	}
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		return v, fmt.Errorf("store: verifier %s: %w", op, err)
	}
	v.TokenHash = token
	return v, nil
}

// Verifier implements verifier.Store.
func (s Verifiers) Verifier(ctx context.Context, id string) (verifier.Verifier, error) {
	return s.one(ctx, "by id", "id", id)
}

// VerifierByCert implements verifier.Store.
func (s Verifiers) VerifierByCert(ctx context.Context, certHash string) (verifier.Verifier, error) {
	return s.one(ctx, "by certificate", "cert_hash", certHash)
}

// VerifierByToken implements verifier.Store.
func (s Verifiers) VerifierByToken(ctx context.Context, tokenHash []byte) (verifier.Verifier, error) {
	if len(tokenHash) == 0 {
		return verifier.Verifier{}, verifier.ErrNotFound
	}
	return s.one(ctx, "by token", "token_hash", tokenHash)
}

// Verifiers implements verifier.Store, ordered by id.
func (s Verifiers) Verifiers(ctx context.Context) ([]verifier.Verifier, error) {
	rows, err := s.db.Query(ctx, `SELECT data, token_hash FROM verifiers ORDER BY id`)
	if err != nil {
		return nil, verifierErr("list", err)
	}
	defer rows.Close()
	var out []verifier.Verifier
	for rows.Next() {
		var v verifier.Verifier
		var data string
		var token []byte
		if err := rows.Scan(&data, &token); err != nil {
			return nil, verifierErr("list", err)
		}
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return nil, fmt.Errorf("store: verifier list: %w", err)
		}
		v.TokenHash = token
		out = append(out, v)
	}
	return out, rows.Err()
}

// DeleteVerifier implements verifier.Store.
func (s Verifiers) DeleteVerifier(ctx context.Context, id string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM verifiers WHERE id = ?`, id)
	if err != nil {
		return verifierErr("delete", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return verifier.ErrNotFound
	}
	return nil
}
