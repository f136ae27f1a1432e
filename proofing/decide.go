package proofing

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"strings"
	"time"

	"github.com/shenfen/shenfen/biometric/presence"
	"github.com/shenfen/shenfen/registry"
)

type evidence struct {
	Selfie []byte   `json:"selfie"`
	Audio  []byte   `json:"audio"`
	Frames [][]byte `json:"frames"`
	Times  []int64  `json:"frame_times_ms"`
}

// input is a checked, claimed submission.
type input struct {
	sess     Session
	key      DeviceKey
	claims   RequestClaims
	idNumber registry.IDNumber
	idErr    error
	selfie   image.Image
	frames   []image.Image
	sub      Submission
	started  time.Time
}

// Submit decides an enrollment. It returns the Result on approval. A
// refusal is ErrSpeech when the recording does not read the challenge (a
// check of the audio against the challenge alone, which tells nothing about
// the citizen) and ErrRefused for everything that concerns the identity:
// record, status, name, face, and the genuine-presence checks of the video
// (the frames' face, lip sync, light, replay). Presence failures share the
// identity refusal on purpose: a distinct answer would tell whoever tries a
// presentation attack that the photo matched and which check to work on.
// The other sentinels say what was wrong with the request itself; such a
// request is not decided and its challenge stays usable until it expires.
func (s *Service) Submit(ctx context.Context, id string, sub Submission) (Result, error) {
	if err := s.limit(ctx, s.cfg.Limits.Client, "client", sub.Client); err != nil {
		return Result{}, err
	}
	sess, err := s.cfg.Store.Session(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if err := s.limit(ctx, s.cfg.Limits.Device, "device", sess.DeviceThumb); err != nil {
		return Result{}, err
	}
	now := s.now()
	switch {
	case sess.State == StateApproved || sess.State == StateRefused:
		return Result{}, ErrUsed
	case sess.State == StateDeciding && now.Before(sess.LeaseUntil):
		return Result{}, ErrUsed
	case !now.Before(sess.ExpiresAt):
		return Result{}, ErrExpired
	}
	if len(sub.Audio) == 0 {
		return Result{}, fmt.Errorf("%w: audio missing", ErrBadRequest)
	}
	if len(sub.Audio) > MaxAudioBytes {
		return Result{}, fmt.Errorf("%w: audio of %d bytes, at most %d", ErrTooLarge, len(sub.Audio), MaxAudioBytes)
	}
	if len(sub.Frames) < MinFrames || len(sub.Frames) > MaxFrames {
		return Result{}, fmt.Errorf("%w: %d frames, want %d..%d", ErrBadRequest, len(sub.Frames), MinFrames, MaxFrames)
	}
	key, err := ParseDeviceKey(sess.DeviceKey)
	if err != nil {
		return Result{}, fmt.Errorf("proofing: stored device key: %w", err)
	}
	claims, err := verifyRequest(sub.Request, key.Public, sess.ID, &sub, now, s.cfg.Skew)
	if err != nil {
		return Result{}, err
	}
	if claims.Language != "" && Language(claims.Language) != sess.Language {
		return Result{}, fmt.Errorf("%w: language %q, the challenge is in %q", ErrBadRequest, claims.Language, sess.Language)
	}
	if err := CheckFrameTimes(claims.FrameTimesMS, len(sub.Frames)); err != nil {
		return Result{}, err
	}
	in := input{sess: sess, key: key, claims: claims, sub: sub, started: now}
	in.idNumber, in.idErr = registry.ParseIDNumber(strings.TrimSpace(claims.IDNumber), now)
	if in.selfie, err = checkImage(sub.Selfie, MaxSelfieBytes, MinImageSide, MaxSelfieSide, "selfie"); err != nil {
		return Result{}, err
	}
	in.frames = make([]image.Image, len(sub.Frames))
	for i, f := range sub.Frames {
		if in.frames[i], err = checkImage(f, MaxFrameBytes, MinFrameSide, MaxFrameSide, fmt.Sprintf("frame %d", i+1)); err != nil {
			return Result{}, err
		}
	}

	ev, err := json.Marshal(evidence{Selfie: sub.Selfie, Audio: sub.Audio, Frames: sub.Frames, Times: claims.FrameTimesMS})
	if err != nil {
		return Result{}, err
	}
	sealed := s.cfg.Sealer.Seal(ev, []byte("proofing/evidence "+sess.ID))
	if err := s.cfg.Store.Claim(ctx, sess.ID, now, now.Add(s.cfg.Lease), sealed); err != nil {
		if errors.Is(err, ErrConflict) {
			return Result{}, ErrUsed
		}
		return Result{}, fmt.Errorf("proofing: claim: %w", err)
	}
	res, err := s.decide(ctx, in)
	if err != nil && !isOutcome(err) {
		// No decision could be made (internal error, unusable audio,
		// frames that do not cover the speech, a limit): give the
		// challenge back (until it expires) and drop the evidence. If
		// Release fails too, the lease runs out and the sweeper deletes
		// the evidence.
		if rerr := s.cfg.Store.Release(context.WithoutCancel(ctx), sess.ID); rerr != nil {
			s.cfg.Log.Error("proofing: release after failed decision", "err", rerr)
		}
	}
	return res, err
}

func isOutcome(err error) bool {
	return errors.Is(err, ErrRefused) || errors.Is(err, ErrSpeech)
}

// decide runs the checks and records the decision. Every check whose
// outcome concerns the citizen runs whether or not an earlier one failed,
// so that neither the answer nor its timing tells which one did.
func (s *Service) decide(ctx context.Context, in input) (Result, error) {
	sess := in.sess
	d := Decision{SessionID: sess.ID, FaceDistance: -1, SpeechConfidence: -1, Liveness: -1, StartedAt: in.started,
		Language: sess.Language,
		Models:   "face=" + s.cfg.Face.Version() + "; speech=" + s.cfg.Speech.Version() + "; presence=" + presence.Version}
	ck := Checks{Face: FaceCheck{Distance: -1, PortraitHashBits: -1},
		Frames: FramesCheck{Count: len(in.frames), ProbeDistance: -1, TemplateDistance: -1}, Sync: SyncCheck{Corr: -1}, Light: LightCheck{Corr: -1}}

	// The reading: the audio against the challenge, nothing of the citizen.
	sp, err := s.cfg.Speech.Verify(ctx, in.sub.Audio, sess.Digits, sess.Language)
	if err != nil {
		return Result{}, fmt.Errorf("proofing: speech: %w", err)
	}
	d.SpeechConfidence = sp.Score
	ck.Speech = SpeechCheck{Accepted: sp.Accepted, Score: sp.Score, Reason: sp.Reason, Words: len(sp.Words),
		DurationMS: sp.Duration.Milliseconds()}
	times := in.claims.FrameTimesMS
	if end := speechEnd(sp); sp.Accepted && time.Duration(times[len(times)-1])*time.Millisecond < end {
		return Result{}, fmt.Errorf("%w: the frames end at %d ms, before the end of the speech at %d ms",
			ErrBadRequest, times[len(times)-1], end.Milliseconds())
	}
	if !sp.Accepted {
		d.Checks = ck.json()
		return Result{}, s.refuse(ctx, d, ReasonSpeech, ErrSpeech)
	}

	// Record, status, name. A failure here does not stop the face and
	// video analysis below.
	var rec registry.Record
	reason := Reason("")
	if in.idErr != nil {
		reason = ReasonNoRecord
	} else {
		rec, err = s.cfg.Records.Get(ctx, in.idNumber)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			reason = ReasonNoRecord
		case err != nil:
			return Result{}, fmt.Errorf("proofing: registry: %w", err)
		default:
			d.Subject = base64.RawURLEncoding.EncodeToString(s.cfg.Records.Index(in.idNumber))
			switch {
			case rec.Status != registry.StatusValid:
				reason = ReasonStatus
			case !rec.ValidUntil.IsZero() && !s.now().Before(rec.ValidUntil.AddDate(0, 0, 1)):
				// valid-until is a date: the card is good through that day.
				reason = ReasonDocumentExpired
			case !NameMatches(in.claims.Name, rec.Name):
				reason = ReasonName
			case len(rec.FaceTemplate) == 0:
				reason = ReasonNoTemplate
			}
		}
	}
	probe, err := s.cfg.Face.Probe(ctx, in.selfie)
	usable := err == nil
	switch {
	case errors.Is(err, ErrFaceUnusable):
		if reason == "" {
			reason = ReasonFaceUnusable
		}
	case err != nil:
		return Result{}, fmt.Errorf("proofing: face: %w", err)
	}
	var template []byte
	if reason == "" {
		m, err := s.cfg.Face.Match(probe, rec.FaceTemplate)
		if err != nil {
			return Result{}, fmt.Errorf("proofing: face match: %w", err)
		}
		d.FaceDistance, ck.Face.Distance, ck.Face.Copy = m.Distance, m.Distance, m.Copy
		switch {
		case !m.Same:
			reason = ReasonFaceMismatch
		case m.Copy || sameAsPortrait(in.selfie, rec.Portrait, &ck):
			reason = ReasonPortraitCopy
		}
		if m.Same {
			// The selfie matched this citizen's portrait: only now does the
			// attempt spend the citizen's budget (a stranger without the
			// face cannot exhaust it).
			if err := s.limit(ctx, s.cfg.Limits.IDDevice, "id_device", Digest([]byte(string(in.idNumber)+"\x00"+in.key.Thumbprint))); err != nil {
				return Result{}, err
			}
			if err := s.limit(ctx, s.cfg.Limits.IDNumber, "id_number", Digest([]byte(in.idNumber))); err != nil {
				return Result{}, err
			}
		}
		template = rec.FaceTemplate
	}

	// The video: the frames' face, the lips against the speech, the skin
	// against the light challenge.
	if usable {
		v, err := s.cfg.Face.Video(ctx, in.frames, probe, template)
		if err != nil {
			return Result{}, fmt.Errorf("proofing: video: %w", err)
		}
		if len(v.Frames) != len(in.frames) {
			return Result{}, fmt.Errorf("proofing: video: %d frame results for %d frames", len(v.Frames), len(in.frames))
		}
		for i := range v.Frames {
			v.Frames[i].At = time.Duration(times[i]) * time.Millisecond
		}
		syn := presence.Sync(v.Frames, sp.Envelope, sp.Words)
		lit := presence.CheckLight(v.Frames, sess.Light)
		ck.Frames = FramesCheck{Count: len(in.frames), Found: syn.Found, Checked: v.Checked, ProbeDistance: v.ProbeDistance,
			TemplateDistance: v.TemplateDistance, TemplateCopy: v.TemplateCopy}
		ck.Sync = SyncCheck{Pass: syn.Pass, Corr: syn.Corr, LagMS: syn.Lag.Milliseconds(), Words: syn.Words, Active: syn.Active,
			MinActivity: finite(syn.MinActivity), Why: syn.Why}
		ck.Light = LightCheck{Pass: lit.Pass, Corr: finite(lit.Corr), LatencyMS: lit.Latency.Milliseconds(), Judged: lit.Judged,
			Agree: lit.Agree, Why: lit.Why}
		d.Liveness = min(finite(syn.Corr), finite(lit.Corr))
		if reason == "" {
			switch {
			case v.TemplateCopy:
				reason = ReasonPortraitCopy
			case !v.Same:
				reason = ReasonFramesFace
			case !syn.Pass:
				reason = ReasonSync
			case !lit.Pass:
				reason = ReasonLight
			}
		}
	}

	// Replay: keyed hashes of the media, kept for the replay window.
	seen, err := s.cfg.Store.RememberMedia(ctx, sess.ID, s.mediaHashes(in, sp.Fingerprint), s.now().Add(s.cfg.ReplayWindow))
	if err != nil {
		return Result{}, fmt.Errorf("proofing: media hashes: %w", err)
	}
	ck.Replay.Seen = len(seen)
	if reason == "" && len(seen) > 0 {
		reason = ReasonReplay
	}
	d.Checks = ck.json()
	if reason != "" {
		return Result{}, s.refuse(ctx, d, reason, ErrRefused)
	}
	return s.approve(ctx, in, d)
}

// speechEnd is where the speech ends: the last recognised word, or the
// envelope's last voiced sample when the engine gives no word times.
func speechEnd(sp Spoken) time.Duration {
	var end time.Duration
	for _, w := range sp.Words {
		end = max(end, w.End)
	}
	if len(sp.Words) == 0 {
		end = presence.SpeechEnd(sp.Envelope)
	}
	return end
}

// sameAsPortrait reports whether the selfie is the registry portrait's
// picture: byte for byte, or with a perceptual hash within
// PortraitHashBits (re-encoded, rescaled).
func sameAsPortrait(selfie image.Image, portrait []byte, ck *Checks) bool {
	if len(portrait) == 0 {
		return false
	}
	img, _, err := image.Decode(bytes.NewReader(portrait))
	if err != nil {
		return false
	}
	ck.Face.PortraitHashBits = presence.HashDistance(presence.DHash(selfie), presence.DHash(img))
	return ck.Face.PortraitHashBits <= PortraitHashBits
}

// PortraitHashBits is the largest difference-hash distance (of 64 bits) at
// which a selfie counts as the registry portrait's picture.
const PortraitHashBits = 6

// Media hash kinds (the first byte of a stored hash).
const (
	hashSelfie = 's'
	hashAudio  = 'a'
	hashPCM    = 'p'
	hashFrame  = 'f'
)

// mediaHashes are the keyed hashes (the sealer's HMAC, purpose
// "proofing/replay") of the selfie, the audio file, its decoded samples and
// every frame, each prefixed by its kind.
func (s *Service) mediaHashes(in input, pcm []byte) [][]byte {
	h := func(kind byte, b []byte) []byte {
		return append([]byte{kind}, s.cfg.Sealer.Index("proofing/replay", append([]byte{kind}, b...))...)
	}
	out := [][]byte{h(hashSelfie, in.sub.Selfie), h(hashAudio, in.sub.Audio)}
	if len(pcm) > 0 {
		out = append(out, h(hashPCM, pcm))
	}
	seen := map[string]bool{}
	for _, f := range in.sub.Frames {
		k := h(hashFrame, f)
		if !seen[string(k)] { // a submission repeating a frame is not its own replay
			seen[string(k)] = true
			out = append(out, k)
		}
	}
	return out
}

func (s *Service) approve(ctx context.Context, in input, d Decision) (Result, error) {
	// Approved: a status entry for the card, then one transaction for the
	// decision, the card, the offer and the old cards' revocation marks. An
	// entry allocated for a decision that then fails to commit stays
	// unused (valid and never referenced): harmless.
	ref, err := s.cfg.Status.Allocate(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("proofing: allocate status: %w", err)
	}
	now := s.now()
	d.Approved, d.Reason, d.DecidedAt = true, ReasonApproved, now
	card := &Card{ID: RandomID(16), SessionID: in.sess.ID, Subject: d.Subject, DeviceKey: in.key.JWK, DeviceThumb: in.key.Thumbprint,
		StatusURI: ref.URI, StatusIndex: ref.Index, State: CardActive, CreatedAt: now}
	card.IDNumber = s.cfg.Sealer.Seal([]byte(in.idNumber), []byte("proofing/card "+card.ID))
	code := RandomID(32)
	offer := &Secret{Kind: SecretOffer, Hash: Hash(code), Ref: card.ID, ExpiresAt: now.Add(s.cfg.OfferTTL)}
	if err := s.cfg.Store.Finish(ctx, Finish{Decision: d, Card: card, Offer: offer}); err != nil {
		return Result{}, fmt.Errorf("proofing: record approval: %w", err)
	}
	s.cfg.Log.Info("proofing: enrollment approved", "face_distance", d.FaceDistance, "speech_score", d.SpeechConfidence,
		"liveness", d.Liveness)
	if err := s.ApplyRevocations(ctx); err != nil {
		s.cfg.Log.Error("proofing: revoke earlier cards (retried later)", "err", err)
	}
	return Result{SessionID: in.sess.ID, CardID: card.ID, OfferCode: code, OfferExpires: offer.ExpiresAt}, nil
}

func (s *Service) refuse(ctx context.Context, d Decision, reason Reason, outward error) error {
	d.Approved, d.Reason, d.DecidedAt = false, reason, s.now()
	if err := s.cfg.Store.Finish(ctx, Finish{Decision: d}); err != nil {
		return fmt.Errorf("proofing: record refusal: %w", err)
	}
	s.cfg.Log.Info("proofing: enrollment refused", "reason", string(reason), "face_distance", d.FaceDistance,
		"speech_score", d.SpeechConfidence, "liveness", d.Liveness, "checks", d.Checks)
	return outward
}
