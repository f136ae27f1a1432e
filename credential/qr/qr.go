// Package qr is the compact, offline, in-person presentation of shenfen's
// card: what the wallet shows as a QR code at a hotel desk, a station gate
// or a bank counter, and what the clerk's device verifies with no network.
//
// Encoding. The payload is an ISO/IEC 18013-5 DeviceResponse (package
// [github.com/shenfen/shenfen/credential/mdoc]) of a compact card issued
// alongside the full one: docType org.shenfen.pid.qr.1, a handful of
// elements (names, birth date, ID number, expiry, age_over_18/60) and a
// 48x64 grayscale JPEG portrait thumbnail made by the issuer
// ([credential.Thumbnail]), so the face the clerk compares is
// issuer-signed, not wallet-made. A compact card is used rather than a
// subset of the full mdoc because the MSO carries a digest for every
// element of the card: the full card's 19 digests would not fit beside
// the thumbnail. As in the EU Digital COVID Certificate, the DeviceResponse is
// zlib-compressed (the repeated CBOR keys of 18013-5 items shrink by
// about 400 bytes) and Base45-encoded (RFC 9285) behind the prefix "SF1:",
// so the QR uses alphanumeric mode: the same density as byte mode but no
// charset ambiguity between scanner stacks. The issuer certificate (about 400
// bytes) is not carried: the issuerAuth names it with a kid header
// ([mdoc.Compact]) and the verifier takes it from its cached trust list
// ([credential.Anchors.AddIssuers]), still verifying it to a root.
// The default payload (name, birth date, ID number, expiry, thumbnail) is
// about 2.4 KB of CBOR and 2.0 KB compressed, about 3040 Base45 characters:
// a version 38 QR at error correction level M (age_over_18 and thumbnail
// only: 2810 characters, version 37), measured with the test card. The
// thumbnail is ~40% of it; the rest is the 18013-5 structure (MSO with its
// digests, items, COSE headers, the device signature).
//
// Freshness. The device signs the DeviceAuthentication over a
// SessionTranscript [null, null, ["ShenfenQR", nonce]]:
//   - nonce mode: the verifier shows a request QR with a fresh random
//     nonce; the wallet's answer covers it, and the verifier consumes the
//     nonce once;
//   - time mode (the wallet shows its QR unprompted): nonce is null and the
//     device signs the element signed_at (namespace org.shenfen.qr) with
//     the current time; the verifier refuses a signature older than
//     [Window] (60 s), and remembers each presentation it accepted so the
//     same QR is refused a second time within the window.
//
// A screenshot is therefore useless after a minute (time mode) or at once
// (nonce mode). Verification needs only the cached issuer trust anchors
// and a cached status list ([credential.StatusChecker]).
package qr

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/mdoc"
)

// Prefix starts every QR payload.
const Prefix = "SF1:"

// Window is how old a time-mode presentation may be.
const Window = 60 * time.Second

// MaxPayload bounds a QR payload (the largest QR holds 4296 alphanumerics).
const MaxPayload = 4296

// DeviceNamespace holds the device-signed signed_at element.
const DeviceNamespace = "org.shenfen.qr"

// DefaultElements is what the wallet shows by default: enough for a hotel
// check-in. A bar would ask for age_over_18 and portrait_thumbnail only.
// The name is name_original, or family_name and given_name for a card
// without one.
var DefaultElements = []string{"name_original", "birth_date", "id_number", "expiry_date", "portrait_thumbnail"}

// RequestPrefix starts a verifier's request QR (nonce mode).
const RequestPrefix = "SFR1:"

// NewRequest makes a fresh 16-byte nonce and the request QR payload the
// verifier shows for it; the wallet answers with [Present] over the nonce.
func NewRequest() (payload string, nonce []byte) {
	nonce = make([]byte, 16)
	rand.Read(nonce)
	return RequestPrefix + EncodeBase45(nonce), nonce
}

// ParseRequest returns the nonce of a verifier's request QR.
func ParseRequest(payload string) ([]byte, error) {
	body, ok := strings.CutPrefix(payload, RequestPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: not a shenfen request QR", credential.ErrMalformed)
	}
	n, err := DecodeBase45(body)
	if err != nil || len(n) < 16 || len(n) > 64 {
		return nil, fmt.Errorf("%w: request nonce", credential.ErrMalformed)
	}
	return n, nil
}

// Issue issues the compact card (profile [credential.ProfileQR]); p.PID
// must carry a Thumbnail.
func Issue(ctx context.Context, p mdoc.IssueParams) ([]byte, error) {
	if len(p.PID.Thumbnail) == 0 {
		return nil, errors.New("qr: issue: the PID has no portrait thumbnail")
	}
	p.Profile = credential.ProfileQR
	return mdoc.Issue(ctx, p)
}

// NewBatch prepares a batch of compact cards (single-use credentials that
// differ only in holder key and status entry, [mdoc.Batch]); p.PID must
// carry a Thumbnail.
func NewBatch(p mdoc.IssueParams) (*mdoc.Batch, error) {
	if len(p.PID.Thumbnail) == 0 {
		return nil, errors.New("qr: issue: the PID has no portrait thumbnail")
	}
	p.Profile = credential.ProfileQR
	return mdoc.NewBatch(p)
}

// SessionTranscript is the transcript both sides build: nonce nil for time mode.
func SessionTranscript(nonce []byte) []byte {
	var n any
	if nonce != nil {
		n = nonce
	}
	b, err := cbor.Marshal([]any{nil, nil, []any{"ShenfenQR", n}})
	if err != nil {
		panic(err) // cannot happen: fixed types
	}
	return b
}

// Present makes the QR payload from the compact card, disclosing elements
// (nil: [DefaultElements] present in the card). nonce is the verifier's
// (from its request QR), or nil for time mode, where now is signed.
func Present(ctx context.Context, compact []byte, elements []string, holder crypto.Signer, nonce []byte, now time.Time) (string, error) {
	u, err := Prepare(compact, elements, nonce, now)
	if err != nil {
		return "", err
	}
	resp, err := u.Sign(holder)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	return encode(resp)
}

// Prepare is [Present] for a device key that signs elsewhere (a browser
// wallet): the device signs the returned response's ToBeSigned and
// [Finish] makes the payload.
func Prepare(compact []byte, elements []string, nonce []byte, now time.Time) (*mdoc.Unsigned, error) {
	if elements == nil {
		elements = DefaultElements
	}
	var dns map[string]map[string]any
	if nonce == nil {
		dns = map[string]map[string]any{DeviceNamespace: {"signed_at": now.UTC().Truncate(time.Second)}}
	}
	ns := credential.ProfileQR.Namespace
	elements, err := present(compact, ns, elements)
	if err != nil {
		return nil, err
	}
	u, err := mdoc.Prepare(compact, map[string][]string{ns: elements}, SessionTranscript(nonce), dns)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	return u, nil
}

// Finish completes a prepared presentation with the device signature
// (64 bytes r||s) and returns the QR payload.
func Finish(u *mdoc.Unsigned, sig []byte) (string, error) {
	resp, err := u.Finish(sig)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	return encode(resp)
}

// encode makes the payload: the DeviceResponse without x5chain, zlib, Base45.
func encode(resp []byte) (string, error) {
	resp, err := mdoc.Compact(resp)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	w.Write(resp)
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	return Prefix + EncodeBase45(z.Bytes()), nil
}

// present keeps the requested elements the card has (name_original is
// absent for a holder whose name has one script only).
func present(compact []byte, ns string, want []string) ([]string, error) {
	have, err := mdoc.Elements(compact)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	has := map[string]bool{}
	for _, h := range have[ns] {
		has[h] = true
	}
	var out []string
	for _, e := range want {
		switch {
		case has[e]:
			out = append(out, e)
		case e == "name_original":
			for _, n := range []string{"family_name", "given_name"} {
				if has[n] {
					out = append(out, n)
				}
			}
		}
	}
	return out, nil
}

// Verifier checks QR payloads offline.
type Verifier struct {
	// Anchors are the cached issuer trust anchors.
	Anchors *credential.Anchors
	// Status answers from a cached status list.
	Status credential.StatusChecker
	// Seen records nonces and time-mode presentations (required: without
	// it a time-mode QR could be replayed within its window).
	Seen credential.NonceStore
	// Clock is the time source (nil: time.Now).
	Clock credential.Clock
	// Window overrides [Window] when positive.
	Window time.Duration
	// Skew is how far in the future a time-mode signature may be (phone and
	// verifier clocks differ; default 30 s).
	Skew time.Duration
}

// Result is a verified QR presentation.
type Result struct {
	*mdoc.Result
	// Claims of the compact card's namespace, for convenience.
	Elements map[string]any
	// Thumbnail is the issuer-signed portrait thumbnail (JPEG), if disclosed.
	Thumbnail []byte
	// SignedAt is the device's time (time mode) or zero (nonce mode).
	SignedAt time.Time
}

// Verify checks a QR payload. nonce is the one the verifier showed (nonce
// mode), or nil when the wallet showed its QR unprompted (time mode).
func (v *Verifier) Verify(ctx context.Context, payload string, nonce []byte) (*Result, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: QR payload of %d characters", credential.ErrTooLarge, len(payload))
	}
	if v.Seen == nil {
		return nil, errors.New("qr: verifier without a NonceStore")
	}
	resp, err := Decode(payload)
	if err != nil {
		return nil, err
	}
	md := mdoc.Verifier{Anchors: v.Anchors, Status: v.Status, Clock: v.Clock, DocTypes: []string{credential.ProfileQR.DocType}}
	res, err := md.Verify(ctx, resp, mdoc.Expect{SessionTranscript: SessionTranscript(nonce)})
	if err != nil {
		return nil, err
	}
	out := &Result{Result: res}
	out.Elements, _ = res.Claims[credential.ProfileQR.Namespace].(map[string]any)
	out.Thumbnail, _ = out.Elements["portrait_thumbnail"].([]byte)
	if len(out.Thumbnail) > 0 && !bytes.HasPrefix(out.Thumbnail, []byte{0xFF, 0xD8}) {
		return nil, fmt.Errorf("%w: thumbnail is not a JPEG", credential.ErrMalformed)
	}
	seen := string(nonce)
	if nonce == nil {
		s, _ := res.DeviceSigned[DeviceNamespace]["signed_at"].(string)
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("%w: time-mode QR without signed_at", credential.ErrHolderBinding)
		}
		win := v.Window
		if win <= 0 {
			win = Window
		}
		now := v.Clock.Now()
		skew := v.Skew
		if skew <= 0 {
			skew = 30 * time.Second
		}
		if at.Before(now.Add(-win)) || at.After(now.Add(skew)) {
			return nil, fmt.Errorf("%w: signed at %s", credential.ErrStale, at.Format(time.RFC3339))
		}
		out.SignedAt = at
		h := sha256.Sum256(resp)
		seen = "qr:" + hex.EncodeToString(h[:])
	}
	if err := credential.ConsumeNonce(ctx, v.Seen, seen); err != nil {
		return nil, err
	}
	return out, nil
}

// maxInflated bounds the decompressed DeviceResponse (zlib bombs).
const maxInflated = 16 << 10

// Decode returns the DeviceResponse a QR payload carries (prefix, Base45,
// zlib), without verifying it.
func Decode(payload string) ([]byte, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: QR payload of %d characters", credential.ErrTooLarge, len(payload))
	}
	body, ok := strings.CutPrefix(payload, Prefix)
	if !ok {
		return nil, fmt.Errorf("%w: not a shenfen QR payload", credential.ErrMalformed)
	}
	z, err := DecodeBase45(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", credential.ErrMalformed, err)
	}
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", credential.ErrMalformed, err)
	}
	resp, err := io.ReadAll(io.LimitReader(r, maxInflated+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", credential.ErrMalformed, err)
	}
	if len(resp) > maxInflated {
		return nil, fmt.Errorf("%w: QR payload inflates beyond %d bytes", credential.ErrTooLarge, maxInflated)
	}
	return resp, nil
}

// Encode renders a payload as a PNG QR code at error correction level M,
// each module a square of modulePixels (whole pixels keep it sharp).
func Encode(payload string, modulePixels int) ([]byte, error) {
	if modulePixels < 1 {
		modulePixels = 1
	}
	return qrcode.Encode(payload, qrcode.Medium, -modulePixels)
}

// DecodeImage reads the QR code in img.
func DecodeImage(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("%w: QR image: %v", credential.ErrMalformed, err)
	}
	// A photo needs the finder-pattern search; a screenshot or a rendered
	// image is a "pure" barcode, which the finder sometimes misjudges on
	// large versions, so try that as well.
	var firstErr error
	for _, hints := range []map[gozxing.DecodeHintType]any{
		{gozxing.DecodeHintType_TRY_HARDER: true},
		{gozxing.DecodeHintType_PURE_BARCODE: true},
	} {
		r, err := zxqr.NewQRCodeReader().Decode(bmp, hints)
		if err == nil {
			return r.GetText(), nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", fmt.Errorf("%w: no QR code found: %v", credential.ErrMalformed, firstErr)
}
