package oid4vc

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Encrypted responses (OpenID4VP 1.0 §8.3, response mode direct_post.jwt,
// as the OpenID4VC High Assurance Interoperability Profile asks): each
// request gets an ephemeral P-256 key, published in the request object's
// client_metadata.jwks (use "enc", alg "ECDH-ES"); the wallet posts
// response=<JWE> (ECDH-ES key agreement, A128GCM or A256GCM) whose
// plaintext is {"vp_token": ..., "state": ...}. The private key is kept
// sealed with the master key in the request's stored query, bound to the
// request's id, and dies with the request.
const (
	// ResponseModeJWT is the response mode of encrypted responses.
	ResponseModeJWT = "direct_post.jwt"
	// ResponseModePost is the response mode of plain form responses.
	ResponseModePost = "direct_post"
	maxResponseJWE   = maxVPResponse
)

// ErrResponseEncryption is an encrypted response that does not decrypt
// under the request's key, or whose content is not a response.
var ErrResponseEncryption = errors.New("oid4vp: encrypted response")

// encContents are the content encryptions accepted, A128GCM first (the
// default when client_metadata names none).
var encContents = []jose.ContentEncryption{jose.A128GCM, jose.A256GCM}

// responseKID names request id's encryption key.
func responseKID(id string) string { return "response-" + id[:min(8, len(id))] }

func sealAD(id string) []byte { return []byte("oid4vp/response-key " + id) }

// newResponseKey makes the ephemeral key of request id and returns it
// sealed for storage.
func (a *API) newResponseKey(id string) ([]byte, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oid4vp: response key: %w", err)
	}
	return a.Sealer.Seal(k.Bytes(), sealAD(id)), nil
}

// responseKey opens the sealed key of request id.
func (a *API) responseKey(id string, sealed []byte) (*ecdsa.PrivateKey, error) {
	raw, err := a.Sealer.Open(sealed, sealAD(id))
	if err != nil {
		return nil, fmt.Errorf("oid4vp: response key: %w", err)
	}
	return ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
}

// responseJWK is the public JWK a wallet encrypts to.
func responseJWK(k *ecdsa.PrivateKey, kid string) (map[string]any, error) {
	pub, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:65]),
		"use": "enc", "alg": string(jose.ECDH_ES), "kid": kid}, nil
}

// jwkThumbprint is the RFC 7638 SHA-256 thumbprint of the request's
// public key (the mdoc session transcript binds it when the response is
// encrypted, OpenID4VP 1.0 Appendix B.2.6.1).
func jwkThumbprint(k *ecdsa.PrivateKey) ([]byte, error) {
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	canon := `{"crv":"P-256","kty":"EC","x":"` + b64(pub[1:33]) + `","y":"` + b64(pub[33:65]) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return sum[:], nil
}

// decryptResponse opens response=<JWE> of request id and returns its
// vp_token (the JSON text of the DCQL object) and state.
func decryptResponse(k *ecdsa.PrivateKey, kid, compact string) (vpToken, state string, err error) {
	if len(compact) > maxResponseJWE {
		return "", "", fmt.Errorf("%w: too large", ErrResponseEncryption)
	}
	obj, err := jose.ParseEncryptedCompact(compact, []jose.KeyAlgorithm{jose.ECDH_ES}, encContents)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrResponseEncryption, err)
	}
	if h := obj.Header.KeyID; h != "" && h != kid {
		return "", "", fmt.Errorf("%w: kid %q is not this request's", ErrResponseEncryption, h)
	}
	plain, err := obj.Decrypt(k)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrResponseEncryption, err)
	}
	var body struct {
		VPToken json.RawMessage `json:"vp_token"`
		State   string          `json:"state"`
	}
	if err := json.Unmarshal(plain, &body); err != nil || len(body.VPToken) == 0 {
		return "", "", fmt.Errorf("%w: the plaintext is not {vp_token, state}", ErrResponseEncryption)
	}
	// vp_token is a JSON object in the plaintext; as a form field it
	// would be its JSON text. A string holding that text is accepted too.
	var s string
	if json.Unmarshal(body.VPToken, &s) == nil {
		return s, body.State, nil
	}
	return string(body.VPToken), body.State, nil
}
