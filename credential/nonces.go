package credential

import (
	"context"
	"sync"
	"time"
)

// MemoryNonces is an in-memory [NonceStore] for a single verifier process:
// it remembers each value for TTL (long enough to outlive the presentation's
// own validity window) and at most Max values, refusing new ones when full
// rather than forgetting live ones (forgetting would reopen replays).
type MemoryNonces struct {
	// TTL is how long a consumed value is remembered (default 10 minutes).
	TTL time.Duration
	// Max bounds the number of remembered values (default 1,000,000).
	Max int
	// Clock is the time source (nil: time.Now).
	Clock Clock

	mu   sync.Mutex
	seen map[string]time.Time
	next time.Time // next sweep
}

// Consume implements [NonceStore].
func (m *MemoryNonces) Consume(_ context.Context, v string) error {
	ttl, max := m.TTL, m.Max
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	if max <= 0 {
		max = 1_000_000
	}
	now := m.Clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if now.After(m.next) || len(m.seen) >= max {
		for k, exp := range m.seen {
			if now.After(exp) {
				delete(m.seen, k)
			}
		}
		m.next = now.Add(ttl / 4)
	}
	if exp, ok := m.seen[v]; ok && !now.After(exp) {
		return ErrReplay
	}
	if len(m.seen) >= max {
		return errorf(ErrReplay, "nonce store full")
	}
	m.seen[v] = now.Add(ttl)
	return nil
}
