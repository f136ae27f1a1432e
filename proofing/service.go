package proofing

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // selfie and frame formats
	_ "image/png"
	"log/slog"
	"strings"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/shenfen/shenfen/registry"
)

// Bounds on a submission's parts.
const (
	MaxSelfieBytes = 4 << 20
	MaxAudioBytes  = 2 << 20
	MaxFrameBytes  = 1 << 20
	MinFrames      = 3
	MaxFrames      = 8
	MaxSelfieSide  = 4096
	MaxFrameSide   = 2048
	MinImageSide   = 64
)

// Limits are the per-key rate limiters; a nil limiter does not limit.
type Limits struct {
	// Device limits challenges and submissions per device key thumbprint.
	Device RateLimiter
	// Client limits challenges and submissions per client address.
	Client RateLimiter
	// IDNumber limits decisions per ID number (checked after the
	// signature, so only a device-key holder spends it).
	IDNumber RateLimiter
}

// The default enrollment limits: per device key 10 requests (a challenge
// and a submission each count) then 1 every 30 seconds, per client address
// 20 then 1 every 10 seconds, and per ID number 5 decisions then 1 every 10
// minutes.
const (
	DeviceEvery, DeviceBurst     = 30 * time.Second, 10
	ClientEvery, ClientBurst     = 10 * time.Second, 20
	IDNumberEvery, IDNumberBurst = 10 * time.Minute, 5
)

// DefaultLimits are the default limits in process memory, each
// remembering 100 000 keys. A deployment of several processes shares the
// store's limiters instead (shenfen serve does).
func DefaultLimits() Limits {
	return Limits{
		Device:   NewLimiter(DeviceEvery, DeviceBurst, 100_000),
		Client:   NewLimiter(ClientEvery, ClientBurst, 100_000),
		IDNumber: NewLimiter(IDNumberEvery, IDNumberBurst, 100_000),
	}
}

// Config is what a Service needs.
type Config struct {
	Store   Store
	Records RecordSource
	Face    FaceChecker
	Speech  DigitRecognizer
	Status  StatusLists
	Sealer  Sealer
	Limits  Limits
	Log     *slog.Logger
	// Clock is the time source (nil: time.Now).
	Clock func() time.Time
	// ChallengeTTL (2 min), Lease (1 min), OfferTTL (10 min), Skew (5 min)
	// default when zero.
	ChallengeTTL, Lease, OfferTTL, Skew time.Duration
}

// Service runs enrollments.
type Service struct {
	cfg Config
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Records == nil || cfg.Face == nil || cfg.Speech == nil || cfg.Status == nil || cfg.Sealer == nil {
		return nil, errors.New("proofing: store, records, face, speech, status and sealer are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ChallengeTTL, 2*time.Minute)
	def(&cfg.Lease, time.Minute)
	def(&cfg.OfferTTL, 10*time.Minute)
	def(&cfg.Skew, 5*time.Minute)
	return &Service{cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock().UTC() }

// Store returns the service's store (the issuer endpoints share it).
func (s *Service) Store() Store { return s.cfg.Store }

// Challenge is the answer to a new enrollment.
type Challenge struct {
	ID        string
	Digits    string
	ExpiresAt time.Time
}

// RandomID returns n random bytes, base64url.
func RandomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash is SHA-256 of a secret value, as secrets are stored.
func Hash(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// randomDigits draws four uniform decimal digits from crypto/rand.
func randomDigits() string {
	var b [4]byte
	for {
		rand.Read(b[:])
		// rejection sampling: 2^32 - (2^32 mod 10000) keeps 0..9999 uniform
		v := binary.BigEndian.Uint32(b[:])
		if v < 4294960000 {
			return fmt.Sprintf("%04d", v%10000)
		}
	}
}

func (s *Service) limit(ctx context.Context, l RateLimiter, scope, key string) error {
	ok, after, err := take(ctx, l, scope+"\x00"+key, s.now())
	if err != nil {
		return fmt.Errorf("proofing: rate limit %s: %w", scope, err)
	}
	if !ok {
		return &RateLimitError{Scope: scope, RetryAfter: after}
	}
	return nil
}

// Start makes a new enrollment bound to a device key (a public P-256 JWK)
// and returns its challenge.
func (s *Service) Start(ctx context.Context, deviceJWK []byte, client string) (Challenge, error) {
	if err := s.limit(ctx, s.cfg.Limits.Client, "client", client); err != nil {
		return Challenge{}, err
	}
	key, err := ParseDeviceKey(deviceJWK)
	if err != nil {
		return Challenge{}, err
	}
	if err := s.limit(ctx, s.cfg.Limits.Device, "device", key.Thumbprint); err != nil {
		return Challenge{}, err
	}
	now := s.now()
	sess := Session{ID: RandomID(16), DeviceKey: key.JWK, DeviceThumb: key.Thumbprint, Digits: randomDigits(),
		State: StatePending, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL)}
	if err := s.cfg.Store.CreateSession(ctx, sess); err != nil {
		return Challenge{}, fmt.Errorf("proofing: create session: %w", err)
	}
	return Challenge{ID: sess.ID, Digits: sess.Digits, ExpiresAt: sess.ExpiresAt}, nil
}

// SessionStatus is what a client may know of an enrollment.
func (s *Service) SessionStatus(ctx context.Context, id string) (State, time.Time, error) {
	sess, err := s.cfg.Store.Session(ctx, id)
	if err != nil {
		return "", time.Time{}, err
	}
	if sess.State == StatePending && !s.now().Before(sess.ExpiresAt) {
		return "expired", sess.ExpiresAt, nil
	}
	return sess.State, sess.ExpiresAt, nil
}

// Result is an approved enrollment: the card record and the
// pre-authorized code of its credential offer.
type Result struct {
	SessionID    string
	CardID       string
	OfferCode    string
	OfferExpires time.Time
}

func checkImage(b []byte, maxBytes, maxSide int, what string) (image.Image, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s missing", ErrBadRequest, what)
	}
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%w: %s of %d bytes, at most %d", ErrTooLarge, what, len(b), maxBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || (format != "jpeg" && format != "png" && format != "webp") {
		return nil, fmt.Errorf("%w: %s is not a JPEG, PNG or WebP image", ErrMedia, what)
	}
	if cfg.Width < MinImageSide || cfg.Height < MinImageSide || cfg.Width > maxSide || cfg.Height > maxSide {
		return nil, fmt.Errorf("%w: %s is %dx%d pixels, want %d..%d per side", ErrMedia, what, cfg.Width, cfg.Height, MinImageSide, maxSide)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMedia, what, err)
	}
	return img, nil
}

type evidence struct {
	Selfie []byte   `json:"selfie"`
	Audio  []byte   `json:"audio"`
	Frames [][]byte `json:"frames"`
}

// Submit decides an enrollment. It returns the Result on approval; a
// refusal is an error wrapping ErrRefused, ErrSpeech or ErrLiveness, and
// the other sentinels say what was wrong with the request itself.
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
	idNumber, idErr := registry.ParseIDNumber(strings.TrimSpace(claims.IDNumber), now)
	idKey := claims.IDNumber
	if idErr == nil {
		idKey = string(idNumber)
	}
	if err := s.limit(ctx, s.cfg.Limits.IDNumber, "id_number", Digest([]byte(idKey))); err != nil {
		return Result{}, err
	}
	selfie, err := checkImage(sub.Selfie, MaxSelfieBytes, MaxSelfieSide, "selfie")
	if err != nil {
		return Result{}, err
	}
	frames := make([]image.Image, len(sub.Frames))
	for i, f := range sub.Frames {
		if frames[i], err = checkImage(f, MaxFrameBytes, MaxFrameSide, fmt.Sprintf("frame %d", i+1)); err != nil {
			return Result{}, err
		}
	}

	ev, err := json.Marshal(evidence{Selfie: sub.Selfie, Audio: sub.Audio, Frames: sub.Frames})
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
	res, err := s.decide(ctx, sess, key, claims, idNumber, idErr, selfie, frames, sub.Audio, now)
	if err != nil && !isOutcome(err) {
		// No decision could be made: give the challenge back (until it
		// expires) and drop the evidence. If Release fails too, the lease
		// runs out and the sweeper deletes the evidence.
		if rerr := s.cfg.Store.Release(context.WithoutCancel(ctx), sess.ID); rerr != nil {
			s.cfg.Log.Error("proofing: release after failed decision", "err", rerr)
		}
	}
	return res, err
}

func isOutcome(err error) bool {
	return errors.Is(err, ErrRefused) || errors.Is(err, ErrSpeech) || errors.Is(err, ErrLiveness)
}

// decide runs the checks in order and records the decision.
func (s *Service) decide(ctx context.Context, sess Session, key DeviceKey, claims RequestClaims,
	idNumber registry.IDNumber, idErr error, selfie image.Image, frames []image.Image, audio []byte, started time.Time) (Result, error) {
	d := Decision{SessionID: sess.ID, FaceDistance: -1, SpeechConfidence: -1, Liveness: -1, StartedAt: started,
		Models: "face=" + s.cfg.Face.Version() + "; speech=" + s.cfg.Speech.Version()}

	// Record, status, name. A failure here does not stop the face analysis
	// below: the selfie is analysed either way, so the time to answer does
	// not tell whether the ID number exists.
	var rec registry.Record
	reason := Reason("")
	if idErr != nil {
		reason = ReasonNoRecord
	} else {
		var err error
		rec, err = s.cfg.Records.Get(ctx, idNumber)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			reason = ReasonNoRecord
		case err != nil:
			return Result{}, fmt.Errorf("proofing: registry: %w", err)
		default:
			d.Subject = base64.RawURLEncoding.EncodeToString(s.cfg.Records.Index(idNumber))
			switch {
			case rec.Status != registry.StatusValid:
				reason = ReasonStatus
			case !rec.ValidUntil.IsZero() && !s.now().Before(rec.ValidUntil.AddDate(0, 0, 1)):
				// valid-until is a date: the card is good through that day.
				reason = ReasonDocumentExpired
			case !NameMatches(claims.Name, rec.Name):
				reason = ReasonName
			case len(rec.FaceTemplate) == 0:
				reason = ReasonNoTemplate
			}
		}
	}
	probe, err := s.cfg.Face.Probe(ctx, selfie)
	switch {
	case errors.Is(err, ErrFaceUnusable):
		if reason == "" {
			reason = ReasonFaceUnusable
		}
	case err != nil:
		return Result{}, fmt.Errorf("proofing: face: %w", err)
	}
	if reason != "" {
		return Result{}, s.refuse(ctx, d, reason, ErrRefused)
	}
	dist, same, err := s.cfg.Face.Match(probe, rec.FaceTemplate)
	if err != nil {
		return Result{}, fmt.Errorf("proofing: face match: %w", err)
	}
	d.FaceDistance = dist
	if !same {
		return Result{}, s.refuse(ctx, d, ReasonFaceMismatch, ErrRefused)
	}

	spoken, err := s.cfg.Speech.Recognize(ctx, audio)
	if err != nil {
		return Result{}, fmt.Errorf("proofing: speech: %w", err)
	}
	d.SpeechConfidence = spoken.Confidence
	if spoken.Rejected || spoken.Digits != sess.Digits {
		return Result{}, s.refuse(ctx, d, ReasonSpeech, ErrSpeech)
	}

	live, err := s.cfg.Face.Liveness(ctx, frames, probe)
	if err != nil {
		return Result{}, fmt.Errorf("proofing: liveness: %w", err)
	}
	d.Liveness = live.Score
	if !live.Live {
		return Result{}, s.refuse(ctx, d, ReasonLiveness, ErrLiveness)
	}

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
	card := &Card{ID: RandomID(16), SessionID: sess.ID, Subject: d.Subject, DeviceKey: key.JWK, DeviceThumb: key.Thumbprint,
		StatusURI: ref.URI, StatusIndex: ref.Index, State: CardActive, CreatedAt: now}
	card.IDNumber = s.cfg.Sealer.Seal([]byte(idNumber), []byte("proofing/card "+card.ID))
	code := RandomID(32)
	offer := &Secret{Kind: SecretOffer, Hash: Hash(code), Ref: card.ID, ExpiresAt: now.Add(s.cfg.OfferTTL)}
	if err := s.cfg.Store.Finish(ctx, Finish{Decision: d, Card: card, Offer: offer}); err != nil {
		return Result{}, fmt.Errorf("proofing: record approval: %w", err)
	}
	s.cfg.Log.Info("proofing: enrollment approved", "face_distance", d.FaceDistance, "speech_confidence", d.SpeechConfidence,
		"liveness", d.Liveness)
	if err := s.ApplyRevocations(ctx); err != nil {
		s.cfg.Log.Error("proofing: revoke earlier cards (retried later)", "err", err)
	}
	return Result{SessionID: sess.ID, CardID: card.ID, OfferCode: code, OfferExpires: offer.ExpiresAt}, nil
}

func (s *Service) refuse(ctx context.Context, d Decision, reason Reason, outward error) error {
	d.Approved, d.Reason, d.DecidedAt = false, reason, s.now()
	if err := s.cfg.Store.Finish(ctx, Finish{Decision: d}); err != nil {
		return fmt.Errorf("proofing: record refusal: %w", err)
	}
	s.cfg.Log.Info("proofing: enrollment refused", "reason", string(reason), "face_distance", d.FaceDistance,
		"speech_confidence", d.SpeechConfidence, "liveness", d.Liveness)
	return outward
}

// ApplyRevocations sets every card marked revoking to revoked in its
// status list and then in the store. The decision transaction marks the
// citizen's earlier cards; this applies the marks right after, and again at
// startup and from the sweeper for marks a crash left behind.
func (s *Service) ApplyRevocations(ctx context.Context) error {
	for {
		cards, err := s.cfg.Store.CardsInState(ctx, CardRevoking, 100)
		if err != nil {
			return err
		}
		for _, c := range cards {
			if err := s.cfg.Status.Revoke(ctx, StatusRef{URI: c.StatusURI, Index: c.StatusIndex}); err != nil {
				return fmt.Errorf("proofing: revoke card: %w", err)
			}
			if err := s.cfg.Store.SetCardState(ctx, c.ID, CardRevoked); err != nil {
				return err
			}
		}
		if len(cards) < 100 {
			return nil
		}
	}
}

// CardIDNumber opens a card's sealed ID number.
func (s *Service) CardIDNumber(c Card) (registry.IDNumber, error) {
	b, err := s.cfg.Sealer.Open(c.IDNumber, []byte("proofing/card "+c.ID))
	if err != nil {
		return "", fmt.Errorf("proofing: open card ID number: %w", err)
	}
	return registry.IDNumber(b), nil
}

// Sweep deletes expired evidence, sessions and secrets, and applies
// pending revocations.
func (s *Service) Sweep(ctx context.Context) error {
	if _, err := s.cfg.Store.Sweep(ctx, s.now()); err != nil {
		return err
	}
	return s.ApplyRevocations(ctx)
}
