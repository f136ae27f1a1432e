package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/operator"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

func TestOperators(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := db.Operators()
		now := time.Unix(1_800_000_000, 0).UTC()
		op := operator.Operator{ID: "li.na", Name: "李娜", Badge: "440001", Office: "南沙分局", SecretHash: "h1",
			Roles: []operator.Role{operator.RegistryReader, operator.CardOfficer}, CreatedAt: now}
		if err := st.AddOperator(ctx, op); err != nil {
			t.Fatal(err)
		}
		if err := st.AddOperator(ctx, op); !errors.Is(err, operator.ErrConflict) {
			t.Fatalf("second add: %v, want ErrConflict", err)
		}
		if err := st.AddOperator(ctx, operator.Operator{ID: "X", Name: "x", Office: "o", Roles: op.Roles}); !errors.Is(err, operator.ErrInvalid) {
			t.Fatalf("invalid id: %v", err)
		}
		got, err := st.Operator(ctx, "li.na")
		if err != nil || got.Name != op.Name || got.Badge != op.Badge || got.SecretHash != "h1" || len(got.Roles) != 2 ||
			got.Roles[1] != operator.CardOfficer || got.Disabled || !got.CreatedAt.Equal(now) {
			t.Fatalf("read back %+v %v", got, err)
		}
		if _, err := st.Operator(ctx, "nobody"); !errors.Is(err, operator.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		// Roles and disabled change; an empty hash keeps the secret.
		if err := st.SetOperator(ctx, "li.na", []operator.Role{operator.Auditor}, "", true); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Operator(ctx, "li.na")
		if !got.Disabled || got.SecretHash != "h1" || len(got.Roles) != 1 || got.Roles[0] != operator.Auditor {
			t.Fatalf("after set: %+v", got)
		}
		if err := st.SetOperator(ctx, "li.na", got.Roles, "h2", false); err != nil {
			t.Fatal(err)
		}
		if got, _ = st.Operator(ctx, "li.na"); got.Disabled || got.SecretHash != "h2" {
			t.Fatalf("after reset: %+v", got)
		}
		if err := st.SetOperator(ctx, "nobody", got.Roles, "", false); !errors.Is(err, operator.ErrNotFound) {
			t.Fatalf("set unknown: %v", err)
		}
		if list, err := st.ListOperators(ctx); err != nil || len(list) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}

		// Four-eyes requests: decided once, never by the requester.
		a := operator.Approval{ID: "a1", Permission: operator.CardStatus, Requester: "li.na", CreatedAt: now, Sealed: []byte{1, 2}}
		if err := st.PutApproval(ctx, a); err != nil {
			t.Fatal(err)
		}
		if p, err := st.PendingApprovals(ctx, 10); err != nil || len(p) != 1 || p[0].Permission != operator.CardStatus || p[0].State != "pending" {
			t.Fatalf("pending: %+v %v", p, err)
		}
		if err := st.DecideApproval(ctx, "a1", "approved", "li.na", now); !errors.Is(err, operator.ErrConflict) {
			t.Fatalf("self-approval: %v, want ErrConflict", err)
		}
		if err := st.DecideApproval(ctx, "a1", "approved", "wang.wei", now); err != nil {
			t.Fatal(err)
		}
		if err := st.DecideApproval(ctx, "a1", "rejected", "zhao.lei", now); !errors.Is(err, operator.ErrConflict) {
			t.Fatalf("second decision: %v, want ErrConflict", err)
		}
		got2, err := st.Approval(ctx, "a1")
		if err != nil || got2.State != "approved" || got2.Approver != "wang.wei" || !got2.DecidedAt.Equal(now) {
			t.Fatalf("approval: %+v %v", got2, err)
		}
		if p, _ := st.PendingApprovals(ctx, 10); len(p) != 0 {
			t.Fatalf("still pending: %+v", p)
		}
		if _, err := st.Approval(ctx, "none"); !errors.Is(err, operator.ErrNotFound) {
			t.Fatalf("unknown approval: %v", err)
		}
	})
}

func TestAccessRecords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := db.Audit()
		for i := 0; i < 5; i++ {
			if err := appendLeaf(ctx, st, []byte{byte(i)}, false); err != nil {
				t.Fatal(err)
			}
			subj := []string{"s1", "s2"}[i%2]
			err := st.AuditTx(ctx, func(tx audit.Tx) error {
				return tx.(audit.AccessTx).PutAccess(ctx, audit.StoredAccess{Subject: subj, At: time.Unix(int64(100+i), 0), LeafIndex: uint64(i), Sealed: []byte{byte(i)}})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := st.Accesses(ctx, "s1", 10)
		if err != nil || len(got) != 3 || got[0].LeafIndex != 4 || got[2].LeafIndex != 0 || got[0].At.Unix() != 104 {
			t.Fatalf("s1 accesses: %+v %v", got, err)
		}
		from, err := st.AccessesFrom(ctx, 2, 2)
		if err != nil || len(from) != 2 || from[0].LeafIndex != 2 || from[1].LeafIndex != 3 || from[0].Subject != "s1" {
			t.Fatalf("from 2: %+v %v", from, err)
		}
		// An access record needs its leaf.
		err = st.AuditTx(ctx, func(tx audit.Tx) error {
			return tx.(audit.AccessTx).PutAccess(ctx, audit.StoredAccess{Subject: "s1", At: time.Unix(1, 0), LeafIndex: 99, Sealed: []byte{1}})
		})
		if err == nil {
			t.Error("an access record without its leaf was stored")
		}
	})
}

// TestRegistryImportsOf: a record remembers the import that created it and
// the last import that changed it; other writes and unchanged rows leave
// them.
func TestRegistryImportsOf(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := store.NewRegistry(db)
		sl := testSealer(t)
		idx := sl.Index("t", []byte("one"))
		put := func(digest string, cp *registry.Checkpoint) {
			t.Helper()
			now := time.Now().UTC()
			row := registry.Row{Index: idx, Digest: []byte(digest), Data: []byte("x"), Status: registry.StatusValid, CreatedAt: now, UpdatedAt: now}
			if _, err := st.PutRows(ctx, []registry.Row{row, {Index: sl.Index("t", []byte(digest)), Digest: []byte("d"),
				Data: []byte("y"), Status: registry.StatusValid, CreatedAt: now, UpdatedAt: now}}, cp); err != nil {
				t.Fatal(err)
			}
		}
		check := func(wantFirst, wantLast string) {
			t.Helper()
			f, l, err := st.ImportsOf(ctx, idx)
			if err != nil || f != wantFirst || l != wantLast {
				t.Fatalf("ImportsOf = %q, %q, %v; want %q, %q", f, l, err, wantFirst, wantLast)
			}
		}
		put("d1", &registry.Checkpoint{Source: "import-1"})
		check("import-1", "import-1")
		put("d1", &registry.Checkpoint{Source: "import-2"}) // unchanged: not written
		check("import-1", "import-1")
		put("d2", &registry.Checkpoint{Source: "import-3"})
		check("import-1", "import-3")
		put("d3", nil) // an operator's change (recorded as an access)
		check("import-1", "import-3")
		if _, _, err := st.ImportsOf(ctx, []byte("none")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown record: %v", err)
		}
	})
}
