package store

import (
	"context"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/proofing"
)

func init() {
	const schema = `
CREATE TABLE proofing_revocation_codes (
	card_id TEXT PRIMARY KEY REFERENCES proofing_cards (id),
	subject TEXT NOT NULL,
	hash %[1]s NOT NULL,
	created_at BIGINT NOT NULL,
	used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX proofing_revocation_codes_subject ON proofing_revocation_codes (subject, used_at);
CREATE INDEX proofing_cards_subject_created ON proofing_cards (subject, created_at);`
	register(Migration{Domain: "proofing", Version: 2,
		SQLite:   fmt.Sprintf(schema, "BLOB"),
		Postgres: fmt.Sprintf(schema, "BYTEA")})
}

var _ proofing.CardStore = (*Proofing)(nil)

// CardsOfSubject lists a subject's cards, newest first, at most limit.
func (p *Proofing) CardsOfSubject(ctx context.Context, subject string, limit int) ([]proofing.Card, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := p.db.Query(ctx, `SELECT `+cardCols+` FROM proofing_cards WHERE subject = ?
		ORDER BY created_at DESC, id LIMIT ?`, subject, limit)
	if err != nil {
		return nil, fmt.Errorf("store: cards of subject: %w", err)
	}
	defer rows.Close()
	var out []proofing.Card
	for rows.Next() {
		c, err := scanCard(rows)
		if err != nil {
			return nil, fmt.Errorf("store: cards of subject: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PutRevocationCode stores a card's revocation code, replacing a used one;
// ErrConflict when the card has an unused code.
func (p *Proofing) PutRevocationCode(ctx context.Context, c proofing.RevocationCode) error {
	r, err := p.db.Exec(ctx, `INSERT INTO proofing_revocation_codes (card_id, subject, hash, created_at, used_at)
		VALUES (?, ?, ?, ?, 0)
		ON CONFLICT (card_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at, used_at = 0
		WHERE proofing_revocation_codes.used_at <> 0`, c.CardID, c.Subject, c.Hash, ms(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("store: put revocation code: %w", err)
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return proofing.ErrConflict
	}
	return nil
}

// RevocationCodes returns the unused codes of a subject's active cards.
func (p *Proofing) RevocationCodes(ctx context.Context, subject string) ([]proofing.RevocationCode, error) {
	rows, err := p.db.Query(ctx, `SELECT r.card_id, r.subject, r.hash, r.created_at FROM proofing_revocation_codes r
		JOIN proofing_cards c ON c.id = r.card_id
		WHERE r.subject = ? AND r.used_at = 0 AND c.state = 'active' ORDER BY r.created_at, r.card_id LIMIT 100`, subject)
	if err != nil {
		return nil, fmt.Errorf("store: revocation codes: %w", err)
	}
	defer rows.Close()
	var out []proofing.RevocationCode
	for rows.Next() {
		var c proofing.RevocationCode
		var created int64
		if err := rows.Scan(&c.CardID, &c.Subject, &c.Hash, &created); err != nil {
			return nil, fmt.Errorf("store: revocation codes: %w", err)
		}
		c.CreatedAt = fromMS(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

// UseRevocationCode marks a card's unused code used.
func (p *Proofing) UseRevocationCode(ctx context.Context, cardID string, hash []byte, now time.Time) error {
	r, err := p.db.Exec(ctx, `UPDATE proofing_revocation_codes SET used_at = ? WHERE card_id = ? AND hash = ? AND used_at = 0`,
		ms(now), cardID, hash)
	if err != nil {
		return fmt.Errorf("store: use revocation code: %w", err)
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return proofing.ErrConflict
	}
	return nil
}
