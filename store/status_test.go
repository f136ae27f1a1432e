package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

func TestStatusStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := db.Status()
		var mu sync.Mutex
		made := 0
		newList := func() status.ListInfo {
			mu.Lock()
			defer mu.Unlock()
			made++
			return status.ListInfo{ID: fmt.Sprintf("list%d", made), Bits: 1, Size: 10, Key: []byte("0123456789abcdef"), Created: time.Unix(int64(1000+made), 0)}
		}
		// Concurrent allocators never get the same (list, n).
		type slot struct {
			id string
			n  uint64
		}
		var wg sync.WaitGroup
		got := make(chan slot, 25)
		errs := make(chan error, 25)
		for i := 0; i < 25; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				info, n, err := st.AllocateStatus(ctx, 1, newList)
				if err != nil {
					errs <- err
					return
				}
				got <- slot{info.ID, n}
			}()
		}
		wg.Wait()
		close(got)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		seen := map[slot]bool{}
		for s := range got {
			if seen[s] || s.n >= 10 {
				t.Fatalf("slot %+v twice or out of range", s)
			}
			seen[s] = true
		}
		lists, err := st.StatusLists(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var total uint64
		for _, l := range lists {
			if l.Allocated > uint64(l.Size) {
				t.Fatalf("list %s over-allocated: %d", l.ID, l.Allocated)
			}
			total += l.Allocated
		}
		if total != 25 || len(seen) != 25 {
			t.Fatalf("allocated %d in %d lists, %d distinct slots", total, len(lists), len(seen))
		}
		// A 2-bit request never lands in a 1-bit list.
		info, _, err := st.AllocateStatus(ctx, 2, func() status.ListInfo {
			return status.ListInfo{ID: "two", Bits: 2, Size: 10, Key: []byte("0123456789abcdef"), Created: time.Unix(5000, 0)}
		})
		if err != nil || info.ID != "two" || info.Bits != 2 {
			t.Fatalf("2-bit allocation: %+v, %v", info, err)
		}

		id := lists[0].ID
		v0 := lists[0].Version
		allow := func(status.Status) error { return nil }
		if old, err := st.SetStatus(ctx, id, 3, status.Suspended, allow); err != nil || old != status.Valid {
			t.Fatalf("suspend: %v, %v", old, err)
		}
		if old, err := st.SetStatus(ctx, id, 3, status.Invalid, allow); err != nil || old != status.Suspended {
			t.Fatalf("revoke: %v, %v", old, err)
		}
		// A refusing check leaves the entry and version untouched.
		refuse := errors.New("no")
		if _, err := st.SetStatus(ctx, id, 3, status.Valid, func(status.Status) error { return refuse }); !errors.Is(err, refuse) {
			t.Fatalf("refused change: %v", err)
		}
		st.SetStatus(ctx, id, 7, status.Suspended, allow)
		st.SetStatus(ctx, id, 7, status.Valid, allow) // reinstated: row removed
		if s, _ := st.GetStatus(ctx, id, 3); s != status.Invalid {
			t.Fatalf("entry 3 = %v", s)
		}
		if s, _ := st.GetStatus(ctx, id, 7); s != status.Valid {
			t.Fatalf("entry 7 = %v", s)
		}
		var entries []status.Entry
		if err := st.StatusEntries(ctx, id, func(e status.Entry) error { entries = append(entries, e); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0] != (status.Entry{Index: 3, Status: status.Invalid}) {
			t.Fatalf("entries = %+v", entries)
		}
		l, err := st.StatusList(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if l.Version != v0+4 {
			t.Fatalf("version %d, want %d (4 changes)", l.Version, v0+4)
		}
		if _, err := st.StatusList(ctx, "nope"); !errors.Is(err, status.ErrNotFound) {
			t.Fatalf("unknown list: %v", err)
		}
		if _, err := st.SetStatus(ctx, "nope", 1, status.Invalid, allow); !errors.Is(err, status.ErrNotFound) {
			t.Fatalf("set on unknown list: %v", err)
		}
	})
}
