package mdoc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/shenfen/shenfen/credential"
)

// Verifier checks mdoc DeviceResponses. Set Anchors; reuse the Verifier
// (it caches verified issuer chains). Safe for concurrent use.
type Verifier struct {
	// Anchors are the trusted roots (IACA) the x5chain must lead to.
	Anchors *credential.Anchors
	// Status looks the document's status up (nil: a document with a status
	// reference fails with ErrStatus).
	Status credential.StatusChecker
	// Nonces, when set, consumes Expect.Nonce once (ErrReplay).
	Nonces credential.NonceStore
	// Clock is the time source (nil: time.Now).
	Clock credential.Clock
	// Skew is the tolerated clock difference (default 2 minutes).
	Skew time.Duration
	// MaxSize bounds the response in bytes (default 1 MiB).
	MaxSize int
	// DocTypes, when not empty, lists the accepted docTypes.
	DocTypes []string
}

// Expect is what the presentation must have been made for.
type Expect struct {
	// SessionTranscript is the encoded SessionTranscript the verifier built
	// from its own nonce and identity (e.g. [OID4VPSessionTranscript]); the
	// device signature must cover it.
	SessionTranscript []byte
	// Nonce, when not empty, is consumed through Verifier.Nonces.
	Nonce string
}

// Result is a verified document: the common result plus the elements the
// device signed itself (namespace -> identifier -> value).
type Result struct {
	credential.Verified
	DeviceSigned map[string]map[string]any
}

// wireResponse is a DeviceResponse as the verifier decodes it, in one
// strict pass: the COSE_Sign1 structures are decoded in place (see
// [sign1Msg]), the items are kept as their exact encodings (their digests
// are over those bytes).
type wireResponse struct {
	Version   string         `cbor:"version"`
	Documents []wireDocument `cbor:"documents"`
	Status    uint64         `cbor:"status"`
}

type wireDocument struct {
	DocType      string `cbor:"docType"`
	IssuerSigned struct {
		NameSpaces map[string][]cbor.RawMessage `cbor:"nameSpaces"`
		IssuerAuth *sign1Msg                    `cbor:"issuerAuth"`
	} `cbor:"issuerSigned"`
	DeviceSigned struct {
		NameSpaces cbor.RawMessage `cbor:"nameSpaces"`
		DeviceAuth struct {
			DeviceSignature *sign1Msg       `cbor:"deviceSignature"`
			DeviceMac       cbor.RawMessage `cbor:"deviceMac"`
		} `cbor:"deviceAuth"`
	} `cbor:"deviceSigned"`
}

// Verify decodes a DeviceResponse holding exactly one document and checks
// it: strict CBOR, issuer chain to an anchor, document signer certificate
// profile, MSO signature, docType, validity, value digests of every
// disclosed item, device signature over the session transcript, one-time
// nonce, status.
func (v *Verifier) Verify(ctx context.Context, deviceResponse []byte, want Expect) (*Result, error) {
	max := v.MaxSize
	if max <= 0 {
		max = MaxSize
	}
	if len(deviceResponse) > max {
		return nil, fmt.Errorf("%w: %d bytes", credential.ErrTooLarge, len(deviceResponse))
	}
	var resp wireResponse
	if err := unmarshal(deviceResponse, &resp, "DeviceResponse"); err != nil {
		return nil, err
	}
	if resp.Version != "1.0" {
		return nil, fmt.Errorf("%w: DeviceResponse version %q", credential.ErrUnsupported, resp.Version)
	}
	if resp.Status != 0 || len(resp.Documents) != 1 {
		return nil, fmt.Errorf("%w: DeviceResponse with status %d and %d documents, want one", credential.ErrMalformed, resp.Status, len(resp.Documents))
	}
	return v.verify(ctx, &resp.Documents[0], want)
}

// VerifyDocument checks one document of a DeviceResponse (see [Verifier.Verify]).
func (v *Verifier) VerifyDocument(ctx context.Context, doc *Document, want Expect) (*Result, error) {
	var w wireDocument
	w.DocType = doc.DocType
	w.IssuerSigned.NameSpaces = doc.IssuerSigned.NameSpaces
	if len(doc.IssuerSigned.IssuerAuth) > 0 {
		w.IssuerSigned.IssuerAuth = new(sign1Msg)
		if err := unmarshal(doc.IssuerSigned.IssuerAuth, w.IssuerSigned.IssuerAuth, "issuerAuth"); err != nil {
			return nil, err
		}
	}
	w.DeviceSigned.NameSpaces = doc.DeviceSigned.NameSpaces
	w.DeviceSigned.DeviceAuth.DeviceMac = doc.DeviceSigned.DeviceAuth.DeviceMac
	if len(doc.DeviceSigned.DeviceAuth.DeviceSignature) > 0 {
		w.DeviceSigned.DeviceAuth.DeviceSignature = new(sign1Msg)
		if err := unmarshal(doc.DeviceSigned.DeviceAuth.DeviceSignature, w.DeviceSigned.DeviceAuth.DeviceSignature, "deviceSignature"); err != nil {
			return nil, err
		}
	}
	return v.verify(ctx, &w, want)
}

func (v *Verifier) verify(ctx context.Context, doc *wireDocument, want Expect) (*Result, error) {
	now := v.Clock.Now()
	skew := v.Skew
	if skew <= 0 {
		skew = 2 * time.Minute
	}
	ia := doc.IssuerSigned.IssuerAuth
	if ia == nil || doc.DocType == "" {
		return nil, fmt.Errorf("%w: document without docType or issuerAuth", credential.ErrMalformed)
	}
	m, err := decodeMSO(ia)
	if err != nil {
		return nil, err
	}
	chainDER, err := ia.x5chain(v.Anchors)
	if err != nil {
		return nil, err
	}
	chain, err := v.Anchors.Verify(chainDER, now)
	if err != nil {
		return nil, err
	}
	if err := checkDocumentSigner(chain); err != nil {
		return nil, err
	}
	ivr, err := issuerVerifier(chain.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer key: %v", credential.ErrUnsupported, err)
	}
	if err := ia.verify(ivr, nil); err != nil {
		return nil, fmt.Errorf("%w: issuerAuth: %v", credential.ErrSignature, err)
	}
	if m.DocType != doc.DocType {
		return nil, fmt.Errorf("%w: document docType %q, MSO says %q", credential.ErrDisclosure, doc.DocType, m.DocType)
	}
	if err := v.checkType(m.DocType); err != nil {
		return nil, err
	}
	if m.Version != "1.0" || m.DigestAlgorithm != "SHA-256" {
		return nil, fmt.Errorf("%w: MSO version %q digest %q", credential.ErrUnsupported, m.Version, m.DigestAlgorithm)
	}
	vi := m.ValidityInfo
	if vi.ValidFrom.After(now.Add(skew)) {
		return nil, fmt.Errorf("%w: valid from %s", credential.ErrNotYetValid, vi.ValidFrom.Format(time.RFC3339))
	}
	if !now.Add(-skew).Before(vi.ValidUntil) {
		return nil, fmt.Errorf("%w: valid until %s", credential.ErrExpired, vi.ValidUntil.Format(time.RFC3339))
	}
	res := &Result{Verified: credential.Verified{
		Format: "mso_mdoc", Type: m.DocType, Issuer: chain.Subject, Chain: chain.Certs,
		Signed: vi.Signed, ValidFrom: vi.ValidFrom, ValidUntil: vi.ValidUntil,
		Claims: make(map[string]any, len(doc.IssuerSigned.NameSpaces)),
	}}
	if m.Status != nil {
		res.Status = &credential.StatusRef{URI: m.Status.StatusList.URI, Index: int(m.Status.StatusList.Idx)}
		if res.Status.URI == "" || m.Status.StatusList.Idx > 1<<40 {
			return nil, fmt.Errorf("%w: MSO status", credential.ErrMalformed)
		}
	}
	// Every disclosed item must match its digest.
	for ns, items := range doc.IssuerSigned.NameSpaces {
		digests := m.ValueDigests[ns]
		claims := make(map[string]any, len(items))
		used := make(map[uint64]bool, len(items))
		for _, raw := range items {
			it, err := decodeItem(raw)
			if err != nil {
				return nil, err
			}
			want, ok := digests[it.DigestID]
			got := sha256.Sum256(raw)
			if !ok || subtle.ConstantTimeCompare(want, got[:]) != 1 {
				return nil, fmt.Errorf("%w: %s/%s", credential.ErrDisclosure, ns, it.ElementIdentifier)
			}
			if used[it.DigestID] {
				return nil, fmt.Errorf("%w: digest ID %d used twice", credential.ErrDisclosure, it.DigestID)
			}
			used[it.DigestID] = true
			if _, dup := claims[it.ElementIdentifier]; dup {
				return nil, fmt.Errorf("%w: element %s/%s twice", credential.ErrDisclosure, ns, it.ElementIdentifier)
			}
			claims[it.ElementIdentifier] = plain(it.ElementValue)
		}
		res.Claims[ns] = claims
	}
	// Device authentication.
	dk := m.DeviceKeyInfo.DeviceKey
	if dk.Kty != 2 || dk.Crv != 1 || len(dk.X) != 32 || len(dk.Y) != 32 {
		return nil, fmt.Errorf("%w: device key is not EC2 P-256", credential.ErrUnsupported)
	}
	var point [65]byte
	point[0] = 4
	copy(point[1:33], dk.X)
	copy(point[33:], dk.Y)
	res.HolderKey, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point[:])
	if err != nil {
		return nil, fmt.Errorf("%w: device key: %v", credential.ErrMalformed, err)
	}
	ds := doc.DeviceSigned.DeviceAuth.DeviceSignature
	if ds == nil {
		return nil, fmt.Errorf("%w: no device signature (deviceMac is not supported)", credential.ErrHolderBinding)
	}
	if ds.Payload != nil {
		return nil, fmt.Errorf("%w: device signature payload is not detached", credential.ErrMalformed)
	}
	dnsInner, err := untag24(doc.DeviceSigned.NameSpaces, "DeviceNameSpaces")
	if err != nil {
		return nil, err
	}
	var dns map[string]map[string]any
	if err := unmarshal(dnsInner, &dns, "DeviceNameSpaces"); err != nil {
		return nil, err
	}
	if len(want.SessionTranscript) == 0 {
		return nil, fmt.Errorf("%w: no session transcript to check the device signature against", credential.ErrHolderBinding)
	}
	da, err := deviceAuthenticationBytes(want.SessionTranscript, m.DocType, doc.DeviceSigned.NameSpaces)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", credential.ErrMalformed, err)
	}
	dvr, err := digestVerifier(res.HolderKey)
	if err != nil {
		return nil, fmt.Errorf("%w: device key: %v", credential.ErrMalformed, err)
	}
	if err := ds.verify(dvr, da); err != nil {
		return nil, fmt.Errorf("%w: device signature does not cover this session (nonce, verifier): %v", credential.ErrHolderBinding, err)
	}
	res.DeviceSigned = make(map[string]map[string]any, len(dns))
	for ns, els := range dns {
		res.DeviceSigned[ns] = make(map[string]any, len(els))
		for k, x := range els {
			res.DeviceSigned[ns][k] = plain(x)
		}
	}
	if v.Nonces != nil && want.Nonce != "" {
		if err := credential.ConsumeNonce(ctx, v.Nonces, want.Nonce); err != nil {
			return nil, err
		}
	}
	if err := credential.CheckStatus(ctx, v.Status, res.Status); err != nil {
		return nil, err
	}
	return res, nil
}

func (v *Verifier) checkType(dt string) error {
	if len(v.DocTypes) == 0 {
		return nil
	}
	for _, t := range v.DocTypes {
		if t == dt {
			return nil
		}
	}
	return fmt.Errorf("%w: docType %q", credential.ErrUnsupported, dt)
}

// decodeSign1 checks the input is well-formed within the strict limits
// first (go-cose has its own, laxer decoder; it refuses duplicate header
// labels itself) and then decodes the COSE_Sign1 (for [Compact], which
// re-encodes it with go-cose).
func decodeSign1(raw []byte, msg *cose.UntaggedSign1Message, what string) error {
	if err := decMode.Wellformed(raw); err != nil {
		return fmt.Errorf("%w: %s: %v", credential.ErrMalformed, what, err)
	}
	if err := checkTags(raw); err != nil {
		return fmt.Errorf("%w: %s: %v", credential.ErrMalformed, what, err)
	}
	if err := msg.UnmarshalCBOR(raw); err != nil {
		return fmt.Errorf("%w: %s: %v", credential.ErrMalformed, what, err)
	}
	return nil
}

// decodeMSO decodes the MobileSecurityObject of a decoded issuerAuth
// (without verifying the signature).
func decodeMSO(ia *sign1Msg) (*mso, error) {
	if len(ia.Payload) == 0 {
		return nil, fmt.Errorf("%w: issuerAuth without payload", credential.ErrMalformed)
	}
	inner, err := untag24(ia.Payload, "MobileSecurityObjectBytes")
	if err != nil {
		return nil, err
	}
	var m mso
	if err := unmarshal(inner, &m, "MobileSecurityObject"); err != nil {
		return nil, err
	}
	return &m, nil
}

// parseIssuerAuth decodes an encoded issuerAuth COSE_Sign1 and its MSO
// (without verifying the signature).
func parseIssuerAuth(raw []byte) (*sign1Msg, *mso, error) {
	var ia sign1Msg
	if err := unmarshal(raw, &ia, "issuerAuth"); err != nil {
		return nil, nil, err
	}
	m, err := decodeMSO(&ia)
	if err != nil {
		return nil, nil, err
	}
	return &ia, m, nil
}

func decodeItem(raw []byte) (*issuerSignedItem, error) {
	inner, err := untag24(raw, "IssuerSignedItemBytes")
	if err != nil {
		return nil, err
	}
	var it issuerSignedItem
	if err := unmarshal(inner, &it, "IssuerSignedItem"); err != nil {
		return nil, err
	}
	if it.ElementIdentifier == "" || len(it.Random) < 16 {
		return nil, fmt.Errorf("%w: IssuerSignedItem without identifier or with short random", credential.ErrMalformed)
	}
	return &it, nil
}

// Compact replaces the x5chain of a DeviceResponse's issuerAuth by a kid
// header naming the issuer certificate ([credential.KID]); the unprotected
// header is not signed, so the issuer signature still verifies. A verifier
// holding the certificate in its [credential.Anchors] resolves it.
func Compact(deviceResponse []byte) ([]byte, error) {
	var resp DeviceResponse
	if err := unmarshal(deviceResponse, &resp, "DeviceResponse"); err != nil {
		return nil, err
	}
	for i := range resp.Documents {
		d := &resp.Documents[i]
		var ia sign1Msg
		if err := unmarshal(d.IssuerSigned.IssuerAuth, &ia, "issuerAuth"); err != nil {
			return nil, err
		}
		chain, err := ia.x5chain(nil)
		if err != nil {
			return nil, err
		}
		var msg cose.UntaggedSign1Message
		if err := decodeSign1(d.IssuerSigned.IssuerAuth, &msg, "issuerAuth"); err != nil {
			return nil, err
		}
		msg.Headers.Unprotected = cose.UnprotectedHeader{cose.HeaderLabelKeyID: credential.KID(chain[0])}
		msg.Headers.RawUnprotected = nil
		if d.IssuerSigned.IssuerAuth, err = msg.MarshalCBOR(); err != nil {
			return nil, err
		}
	}
	return encMode.Marshal(resp)
}
