package proofing

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // selfie and frame formats
	_ "image/png"
	"io"
	"log/slog"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/shenfen/shenfen/biometric/presence"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/status/entry"
)

// Bounds on a submission's parts. Frames are small (at most MaxFrameSide
// pixels on either side, MaxFrameBytes each) so that a decision over a
// whole reading stays within its CPU budget; at least MinFrames and at most
// MaxFrames, at least 10 a second over the recording (see
// checkFrameTimes).
const (
	MaxSelfieBytes = 4 << 20
	MaxAudioBytes  = 2 << 20
	MaxFrameBytes  = 96 << 10
	MinFrames      = 40
	MaxFrames      = 160
	MaxSelfieSide  = 4096
	MaxFrameSide   = 320
	MinImageSide   = 64
	MinFrameSide   = 96
)

// Limits are the per-key rate limiters; a nil limiter does not limit.
type Limits struct {
	// Device limits challenges and submissions per device key thumbprint.
	Device RateLimiter
	// Client limits challenges and submissions per client address.
	Client RateLimiter
	// IDNumber limits decisions per ID number. Only a submission whose
	// selfie matched that citizen's registry portrait spends it, so a
	// stranger without the citizen's face cannot exhaust it (docs/api.md,
	// "Attempt limits").
	IDNumber RateLimiter
	// IDDevice limits matched decisions per ID number and device key: a
	// holder of the citizen's photo spends the citizen's IDNumber budget
	// slowly, at this pace per device key.
	IDDevice RateLimiter
}

// The default enrollment limits: per device key 10 requests (a challenge
// and a submission each count) then 1 every 30 seconds, per client address
// 20 then 1 every 10 seconds; per ID number 10 face-matched decisions then
// 1 every 30 minutes, and per ID number and device key 3 face-matched
// decisions then 1 every 10 minutes.
const (
	DeviceEvery, DeviceBurst     = 30 * time.Second, 10
	ClientEvery, ClientBurst     = 10 * time.Second, 20
	IDNumberEvery, IDNumberBurst = 30 * time.Minute, 10
	IDDeviceEvery, IDDeviceBurst = 10 * time.Minute, 3
)

// DefaultLimits are the default limits in process memory, each
// remembering 100 000 keys. A deployment of several processes shares the
// store's limiters instead (shenfen serve does).
func DefaultLimits() Limits {
	return Limits{
		Device:   NewLimiter(DeviceEvery, DeviceBurst, 100_000),
		Client:   NewLimiter(ClientEvery, ClientBurst, 100_000),
		IDNumber: NewLimiter(IDNumberEvery, IDNumberBurst, 100_000),
		IDDevice: NewLimiter(IDDeviceEvery, IDDeviceBurst, 100_000),
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
	// and ReplayWindow (1 h: how long the keyed hashes of submitted media
	// are kept to refuse their reuse) default when zero.
	ChallengeTTL, Lease, OfferTTL, Skew, ReplayWindow time.Duration
	// Random is the source of the challenges (nil: crypto/rand.Reader).
	Random io.Reader
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
	def(&cfg.ReplayWindow, time.Hour)
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	return &Service{cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock().UTC() }

// Store returns the service's store (the issuer endpoints share it).
func (s *Service) Store() Store { return s.cfg.Store }

// Challenge is the answer to a new enrollment.
type Challenge struct {
	ID        string
	Digits    string
	Language  Language
	Light     presence.Light
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

// randomDigits draws four uniform decimal digits from r.
func randomDigits(r io.Reader) (string, error) {
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("proofing: random digits: %w", err)
		}
		// rejection sampling: 2^32 - (2^32 mod 10000) keeps 0..9999 uniform
		v := binary.BigEndian.Uint32(b[:])
		if v < 4294960000 {
			return fmt.Sprintf("%04d", v%10000), nil
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

// AttemptsLeft is how many more enrollment tries (a challenge and a
// submission each) the device key of enrollment id may make before the
// per-device limit makes it wait; ok is false when the device limiter
// cannot tell (none, or not a [Remainer]). Only the device limit is
// counted: the per-ID-number limits are spent only by a selfie that
// matched the citizen's portrait, so their count would tell whoever tries
// that the face matched.
func (s *Service) AttemptsLeft(ctx context.Context, id string) (n int, ok bool) {
	rem, isRem := s.cfg.Limits.Device.(Remainer)
	if l, isLim := rem.(*Limiter); !isRem || (isLim && l == nil) {
		return 0, false
	}
	sess, err := s.cfg.Store.Session(ctx, id)
	if err != nil {
		return 0, false
	}
	left, err := rem.Remaining(ctx, "device\x00"+sess.DeviceThumb, s.now())
	if err != nil {
		s.cfg.Log.Error("proofing: attempts left", "err", err)
		return 0, false
	}
	return left / 2, true
}

// Start makes a new enrollment bound to a device key (a public P-256 JWK)
// in a language and returns its challenge: four digits and a light
// challenge, both from the configured random source.
func (s *Service) Start(ctx context.Context, deviceJWK []byte, lang Language, client string) (Challenge, error) {
	if err := s.limit(ctx, s.cfg.Limits.Client, "client", client); err != nil {
		return Challenge{}, err
	}
	key, err := ParseDeviceKey(deviceJWK)
	if err != nil {
		return Challenge{}, err
	}
	if lang, err = ParseLanguage(string(lang)); err != nil {
		return Challenge{}, err
	}
	if err := s.limit(ctx, s.cfg.Limits.Device, "device", key.Thumbprint); err != nil {
		return Challenge{}, err
	}
	digits, err := randomDigits(s.cfg.Random)
	if err != nil {
		return Challenge{}, err
	}
	light, err := presence.NewLight(s.cfg.Random)
	if err != nil {
		return Challenge{}, fmt.Errorf("proofing: light challenge: %w", err)
	}
	now := s.now()
	sess := Session{ID: RandomID(16), DeviceKey: key.JWK, DeviceThumb: key.Thumbprint, Digits: digits, Language: lang,
		Light: light, State: StatePending, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL)}
	if err := s.cfg.Store.CreateSession(ctx, sess); err != nil {
		return Challenge{}, fmt.Errorf("proofing: create session: %w", err)
	}
	return Challenge{ID: sess.ID, Digits: sess.Digits, Language: lang, Light: light, ExpiresAt: sess.ExpiresAt}, nil
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

func checkImage(b []byte, maxBytes, minSide, maxSide int, what string) (image.Image, error) {
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
	if cfg.Width < minSide || cfg.Height < minSide || cfg.Width > maxSide || cfg.Height > maxSide {
		return nil, fmt.Errorf("%w: %s is %dx%d pixels, want %d..%d per side", ErrMedia, what, cfg.Width, cfg.Height, minSide, maxSide)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMedia, what, err)
	}
	return img, nil
}

// allSetter is what [CardStatus] adds to [StatusLists]: many entries
// changed in one transaction.
type allSetter interface {
	SetAll(ctx context.Context, refs []StatusRef, next entry.Status) (entry.Status, int, error)
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
			refs := []StatusRef{{URI: c.StatusURI, Index: c.StatusIndex}}
			if e, ok := s.cfg.Store.(CardEntries); ok {
				more, err := e.CardEntries(ctx, c.ID, s.now(), MaxCardEntries)
				if err != nil {
					return fmt.Errorf("proofing: entries of card: %w", err)
				}
				refs = append(refs, more...)
			}
			// The card and its single-use credentials are revoked in one
			// transaction with their audit entries where the lists can
			// (*status.Service); otherwise one by one: each revocation is
			// final and repeating one changes nothing, so a crash midway
			// is finished by the next pass (the card stays revoking).
			if all, ok := s.cfg.Status.(allSetter); ok {
				if _, _, err := all.SetAll(ctx, refs, entry.Invalid); err != nil {
					return fmt.Errorf("proofing: revoke card and its credentials: %w", err)
				}
			} else {
				for _, r := range refs {
					if err := s.cfg.Status.Revoke(ctx, r); err != nil {
						return fmt.Errorf("proofing: revoke card: %w", err)
					}
				}
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
