package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/shenfen/shenfen/biometric/presence"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// The session keeps its language and light challenge; media hashes are
// remembered per session, reported when another session had them, and
// swept at their expiry.
func TestProofingPresence(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := db.Proofing()
		t0 := time.UnixMilli(1_800_000_000_000).UTC()
		light, err := presence.NewLight(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		sess := proofing.Session{ID: "p1", DeviceKey: []byte(`{}`), DeviceThumb: "t", Digits: "1234", Language: proofing.Mandarin,
			Light: light, State: proofing.StatePending, CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Minute)}
		if err := p.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		got, err := p.Session(ctx, "p1")
		if err != nil || got.Language != proofing.Mandarin || !reflect.DeepEqual(got.Light, light) {
			t.Fatalf("session %+v %v, want light %+v", got, err, light)
		}
		// A session made without a language reads as English.
		if err := p.CreateSession(ctx, proofing.Session{ID: "p2", DeviceKey: []byte(`{}`), DeviceThumb: "t", Digits: "1",
			State: proofing.StatePending, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if got, err := p.Session(ctx, "p2"); err != nil || got.Language != proofing.English || len(got.Light.Steps) != 0 {
			t.Fatalf("session without language: %+v %v", got, err)
		}

		a, b, c := []byte("hash-a"), []byte("hash-b"), []byte("hash-c")
		exp := t0.Add(time.Hour)
		if seen, err := p.RememberMedia(ctx, "p1", [][]byte{a, b}, exp); err != nil || len(seen) != 0 {
			t.Fatalf("first media: %q %v", seen, err)
		}
		// The same session again (a retried decision) is no replay.
		if seen, err := p.RememberMedia(ctx, "p1", [][]byte{a, b}, exp); err != nil || len(seen) != 0 {
			t.Fatalf("same session again: %q %v", seen, err)
		}
		seen, err := p.RememberMedia(ctx, "p2", [][]byte{b, c}, t0.Add(2*time.Hour))
		if err != nil || len(seen) != 1 || !bytes.Equal(seen[0], b) {
			t.Fatalf("other session: %q %v", seen, err)
		}
		// Swept at expiry: p1's hashes go, p2's (later) stay.
		if _, err := p.Sweep(ctx, exp); err != nil {
			t.Fatal(err)
		}
		if seen, err := p.RememberMedia(ctx, "p3", [][]byte{a, b, c}, exp); err != nil || len(seen) != 2 {
			t.Fatalf("after sweep: %q %v", seen, err)
		}
	})
}

func TestProofingStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := db.Proofing()
		t0 := time.UnixMilli(1_800_000_000_000).UTC()
		sess := proofing.Session{ID: "s1", DeviceKey: []byte(`{"kty":"EC"}`), DeviceThumb: "thumb1", Digits: "0427",
			State: proofing.StatePending, CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Minute)}
		if err := p.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if err := p.CreateSession(ctx, sess); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("duplicate session: %v", err)
		}
		got, err := p.Session(ctx, "s1")
		if err != nil || got.Digits != "0427" || got.State != proofing.StatePending || !got.ExpiresAt.Equal(sess.ExpiresAt) ||
			string(got.DeviceKey) != string(sess.DeviceKey) {
			t.Fatalf("session: %+v %v", got, err)
		}
		if _, err := p.Session(ctx, "nope"); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("missing session: %v", err)
		}

		// Claim: only one of many concurrent claims wins.
		var wg sync.WaitGroup
		wins := make(chan int, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := p.Claim(ctx, "s1", t0.Add(time.Second), t0.Add(61*time.Second), []byte("sealed"))
				switch {
				case err == nil:
					wins <- 1
				case !errors.Is(err, proofing.ErrConflict):
					t.Errorf("claim: %v", err)
				}
			}()
		}
		wg.Wait()
		close(wins)
		if len(wins) != 1 {
			t.Fatalf("%d claims won, want 1", len(wins))
		}
		if ev, err := p.Evidence(ctx, "s1"); err != nil || string(ev) != "sealed" {
			t.Fatalf("evidence: %q %v", ev, err)
		}
		// A crash mid-decision: the lease runs out and the session can be
		// claimed again (new evidence replaces the old).
		if err := p.Claim(ctx, "s1", t0.Add(30*time.Second), t0.Add(90*time.Second), []byte("x")); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("claim under lease: %v", err)
		}
		if err := p.Claim(ctx, "s1", t0.Add(62*time.Second), t0.Add(110*time.Second), []byte("sealed2")); err != nil {
			t.Fatalf("claim after lease: %v", err)
		}
		if ev, _ := p.Evidence(ctx, "s1"); string(ev) != "sealed2" {
			t.Fatalf("evidence after reclaim: %q", ev)
		}
		// Release gives the challenge back and drops the evidence.
		if err := p.Release(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Evidence(ctx, "s1"); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("evidence after release: %v", err)
		}
		// Expired challenge: not claimable.
		if err := p.Claim(ctx, "s1", t0.Add(2*time.Minute), t0.Add(3*time.Minute), []byte("e")); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("claim expired: %v", err)
		}
		if err := p.Claim(ctx, "s1", t0.Add(70*time.Second), t0.Add(100*time.Second), []byte("sealed3")); err != nil {
			t.Fatal(err)
		}

		// An earlier card of the same subject, to be revoked by approval.
		old := proofing.Session{ID: "s0", DeviceKey: []byte(`{}`), DeviceThumb: "thumb0", Digits: "1111", State: proofing.StatePending,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		if err := p.CreateSession(ctx, old); err != nil {
			t.Fatal(err)
		}
		if err := p.Claim(ctx, "s0", t0, t0.Add(time.Second), []byte("e0")); err != nil {
			t.Fatal(err)
		}
		oldCard := &proofing.Card{ID: "c0", SessionID: "s0", Subject: "subj", IDNumber: []byte{1}, DeviceKey: []byte(`{}`),
			DeviceThumb: "thumb0", StatusURI: "https://x/status/a", StatusIndex: 7, State: proofing.CardActive, CreatedAt: t0}
		if err := p.Finish(ctx, proofing.Finish{Decision: proofing.Decision{SessionID: "s0", Approved: true, Reason: proofing.ReasonApproved,
			Subject: "subj", DecidedAt: t0}, Card: oldCard}); err != nil {
			t.Fatal(err)
		}
		// Finishing twice is a conflict.
		if err := p.Finish(ctx, proofing.Finish{Decision: proofing.Decision{SessionID: "s0", Reason: proofing.ReasonName, DecidedAt: t0}}); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("second finish: %v", err)
		}

		card := &proofing.Card{ID: "c1", SessionID: "s1", Subject: "subj", IDNumber: []byte("sealed-id"), DeviceKey: sess.DeviceKey,
			DeviceThumb: "thumb1", StatusURI: "https://x/status/a", StatusIndex: 8, State: proofing.CardActive, CreatedAt: t0.Add(80 * time.Second)}
		offer := &proofing.Secret{Kind: proofing.SecretOffer, Hash: proofing.Hash("code"), Ref: "c1", ExpiresAt: t0.Add(10 * time.Minute)}
		dec := proofing.Decision{SessionID: "s1", Approved: true, Reason: proofing.ReasonApproved, Subject: "subj", FaceDistance: 0.31,
			SpeechConfidence: 0.9, Liveness: 0.7, Models: "face=f; speech=s", Language: proofing.Mandarin, Checks: `{"sync":{"corr":0.61}}`,
			StartedAt: t0.Add(70 * time.Second), DecidedAt: t0.Add(80 * time.Second)}
		if err := p.Finish(ctx, proofing.Finish{Decision: dec, Card: card, Offer: offer}); err != nil {
			t.Fatal(err)
		}
		gotDec, err := p.Decision(ctx, "s1")
		if err != nil || gotDec != dec {
			t.Fatalf("decision: %+v %v", gotDec, err)
		}
		if _, err := p.Evidence(ctx, "s1"); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("evidence survived the decision: %v", err)
		}
		if s, _ := p.Session(ctx, "s1"); s.State != proofing.StateApproved {
			t.Fatalf("state %s", s.State)
		}
		revoking, err := p.CardsInState(ctx, proofing.CardRevoking, 10)
		if err != nil || len(revoking) != 1 || revoking[0].ID != "c0" || revoking[0].StatusIndex != 7 {
			t.Fatalf("revoking: %+v %v", revoking, err)
		}
		if err := p.SetCardState(ctx, "c0", proofing.CardRevoked); err != nil {
			t.Fatal(err)
		}
		c, err := p.Card(ctx, "c1")
		if err != nil || c.State != proofing.CardActive || !bytes.Equal(c.IDNumber, []byte("sealed-id")) || c.StatusIndex != 8 {
			t.Fatalf("card: %+v %v", c, err)
		}

		if c, err := p.CardByStatus(ctx, "https://x/status/a", 8); err != nil || c.ID != "c1" {
			t.Fatalf("card by status: %+v %v", c, err)
		}
		if _, err := p.CardByStatus(ctx, "https://x/status/a", 9); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("card by unknown status: %v", err)
		}

		// Secrets: single use, expiry.
		now := t0.Add(90 * time.Second)
		if ref, err := p.PeekSecret(ctx, proofing.SecretOffer, proofing.Hash("code"), now); err != nil || ref != "c1" {
			t.Fatalf("peek: %q %v", ref, err)
		}
		if _, err := p.UseSecret(ctx, proofing.SecretToken, proofing.Hash("code"), now); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("wrong kind: %v", err)
		}
		if ref, err := p.UseSecret(ctx, proofing.SecretOffer, proofing.Hash("code"), now); err != nil || ref != "c1" {
			t.Fatalf("use: %q %v", ref, err)
		}
		if _, err := p.UseSecret(ctx, proofing.SecretOffer, proofing.Hash("code"), now); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("reuse: %v", err)
		}
		if err := p.PutSecret(ctx, proofing.Secret{Kind: proofing.SecretNonce, Hash: proofing.Hash("n"), Ref: "", ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := p.PutSecret(ctx, proofing.Secret{Kind: proofing.SecretNonce, Hash: proofing.Hash("n"), ExpiresAt: now}); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("duplicate secret: %v", err)
		}
		if _, err := p.UseSecret(ctx, proofing.SecretNonce, proofing.Hash("n"), now.Add(time.Minute)); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("expired secret: %v", err)
		}

		// Verifier requests.
		vr := proofing.VerifierRequest{ID: "v1", TokenHash: proofing.Hash("tok"), Nonce: "n1", Query: []byte(`{"claims":["x"]}`),
			State: proofing.VerifierPending, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
		if err := p.PutVerifierRequest(ctx, vr); err != nil {
			t.Fatal(err)
		}
		if err := p.AnswerVerifierRequest(ctx, "v1", proofing.VerifierVerified, []byte("res"), now.Add(5*time.Minute)); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("answer after expiry: %v", err)
		}
		if err := p.AnswerVerifierRequest(ctx, "v1", proofing.VerifierVerified, []byte("res"), now); err != nil {
			t.Fatal(err)
		}
		if err := p.AnswerVerifierRequest(ctx, "v1", proofing.VerifierFailed, nil, now); !errors.Is(err, proofing.ErrConflict) {
			t.Fatalf("second answer: %v", err)
		}
		gotVR, err := p.VerifierRequest(ctx, "v1")
		if err != nil || gotVR.State != proofing.VerifierVerified || string(gotVR.Result) != "res" || gotVR.Nonce != "n1" {
			t.Fatalf("verifier request: %+v %v", gotVR, err)
		}

		// Sweep: a pending session left with evidence past expiry loses it.
		s2 := proofing.Session{ID: "s2", DeviceKey: []byte(`{}`), DeviceThumb: "t2", Digits: "2222", State: proofing.StatePending,
			CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := p.CreateSession(ctx, s2); err != nil {
			t.Fatal(err)
		}
		if err := p.Claim(ctx, "s2", now, now.Add(time.Second), []byte("crash")); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Sweep(ctx, now.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Evidence(ctx, "s2"); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("evidence after sweep: %v", err)
		}
		if _, err := p.Session(ctx, "s2"); err != nil {
			t.Fatalf("session swept too early: %v", err)
		}
		if _, err := p.Sweep(ctx, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Session(ctx, "s2"); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("expired session kept: %v", err)
		}
		if _, err := p.Session(ctx, "s1"); err != nil {
			t.Fatalf("decided session swept: %v", err)
		}
		if _, err := p.VerifierRequest(ctx, "v1"); !errors.Is(err, proofing.ErrNotFound) {
			t.Fatalf("expired verifier request kept: %v", err)
		}
	})
}
