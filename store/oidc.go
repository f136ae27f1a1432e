package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shenfen/shenfen/oidc"
)

func init() {
	const schema = `
CREATE TABLE oidc_clients (
	id         TEXT PRIMARY KEY,
	data       TEXT NOT NULL,
	secret     %[1]s,
	created_at BIGINT NOT NULL
);
CREATE TABLE oidc_auth_requests (
	id         TEXT PRIMARY KEY,
	client_id  TEXT NOT NULL,
	txn        TEXT NOT NULL UNIQUE,
	state      TEXT NOT NULL,
	code       TEXT UNIQUE,
	expires_at BIGINT NOT NULL,
	data       %[1]s NOT NULL
);
CREATE INDEX oidc_auth_requests_expiry ON oidc_auth_requests (expires_at);
CREATE TABLE oidc_tokens (
	id              TEXT PRIMARY KEY,
	refresh         INTEGER NOT NULL,
	client_id       TEXT NOT NULL,
	subject         TEXT NOT NULL,
	auth_request_id TEXT NOT NULL,
	expires_at      BIGINT NOT NULL,
	data            %[1]s NOT NULL
);
CREATE INDEX oidc_tokens_subject ON oidc_tokens (subject, client_id);
CREATE INDEX oidc_tokens_request ON oidc_tokens (auth_request_id);
CREATE INDEX oidc_tokens_expiry ON oidc_tokens (expires_at);
CREATE TABLE oidc_pushed_requests (
	id         TEXT PRIMARY KEY,
	client_id  TEXT NOT NULL,
	params     TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE TABLE oidc_grants (
	id         %[2]s,
	citizen    %[1]s NOT NULL,
	client_id  TEXT NOT NULL,
	subject    TEXT NOT NULL,
	claims     TEXT NOT NULL,
	acr        TEXT NOT NULL,
	at         BIGINT NOT NULL
);
CREATE INDEX oidc_grants_citizen ON oidc_grants (citizen, at);`
	register(Migration{Domain: "oidc", Version: 1,
		SQLite:   fmt.Sprintf(schema, "BLOB", "INTEGER PRIMARY KEY"),
		Postgres: fmt.Sprintf(schema, "BYTEA", "BIGSERIAL PRIMARY KEY"),
	})
	// Spent client assertions (private_key_jwt jti), shared by every
	// provider process; id is SHA-256 of client_id NUL jti.
	const assertions = `
CREATE TABLE oidc_assertions (
	id         %s PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_assertions_expiry ON oidc_assertions (expires_at);`
	register(Migration{Domain: "oidc", Version: 2,
		SQLite:   fmt.Sprintf(assertions, "BLOB"),
		Postgres: fmt.Sprintf(assertions, "BYTEA"),
	})
	// Relying parties' names in Chinese and English: a name registered as
	// one string becomes {"zh": name, "en": ""} when it has Chinese
	// characters (CJK Unified Ideographs and Extension A), else
	// {"zh": "", "en": name}; the pages show it in both languages until
	// the authority gives the other.
	register(Migration{Domain: "oidc", Version: 3,
		SQLite: `
UPDATE oidc_clients SET data = json_set(data, '$.name', json_object(
	'zh', CASE WHEN json_extract(data, '$.name') GLOB '*[㐀-鿿]*' THEN json_extract(data, '$.name') ELSE '' END,
	'en', CASE WHEN json_extract(data, '$.name') GLOB '*[㐀-鿿]*' THEN '' ELSE json_extract(data, '$.name') END))
WHERE json_type(data, '$.name') = 'text';`,
		Postgres: `
UPDATE oidc_clients SET data = jsonb_set(data::jsonb, '{name}', jsonb_build_object(
	'zh', CASE WHEN data::jsonb->>'name' ~ '[㐀-鿿]' THEN data::jsonb->>'name' ELSE '' END,
	'en', CASE WHEN data::jsonb->>'name' ~ '[㐀-鿿]' THEN '' ELSE data::jsonb->>'name' END))::text
WHERE jsonb_typeof(data::jsonb->'name') = 'string';`,
	})
	// Columns that let one statement do what took two: the browser binding
	// (written by the INSERT or BindAuthRequest, read with the request),
	// and the subject and access token grant the consent prepares so that
	// the code exchange stores the access token in the statement that
	// spends the code (ConsumeCode).
	const columns = `
ALTER TABLE oidc_auth_requests ADD COLUMN browser TEXT;
ALTER TABLE oidc_auth_requests ADD COLUMN subject TEXT;
ALTER TABLE oidc_auth_requests ADD COLUMN token %s;`
	register(Migration{Domain: "oidc", Version: 4,
		SQLite:   fmt.Sprintf(columns, "BLOB"),
		Postgres: fmt.Sprintf(columns, "BYTEA"),
	})
}

// OIDC is the OpenID Provider's storage (oidc.Store) on a DB. Every write is
// one short statement or one short transaction, so concurrent logins queue
// briefly on SQLite's single writer rather than deadlocking. Statements
// outside transactions are prepared once per OIDC value and reused (SQL
// parsing was a tenth of a login's CPU time on SQLite).
type OIDC struct {
	db    *DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

var _ oidc.Store = (*OIDC)(nil)

// OIDC returns the OpenID Provider's storage; keep the value (it holds the
// prepared statements).
func (db *DB) OIDC() *OIDC { return &OIDC{db: db, stmts: map[string]*sql.Stmt{}} }

func (s *OIDC) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stmts[q]; ok {
		return st, nil
	}
	st, err := s.db.sql.PrepareContext(ctx, s.db.rebind(q))
	if err != nil {
		return nil, err
	}
	s.stmts[q] = st
	return st, nil
}

// queryRow and exec run q as a cached prepared statement.
func (s *OIDC) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *OIDC) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

type rowScanner interface{ Scan(...any) error }

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

func oidcErr(op string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return oidc.ErrNotFound
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("store: oidc %s: %w", op, oidc.ErrConflict)
	}
	return fmt.Errorf("store: oidc %s: %w", op, err)
}

// PutClient implements oidc.Store (insert or replace).
func (s *OIDC) PutClient(ctx context.Context, c oidc.Client) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO oidc_clients (id, data, secret, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data, secret = excluded.secret`,
		c.ID, string(data), c.SecretHash, c.Created.UnixMicro())
	if err != nil {
		return oidcErr("put client", err)
	}
	return nil
}

func scanClient(data string, secret []byte) (oidc.Client, error) {
	var c oidc.Client
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return c, fmt.Errorf("store: oidc client: %w", err)
	}
	c.SecretHash = secret
	return c, nil
}

// Client implements oidc.Store.
func (s *OIDC) Client(ctx context.Context, id string) (oidc.Client, error) {
	var data string
	var secret []byte
	if err := s.queryRow(ctx, `SELECT data, secret FROM oidc_clients WHERE id = ?`, id).Scan(&data, &secret); err != nil {
		return oidc.Client{}, oidcErr("client", notFound(err))
	}
	return scanClient(data, secret)
}

// Clients implements oidc.Store, ordered by id.
func (s *OIDC) Clients(ctx context.Context) ([]oidc.Client, error) {
	rows, err := s.db.Query(ctx, `SELECT data, secret FROM oidc_clients ORDER BY id`)
	if err != nil {
		return nil, oidcErr("clients", err)
	}
	defer rows.Close()
	var out []oidc.Client
	for rows.Next() {
		var data string
		var secret []byte
		if err := rows.Scan(&data, &secret); err != nil {
			return nil, oidcErr("clients", err)
		}
		c, err := scanClient(data, secret)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// UpdateClient implements oidc.Store: an UPDATE of the existing row (a
// client removed meanwhile is not brought back), and with revokeTokens the
// deletion of its tokens, in one transaction.
func (s *OIDC) UpdateClient(ctx context.Context, c oidc.Client, revokeTokens bool) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE oidc_clients SET data = ?, secret = ? WHERE id = ?`, string(data), c.SecretHash, c.ID)
		if err != nil {
			return oidcErr("update client", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return oidc.ErrNotFound
		}
		if revokeTokens {
			if _, err := tx.Exec(ctx, `DELETE FROM oidc_tokens WHERE client_id = ?`, c.ID); err != nil {
				return oidcErr("update client: revoke tokens", err)
			}
		}
		return nil
	})
}

// DeleteClient implements oidc.Store; the client's tokens go with it.
func (s *OIDC) DeleteClient(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM oidc_clients WHERE id = ?`, id)
		if err != nil {
			return oidcErr("delete client", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return oidc.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM oidc_tokens WHERE client_id = ?`, id)
		return err
	})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateAuthRequest implements oidc.Store.
func (s *OIDC) CreateAuthRequest(ctx context.Context, ar oidc.AuthRequest) error {
	_, err := s.exec(ctx, `INSERT INTO oidc_auth_requests (id, client_id, txn, state, code, expires_at, browser, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ar.ID, ar.ClientID, ar.Txn, ar.State, nullable(ar.CodeHash), ar.Expires.UnixMicro(), nullable(ar.Browser), ar.Data)
	if err != nil {
		return oidcErr("create auth request", err)
	}
	return nil
}

const arColumns = `id, client_id, txn, state, COALESCE(code, '') AS code, expires_at, COALESCE(browser, '') AS browser,
	COALESCE(subject, '') AS subject, token, data`

func scanAR(row rowScanner) (oidc.AuthRequest, error) {
	var ar oidc.AuthRequest
	var exp int64
	if err := row.Scan(&ar.ID, &ar.ClientID, &ar.Txn, &ar.State, &ar.CodeHash, &exp, &ar.Browser, &ar.Subject, &ar.Token, &ar.Data); err != nil {
		return ar, oidcErr("auth request", notFound(err))
	}
	ar.Expires = time.UnixMicro(exp)
	return ar, nil
}

// AuthRequest implements oidc.Store.
func (s *OIDC) AuthRequest(ctx context.Context, id string) (oidc.AuthRequest, error) {
	return scanAR(s.queryRow(ctx, `SELECT `+arColumns+` FROM oidc_auth_requests WHERE id = ?`, id))
}

// AuthRequestByTxn implements oidc.Store.
func (s *OIDC) AuthRequestByTxn(ctx context.Context, txn string) (oidc.AuthRequest, error) {
	return scanAR(s.queryRow(ctx, `SELECT `+arColumns+` FROM oidc_auth_requests WHERE txn = ?`, txn))
}

// BindAuthRequest implements oidc.Store with one conditional UPDATE ...
// RETURNING; only when it finds nothing to bind (bound before, expired or
// unknown) is the request read on its own.
func (s *OIDC) BindAuthRequest(ctx context.Context, id, browser string, now time.Time) (oidc.AuthRequest, bool, error) {
	ar, err := scanAR(s.queryRow(ctx, `UPDATE oidc_auth_requests SET browser = ? WHERE id = ? AND browser IS NULL AND expires_at > ?
		RETURNING `+arColumns, browser, id, now.UnixMicro()))
	if err == nil {
		return ar, true, nil
	}
	if !errors.Is(err, oidc.ErrNotFound) {
		return ar, false, err
	}
	ar, err = s.AuthRequest(ctx, id)
	return ar, false, err
}

// UpdateAuthRequest implements oidc.Store.
func (s *OIDC) UpdateAuthRequest(ctx context.Context, ar oidc.AuthRequest, from string) error {
	res, err := s.exec(ctx, `UPDATE oidc_auth_requests SET state = ?, code = ?, expires_at = ?, data = ? WHERE id = ? AND state = ?`,
		ar.State, nullable(ar.CodeHash), ar.Expires.UnixMicro(), ar.Data, ar.ID, from)
	if err != nil {
		return oidcErr("update auth request", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: oidc auth request %s: not in state %s: %w", ar.ID, from, oidc.ErrConflict)
	}
	return nil
}

// GrantAuthRequest implements oidc.Store. On PostgreSQL it is one
// statement (the conditional UPDATE and, only when it found the request,
// the INSERT of the grant), which saves the round trips of BEGIN, COMMIT
// and the second statement; on SQLite one transaction of two statements.
func (s *OIDC) GrantAuthRequest(ctx context.Context, ar oidc.AuthRequest, from string, g oidc.Grant) error {
	claims, err := json.Marshal(g.Claims)
	if err != nil {
		return err
	}
	const (
		update = `UPDATE oidc_auth_requests SET state = ?, code = ?, expires_at = ?, subject = ?, token = ?, data = ?
			WHERE id = ? AND state = ? AND code IS NULL`
		insert = `INSERT INTO oidc_grants (citizen, client_id, subject, claims, acr, at) VALUES (?, ?, ?, ?, ?, ?)`
		both   = `WITH u AS (UPDATE oidc_auth_requests SET state = ?, code = ?, expires_at = ?, subject = ?, token = ?, data = ?
				WHERE id = ? AND state = ? AND code IS NULL RETURNING id)
			INSERT INTO oidc_grants (citizen, client_id, subject, claims, acr, at)
				SELECT ?::bytea, ?::text, ?::text, ?::text, ?::text, ?::bigint FROM u`
	)
	upArgs := []any{ar.State, nullable(ar.CodeHash), ar.Expires.UnixMicro(), nullable(ar.Subject), ar.Token, ar.Data, ar.ID, from}
	grArgs := []any{g.Citizen, g.ClientID, g.Subject, string(claims), g.ACR, g.At.UnixMicro()}
	conflict := fmt.Errorf("store: oidc auth request %s: not in state %s or has a code: %w", ar.ID, from, oidc.ErrConflict)
	if s.db.Dialect() == Postgres {
		res, err := s.exec(ctx, both, append(upArgs, grArgs...)...)
		if err != nil {
			return oidcErr("grant auth request", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conflict
		}
		return nil
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, update, upArgs...)
		if err != nil {
			return oidcErr("grant auth request", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conflict
		}
		if _, err := tx.Exec(ctx, insert, grArgs...); err != nil {
			return oidcErr("record grant", err)
		}
		return nil
	})
}

// SetCode implements oidc.Store with one conditional UPDATE.
func (s *OIDC) SetCode(ctx context.Context, id, codeHash string, expires time.Time) error {
	res, err := s.exec(ctx, `UPDATE oidc_auth_requests SET code = ?, expires_at = ? WHERE id = ? AND state = ? AND code IS NULL`,
		codeHash, expires.UnixMicro(), id, oidc.StateDone)
	if err != nil {
		return oidcErr("set code", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: oidc auth request %s: not done or already has a code: %w", id, oidc.ErrConflict)
	}
	return nil
}

// ConsumeCode implements oidc.Store with one conditional UPDATE ... RETURNING,
// so two concurrent exchanges of one code cannot both win. An expired code
// is burnt too, and reported as not found. With access, on PostgreSQL the
// access token is inserted by the same statement (a data-modifying WITH);
// on SQLite the two statements are one transaction.
func (s *OIDC) ConsumeCode(ctx context.Context, codeHash string, now time.Time, access *oidc.Token) (oidc.AuthRequest, error) {
	var ar oidc.AuthRequest
	var err error
	switch {
	case access == nil:
		ar, err = scanAR(s.queryRow(ctx, `UPDATE oidc_auth_requests SET state = ? WHERE code = ? AND state = ?
			RETURNING `+arColumns, oidc.StateUsed, codeHash, oidc.StateDone))
	case s.db.Dialect() == Postgres:
		ar, err = scanAR(s.queryRow(ctx, `WITH c AS (UPDATE oidc_auth_requests SET state = ? WHERE code = ? AND state = ?
				RETURNING `+arColumns+`),
			t AS (INSERT INTO oidc_tokens (id, refresh, client_id, subject, auth_request_id, expires_at, data)
				SELECT ?::text, 0, client_id, subject, id, ?::bigint, token FROM c
				WHERE token IS NOT NULL AND subject <> '' AND expires_at > ?::bigint)
			SELECT * FROM c`, oidc.StateUsed, codeHash, oidc.StateDone, access.ID, access.Expires.UnixMicro(), now.UnixMicro()))
	default:
		err = s.db.InTx(ctx, func(tx *Tx) error {
			ar, err = scanAR(tx.QueryRow(ctx, `UPDATE oidc_auth_requests SET state = ? WHERE code = ? AND state = ?
				RETURNING `+arColumns, oidc.StateUsed, codeHash, oidc.StateDone))
			if err != nil || ar.Token == nil || ar.Subject == "" || !ar.Expires.After(now) {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO oidc_tokens (id, refresh, client_id, subject, auth_request_id, expires_at, data)
				VALUES (?, 0, ?, ?, ?, ?, ?)`, access.ID, ar.ClientID, ar.Subject, ar.ID, access.Expires.UnixMicro(), ar.Token)
			if err != nil {
				return oidcErr("put token", err)
			}
			return nil
		})
	}
	if err == nil {
		if !ar.Expires.After(now) {
			return oidc.AuthRequest{}, oidc.ErrNotFound
		}
		return ar, nil
	}
	if !errors.Is(err, oidc.ErrNotFound) {
		return ar, err
	}
	ar, err = scanAR(s.queryRow(ctx, `SELECT `+arColumns+` FROM oidc_auth_requests WHERE code = ?`, codeHash))
	if err != nil {
		return ar, err
	}
	if ar.State == oidc.StateUsed {
		return ar, fmt.Errorf("store: oidc code already used: %w", oidc.ErrConflict)
	}
	return oidc.AuthRequest{}, oidc.ErrNotFound
}

// PutTokens implements oidc.Store. The common cases take one statement,
// which is its own transaction: one token issued, and on PostgreSQL one
// refresh token rotated (the delete of the old row and the insert of the new
// one in a single statement, inserting only when the delete found the row).
// Each saves the round trips of BEGIN and COMMIT (and of the second
// statement) that an explicit transaction costs on PostgreSQL.
func (s *OIDC) PutTokens(ctx context.Context, replaces string, toks ...oidc.Token) error {
	const (
		del = `DELETE FROM oidc_tokens WHERE id = ? AND refresh = 1`
		ins = `INSERT INTO oidc_tokens (id, refresh, client_id, subject, auth_request_id, expires_at, data)
				VALUES (?, ?, ?, ?, ?, ?, ?)`
		rotate = `WITH old AS (DELETE FROM oidc_tokens WHERE id = ? AND refresh = 1 RETURNING id)
			INSERT INTO oidc_tokens (id, refresh, client_id, subject, auth_request_id, expires_at, data)
				SELECT ?::text, ?::integer, ?::text, ?::text, ?::text, ?::bigint, ?::bytea FROM old`
	)
	args := func(t oidc.Token) []any {
		r := 0
		if t.Refresh {
			r = 1
		}
		return []any{t.ID, r, t.ClientID, t.Subject, t.AuthRequestID, t.Expires.UnixMicro(), t.Data}
	}
	switch {
	case len(toks) == 1 && replaces == "":
		if _, err := s.exec(ctx, ins, args(toks[0])...); err != nil {
			return oidcErr("put token", err)
		}
		return nil
	case len(toks) == 1 && s.db.Dialect() == Postgres:
		res, err := s.exec(ctx, rotate, append([]any{replaces}, args(toks[0])...)...)
		if err != nil {
			return oidcErr("rotate refresh token", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: oidc refresh token already used: %w", oidc.ErrConflict)
		}
		return nil
	}
	delStmt, err := s.stmt(ctx, del)
	if err != nil {
		return oidcErr("prepare", err)
	}
	insStmt, err := s.stmt(ctx, ins)
	if err != nil {
		return oidcErr("prepare", err)
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		if replaces != "" {
			res, err := tx.tx.StmtContext(ctx, delStmt).ExecContext(ctx, replaces)
			if err != nil {
				return oidcErr("rotate refresh token", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("store: oidc refresh token already used: %w", oidc.ErrConflict)
			}
		}
		st := tx.tx.StmtContext(ctx, insStmt)
		for _, t := range toks {
			if _, err := st.ExecContext(ctx, args(t)...); err != nil {
				return oidcErr("put token", err)
			}
		}
		return nil
	})
}

// RotateRefreshToken implements oidc.Store. On PostgreSQL it is one
// statement: the assertion's insert (nothing on conflict), the delete of
// the old token only when that insert happened, and the insert of the new
// one only when the delete found the old; it reports what happened. On
// SQLite it is one transaction.
func (s *OIDC) RotateRefreshToken(ctx context.Context, spend *oidc.Assertion, replaces string, t oidc.Token) error {
	if spend == nil {
		return s.PutTokens(ctx, replaces, t)
	}
	spent := fmt.Errorf("store: oidc client assertion: %w (%w)", oidc.ErrAssertionSpent, oidc.ErrConflict)
	used := fmt.Errorf("store: oidc refresh token already used: %w", oidc.ErrConflict)
	aID, aExp := assertionID(spend.ClientID, spend.JTI), spend.Expires.UnixMicro()
	r := 0
	if t.Refresh {
		r = 1
	}
	tokArgs := []any{t.ID, r, t.ClientID, t.Subject, t.AuthRequestID, t.Expires.UnixMicro(), t.Data}
	if s.db.Dialect() == Postgres {
		const q = `WITH a AS (INSERT INTO oidc_assertions (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING RETURNING id),
			old AS (DELETE FROM oidc_tokens WHERE id = ? AND refresh = 1 AND EXISTS (SELECT 1 FROM a) RETURNING id),
			ins AS (INSERT INTO oidc_tokens (id, refresh, client_id, subject, auth_request_id, expires_at, data)
				SELECT ?::text, ?::integer, ?::text, ?::text, ?::text, ?::bigint, ?::bytea FROM old RETURNING id)
			SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM ins)`
		var na, ni int
		if err := s.queryRow(ctx, q, append([]any{aID, aExp, replaces}, tokArgs...)...).Scan(&na, &ni); err != nil {
			return oidcErr("rotate refresh token", err)
		}
		switch {
		case na == 0:
			return spent
		case ni == 0:
			return used
		}
		return nil
	}
	var lost error // the assertion spent, the token not rotated: commit that
	err := s.db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO oidc_assertions (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, aID, aExp)
		if err != nil {
			return oidcErr("use assertion", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return spent
		}
		res, err = tx.Exec(ctx, `DELETE FROM oidc_tokens WHERE id = ? AND refresh = 1`, replaces)
		if err != nil {
			return oidcErr("rotate refresh token", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			lost = used
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO oidc_tokens (id, refresh, client_id, subject, auth_request_id, expires_at, data)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, tokArgs...); err != nil {
			return oidcErr("put token", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return lost
}

// Token implements oidc.Store.
func (s *OIDC) Token(ctx context.Context, id string) (oidc.Token, error) {
	t := oidc.Token{ID: id}
	var r int
	var exp int64
	err := s.queryRow(ctx, `SELECT refresh, client_id, subject, auth_request_id, expires_at, data FROM oidc_tokens WHERE id = ?`, id).
		Scan(&r, &t.ClientID, &t.Subject, &t.AuthRequestID, &exp, &t.Data)
	if err != nil {
		return t, oidcErr("token", notFound(err))
	}
	t.Refresh = r == 1
	t.Expires = time.UnixMicro(exp)
	return t, nil
}

// DeleteToken implements oidc.Store.
func (s *OIDC) DeleteToken(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `DELETE FROM oidc_tokens WHERE id = ?`, id); err != nil {
		return oidcErr("delete token", err)
	}
	return nil
}

// DeleteTokens implements oidc.Store.
func (s *OIDC) DeleteTokens(ctx context.Context, subject, clientID, authRequestID string) error {
	var err error
	if authRequestID != "" {
		_, err = s.exec(ctx, `DELETE FROM oidc_tokens WHERE auth_request_id = ?`, authRequestID)
	} else {
		_, err = s.exec(ctx, `DELETE FROM oidc_tokens WHERE subject = ? AND client_id = ?`, subject, clientID)
	}
	if err != nil {
		return oidcErr("delete tokens", err)
	}
	return nil
}

// PutPushedRequest implements oidc.Store.
func (s *OIDC) PutPushedRequest(ctx context.Context, p oidc.PushedRequest) error {
	if _, err := s.exec(ctx, `INSERT INTO oidc_pushed_requests (id, client_id, params, expires_at) VALUES (?, ?, ?, ?)`,
		p.ID, p.ClientID, p.Params, p.Expires.UnixMicro()); err != nil {
		return oidcErr("put pushed request", err)
	}
	return nil
}

// TakePushedRequest implements oidc.Store with DELETE ... RETURNING (single use).
func (s *OIDC) TakePushedRequest(ctx context.Context, id string) (oidc.PushedRequest, error) {
	p := oidc.PushedRequest{ID: id}
	var exp int64
	err := s.queryRow(ctx, `DELETE FROM oidc_pushed_requests WHERE id = ? RETURNING client_id, params, expires_at`, id).
		Scan(&p.ClientID, &p.Params, &exp)
	if err != nil {
		return p, oidcErr("take pushed request", notFound(err))
	}
	p.Expires = time.UnixMicro(exp)
	return p, nil
}

// RecordGrant implements oidc.Store.
func (s *OIDC) RecordGrant(ctx context.Context, g oidc.Grant) error {
	claims, err := json.Marshal(g.Claims)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, `INSERT INTO oidc_grants (citizen, client_id, subject, claims, acr, at) VALUES (?, ?, ?, ?, ?, ?)`,
		g.Citizen, g.ClientID, g.Subject, string(claims), g.ACR, g.At.UnixMicro()); err != nil {
		return oidcErr("record grant", err)
	}
	return nil
}

// Grants implements oidc.Store, oldest first.
func (s *OIDC) Grants(ctx context.Context, citizen []byte) ([]oidc.Grant, error) {
	rows, err := s.db.Query(ctx, `SELECT client_id, subject, claims, acr, at FROM oidc_grants WHERE citizen = ? ORDER BY at, id`, citizen)
	if err != nil {
		return nil, oidcErr("grants", err)
	}
	defer rows.Close()
	var out []oidc.Grant
	for rows.Next() {
		g := oidc.Grant{Citizen: citizen}
		var claims string
		var at int64
		if err := rows.Scan(&g.ClientID, &g.Subject, &claims, &g.ACR, &at); err != nil {
			return nil, oidcErr("grants", err)
		}
		if err := json.Unmarshal([]byte(claims), &g.Claims); err != nil {
			return nil, fmt.Errorf("store: oidc grant claims: %w", err)
		}
		g.At = time.UnixMicro(at)
		out = append(out, g)
	}
	return out, rows.Err()
}

// UseAssertion implements oidc.Store with one INSERT that does nothing on
// conflict: no row inserted means the pair was already spent.
func (s *OIDC) UseAssertion(ctx context.Context, clientID, jti string, exp time.Time) error {
	res, err := s.exec(ctx, `INSERT INTO oidc_assertions (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
		assertionID(clientID, jti), exp.UnixMicro())
	if err != nil {
		return oidcErr("use assertion", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return oidcErr("use assertion", err)
	}
	if n == 0 {
		return fmt.Errorf("store: oidc client assertion already used: %w", oidc.ErrConflict)
	}
	return nil
}

// assertionID is the key of a spent assertion: SHA-256 of client id NUL jti.
func assertionID(clientID, jti string) []byte {
	h := sha256.New()
	h.Write([]byte(clientID))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	return h.Sum(nil)
}

// Purge implements oidc.Store. Requests are kept for an hour past their
// expiry so that a replayed code is recognised (and its tokens revoked);
// spent client assertions until they expire (a jti stays spent until then,
// so an assertion is never accepted twice while op would accept it).
func (s *OIDC) Purge(ctx context.Context, now time.Time) error {
	t := now.UnixMicro()
	if _, err := s.exec(ctx, `DELETE FROM oidc_auth_requests WHERE expires_at < ?`, now.Add(-time.Hour).UnixMicro()); err != nil {
		return oidcErr("purge", err)
	}
	for _, q := range []string{
		`DELETE FROM oidc_tokens WHERE expires_at < ?`,
		`DELETE FROM oidc_pushed_requests WHERE expires_at < ?`,
		`DELETE FROM oidc_assertions WHERE expires_at < ?`,
	} {
		if _, err := s.exec(ctx, q, t); err != nil {
			return oidcErr("purge", err)
		}
	}
	return nil
}
