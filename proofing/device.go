package proofing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"

	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MaxDeviceKeyBytes bounds a device key's JWK.
const MaxDeviceKeyBytes = 1024

// RequestType is the JOSE typ of a signed enrollment submission.
const RequestType = "shenfen-enrollment+jwt"

// DeviceKey is a wallet's P-256 public key as a JWK.
type DeviceKey struct {
	// JWK is the canonical public JWK (kty, crv, x, y only).
	JWK []byte
	// Thumbprint is the RFC 7638 SHA-256 thumbprint, base64url.
	Thumbprint string
	Public     *ecdsa.PublicKey
}

// ParseDeviceKey accepts a public EC P-256 JWK and refuses anything else
// (other curves, private keys, malformed points).
func ParseDeviceKey(b []byte) (DeviceKey, error) {
	if len(b) == 0 || len(b) > MaxDeviceKeyBytes {
		return DeviceKey{}, fmt.Errorf("%w: device key of %d bytes", ErrBadRequest, len(b))
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return DeviceKey{}, fmt.Errorf("%w: device key is not a JSON object", ErrBadRequest)
	}
	if _, ok := probe["d"]; ok {
		return DeviceKey{}, fmt.Errorf("%w: device key carries a private part", ErrBadRequest)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(b); err != nil {
		return DeviceKey{}, fmt.Errorf("%w: device key: %v", ErrBadRequest, err)
	}
	pub, ok := k.Key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return DeviceKey{}, fmt.Errorf("%w: device key is not an EC P-256 public key", ErrBadRequest)
	}
	return deviceKeyOf(pub)
}

// DeviceKeyOf makes the DeviceKey of a public key.
func deviceKeyOf(pub *ecdsa.PublicKey) (DeviceKey, error) {
	k := jose.JSONWebKey{Key: pub}
	canon, err := k.MarshalJSON()
	if err != nil {
		return DeviceKey{}, fmt.Errorf("%w: device key: %v", ErrBadRequest, err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return DeviceKey{}, fmt.Errorf("%w: device key thumbprint: %v", ErrBadRequest, err)
	}
	return DeviceKey{JWK: canon, Thumbprint: base64.RawURLEncoding.EncodeToString(tp), Public: pub}, nil
}

// RequestClaims is the payload of the signed submission request.
type RequestClaims struct {
	EnrollmentID string   `json:"enrollment_id"`
	IDNumber     string   `json:"id_number"`
	Name         string   `json:"name"`
	IssuedAt     int64    `json:"iat"`
	Selfie       string   `json:"selfie"`
	Audio        string   `json:"audio"`
	Frames       []string `json:"frames"`
	// FrameTimesMS are the frames' times in milliseconds since the start
	// of the recording (sample 0 of the audio), in the order of Frames.
	FrameTimesMS []int64 `json:"frame_times_ms,omitempty"`
	// Language is the challenge's language ("en" or "zh"); when present it
	// must be the one the enrollment was started in.
	Language string `json:"language,omitempty"`
}

// Digest is the base64url SHA-256 of b, as the request carries it.
func Digest(b []byte) string {
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// MaxRequestBytes bounds the compact JWS of a submission: it holds a
// digest and a time for up to MaxFrames frames (about 12 KiB at 160).
const MaxRequestBytes = 16 << 10

// verifyRequest checks the compact JWS with the device key, its typ, the
// enrollment id, iat within skew of now and every part's digest; it returns
// the claims. Every failure wraps ErrSignature.
func verifyRequest(compact string, key *ecdsa.PublicKey, sessionID string, sub *Submission, now time.Time, skew time.Duration) (RequestClaims, error) {
	var c RequestClaims
	bad := func(f string, a ...any) (RequestClaims, error) {
		return RequestClaims{}, fmt.Errorf("%w: %s", ErrSignature, fmt.Sprintf(f, a...))
	}
	if compact == "" {
		return bad("no signed request")
	}
	if len(compact) > MaxRequestBytes {
		return bad("request of %d bytes", len(compact))
	}
	jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return bad("not an ES256 compact JWS")
	}
	if len(jws.Signatures) != 1 {
		return bad("want one signature")
	}
	if typ, _ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType].(string); typ != RequestType {
		return bad("typ is not %s", RequestType)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return bad("signature does not verify with the device key")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return bad("payload: %v", err)
	}
	if subtle.ConstantTimeCompare([]byte(c.EnrollmentID), []byte(sessionID)) != 1 {
		return bad("signed for another enrollment")
	}
	iat := time.Unix(c.IssuedAt, 0)
	if c.IssuedAt == 0 || iat.Before(now.Add(-skew)) || iat.After(now.Add(skew)) {
		return bad("iat outside ±%s", skew)
	}
	if c.Selfie != Digest(sub.Selfie) || c.Audio != Digest(sub.Audio) || len(c.Frames) != len(sub.Frames) {
		return bad("part digests differ")
	}
	for i, f := range sub.Frames {
		if c.Frames[i] != Digest(f) {
			return bad("frame %d digest differs", i+1)
		}
	}
	return c, nil
}

// SignRequest makes the compact JWS of a submission with the device's
// private key (the CLI client and tests use it).
func SignRequest(key *ecdsa.PrivateKey, c RequestClaims) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType(RequestType))
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	obj, err := s.Sign(b)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// PublicJWK is the public JWK of a device key (what a wallet sends to start).
func PublicJWK(pub *ecdsa.PublicKey) ([]byte, error) {
	k, err := deviceKeyOf(pub)
	if err != nil {
		return nil, err
	}
	return k.JWK, nil
}
