package proofing_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/biometric/presence"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/proofing/proofingtest"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store/storetest"
)

// Registry people.
var (
	zhang = registry.Record{IDNumber: "11010519491231002X", Name: "张三", Status: registry.StatusValid, FaceTemplate: []byte{200, 10, 10}}
	li    = registry.Record{IDNumber: "110105199001011232", Name: "Li Si", Status: registry.StatusValid, FaceTemplate: []byte{10, 200, 10}}
	wang  = registry.Record{IDNumber: "440106198001010019", Name: "王五", Status: registry.StatusCancelled, FaceTemplate: []byte{10, 10, 200}}
	// zhao's record is valid but the ID card it describes expired in 2018.
	zhao = registry.Record{IDNumber: "110105196108040013", Name: "赵六", Status: registry.StatusValid, FaceTemplate: []byte{200, 200, 10},
		ValidUntil: time.Date(2018, 5, 1, 0, 0, 0, 0, time.UTC)}
)

type harness struct {
	svc    *proofing.Service
	store  proofing.Store
	face   *proofingtest.Face
	status *proofingtest.Status
	clock  *time.Time
}

func newHarness(t *testing.T, limits proofing.Limits) *harness {
	t.Helper()
	sealer, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{7}, seal.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	h := &harness{store: storetest.SQLite(t).Proofing(), face: &proofingtest.Face{}, status: &proofingtest.Status{}, clock: &now}
	recs := proofingtest.Records{}
	for _, r := range []registry.Record{zhang, li, wang, zhao} {
		if _, err := registry.ParseIDNumber(string(r.IDNumber), now); err != nil {
			t.Fatalf("test ID %s: %v", r.IDNumber, err)
		}
		recs[r.IDNumber] = r
	}
	h.svc, err = proofing.New(proofing.Config{Store: h.store, Records: recs, Face: h.face, Speech: proofingtest.Speech{},
		Status: h.status, Sealer: sealer, Limits: limits, Clock: func() time.Time { return *h.clock }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// attempt is one wallet's submission, with knobs to spoil it.
type attempt struct {
	id, name string
	selfie   []byte
	audio    string // "" = say the challenge digits
	// person is whom the video shows; clip spoils the genuine video;
	// frames and times, when set, replace it.
	person     color.RGBA
	clip       proofingtest.ClipOptions
	frames     [][]byte
	times      []int64
	fix        func(c *proofingtest.Clip) // edits the clip before signing
	signWith   *ecdsa.PrivateKey          // nil = the device key
	unsigned   bool
	forSession string // sign for another enrollment id
	lang       string // sign for another language
}

// bigPNG is a frame of more pixels than a frame may have.
func bigPNG(t *testing.T) []byte {
	img := image.NewGray(image.Rect(0, 0, proofing.MaxFrameSide+1, 200))
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func honest(r registry.Record) attempt {
	c := proofingtest.FaceColor(r.FaceTemplate)
	return attempt{id: string(r.IDNumber), name: r.Name, selfie: proofingtest.Selfie(c), person: c}
}

func (h *harness) enroll(t *testing.T, key *ecdsa.PrivateKey, a attempt) (proofing.Challenge, proofing.Submission) {
	t.Helper()
	jwk, err := proofing.PublicJWK(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := h.svc.Start(context.Background(), jwk, proofing.English, "192.0.2.1")
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return ch, h.submission(t, key, ch, a)
}

func (h *harness) submission(t *testing.T, key *ecdsa.PrivateKey, ch proofing.Challenge, a attempt) proofing.Submission {
	t.Helper()
	audio := a.audio
	if audio == "" {
		audio = "said:" + ch.Digits + "#" + proofing.RandomID(6)
	}
	clip := proofingtest.GenuineClip(a.person, ch.Digits, ch.Light, a.clip)
	if a.frames != nil {
		clip = proofingtest.Clip{Frames: a.frames, Times: a.times}
	}
	if a.fix != nil {
		a.fix(&clip)
	}
	sub := proofing.Submission{Selfie: a.selfie, Audio: []byte(audio), Frames: clip.Frames, Client: "192.0.2.1"}
	claims := proofing.RequestClaims{EnrollmentID: ch.ID, IDNumber: a.id, Name: a.name, IssuedAt: h.clock.Unix(),
		Selfie: proofing.Digest(sub.Selfie), Audio: proofing.Digest(sub.Audio), FrameTimesMS: clip.Times,
		Language: string(ch.Language)}
	if a.lang != "" {
		claims.Language = a.lang
	}
	for _, f := range sub.Frames {
		claims.Frames = append(claims.Frames, proofing.Digest(f))
	}
	if a.forSession != "" {
		claims.EnrollmentID = a.forSession
	}
	signer := key
	if a.signWith != nil {
		signer = a.signWith
	}
	if !a.unsigned {
		var err error
		if sub.Request, err = proofing.SignRequest(signer, claims); err != nil {
			t.Fatal(err)
		}
	}
	return sub
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDecisions(t *testing.T) {
	ctx := context.Background()
	other := proofingtest.FaceColor(li.FaceTemplate)
	gray := color.RGBA{90, 90, 90, 255}
	tests := []struct {
		name   string
		spoil  func(a *attempt)
		want   error
		reason proofing.Reason
	}{
		{"approved", func(a *attempt) {}, nil, proofing.ReasonApproved},
		{"name with spaces and full-width", func(a *attempt) { a.name = " 张　三 " }, nil, proofing.ReasonApproved},
		{"20 frames a second (up to 159 frames)", func(a *attempt) { a.clip.Every = 50 * time.Millisecond }, nil, proofing.ReasonApproved},
		{"10 frames a second", func(a *attempt) { a.clip.Every = 100 * time.Millisecond }, nil, proofing.ReasonApproved},
		{"40 frames: the reading but not the light", func(a *attempt) {
			a.clip.Every = 100 * time.Millisecond
			a.fix = func(c *proofingtest.Clip) { c.Frames, c.Times = c.Frames[:40], c.Times[:40] }
		}, proofing.ErrRefused, proofing.ReasonLight},
		{"other person's photo", func(a *attempt) { a.selfie = proofingtest.Image(other, other) }, proofing.ErrRefused, proofing.ReasonFaceMismatch},
		{"the registry portrait as selfie", func(a *attempt) { a.selfie = proofingtest.PortraitCopy(a.person) }, proofing.ErrRefused, proofing.ReasonPortraitCopy},
		{"no face", func(a *attempt) { a.selfie = proofingtest.Image(gray, gray) }, proofing.ErrRefused, proofing.ReasonFaceUnusable},
		{"unknown ID number", func(a *attempt) { a.id = "110105194912310038" }, proofing.ErrRefused, proofing.ReasonNoRecord},
		{"malformed ID number", func(a *attempt) { a.id = "12345" }, proofing.ErrRefused, proofing.ReasonNoRecord},
		{"wrong name", func(a *attempt) { a.name = "张四" }, proofing.ErrRefused, proofing.ReasonName},
		{"cancelled record", func(a *attempt) { *a = honest(wang) }, proofing.ErrRefused, proofing.ReasonStatus},
		{"expired ID card", func(a *attempt) { *a = honest(zhao) }, proofing.ErrRefused, proofing.ReasonDocumentExpired},
		{"wrong digits", func(a *attempt) { a.audio = "said:9999x" }, proofing.ErrSpeech, proofing.ReasonSpeech},
		{"not digits", func(a *attempt) { a.audio = "hello there" }, proofing.ErrSpeech, proofing.ReasonSpeech},
		{"still photo lit by the screen", func(a *attempt) { a.clip.Still = true }, proofing.ErrRefused, proofing.ReasonSync},
		{"mouth one second late", func(a *attempt) { a.clip.Lag = time.Second }, proofing.ErrRefused, proofing.ReasonSync},
		{"mouth reading other digits", func(a *attempt) { a.clip.Digits = "1" }, proofing.ErrRefused, proofing.ReasonSync},
		{"lips synced, blind to the light", func(a *attempt) { a.clip.Blind = true }, proofing.ErrRefused, proofing.ReasonLight},
		{"lips synced, light guessed", func(a *attempt) {
			guess, _ := presence.NewLight(rand.Reader)
			a.clip.Light = &guess
		}, proofing.ErrRefused, proofing.ReasonLight},
		{"frames of someone else", func(a *attempt) { a.person = other }, proofing.ErrRefused, proofing.ReasonFramesFace},
		{"no face in the frames", func(a *attempt) { a.person = gray }, proofing.ErrRefused, proofing.ReasonSync},
		{"wrong digits and wrong name", func(a *attempt) { a.audio = "said:9999x"; a.name = "张四" }, proofing.ErrSpeech, proofing.ReasonSpeech},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, proofing.Limits{})
			a := honest(zhang)
			tc.spoil(&a)
			key := newKey(t)
			ch, sub := h.enroll(t, key, a)
			res, err := h.svc.Submit(ctx, ch.ID, sub)
			if tc.want == nil {
				if err != nil || res.OfferCode == "" || res.CardID == "" {
					t.Fatalf("want approval, got %+v %v", res, err)
				}
			} else if err != tc.want { // exactly the sentinel: no detail leaks
				t.Fatalf("got %v, want exactly %v", err, tc.want)
			}
			d, err := h.store.Decision(ctx, ch.ID)
			if err != nil || d.Reason != tc.reason || d.Approved != (tc.want == nil) {
				t.Fatalf("decision %+v %v, want reason %s", d, err, tc.reason)
			}
			if !strings.Contains(d.Models, "fake-face") || d.DecidedAt.IsZero() {
				t.Fatalf("decision without models or time: %+v", d)
			}
			if _, err := h.store.Evidence(ctx, ch.ID); !errors.Is(err, proofing.ErrNotFound) {
				t.Fatalf("evidence kept after decision: %v", err)
			}
			// The challenge is spent whatever the outcome.
			if _, err := h.svc.Submit(ctx, ch.ID, sub); !errors.Is(err, proofing.ErrUsed) {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}

// The selfie is analysed even when the record or name already failed, so
// the response time does not tell whether the ID number exists.
func TestRefusalAnalysesSelfieAnyway(t *testing.T) {
	h := newHarness(t, proofing.Limits{})
	a := honest(zhang)
	a.id = "110105194912310038"
	ch, sub := h.enroll(t, newKey(t), a)
	if _, err := h.svc.Submit(context.Background(), ch.ID, sub); err != proofing.ErrRefused {
		t.Fatal(err)
	}
	if h.face.Calls() != 1 {
		t.Fatalf("selfie analysed %d times, want 1", h.face.Calls())
	}
}

func TestRequestProblems(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, proofing.Limits{})
	key := newKey(t)
	tests := []struct {
		name string
		pre  func(a *attempt)
		post func(sub *proofing.Submission)
		want error
	}{
		{"unsigned", func(a *attempt) { a.unsigned = true }, nil, proofing.ErrSignature},
		{"wrongly signed", func(a *attempt) { a.signWith = newKey(t) }, nil, proofing.ErrSignature},
		{"signed for another enrollment", func(a *attempt) { a.forSession = "other" }, nil, proofing.ErrSignature},
		{"selfie swapped after signing", nil, func(sub *proofing.Submission) {
			c := proofingtest.FaceColor(li.FaceTemplate)
			sub.Selfie = proofingtest.Image(c, c)
		}, proofing.ErrSignature},
		{"frame dropped after signing", nil, func(sub *proofing.Submission) { sub.Frames = sub.Frames[:len(sub.Frames)-1] }, proofing.ErrSignature},
		{"signature of another request", nil, func(sub *proofing.Submission) {
			parts := strings.Split(sub.Request, ".")
			parts[2] = strings.Repeat("A", len(parts[2]))
			sub.Request = strings.Join(parts, ".")
		}, proofing.ErrSignature},
		{"too few frames", func(a *attempt) {
			a.fix = func(c *proofingtest.Clip) {
				c.Frames, c.Times = c.Frames[:proofing.MinFrames-1], c.Times[:proofing.MinFrames-1]
			}
		}, nil, proofing.ErrBadRequest},
		{"too many frames", func(a *attempt) {
			a.fix = func(c *proofingtest.Clip) {
				for len(c.Frames) <= proofing.MaxFrames {
					c.Frames = append(c.Frames, c.Frames[len(c.Frames)-1])
					c.Times = append(c.Times, c.Times[len(c.Times)-1]+10)
				}
			}
		}, nil, proofing.ErrBadRequest},
		{"frame times missing", func(a *attempt) { a.fix = func(c *proofingtest.Clip) { c.Times = nil } }, nil, proofing.ErrBadRequest},
		{"one frame time short", func(a *attempt) { a.fix = func(c *proofingtest.Clip) { c.Times = c.Times[1:] } }, nil, proofing.ErrBadRequest},
		{"frame times not increasing", func(a *attempt) { a.fix = func(c *proofingtest.Clip) { c.Times[5] = c.Times[4] } }, nil, proofing.ErrBadRequest},
		{"frame times backwards", func(a *attempt) {
			a.fix = func(c *proofingtest.Clip) { c.Times[5], c.Times[6] = c.Times[6], c.Times[5] }
		}, nil, proofing.ErrBadRequest},
		{"gap in the frames", func(a *attempt) {
			a.fix = func(c *proofingtest.Clip) {
				c.Frames = append(c.Frames[:20:20], c.Frames[24:]...)
				c.Times = append(c.Times[:20:20], c.Times[24:]...)
			}
		}, nil, proofing.ErrBadRequest},
		{"first frame late", func(a *attempt) {
			a.fix = func(c *proofingtest.Clip) { c.Frames, c.Times = c.Frames[4:], c.Times[4:] }
		}, nil, proofing.ErrBadRequest},
		{"negative frame time", func(a *attempt) { a.fix = func(c *proofingtest.Clip) { c.Times[0] = -1 } }, nil, proofing.ErrBadRequest},
		{"frames stop before the speech ends", func(a *attempt) {
			a.fix = func(c *proofingtest.Clip) { c.Frames, c.Times = c.Frames[:40], c.Times[:40] } // up to 3.3 s; speech to 3.55 s
		}, nil, proofing.ErrBadRequest},
		{"frame not an image", func(a *attempt) { a.fix = func(c *proofingtest.Clip) { c.Frames[3] = []byte("\xff\xd8\xff junk") } }, nil, proofing.ErrMedia},
		{"frame too large", func(a *attempt) {
			a.fix = func(c *proofingtest.Clip) { c.Frames[3] = make([]byte, proofing.MaxFrameBytes+1) }
		}, nil, proofing.ErrTooLarge},
		{"frame too many pixels", func(a *attempt) {
			a.fix = func(c *proofingtest.Clip) { c.Frames[3] = bigPNG(t) }
		}, nil, proofing.ErrMedia},
		{"signed for another language", func(a *attempt) { a.lang = "zh" }, nil, proofing.ErrBadRequest},
		{"selfie not an image", func(a *attempt) { a.selfie = []byte("GIF89a....") }, nil, proofing.ErrMedia},
		{"selfie too large", func(a *attempt) { a.selfie = make([]byte, proofing.MaxSelfieBytes+1) }, nil, proofing.ErrTooLarge},
		{"audio not decodable", func(a *attempt) { a.audio = "broken" }, nil, proofing.ErrMedia},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := honest(zhang)
			if tc.pre != nil {
				tc.pre(&a)
			}
			ch, sub := h.enroll(t, key, a)
			if tc.post != nil {
				tc.post(&sub)
			}
			if _, err := h.svc.Submit(ctx, ch.ID, sub); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// None of these spends the challenge: the honest submission
			// still succeeds.
			if _, err := h.svc.Submit(ctx, ch.ID, h.submission(t, key, ch, honest(zhang))); err != nil {
				t.Fatalf("honest retry: %v", err)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, proofing.Limits{})
	key := newKey(t)
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		ch, _ := h.enroll(t, key, honest(zhang))
		if len(ch.Digits) != 4 || strings.Trim(ch.Digits, "0123456789") != "" {
			t.Fatalf("digits %q", ch.Digits)
		}
		if d := ch.ExpiresAt.Sub(*h.clock); d != 2*time.Minute {
			t.Fatalf("expires in %s", d)
		}
		seen[ch.Digits] = true
	}
	if len(seen) < 30 { // 50 draws of 10 000 values: a repeat-heavy source is broken
		t.Fatalf("only %d distinct challenges in 50", len(seen))
	}
	// Expired.
	ch, sub := h.enroll(t, key, honest(zhang))
	*h.clock = h.clock.Add(2 * time.Minute)
	if _, err := h.svc.Submit(ctx, ch.ID, sub); !errors.Is(err, proofing.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := h.svc.Submit(ctx, "no-such-enrollment", sub); !errors.Is(err, proofing.ErrNotFound) {
		t.Fatalf("unknown enrollment: %v", err)
	}
	// Bad device keys.
	for _, jwk := range []string{``, `{}`, `[]`, `{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}`,
		`{"kty":"oct","k":"AAAA"}`, `{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`} {
		if _, err := h.svc.Start(ctx, []byte(jwk), proofing.English, "c"); !errors.Is(err, proofing.ErrBadRequest) {
			t.Errorf("device key %s: %v", jwk, err)
		}
	}
}

// A crash (here: the face engine failing) mid-decision leaves the
// challenge usable; nothing is half approved.
func TestDecisionFailureIsRetryable(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, proofing.Limits{})
	key := newKey(t)
	ch, sub := h.enroll(t, key, honest(zhang))
	h.face.Fail = errors.New("engine out of memory")
	if _, err := h.svc.Submit(ctx, ch.ID, sub); err == nil || errors.Is(err, proofing.ErrRefused) {
		t.Fatalf("engine failure: %v", err)
	}
	if _, err := h.store.Decision(ctx, ch.ID); !errors.Is(err, proofing.ErrNotFound) {
		t.Fatalf("decision recorded for a failed run: %v", err)
	}
	if _, err := h.store.Evidence(ctx, ch.ID); !errors.Is(err, proofing.ErrNotFound) {
		t.Fatalf("evidence kept after failed run: %v", err)
	}
	h.face.Fail = nil
	if _, err := h.svc.Submit(ctx, ch.ID, sub); err != nil {
		t.Fatalf("retry: %v", err)
	}

	// A process that died while deciding: the session is stuck in deciding
	// until its lease runs out, then the same challenge can be submitted.
	ch2, sub2 := h.enroll(t, key, honest(li))
	if err := h.store.Claim(ctx, ch2.ID, *h.clock, h.clock.Add(time.Minute), []byte("evidence")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Submit(ctx, ch2.ID, sub2); !errors.Is(err, proofing.ErrUsed) {
		t.Fatalf("under lease: %v", err)
	}
	*h.clock = h.clock.Add(61 * time.Second)
	sub2 = h.submission(t, key, ch2, honest(li))
	if _, err := h.svc.Submit(ctx, ch2.ID, sub2); err != nil {
		t.Fatalf("after lease: %v", err)
	}
}

func TestReenrollmentRevokesOldCard(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, proofing.Limits{})
	ch1, sub1 := h.enroll(t, newKey(t), honest(zhang))
	r1, err := h.svc.Submit(ctx, ch1.ID, sub1)
	if err != nil {
		t.Fatal(err)
	}
	ch2, sub2 := h.enroll(t, newKey(t), honest(zhang))
	r2, err := h.svc.Submit(ctx, ch2.ID, sub2)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := h.store.Card(ctx, r1.CardID)
	c2, _ := h.store.Card(ctx, r2.CardID)
	if c1.State != proofing.CardRevoked || c2.State != proofing.CardActive {
		t.Fatalf("states %s %s", c1.State, c2.State)
	}
	if !h.status.Revoked(c1.StatusIndex) || h.status.Revoked(c2.StatusIndex) {
		t.Fatalf("status revocations wrong (old %d, new %d)", c1.StatusIndex, c2.StatusIndex)
	}
	id, err := h.svc.CardIDNumber(c2)
	if err != nil || id != zhang.IDNumber {
		t.Fatalf("card ID number %q %v", id, err)
	}
	if c1.DeviceThumb == c2.DeviceThumb {
		t.Fatal("cards bound to one key")
	}
}

// TestReenrollmentRevokesBatch: a new enrollment revokes the old card and
// every single-use credential of it in one SetAll (one transaction with
// their audit entries on *status.Service), not entry by entry.
func TestReenrollmentRevokesBatch(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, proofing.Limits{})
	ch1, sub1 := h.enroll(t, newKey(t), honest(zhang))
	r1, err := h.svc.Submit(ctx, ch1.ID, sub1)
	if err != nil {
		t.Fatal(err)
	}
	entries, ok := any(h.store).(proofing.CardEntries)
	if !ok {
		t.Fatal("the store keeps no card entries")
	}
	var refs []proofing.StatusRef
	for i := range 5 {
		refs = append(refs, proofing.StatusRef{URI: "https://issuer/status/x", Index: 1000 + i})
	}
	if err := entries.AddCardEntries(ctx, r1.CardID, refs, h.clock.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ch2, sub2 := h.enroll(t, newKey(t), honest(zhang))
	if _, err := h.svc.Submit(ctx, ch2.ID, sub2); err != nil {
		t.Fatal(err)
	}
	c1, _ := h.store.Card(ctx, r1.CardID)
	if c1.State != proofing.CardRevoked || h.status.SetAllCalls != 1 || h.status.RevokeCalls != 0 {
		t.Fatalf("old card %s, %d SetAll calls, %d single revocations", c1.State, h.status.SetAllCalls, h.status.RevokeCalls)
	}
	for _, r := range append(refs, proofing.StatusRef{Index: c1.StatusIndex}) {
		if !h.status.Revoked(r.Index) {
			t.Fatalf("entry %d not revoked", r.Index)
		}
	}
}

func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, proofing.Limits{Device: proofing.NewLimiter(time.Minute, 3, 100)})
	key := newKey(t)
	jwk, _ := proofing.PublicJWK(&key.PublicKey)
	for i := 0; i < 3; i++ {
		if _, err := h.svc.Start(ctx, jwk, proofing.English, "c"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.svc.Start(ctx, jwk, proofing.English, "c")
	var rl *proofing.RateLimitError
	if !errors.As(err, &rl) || rl.Scope != "device" || rl.RetryAfter <= 0 || rl.RetryAfter > time.Minute {
		t.Fatalf("4th start: %v", err)
	}
}

// Strangers without the citizen's face cannot lock the citizen out: their
// submissions for the citizen's ID number never spend the ID number's
// budget. Submissions whose selfie matched the citizen's portrait (the
// citizen, or someone holding their photo) do, per device key and per ID
// number.
func TestNoLockoutByStrangers(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, proofing.Limits{
		IDNumber: proofing.NewLimiter(time.Hour, 4, 100),
		IDDevice: proofing.NewLimiter(time.Hour, 2, 100),
	})
	other := proofingtest.FaceColor(li.FaceTemplate)
	gray := color.RGBA{90, 90, 90, 255}
	junk := []func(a *attempt){
		func(a *attempt) { a.selfie = proofingtest.Selfie(other); a.person = other },
		func(a *attempt) { a.selfie = proofingtest.Selfie(gray) },
		func(a *attempt) { a.name = "张四" },
		func(a *attempt) { a.selfie = proofingtest.Selfie(other); a.name = "Mallory" },
	}
	key := newKey(t) // one stranger's device, and fresh ones
	for i := 0; i < 40; i++ {
		a := honest(zhang)
		junk[i%len(junk)](&a)
		k := key
		if i%2 == 1 {
			k = newKey(t)
		}
		ch, sub := h.enroll(t, k, a)
		if _, err := h.svc.Submit(ctx, ch.ID, sub); err != proofing.ErrRefused {
			t.Fatalf("junk %d: %v", i, err)
		}
	}
	// The citizen, after 40 strangers' attempts with their ID number.
	ch, sub := h.enroll(t, newKey(t), honest(zhang))
	if _, err := h.svc.Submit(ctx, ch.ID, sub); err != nil {
		t.Fatalf("citizen after strangers' junk: %v", err)
	}

	// Someone with the citizen's face (a photo: synced lips, blind to the
	// light) from one device: 2 matched attempts, then the device's limit.
	attack := honest(zhang)
	attack.clip.Blind = true
	key = newKey(t)
	for i := 0; i < 2; i++ {
		ch, sub := h.enroll(t, key, attack)
		if _, err := h.svc.Submit(ctx, ch.ID, sub); err != proofing.ErrRefused {
			t.Fatalf("matched attack %d: %v", i, err)
		}
	}
	var rl *proofing.RateLimitError
	ch, sub = h.enroll(t, key, attack)
	if _, err := h.svc.Submit(ctx, ch.ID, sub); !errors.As(err, &rl) || rl.Scope != "id_device" {
		t.Fatalf("3rd matched attempt from one device: %v", err)
	}
	// The limited attempt was not decided: its challenge is still usable.
	if _, err := h.store.Decision(ctx, ch.ID); !errors.Is(err, proofing.ErrNotFound) {
		t.Fatalf("limited attempt decided: %v", err)
	}
	// From a new device: the ID number's budget (4: the citizen's
	// approval, the 2 attacks and this one) is then spent.
	ch, sub = h.enroll(t, newKey(t), attack)
	if _, err := h.svc.Submit(ctx, ch.ID, sub); err != proofing.ErrRefused {
		t.Fatalf("4th matched attempt: %v", err)
	}
	ch, sub = h.enroll(t, newKey(t), honest(zhang))
	if _, err := h.svc.Submit(ctx, ch.ID, sub); !errors.As(err, &rl) || rl.Scope != "id_number" {
		t.Fatalf("5th matched attempt for one ID number: %v", err)
	}
	// Strangers' junk is still answered as before, not limited.
	a := honest(zhang)
	a.selfie = proofingtest.Selfie(other)
	ch, sub = h.enroll(t, newKey(t), a)
	if _, err := h.svc.Submit(ctx, ch.ID, sub); err != proofing.ErrRefused {
		t.Fatalf("junk after the limit: %v", err)
	}
	// An hour later the citizen can enroll again.
	*h.clock = h.clock.Add(time.Hour)
	ch, sub = h.enroll(t, newKey(t), honest(zhang))
	if _, err := h.svc.Submit(ctx, ch.ID, sub); err != nil {
		t.Fatalf("citizen an hour later: %v", err)
	}
}

func TestLimiterBounded(t *testing.T) {
	l := proofing.NewLimiter(time.Minute, 1, 10)
	now := time.Unix(0, 0)
	for i := 0; i < 100; i++ {
		if ok, _ := l.Allow(fmt.Sprint(i), now); !ok {
			t.Fatalf("key %d refused on first use", i)
		}
	}
	if l.Len() != 10 {
		t.Fatalf("remembers %d keys, want 10", l.Len())
	}
	if ok, after := l.Allow("99", now); ok || after != time.Minute {
		t.Fatalf("second use: %v %s", ok, after)
	}
	if ok, _ := l.Allow("99", now.Add(time.Minute)); !ok {
		t.Fatal("refused after the interval")
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		typed, registry string
		match           bool
	}{
		{"张三", "张三", true},
		{" 张 三 ", "张三", true},
		{"张\u3000三", "张三", true},
		{"ＬＩ　ＳＩ", "Li Si", true},
		{"li si", "Li Si", true},
		{"LiSi", "Li Si", true},
		{"阿卜杜拉・买买提", "阿卜杜拉·买买提", true},
		{"阿卜杜拉.买买提", "阿卜杜拉·买买提", true},
		{"张\u200b三", "张三", true},
		{"张四", "张三", false},
		{"张", "张三", false},
		{"", "", false},
		{"   ", "", false},
		{"Li Si", "Li Shi", false},
	}
	for _, tc := range tests {
		if got := proofing.NameMatches(tc.typed, tc.registry); got != tc.match {
			t.Errorf("NameMatches(%q, %q) = %v (%q vs %q)", tc.typed, tc.registry, got,
				proofing.NormalizeName(tc.typed), proofing.NormalizeName(tc.registry))
		}
	}
}

func FuzzParseDeviceKey(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, _ := proofing.PublicJWK(&k.PublicKey)
	f.Add(good)
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`))
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		key, err := proofing.ParseDeviceKey(b)
		if err != nil {
			if !errors.Is(err, proofing.ErrBadRequest) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		if key.Public == nil || key.Public.Curve != elliptic.P256() || key.Thumbprint == "" {
			t.Fatalf("accepted %q as %+v", b, key)
		}
	})
}

// zeros is a random source that always draws the same challenge.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// A submission that reuses an earlier one's media is refused even under the
// same digits and light (here: a broken random source that repeats the
// challenge, the only way a replay could pass the speech and light checks).
func TestReplayRefused(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, proofing.Limits{})
	var err error
	h.svc, err = proofing.New(proofing.Config{Store: h.store, Records: proofingtest.Records{zhang.IDNumber: zhang}, Face: h.face,
		Speech: proofingtest.Speech{}, Status: h.status, Sealer: testSealer(t), Random: zeros{}, Clock: func() time.Time { return *h.clock }})
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	ch1, sub1 := h.enroll(t, key, honest(zhang))
	if _, err := h.svc.Submit(ctx, ch1.ID, sub1); err != nil {
		t.Fatalf("first: %v", err)
	}
	for _, tc := range []struct {
		name  string
		reuse func(a *attempt, s1 proofing.Submission)
	}{
		{"the same audio", func(a *attempt, s1 proofing.Submission) { a.audio = string(s1.Audio) }},
		{"the same selfie", func(a *attempt, s1 proofing.Submission) { a.selfie = s1.Selfie }},
		{"one frame of it", func(a *attempt, s1 proofing.Submission) {
			a.fix = func(c *proofingtest.Clip) { c.Frames[7] = s1.Frames[7] }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := honest(zhang)
			tc.reuse(&a, sub1)
			ch, sub := h.enroll(t, newKey(t), a)
			if ch.Digits != ch1.Digits || !reflect.DeepEqual(ch.Light, ch1.Light) {
				t.Fatal("challenge not repeated")
			}
			if _, err := h.svc.Submit(ctx, ch.ID, sub); err != proofing.ErrRefused {
				t.Fatalf("replay: %v", err)
			}
			if d, _ := h.store.Decision(ctx, ch.ID); d.Reason != proofing.ReasonReplay || strings.Contains(d.Checks, `"replay":{"seen":0}`) {
				t.Fatalf("decision %+v", d)
			}
		})
	}
	// Fresh media under the same challenge pass.
	ch, sub := h.enroll(t, newKey(t), honest(zhang))
	if _, err := h.svc.Submit(ctx, ch.ID, sub); err != nil {
		t.Fatalf("fresh media: %v", err)
	}
	// After the replay window the hashes are swept.
	*h.clock = h.clock.Add(time.Hour + time.Minute)
	if err := h.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	a := honest(zhang)
	a.selfie = sub1.Selfie
	ch, sub = h.enroll(t, newKey(t), a)
	if _, err := h.svc.Submit(ctx, ch.ID, sub); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func testSealer(t *testing.T) *seal.Sealer {
	s, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{7}, seal.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAttemptsLeft: a refused try says how many tries (a challenge and a
// submission each) the device has left under its limit, the same whether
// the face matched or not; without a limiter that can count, nothing.
func TestAttemptsLeft(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, proofing.Limits{Device: proofing.NewLimiter(time.Hour, 10, 100),
		IDDevice: proofing.NewLimiter(time.Hour, 3, 100)})
	key := newKey(t)
	wrongName := honest(zhang)
	wrongName.name = "李四"
	stranger := honest(zhang)
	stranger.selfie, stranger.person = honest(li).selfie, honest(li).person
	for i, a := range []attempt{wrongName, stranger, wrongName} {
		ch, sub := h.enroll(t, key, a)
		if _, err := h.svc.Submit(ctx, ch.ID, sub); !errors.Is(err, proofing.ErrRefused) {
			t.Fatalf("try %d: %v, want a refusal", i+1, err)
		}
		if n, ok := h.svc.AttemptsLeft(ctx, ch.ID); !ok || n != 4-i {
			t.Fatalf("after try %d: %d attempts left (%v), want %d", i+1, n, ok, 4-i)
		}
	}
	if _, ok := h.svc.AttemptsLeft(ctx, "no-such-enrollment"); ok {
		t.Fatal("attempts left for an unknown enrollment")
	}
	u := newHarness(t, proofing.Limits{})
	ch, sub := u.enroll(t, key, wrongName)
	u.svc.Submit(ctx, ch.ID, sub)
	if _, ok := u.svc.AttemptsLeft(ctx, ch.ID); ok {
		t.Fatal("attempts left without a device limiter")
	}
}
