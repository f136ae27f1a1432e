package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/proofing"
)

func init() {
	const schema = `
CREATE TABLE proofing_sessions (
	id TEXT PRIMARY KEY,
	device_key TEXT NOT NULL,
	device_thumb TEXT NOT NULL,
	digits TEXT NOT NULL,
	state TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	lease_until BIGINT NOT NULL DEFAULT 0,
	decided_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX proofing_sessions_expiry ON proofing_sessions (state, expires_at);
CREATE TABLE proofing_evidence (
	session_id TEXT PRIMARY KEY REFERENCES proofing_sessions (id),
	sealed %[1]s NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE TABLE proofing_decisions (
	session_id TEXT PRIMARY KEY REFERENCES proofing_sessions (id),
	approved INTEGER NOT NULL,
	reason TEXT NOT NULL,
	subject TEXT NOT NULL,
	face_distance DOUBLE PRECISION NOT NULL,
	speech_confidence DOUBLE PRECISION NOT NULL,
	liveness DOUBLE PRECISION NOT NULL,
	models TEXT NOT NULL,
	started_at BIGINT NOT NULL,
	decided_at BIGINT NOT NULL
);
CREATE TABLE proofing_cards (
	id TEXT PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES proofing_sessions (id),
	subject TEXT NOT NULL,
	id_number %[1]s NOT NULL,
	device_key TEXT NOT NULL,
	device_thumb TEXT NOT NULL,
	status_uri TEXT NOT NULL,
	status_idx BIGINT NOT NULL,
	state TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX proofing_cards_subject ON proofing_cards (subject, state);
CREATE INDEX proofing_cards_state ON proofing_cards (state);
CREATE INDEX proofing_cards_status ON proofing_cards (status_uri, status_idx);
CREATE TABLE proofing_secrets (
	hash %[1]s PRIMARY KEY,
	kind TEXT NOT NULL,
	ref TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX proofing_secrets_expiry ON proofing_secrets (expires_at);
CREATE TABLE verifier_requests (
	id TEXT PRIMARY KEY,
	token_hash %[1]s NOT NULL,
	nonce TEXT NOT NULL,
	query TEXT NOT NULL,
	state TEXT NOT NULL,
	result %[1]s,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX verifier_requests_expiry ON verifier_requests (expires_at);`
	register(Migration{Domain: "proofing", Version: 1,
		SQLite:   fmt.Sprintf(schema, "BLOB"),
		Postgres: fmt.Sprintf(schema, "BYTEA")})
}

// Proofing is the proofing domain's storage (proofing.Store and
// proofing.VerifierStore).
type Proofing struct{ db *DB }

// Proofing returns the enrollment and verifier-request storage.
func (db *DB) Proofing() *Proofing { return &Proofing{db: db} }

var (
	_ proofing.Store         = (*Proofing)(nil)
	_ proofing.VerifierStore = (*Proofing)(nil)
)

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func proofingNotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return proofing.ErrNotFound
	}
	return err
}

// CreateSession stores a new session.
func (p *Proofing) CreateSession(ctx context.Context, s proofing.Session) error {
	lang := s.Language
	if lang == "" {
		lang = proofing.English
	}
	_, err := p.db.Exec(ctx, `INSERT INTO proofing_sessions (id, device_key, device_thumb, digits, language, light, state, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, string(s.DeviceKey), s.DeviceThumb, s.Digits, string(lang), encodeLight(s.Light),
		string(s.State), ms(s.CreatedAt), ms(s.ExpiresAt))
	if isUniqueViolation(err) {
		return proofing.ErrConflict
	}
	return err
}

// Session returns a session.
func (p *Proofing) Session(ctx context.Context, id string) (proofing.Session, error) {
	var s proofing.Session
	var key, state, lang, light string
	var created, expires, lease, decided int64
	err := p.db.QueryRow(ctx, `SELECT id, device_key, device_thumb, digits, language, light, state, created_at, expires_at, lease_until, decided_at
		FROM proofing_sessions WHERE id = ?`, id).Scan(&s.ID, &key, &s.DeviceThumb, &s.Digits, &lang, &light, &state, &created, &expires, &lease, &decided)
	if err != nil {
		return s, proofingNotFound(err)
	}
	if s.Light, err = decodeLight(light); err != nil {
		return s, err
	}
	s.DeviceKey, s.State, s.Language = []byte(key), proofing.State(state), proofing.Language(lang)
	s.CreatedAt, s.ExpiresAt, s.LeaseUntil, s.DecidedAt = fromMS(created), fromMS(expires), fromMS(lease), fromMS(decided)
	return s, nil
}

// Claim moves a claimable session to deciding and stores its evidence.
func (p *Proofing) Claim(ctx context.Context, id string, now, leaseUntil time.Time, evidence []byte) error {
	return p.db.InTx(ctx, func(tx *Tx) error {
		r, err := tx.Exec(ctx, `UPDATE proofing_sessions SET state = 'deciding', lease_until = ?
			WHERE id = ? AND expires_at > ? AND (state = 'pending' OR (state = 'deciding' AND lease_until <= ?))`,
			ms(leaseUntil), id, ms(now), ms(now))
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return proofing.ErrConflict
		}
		if _, err := tx.Exec(ctx, `DELETE FROM proofing_evidence WHERE session_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO proofing_evidence (session_id, sealed, expires_at)
			SELECT id, ?, expires_at FROM proofing_sessions WHERE id = ?`, evidence, id)
		return err
	})
}

// Release returns a deciding session to pending and deletes its evidence.
func (p *Proofing) Release(ctx context.Context, id string) error {
	return p.db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM proofing_evidence WHERE session_id = ?`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE proofing_sessions SET state = 'pending', lease_until = 0 WHERE id = ? AND state = 'deciding'`, id)
		return err
	})
}

// Evidence returns a session's sealed evidence.
func (p *Proofing) Evidence(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := p.db.QueryRow(ctx, `SELECT sealed FROM proofing_evidence WHERE session_id = ?`, id).Scan(&b)
	return b, proofingNotFound(err)
}

// Finish records a decision in one transaction.
func (p *Proofing) Finish(ctx context.Context, f proofing.Finish) error {
	d := f.Decision
	state := proofing.StateRefused
	if d.Approved {
		state = proofing.StateApproved
	}
	return p.db.InTx(ctx, func(tx *Tx) error {
		r, err := tx.Exec(ctx, `UPDATE proofing_sessions SET state = ?, decided_at = ?, lease_until = 0 WHERE id = ? AND state = 'deciding'`,
			string(state), ms(d.DecidedAt), d.SessionID)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return proofing.ErrConflict
		}
		approved := 0
		if d.Approved {
			approved = 1
		}
		if _, err := tx.Exec(ctx, `INSERT INTO proofing_decisions (session_id, approved, reason, subject, face_distance,
			speech_confidence, liveness, models, language, checks, started_at, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.SessionID, approved, string(d.Reason), d.Subject, d.FaceDistance, d.SpeechConfidence, d.Liveness, d.Models,
			string(d.Language), d.Checks, ms(d.StartedAt), ms(d.DecidedAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM proofing_evidence WHERE session_id = ?`, d.SessionID); err != nil {
			return err
		}
		if f.Card != nil {
			c := f.Card
			if _, err := tx.Exec(ctx, `UPDATE proofing_cards SET state = 'revoking' WHERE subject = ? AND state = 'active'`, c.Subject); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO proofing_cards (id, session_id, subject, id_number, device_key, device_thumb,
				status_uri, status_idx, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				c.ID, c.SessionID, c.Subject, c.IDNumber, string(c.DeviceKey), c.DeviceThumb, c.StatusURI, c.StatusIndex,
				string(c.State), ms(c.CreatedAt)); err != nil {
				return err
			}
		}
		if f.Offer != nil {
			if err := putSecret(ctx, tx, *f.Offer); err != nil {
				return err
			}
		}
		return nil
	})
}

// Decision returns a session's decision.
func (p *Proofing) Decision(ctx context.Context, id string) (proofing.Decision, error) {
	var d proofing.Decision
	var approved int
	var reason, lang string
	var started, decided int64
	err := p.db.QueryRow(ctx, `SELECT session_id, approved, reason, subject, face_distance, speech_confidence, liveness, models,
		language, checks, started_at, decided_at FROM proofing_decisions WHERE session_id = ?`, id).Scan(&d.SessionID, &approved, &reason, &d.Subject,
		&d.FaceDistance, &d.SpeechConfidence, &d.Liveness, &d.Models, &lang, &d.Checks, &started, &decided)
	if err != nil {
		return d, proofingNotFound(err)
	}
	d.Approved, d.Reason, d.StartedAt, d.DecidedAt = approved == 1, proofing.Reason(reason), fromMS(started), fromMS(decided)
	d.Language = proofing.Language(lang)
	return d, nil
}

const cardCols = `id, session_id, subject, id_number, device_key, device_thumb, status_uri, status_idx, state, created_at`

func scanCard(sc interface{ Scan(...any) error }) (proofing.Card, error) {
	var c proofing.Card
	var key, state string
	var idx, created int64
	if err := sc.Scan(&c.ID, &c.SessionID, &c.Subject, &c.IDNumber, &key, &c.DeviceThumb, &c.StatusURI, &idx, &state, &created); err != nil {
		return c, err
	}
	c.DeviceKey, c.StatusIndex, c.State, c.CreatedAt = []byte(key), int(idx), proofing.CardState(state), fromMS(created)
	return c, nil
}

// Card returns a card record.
func (p *Proofing) Card(ctx context.Context, id string) (proofing.Card, error) {
	c, err := scanCard(p.db.QueryRow(ctx, `SELECT `+cardCols+` FROM proofing_cards WHERE id = ?`, id))
	return c, proofingNotFound(err)
}

// CardByStatus returns the card with a status entry.
func (p *Proofing) CardByStatus(ctx context.Context, uri string, index int) (proofing.Card, error) {
	c, err := scanCard(p.db.QueryRow(ctx, `SELECT `+cardCols+` FROM proofing_cards WHERE status_uri = ? AND status_idx = ?
		ORDER BY created_at LIMIT 1`, uri, index))
	if errors.Is(err, sql.ErrNoRows) { // a single-use credential of a batch
		c, err = scanCard(p.db.QueryRow(ctx, `SELECT `+cardCols+` FROM proofing_cards WHERE id =
			(SELECT card_id FROM proofing_card_entries WHERE status_uri = ? AND status_idx = ?)`, uri, index))
	}
	return c, proofingNotFound(err)
}

// CardsInState lists up to limit cards in a state.
func (p *Proofing) CardsInState(ctx context.Context, st proofing.CardState, limit int) ([]proofing.Card, error) {
	rows, err := p.db.Query(ctx, `SELECT `+cardCols+` FROM proofing_cards WHERE state = ? ORDER BY created_at, id LIMIT ?`, string(st), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []proofing.Card
	for rows.Next() {
		c, err := scanCard(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetCardState changes a card's state.
func (p *Proofing) SetCardState(ctx context.Context, id string, st proofing.CardState) error {
	r, err := p.db.Exec(ctx, `UPDATE proofing_cards SET state = ? WHERE id = ?`, string(st), id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return proofing.ErrNotFound
	}
	return nil
}

func putSecret(ctx context.Context, tx *Tx, s proofing.Secret) error {
	_, err := tx.Exec(ctx, `INSERT INTO proofing_secrets (hash, kind, ref, expires_at) VALUES (?, ?, ?, ?)`,
		s.Hash, s.Kind, s.Ref, ms(s.ExpiresAt))
	if isUniqueViolation(err) {
		return proofing.ErrConflict
	}
	return err
}

// PutSecret stores a secret.
func (p *Proofing) PutSecret(ctx context.Context, s proofing.Secret) error {
	return p.db.InTx(ctx, func(tx *Tx) error { return putSecret(ctx, tx, s) })
}

// UseSecret marks a secret used once.
func (p *Proofing) UseSecret(ctx context.Context, kind string, hash []byte, now time.Time) (string, error) {
	var ref string
	err := p.db.InTx(ctx, func(tx *Tx) error {
		var used, expires int64
		err := tx.QueryRow(ctx, `SELECT ref, used_at, expires_at FROM proofing_secrets WHERE hash = ? AND kind = ?`, hash, kind).
			Scan(&ref, &used, &expires)
		if err != nil {
			return proofingNotFound(err)
		}
		if expires <= ms(now) {
			return proofing.ErrNotFound
		}
		r, err := tx.Exec(ctx, `UPDATE proofing_secrets SET used_at = ? WHERE hash = ? AND used_at = 0`, ms(now), hash)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return proofing.ErrConflict
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return ref, nil
}

// PeekSecret returns the ref of an unexpired, unused secret.
func (p *Proofing) PeekSecret(ctx context.Context, kind string, hash []byte, now time.Time) (string, error) {
	var ref string
	err := p.db.QueryRow(ctx, `SELECT ref FROM proofing_secrets WHERE hash = ? AND kind = ? AND used_at = 0 AND expires_at > ?`,
		hash, kind, ms(now)).Scan(&ref)
	return ref, proofingNotFound(err)
}

// Sweep deletes expired evidence (and releases its sessions), expired
// undecided sessions, expired secrets and expired verifier requests.
func (p *Proofing) Sweep(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := p.db.InTx(ctx, func(tx *Tx) error {
		// Undecided sessions stay an hour past their expiry so that a late
		// submission is told "expired" rather than "not found".
		for _, q := range []struct {
			sql string
			at  time.Time
		}{
			{`DELETE FROM proofing_evidence WHERE expires_at <= ?`, now},
			{`DELETE FROM proofing_sessions WHERE state IN ('pending', 'deciding') AND expires_at <= ?
				AND id NOT IN (SELECT session_id FROM proofing_evidence)`, now.Add(-time.Hour)},
			{`DELETE FROM proofing_secrets WHERE expires_at <= ?`, now},
			{`DELETE FROM verifier_requests WHERE expires_at <= ?`, now},
			{`DELETE FROM proofing_media_hashes WHERE expires_at <= ?`, now},
		} {
			r, err := tx.Exec(ctx, q.sql, ms(q.at))
			if err != nil {
				return err
			}
			n, _ := r.RowsAffected()
			total += n
		}
		return nil
	})
	return total, err
}

// PutVerifierRequest stores a verifier request.
func (p *Proofing) PutVerifierRequest(ctx context.Context, r proofing.VerifierRequest) error {
	_, err := p.db.Exec(ctx, `INSERT INTO verifier_requests (id, token_hash, nonce, query, state, result, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.TokenHash, r.Nonce, string(r.Query), r.State, r.Result, ms(r.CreatedAt), ms(r.ExpiresAt))
	if isUniqueViolation(err) {
		return proofing.ErrConflict
	}
	return err
}

// VerifierRequest returns a verifier request.
func (p *Proofing) VerifierRequest(ctx context.Context, id string) (proofing.VerifierRequest, error) {
	var r proofing.VerifierRequest
	var q string
	var created, expires int64
	err := p.db.QueryRow(ctx, `SELECT id, token_hash, nonce, query, state, result, created_at, expires_at FROM verifier_requests WHERE id = ?`, id).
		Scan(&r.ID, &r.TokenHash, &r.Nonce, &q, &r.State, &r.Result, &created, &expires)
	if err != nil {
		return r, proofingNotFound(err)
	}
	r.Query, r.CreatedAt, r.ExpiresAt = []byte(q), fromMS(created), fromMS(expires)
	return r, nil
}

// AnswerVerifierRequest records the outcome of a pending request.
func (p *Proofing) AnswerVerifierRequest(ctx context.Context, id, state string, result []byte, now time.Time) error {
	r, err := p.db.Exec(ctx, `UPDATE verifier_requests SET state = ?, result = ? WHERE id = ? AND state = 'pending' AND expires_at > ?`,
		state, result, id, ms(now))
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return proofing.ErrConflict
	}
	return nil
}
