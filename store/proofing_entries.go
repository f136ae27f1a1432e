package store

import (
	"context"
	"time"

	"github.com/shenfen/shenfen/proofing"
)

func init() {
	register(Migration{Domain: "proofing", Version: 4, SQLite: cardEntriesSchema, Postgres: cardEntriesSchema})
}

// cardEntriesSchema keeps the status entries of a card's single-use
// credentials (issued in batches): the card's revocation or suspension
// changes them all, and a presentation of any of them names the card in
// the citizen's history.
const cardEntriesSchema = `
CREATE TABLE proofing_card_entries (
	status_uri TEXT NOT NULL,
	status_idx BIGINT NOT NULL,
	card_id TEXT NOT NULL REFERENCES proofing_cards (id),
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (status_uri, status_idx)
);
CREATE INDEX proofing_card_entries_card ON proofing_card_entries (card_id, expires_at);`

var _ proofing.CardEntries = (*Proofing)(nil)

// AddCardEntries records the status entries of a batch of a card's
// credentials, valid until expires, in one transaction.
func (p *Proofing) AddCardEntries(ctx context.Context, cardID string, refs []proofing.StatusRef, expires time.Time) error {
	return p.db.InTxDurable(ctx, func(tx *Tx) error {
		for _, r := range refs {
			if _, err := tx.Exec(ctx, `INSERT INTO proofing_card_entries (status_uri, status_idx, card_id, expires_at) VALUES (?, ?, ?, ?)`,
				r.URI, int64(r.Index), cardID, ms(expires)); err != nil {
				if isUniqueViolation(err) {
					return proofing.ErrConflict
				}
				return err
			}
		}
		return nil
	})
}

// CardEntries lists the entries of a card's credentials that expire after
// after, at most limit.
func (p *Proofing) CardEntries(ctx context.Context, cardID string, after time.Time, limit int) ([]proofing.StatusRef, error) {
	rows, err := p.db.Query(ctx, `SELECT status_uri, status_idx FROM proofing_card_entries WHERE card_id = ? AND expires_at > ?
		ORDER BY status_uri, status_idx LIMIT ?`, cardID, ms(after), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []proofing.StatusRef
	for rows.Next() {
		var r proofing.StatusRef
		var idx int64
		if err := rows.Scan(&r.URI, &idx); err != nil {
			return nil, err
		}
		r.Index = int(idx)
		out = append(out, r)
	}
	return out, rows.Err()
}
