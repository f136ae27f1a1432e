package proofing

import (
	"container/list"
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter limits events per key: the enrollment and lost-phone limits
// take one event per attempt. [Limiter] keeps the counts in process memory;
// the store's RateLimiter keeps them in the database, shared by every
// server process.
type RateLimiter interface {
	// Take takes one event for key at now; when key is over its limit it
	// returns false and how long until an event would be allowed.
	Take(ctx context.Context, key string, now time.Time) (bool, time.Duration, error)
}

// Remainer is a RateLimiter that can say how many events a key has left
// at now, without taking one.
type Remainer interface {
	Remaining(ctx context.Context, key string, now time.Time) (int, error)
}

// take is l.Take for a limiter that may be nil (no limit).
func take(ctx context.Context, l RateLimiter, key string, now time.Time) (bool, time.Duration, error) {
	if l == nil {
		return true, 0, nil
	}
	return l.Take(ctx, key, now)
}

// Limiter is a keyed token-bucket rate limiter (golang.org/x/time/rate per
// key) that remembers at most Max keys, forgetting the least recently used:
// memory stays bounded however many device keys or addresses an attacker
// invents. A forgotten key starts again with a full bucket, which is fine
// for keys that were idle long enough to fall out.
//
// The limiter is per process; a cluster of servers multiplies the allowance
// by its size, and a restart forgets it. shenfen serve uses the store's
// RateLimiter, shared through the database, instead.
type Limiter struct {
	limit rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	order *list.List // of *limEntry, most recent first
	keys  map[string]*list.Element
}

type limEntry struct {
	key string
	lim *rate.Limiter
}

// NewLimiter allows burst events at once and then one per every, per key,
// remembering at most max keys.
func NewLimiter(every time.Duration, burst, max int) *Limiter {
	if max < 1 {
		max = 1
	}
	return &Limiter{limit: rate.Every(every), burst: burst, max: max, order: list.New(), keys: map[string]*list.Element{}}
}

// Allow takes one event for key at now; when the key is over its limit it
// returns false and how long until an event would be allowed.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var e *limEntry
	if el, ok := l.keys[key]; ok {
		l.order.MoveToFront(el)
		e = el.Value.(*limEntry)
	} else {
		e = &limEntry{key: key, lim: rate.NewLimiter(l.limit, l.burst)}
		l.keys[key] = l.order.PushFront(e)
		for l.order.Len() > l.max {
			old := l.order.Back()
			l.order.Remove(old)
			delete(l.keys, old.Value.(*limEntry).key)
		}
	}
	r := e.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Hour
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Take implements [RateLimiter].
func (l *Limiter) Take(_ context.Context, key string, now time.Time) (bool, time.Duration, error) {
	ok, after := l.Allow(key, now)
	return ok, after, nil
}

// Remaining implements [Remainer]: the whole events key may take at now
// (a key the limiter does not remember has its full burst).
func (l *Limiter) Remaining(_ context.Context, key string, now time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.keys[key]
	if !ok {
		return l.burst, nil
	}
	return max(int(el.Value.(*limEntry).lim.TokensAt(now)), 0), nil
}

// Len is how many keys the limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
