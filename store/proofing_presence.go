package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/biometric/presence"
)

func init() {
	// Genuine presence (issue 10): the session's language and light
	// challenge, every check's figures with the decision, and the keyed
	// hashes of submitted media kept for the replay window.
	const schema = `
ALTER TABLE proofing_sessions ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE proofing_sessions ADD COLUMN light TEXT NOT NULL DEFAULT '';
ALTER TABLE proofing_decisions ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE proofing_decisions ADD COLUMN checks TEXT NOT NULL DEFAULT '';
CREATE TABLE proofing_media_hashes (
	hash %[1]s NOT NULL,
	session_id TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (hash, session_id)
);
CREATE INDEX proofing_media_hashes_expiry ON proofing_media_hashes (expires_at);`
	register(Migration{Domain: "proofing", Version: 3,
		SQLite:   fmt.Sprintf(schema, "BLOB"),
		Postgres: fmt.Sprintf(schema, "BYTEA")})
}

// lightStep is a light step as stored (JSON in proofing_sessions.light).
type lightStep struct {
	Color    string `json:"color"`
	StartMS  int64  `json:"start_ms"`
	Duration int64  `json:"duration_ms"`
}

func encodeLight(l presence.Light) string {
	if len(l.Steps) == 0 {
		return ""
	}
	steps := make([]lightStep, len(l.Steps))
	for i, s := range l.Steps {
		steps[i] = lightStep{Color: s.Color.Hex(), StartMS: s.Start.Milliseconds(), Duration: s.Duration.Milliseconds()}
	}
	b, _ := json.Marshal(steps)
	return string(b)
}

func decodeLight(s string) (presence.Light, error) {
	if s == "" {
		return presence.Light{}, nil
	}
	var steps []lightStep
	if err := json.Unmarshal([]byte(s), &steps); err != nil {
		return presence.Light{}, fmt.Errorf("store: light challenge: %w", err)
	}
	var l presence.Light
	for _, st := range steps {
		c, err := presence.ParseHex(st.Color)
		if err != nil {
			return presence.Light{}, fmt.Errorf("store: light challenge: %w", err)
		}
		l.Steps = append(l.Steps, presence.Step{Color: c, Start: time.Duration(st.StartMS) * time.Millisecond,
			Duration: time.Duration(st.Duration) * time.Millisecond})
	}
	return l, nil
}

// RememberMedia stores a submission's media hashes until expires and
// returns those another session stored before.
func (p *Proofing) RememberMedia(ctx context.Context, sessionID string, hashes [][]byte, expires time.Time) ([][]byte, error) {
	var seen [][]byte
	err := p.db.InTx(ctx, func(tx *Tx) error {
		seen = seen[:0]
		for _, h := range hashes {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM proofing_media_hashes WHERE hash = ? AND session_id <> ?`,
				h, sessionID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				seen = append(seen, h)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM proofing_media_hashes WHERE hash = ? AND session_id = ?`, h, sessionID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO proofing_media_hashes (hash, session_id, expires_at) VALUES (?, ?, ?)`,
				h, sessionID, ms(expires)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: media hashes: %w", err)
	}
	return seen, nil
}
