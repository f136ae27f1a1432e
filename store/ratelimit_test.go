package store_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

var _ proofing.RateLimiter = (*store.RateLimiter)(nil)

func TestRateLimiter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		hash := func(k string) []byte {
			m := hmac.New(sha256.New, []byte("test key"))
			m.Write([]byte(k))
			return m.Sum(nil)
		}
		now := time.Unix(1_800_000_000, 0)
		l := db.RateLimiter("test", time.Minute, 3, hash)
		for _, tc := range []struct {
			key   string
			at    time.Duration
			ok    bool
			after time.Duration
		}{
			{"a", 0, true, 0},
			{"a", 0, true, 0},
			{"a", 0, true, 0},
			{"a", 0, false, time.Minute}, // burst spent
			{"b", 0, true, 0},            // another key
			{"a", 30 * time.Second, false, 30 * time.Second},
			{"a", time.Minute, true, 0}, // one event back
			{"a", time.Minute, false, time.Minute},
			{"a", 5 * time.Minute, true, 0}, // full again
			{"a", 5 * time.Minute, true, 0},
			{"a", 5 * time.Minute, true, 0},
			{"a", 5 * time.Minute, false, time.Minute},
		} {
			ok, after, err := l.Take(ctx, tc.key, now.Add(tc.at))
			if err != nil || ok != tc.ok || after != tc.after {
				t.Fatalf("Take(%q, +%v) = %v, %v, %v; want %v, %v", tc.key, tc.at, ok, after, err, tc.ok, tc.after)
			}
		}
		// Another limiter's name never shares a key's count.
		if ok, _, _ := db.RateLimiter("other", time.Minute, 1, hash).Take(ctx, "a", now.Add(5*time.Minute)); !ok {
			t.Fatal("a limiter with another name shared the key's count")
		}
		// A second limiter on the same name and database (another server
		// process) sees the same count.
		if ok, _, _ := db.RateLimiter("test", time.Minute, 3, hash).Take(ctx, "a", now.Add(5*time.Minute)); ok {
			t.Fatal("a second process's limiter did not see the count")
		}
		// Keys are stored as their keyed hash only.
		var stored int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM rate_limits WHERE key = ?`, hash("test\x00a")).Scan(&stored); err != nil || stored != 1 {
			t.Fatalf("stored rows for the hashed key: %d, %v", stored, err)
		}
		// Concurrent events on one key never overspend the burst.
		c := db.RateLimiter("burst", time.Hour, 5, hash)
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, _, err := c.Take(ctx, "k", now)
				if err != nil {
					t.Error(err)
				}
				if ok {
					allowed.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := allowed.Load(); n != 5 {
			t.Fatalf("%d of 20 concurrent events allowed, want 5", n)
		}
		// Sweep forgets keys whose bucket is full again.
		n, err := l.Sweep(ctx, now.Add(24*time.Hour))
		if err != nil || n < 3 {
			t.Fatalf("Sweep = %d, %v; want at least the 3 keys", n, err)
		}
		if ok, _, _ := l.Take(ctx, "a", now.Add(24*time.Hour)); !ok {
			t.Fatal("a swept key is limited")
		}
	})
}

// TestRateLimiterRemaining: Remaining counts what Take would still allow,
// spends nothing, refills with time and never exceeds the burst.
func TestRateLimiterRemaining(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		hash := func(k string) []byte { s := sha256.Sum256([]byte("key " + k)); return s[:] }
		now := time.Unix(1_800_000_000, 0)
		l := db.RateLimiter("remaining", time.Minute, 3, hash)
		for _, tc := range []struct {
			take bool
			at   time.Duration
			want int
		}{
			{false, 0, 3},
			{true, 0, 2},
			{false, 0, 2},
			{true, 0, 1},
			{true, 0, 0},
			{true, 0, 0},
			{false, 59 * time.Second, 0},
			{false, time.Minute, 1},
			{false, 10 * time.Minute, 3},
		} {
			if tc.take {
				l.Take(ctx, "k", now.Add(tc.at))
			}
			if got, err := l.Remaining(ctx, "k", now.Add(tc.at)); err != nil || got != tc.want {
				t.Fatalf("after take=%v at +%v: %d, %v; want %d", tc.take, tc.at, got, err, tc.want)
			}
		}
	})
}
