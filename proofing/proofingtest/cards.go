package proofingtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/proofing"
)

// SeedCard stores an approved enrollment with card c the way a decision
// does (session, claim, finish), so card-lifecycle tests start from real
// records: an earlier active card of the same subject becomes revoking.
func SeedCard(ctx context.Context, st proofing.Store, c proofing.Card) error {
	at := c.CreatedAt
	sess := proofing.Session{ID: c.SessionID, DeviceKey: c.DeviceKey, DeviceThumb: c.DeviceThumb, Digits: "0000",
		State: proofing.StatePending, CreatedAt: at, ExpiresAt: at.Add(2 * time.Minute)}
	if err := st.CreateSession(ctx, sess); err != nil {
		return fmt.Errorf("seed card: session: %w", err)
	}
	if err := st.Claim(ctx, sess.ID, at, at.Add(time.Minute), []byte("evidence")); err != nil {
		return fmt.Errorf("seed card: claim: %w", err)
	}
	d := proofing.Decision{SessionID: sess.ID, Approved: true, Reason: proofing.ReasonApproved, Subject: c.Subject,
		StartedAt: at, DecidedAt: at}
	if err := st.Finish(ctx, proofing.Finish{Decision: d, Card: &c}); err != nil {
		return fmt.Errorf("seed card: finish: %w", err)
	}
	return nil
}

// Events is a proofing.EventLog double that keeps the events.
type Events struct {
	mu sync.Mutex
	// List is every event appended, in order.
	List []audit.Event
}

// Append implements proofing.EventLog.
func (e *Events) Append(_ context.Context, ev audit.Event) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.List = append(e.List, ev)
	return uint64(len(e.List) - 1), nil
}

// Actions lists the card-action events as "action by" strings.
func (e *Events) Actions() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.List {
		if ev.Type == proofing.EventCardAction {
			out = append(out, ev.Attrs["action"]+" by "+ev.Attrs["by"])
		}
	}
	return out
}
