package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

func TestRecentDecisions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := db.Proofing()
		t0 := time.UnixMilli(1_800_000_000_000).UTC()
		decide := []struct {
			approved bool
			reason   proofing.Reason
			took     time.Duration
		}{
			{true, "", 800 * time.Millisecond},
			{false, proofing.ReasonSpeech, 1200 * time.Millisecond},
			{true, "", 950 * time.Millisecond},
			{false, proofing.ReasonLight, 700 * time.Millisecond},
		}
		for i, d := range decide {
			id := fmt.Sprintf("st%d", i)
			at := t0.Add(time.Duration(i) * time.Minute)
			if err := p.CreateSession(ctx, proofing.Session{ID: id, DeviceKey: []byte(`{}`), DeviceThumb: "th" + id, Digits: "1234",
				State: proofing.StatePending, CreatedAt: at, ExpiresAt: at.Add(2 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if err := p.Claim(ctx, id, at, at.Add(time.Minute), []byte("ev")); err != nil {
				t.Fatal(err)
			}
			if err := p.Finish(ctx, proofing.Finish{Decision: proofing.Decision{SessionID: id, Approved: d.approved, Reason: d.reason,
				FaceDistance: -1, Liveness: -1, StartedAt: at, DecidedAt: at.Add(d.took)}}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := p.RecentDecisions(ctx, t0.Add(time.Minute), 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.DecisionOutcome{
			{string(proofing.ReasonLight), 700 * time.Millisecond},
			{"approved", 950 * time.Millisecond},
			{string(proofing.ReasonSpeech), 1200 * time.Millisecond},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if got, _ := p.RecentDecisions(ctx, t0, 1); len(got) != 1 || got[0].Outcome != string(proofing.ReasonLight) {
			t.Fatalf("limit 1: %v", got)
		}
	})
}
