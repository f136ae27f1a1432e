package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
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

// TestStatusChangeAudited: a card's status change and its audit log entry
// are one transaction. When the entry cannot be written, the change is
// undone, so a status change is never left unlogged.
func TestStatusChangeAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := status.NewService(db.Status(), nil, "https://id.example/status")
		svc.ShardSize = 64
		log := audit.New(db.Audit(), nil, testSealer(t))
		fail := false
		svc.Changed = func(ctx context.Context, r status.Ref, old, next status.Status) error {
			if _, err := log.Append(ctx, audit.StatusChange(time.Now(), r.URI, r.Index, next.String())); err != nil {
				return err
			}
			if fail {
				return errInjected // after the entry was written: it must go too
			}
			return nil
		}
		ref, err := svc.Allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Suspend(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if n, _ := log.Size(ctx); n != 1 {
			t.Fatalf("audit log has %d entries after one change, want 1", n)
		}
		fail = true
		if err := svc.Revoke(ctx, ref); !errors.Is(err, errInjected) {
			t.Fatalf("Revoke with a failing log = %v", err)
		}
		if got, _ := svc.Get(ctx, ref); got != status.Suspended {
			t.Fatalf("status after a failed log write = %v, want it undone (suspended)", got)
		}
		if n, _ := log.Size(ctx); n != 1 {
			t.Fatalf("audit log has %d entries after a rolled-back change, want 1", n)
		}
		fail = false
		if err := svc.Revoke(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if got, _ := svc.Get(ctx, ref); got != status.Invalid {
			t.Fatalf("status = %v, want revoked", got)
		}
		if n, _ := log.Size(ctx); n != 2 {
			t.Fatalf("audit log has %d entries, want 2", n)
		}
	})
}
