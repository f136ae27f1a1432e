package proofing

import (
	"context"
	"testing"
	"time"
)

// TestLimiterRemaining: Remaining counts the whole events a key has left
// without spending one, and refills with time.
func TestLimiterRemaining(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	l := NewLimiter(time.Minute, 3, 10)
	for _, tc := range []struct {
		take bool
		at   time.Duration
		want int
	}{
		{false, 0, 3}, // unknown key: the full burst
		{true, 0, 2},
		{false, 0, 2}, // asking spends nothing
		{true, 0, 1},
		{true, 0, 0},
		{true, 0, 0}, // refused: still none
		{false, 59 * time.Second, 0},
		{false, time.Minute, 1},
		{false, 10 * time.Minute, 3}, // never above the burst
	} {
		if tc.take {
			l.Take(ctx, "k", now.Add(tc.at))
		}
		if got, err := l.Remaining(ctx, "k", now.Add(tc.at)); err != nil || got != tc.want {
			t.Fatalf("after take=%v at +%v: %d, %v; want %d", tc.take, tc.at, got, err, tc.want)
		}
	}
}
