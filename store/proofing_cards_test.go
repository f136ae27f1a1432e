package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/proofing/proofingtest"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

func TestProofingCardsAndRevocationCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := db.Proofing()
		t0 := time.UnixMilli(1_800_000_000_000).UTC()
		card := func(id, subject string, at time.Time, idx int) proofing.Card {
			return proofing.Card{ID: id, SessionID: "s-" + id, Subject: subject, IDNumber: []byte("sealed"), DeviceKey: []byte(`{}`),
				DeviceThumb: "thumb-" + id, StatusURI: "https://x/status/a", StatusIndex: idx, State: proofing.CardActive, CreatedAt: at}
		}
		for _, c := range []proofing.Card{card("a1", "alice", t0, 1), card("b1", "bob", t0, 2), card("a2", "alice", t0.Add(time.Hour), 3)} {
			if err := proofingtest.SeedCard(ctx, p, c); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := p.CardsOfSubject(ctx, "alice", 10)
		if err != nil || len(cs) != 2 || cs[0].ID != "a2" || cs[1].ID != "a1" || cs[1].State != proofing.CardRevoking || cs[0].DeviceThumb != "thumb-a2" {
			t.Fatalf("alice's cards, newest first: %+v %v", cs, err)
		}
		if cs, err := p.CardsOfSubject(ctx, "nobody", 10); err != nil || len(cs) != 0 {
			t.Fatalf("nobody's cards: %+v %v", cs, err)
		}
		if cs, _ := p.CardsOfSubject(ctx, "alice", 1); len(cs) != 1 {
			t.Fatalf("limit: %d cards", len(cs))
		}

		code := func(cardID, subject string, h byte) proofing.RevocationCode {
			return proofing.RevocationCode{CardID: cardID, Subject: subject, Hash: []byte{h, h, h}, CreatedAt: t0}
		}
		if err := p.PutRevocationCode(ctx, code("a2", "alice", 1)); err != nil {
			t.Fatal(err)
		}
		// The phone's holder cannot replace an unused code.
		if err := p.PutRevocationCode(ctx, code("a2", "alice", 9)); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("replacing an unused code: %v", err)
		}
		// A revoking card's code does not count.
		if err := p.PutRevocationCode(ctx, code("a1", "alice", 2)); err != nil {
			t.Fatal(err)
		}
		if err := p.PutRevocationCode(ctx, code("b1", "bob", 3)); err != nil {
			t.Fatal(err)
		}
		got, err := p.RevocationCodes(ctx, "alice")
		if err != nil || len(got) != 1 || got[0].CardID != "a2" || string(got[0].Hash) != "\x01\x01\x01" || !got[0].CreatedAt.Equal(t0) {
			t.Fatalf("alice's codes: %+v %v", got, err)
		}
		if err := p.UseRevocationCode(ctx, "a2", []byte{9, 9, 9}, t0); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("using a wrong hash: %v", err)
		}
		if err := p.UseRevocationCode(ctx, "a2", []byte{1, 1, 1}, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := p.UseRevocationCode(ctx, "a2", []byte{1, 1, 1}, t0.Add(time.Minute)); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("using a code twice: %v", err)
		}
		if got, _ := p.RevocationCodes(ctx, "alice"); len(got) != 0 {
			t.Fatalf("a spent code is still listed: %+v", got)
		}
		// A spent code may be replaced (after reinstatement at a counter).
		if err := p.PutRevocationCode(ctx, code("a2", "alice", 4)); err != nil {
			t.Fatalf("replacing a spent code: %v", err)
		}
		if got, _ := p.RevocationCodes(ctx, "alice"); len(got) != 1 || got[0].Hash[0] != 4 {
			t.Fatalf("after replacement: %+v", got)
		}
		// A code for a card that does not exist is refused by the schema.
		if err := p.PutRevocationCode(ctx, code("nope", "alice", 5)); err == nil {
			t.Fatal("code for a missing card stored")
		}
		// Revoked cards' codes stop counting.
		if err := p.SetCardState(ctx, "a2", proofing.CardRevoked); err != nil {
			t.Fatal(err)
		}
		if got, _ := p.RevocationCodes(ctx, "alice"); len(got) != 0 {
			t.Fatalf("a revoked card's code is listed: %+v", got)
		}
	})
}
