package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// appendLeaf appends data the way audit.Log does, through the store's Tx.
func appendLeaf(ctx context.Context, st *store.AuditStore, data []byte, disclose bool) error {
	return st.AuditTx(ctx, func(tx audit.Tx) error {
		n, err := tx.Size(ctx)
		if err != nil {
			return err
		}
		h := audit.HashLeaf(data)
		nodes := []audit.Node{{Level: 0, Index: n, Hash: h}}
		for l := uint8(0); (n>>l)&1 == 1; l++ {
			left, err := tx.Node(ctx, l, (n>>l)-1)
			if err != nil {
				return err
			}
			h = audit.HashChildren(left, h)
			nodes = append(nodes, audit.Node{Level: l + 1, Index: n >> (l + 1), Hash: h})
		}
		if err := tx.Append(ctx, audit.Leaf{Index: n, Data: data, Hash: audit.HashLeaf(data)}, nodes); err != nil {
			return err
		}
		if disclose {
			return tx.PutDisclosure(ctx, audit.StoredDisclosure{Subject: "s1", At: time.Unix(int64(1000+n), 0), LeafIndex: n, Sealed: []byte{byte(n)}})
		}
		return nil
	})
}

func TestAuditStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := db.Audit()
		// Concurrent appenders are serialised: every leaf gets its own
		// index and the stored nodes make the RFC 6962 root of the leaves.
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := appendLeaf(ctx, st, []byte(fmt.Sprintf("leaf %d", i)), i%3 == 0); err != nil {
					errs <- err
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		size, err := st.AuditSize(ctx)
		if err != nil || size != 40 {
			t.Fatalf("size %d, %v", size, err)
		}
		var leaves []audit.Hash
		for i := uint64(0); i < size; i++ {
			l, err := st.AuditLeaf(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if audit.HashLeaf(l.Data) != l.Hash {
				t.Fatalf("leaf %d hash", i)
			}
			leaves = append(leaves, l.Hash)
		}
		var ref func([]audit.Hash) audit.Hash
		ref = func(h []audit.Hash) audit.Hash {
			if len(h) == 1 {
				return h[0]
			}
			k := 1
			for k*2 < len(h) {
				k *= 2
			}
			return audit.HashChildren(ref(h[:k]), ref(h[k:]))
		}
		root, err := audit.RootHash(ctx, st, size)
		if err != nil {
			t.Fatal(err)
		}
		if root != ref(leaves) {
			t.Fatal("stored nodes do not make the root of the stored leaves")
		}
		if _, err := st.AuditLeaf(ctx, 40); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("leaf past the end: %v", err)
		}
		if _, err := st.Node(ctx, 9, 0); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("missing node: %v", err)
		}
		// A failed transaction appends nothing.
		boom := errors.New("boom")
		st.AuditTx(ctx, func(tx audit.Tx) error {
			n, _ := tx.Size(ctx)
			tx.Append(ctx, audit.Leaf{Index: n, Data: []byte("x")}, nil)
			return boom
		})
		if n, _ := st.AuditSize(ctx); n != 40 {
			t.Fatalf("rolled-back append left size %d", n)
		}
		// Tree heads: first stored for a size wins; latest is the largest.
		if _, err := st.LatestTreeHead(ctx); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("no heads yet: %v", err)
		}
		now := time.UnixMilli(time.Now().UnixMilli()).UTC()
		for _, h := range []audit.TreeHead{{Size: 10, Timestamp: now, Root: audit.Hash{1}, JWS: "a"}, {Size: 40, Timestamp: now, Root: root, JWS: "b"}, {Size: 40, Timestamp: now, Root: audit.Hash{9}, JWS: "c"}} {
			if err := st.SaveTreeHead(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		if h, err := st.LatestTreeHead(ctx); err != nil || h.Size != 40 || h.JWS != "b" || h.Root != root || !h.Timestamp.Equal(now) {
			t.Fatalf("latest head %+v, %v", h, err)
		}
		if h, err := st.TreeHeadAt(ctx, 10); err != nil || h.JWS != "a" {
			t.Fatalf("head at 10: %+v, %v", h, err)
		}
		ds, err := st.Disclosures(ctx, "s1", 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 5 {
			t.Fatalf("%d disclosures, want 5 (limit)", len(ds))
		}
		for i := 1; i < len(ds); i++ {
			if ds[i].At.After(ds[i-1].At) {
				t.Fatal("disclosures not newest first")
			}
		}
		if ds, _ := st.Disclosures(ctx, "nobody", 5); len(ds) != 0 {
			t.Fatal("disclosures of an unknown subject")
		}
	})
}

// TestAuditIssuanceLeaf: an issuance leaf is found by its digest, in the
// append's transaction; the first leaf of a digest keeps it.
func TestAuditIssuanceLeaf(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := db.Audit()
		put := func(data, digest string) {
			t.Helper()
			err := st.AuditTx(ctx, func(tx audit.Tx) error {
				n, err := tx.Size(ctx)
				if err != nil {
					return err
				}
				h := audit.HashLeaf([]byte(data))
				nodes := []audit.Node{{Level: 0, Index: n, Hash: h}}
				for l := uint8(0); (n>>l)&1 == 1; l++ {
					left, err := tx.Node(ctx, l, (n>>l)-1)
					if err != nil {
						return err
					}
					h = audit.HashChildren(left, h)
					nodes = append(nodes, audit.Node{Level: l + 1, Index: n >> (l + 1), Hash: h})
				}
				return tx.Append(ctx, audit.Leaf{Index: n, Data: []byte(data), Hash: audit.HashLeaf([]byte(data)), Issuance: digest}, nodes)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		put("a", "")
		put("b", "digest-b")
		put("c", "digest-c")
		put("b again", "digest-b")
		for digest, want := range map[string]uint64{"digest-b": 1, "digest-c": 2} {
			if idx, err := st.IssuanceLeaf(ctx, digest); err != nil || idx != want {
				t.Fatalf("%s: leaf %d, %v; want %d", digest, idx, err, want)
			}
		}
		if _, err := st.IssuanceLeaf(ctx, "digest-x"); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("unknown digest: %v", err)
		}
		if _, err := st.IssuanceLeaf(ctx, ""); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("empty digest: %v", err)
		}
	})
}
