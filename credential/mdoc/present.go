package mdoc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/shenfen/shenfen/credential"
)

// Present makes a DeviceResponse from an issued IssuerSigned holding only
// the elements named in disclose (namespace -> element identifiers), with
// deviceNameSpaces (may be nil) signed by the holder's device key together
// with sessionTranscript (an encoded SessionTranscript, see
// [OID4VPSessionTranscript]).
func Present(ctx context.Context, issued []byte, disclose map[string][]string, holder crypto.Signer, sessionTranscript []byte, deviceNameSpaces map[string]map[string]any) ([]byte, error) {
	u, err := Prepare(issued, disclose, sessionTranscript, deviceNameSpaces)
	if err != nil {
		return nil, err
	}
	return u.Sign(holder)
}

// Sign signs with the device key and finishes the response.
func (u *Unsigned) Sign(holder crypto.Signer) ([]byte, error) {
	sig, err := cose.NewSigner(cose.AlgorithmES256, holder)
	if err != nil {
		return nil, fmt.Errorf("mdoc: present: %w", err)
	}
	raw, err := sig.Sign(rand.Reader, u.tbs)
	if err != nil {
		return nil, fmt.Errorf("mdoc: present: device signature: %w", err)
	}
	return u.Finish(raw)
}

// Unsigned is a DeviceResponse waiting for its device signature, for a
// device key that lives elsewhere (a browser wallet's WebCrypto key): the
// device signs [Unsigned.ToBeSigned] with ECDSA P-256 / SHA-256 and
// [Unsigned.Finish] completes the response with that signature.
type Unsigned struct {
	doc    Document
	msg    cose.UntaggedSign1Message
	tbs    []byte
	devKey *ecdsa.PublicKey
}

// ToBeSigned returns the COSE Sig_structure the device signs (WebCrypto:
// sign({name: "ECDSA", hash: "SHA-256"}, key, ToBeSigned())).
func (u *Unsigned) ToBeSigned() []byte { return u.tbs }

// Finish adds the device signature (64 bytes r||s, the COSE and WebCrypto
// form) after checking it against the device key in the MSO, and returns
// the encoded DeviceResponse.
func (u *Unsigned) Finish(sig []byte) ([]byte, error) {
	if len(sig) != 64 {
		return nil, fmt.Errorf("mdoc: device signature of %d bytes, want 64", len(sig))
	}
	h := sha256.Sum256(u.tbs)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(u.devKey, h[:], r, s) {
		return nil, fmt.Errorf("%w: the signature is not the device key's over this response", credential.ErrHolderBinding)
	}
	msg := u.msg
	msg.Signature = sig
	msg.Payload = nil // detached
	ds, err := msg.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("mdoc: device signature: %w", err)
	}
	doc := u.doc
	doc.DeviceSigned.DeviceAuth.DeviceSignature = ds
	b, err := encMode.Marshal(DeviceResponse{Version: "1.0", Documents: []Document{doc}})
	if err != nil {
		return nil, fmt.Errorf("mdoc: present: %w", err)
	}
	return b, nil
}

// capture is a cose.Signer that records what it is asked to sign.
type capture struct{ tbs []byte }

func (c *capture) Algorithm() cose.Algorithm { return cose.AlgorithmES256 }
func (c *capture) Sign(_ io.Reader, content []byte) ([]byte, error) {
	c.tbs = append([]byte(nil), content...)
	return make([]byte, 64), nil
}

// Prepare builds the DeviceResponse of [Present] without its device
// signature (see [Unsigned]).
func Prepare(issued []byte, disclose map[string][]string, sessionTranscript []byte, deviceNameSpaces map[string]map[string]any) (*Unsigned, error) {
	var is IssuerSigned
	if err := unmarshal(issued, &is, "IssuerSigned"); err != nil {
		return nil, fmt.Errorf("mdoc: present: %w", err)
	}
	_, m, err := parseIssuerAuth(is.IssuerAuth)
	if err != nil {
		return nil, fmt.Errorf("mdoc: present: %w", err)
	}
	dk := m.DeviceKeyInfo.DeviceKey
	devKey, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, dk.X...), dk.Y...))
	if err != nil {
		return nil, fmt.Errorf("mdoc: present: device key: %w", err)
	}
	out := IssuerSigned{NameSpaces: map[string][]cbor.RawMessage{}, IssuerAuth: is.IssuerAuth}
	for ns, ids := range disclose {
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		for _, raw := range is.NameSpaces[ns] {
			it, err := decodeItem(raw)
			if err != nil {
				return nil, fmt.Errorf("mdoc: present: %w", err)
			}
			if want[it.ElementIdentifier] {
				out.NameSpaces[ns] = append(out.NameSpaces[ns], raw)
				delete(want, it.ElementIdentifier)
			}
		}
		for id := range want {
			return nil, fmt.Errorf("mdoc: present: element %s/%s not in the credential", ns, id)
		}
	}
	if deviceNameSpaces == nil {
		deviceNameSpaces = map[string]map[string]any{}
	}
	dns, err := tag24(deviceNameSpaces)
	if err != nil {
		return nil, fmt.Errorf("mdoc: present: %w", err)
	}
	da, err := deviceAuthenticationBytes(sessionTranscript, m.DocType, dns)
	if err != nil {
		return nil, fmt.Errorf("mdoc: present: %w", err)
	}
	u := &Unsigned{
		doc: Document{DocType: m.DocType, IssuerSigned: out, DeviceSigned: DeviceSigned{NameSpaces: dns}},
		msg: cose.UntaggedSign1Message{
			Headers: cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256}},
			Payload: da,
		},
		devKey: devKey,
	}
	// go-cose builds the Sig_structure; the capturing signer keeps it.
	c := &capture{}
	if err := u.msg.Sign(rand.Reader, nil, c); err != nil {
		return nil, fmt.Errorf("mdoc: present: %w", err)
	}
	u.msg.Signature = nil
	u.tbs = c.tbs
	return u, nil
}

// deviceAuthenticationBytes is #6.24(bstr .cbor ["DeviceAuthentication",
// SessionTranscript, DocType, DeviceNameSpacesBytes]), written directly
// (definite lengths, shortest heads) around the session transcript and
// device namespaces exactly as they were received.
func deviceAuthenticationBytes(sessionTranscript []byte, docType string, deviceNameSpacesBytes []byte) ([]byte, error) {
	if err := decMode.Wellformed(sessionTranscript); err != nil {
		return nil, fmt.Errorf("session transcript: %w", err)
	}
	if err := decMode.Wellformed(deviceNameSpacesBytes); err != nil {
		return nil, fmt.Errorf("device namespaces: %w", err)
	}
	const label = "DeviceAuthentication"
	n := 1 + headLen(len(label)) + len(label) + len(sessionTranscript) + headLen(len(docType)) + len(docType) + len(deviceNameSpacesBytes)
	b := make([]byte, 0, 2+headLen(n)+n)
	b = append(b, 0xd8, 0x18)
	b = appendHead(b, majorBytes, uint64(n))
	b = append(b, 0x84)
	b = appendHead(b, majorText, uint64(len(label)))
	b = append(b, label...)
	b = append(b, sessionTranscript...)
	b = appendHead(b, majorText, uint64(len(docType)))
	b = append(b, docType...)
	return append(b, deviceNameSpacesBytes...), nil
}

// OID4VPSessionTranscript is the SessionTranscript of OpenID4VP 1.0
// (Appendix B.2.6.1, redirect and direct_post response modes):
// [null, null, ["OpenID4VPHandover", sha256(cbor([client_id, nonce,
// jwkThumbprint or null, response_uri]))]].
func OID4VPSessionTranscript(clientID, nonce string, jwkThumbprint []byte, responseURI string) ([]byte, error) {
	var thumb any
	if jwkThumbprint != nil {
		thumb = jwkThumbprint
	}
	info, err := encMode.Marshal([]any{clientID, nonce, thumb, responseURI})
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(info)
	return encMode.Marshal([]any{nil, nil, []any{"OpenID4VPHandover", h[:]}})
}

// Elements lists the element identifiers of an issued IssuerSigned by namespace.
func Elements(issued []byte) (map[string][]string, error) {
	var is IssuerSigned
	if err := unmarshal(issued, &is, "IssuerSigned"); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for ns, items := range is.NameSpaces {
		for _, raw := range items {
			it, err := decodeItem(raw)
			if err != nil {
				return nil, err
			}
			out[ns] = append(out[ns], it.ElementIdentifier)
		}
	}
	return out, nil
}
