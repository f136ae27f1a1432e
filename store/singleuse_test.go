package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// TestSingleUse: the first use of a key wins, every later one (also
// concurrent, as from several servers) loses, and the sweep forgets only
// expired keys.
func TestSingleUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		su := db.SingleUse()
		now := time.Unix(1_800_000_000, 0)
		fresh, err := su.UseOnce(ctx, []byte("a"), now.Add(time.Minute))
		if err != nil || !fresh {
			t.Fatalf("first use: %v %v", fresh, err)
		}
		if fresh, err := su.UseOnce(ctx, []byte("a"), now.Add(time.Minute)); err != nil || fresh {
			t.Fatalf("second use accepted: %v %v", fresh, err)
		}
		// 20 concurrent uses of one key: exactly one wins.
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, err := su.UseOnce(ctx, []byte("race"), now.Add(time.Minute)); err == nil && ok {
					wins.Add(1)
				} else if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d concurrent uses won", wins.Load())
		}
		for i := range 5 {
			su.UseOnce(ctx, []byte(fmt.Sprint("old", i)), now.Add(-time.Second))
		}
		n, err := su.Sweep(ctx, now)
		if err != nil || n != 5 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		if fresh, _ := su.UseOnce(ctx, []byte("a"), now.Add(time.Minute)); fresh {
			t.Fatal("sweep forgot an unexpired use")
		}
	})
}
