package store

import (
	"context"
	"fmt"
	"time"
)

// DecisionOutcome is one enrollment decision as the admin console's
// statistics see it: the outcome ("approved" or the refusal reason) and
// how long the decision took.
type DecisionOutcome struct {
	Outcome string
	Latency time.Duration
}

// RecentDecisions returns the outcomes of the (at most limit) latest
// enrollment decisions taken at or after since, newest first. It reads the
// decision records only (no evidence, no subject).
func (p *Proofing) RecentDecisions(ctx context.Context, since time.Time, limit int) ([]DecisionOutcome, error) {
	if limit <= 0 || limit > 100_000 {
		limit = 100_000
	}
	rows, err := p.db.Query(ctx, `SELECT approved, reason, started_at, decided_at FROM proofing_decisions
		WHERE decided_at >= ? ORDER BY decided_at DESC LIMIT ?`, since.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent decisions: %w", err)
	}
	defer rows.Close()
	var out []DecisionOutcome
	for rows.Next() {
		var approved int
		var reason string
		var started, decided int64
		if err := rows.Scan(&approved, &reason, &started, &decided); err != nil {
			return nil, fmt.Errorf("store: recent decisions: %w", err)
		}
		o := DecisionOutcome{Outcome: reason, Latency: time.Duration(decided-started) * time.Millisecond}
		if approved == 1 {
			o.Outcome = "approved"
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recent decisions: %w", err)
	}
	return out, nil
}
