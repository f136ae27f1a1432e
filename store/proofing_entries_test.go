package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/proofing/proofingtest"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// TestCardEntries: the entries of a card's single-use credentials are
// listed while unexpired, find the card, and are never recorded twice; a
// batch allocation spreads over distinct shards in one transaction.
func TestCardEntries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := db.Proofing()
		t0 := time.UnixMilli(1_800_000_000_000).UTC()
		card := proofing.Card{ID: "c1", SessionID: "s-c1", Subject: "alice", IDNumber: []byte("sealed"), DeviceKey: []byte(`{}`),
			DeviceThumb: "thumb", StatusURI: "https://x/status/own", StatusIndex: 7, State: proofing.CardActive, CreatedAt: t0}
		if err := proofingtest.SeedCard(ctx, p, card); err != nil {
			t.Fatal(err)
		}
		svc := status.NewService(db.Status(), nil, "https://x/status")
		svc.ShardSize = 64
		refs, err := svc.AllocateBatch(ctx, 20)
		if err != nil || len(refs) != 20 {
			t.Fatalf("allocate: %v %v", refs, err)
		}
		lists, seen := map[string]bool{}, map[status.Ref]bool{}
		for _, r := range refs {
			lists[r.URI] = true
			if seen[r] {
				t.Fatalf("entry %v twice", r)
			}
			seen[r] = true
		}
		if len(lists) != status.DefaultSpread {
			t.Fatalf("20 entries from %d lists, want %d", len(lists), status.DefaultSpread)
		}
		// Shards fill: a batch larger than what is left opens new ones.
		more, err := svc.AllocateBatch(ctx, 64*status.DefaultSpread)
		if err != nil || len(more) != 64*status.DefaultSpread {
			t.Fatalf("allocate past full shards: %d %v", len(more), err)
		}
		for _, r := range more {
			if seen[r] {
				t.Fatalf("entry %v twice", r)
			}
			seen[r] = true
		}
		pr := refs // proofing.StatusRef is status.Ref
		if err := p.AddCardEntries(ctx, card.ID, pr[:10], t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := p.AddCardEntries(ctx, card.ID, pr[10:], t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := p.AddCardEntries(ctx, card.ID, pr[:1], t0.Add(2*time.Hour)); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("an entry recorded twice: %v", err)
		}
		if got, err := p.CardEntries(ctx, card.ID, t0, 100); err != nil || len(got) != 20 {
			t.Fatalf("entries: %d %v", len(got), err)
		}
		if got, err := p.CardEntries(ctx, card.ID, t0.Add(90*time.Minute), 100); err != nil || len(got) != 10 {
			t.Fatalf("unexpired entries: %d %v", len(got), err)
		}
		for _, r := range []proofing.StatusRef{pr[3], pr[17], {URI: card.StatusURI, Index: card.StatusIndex}} {
			if c, err := p.CardByStatus(ctx, r.URI, r.Index); err != nil || c.ID != card.ID {
				t.Fatalf("card of %v: %+v %v", r, c, err)
			}
		}
		if _, err := p.CardByStatus(ctx, "https://x/status/none", 1); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("unknown entry: %v", err)
		}
	})
}
