package oid4vc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/proofing"
)

// Lifetimes of the issuance secrets.
const (
	tokenTTL = 5 * time.Minute
	nonceTTL = 5 * time.Minute
	proofAge = 5 * time.Minute
)

// ProofType is the JOSE typ of an OpenID4VCI key proof.
const ProofType = "openid4vci-proof+jwt"

func writeMetadata(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	json.NewEncoder(w).Encode(v)
}

func (a *API) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "form body expected")
		return
	}
	if r.PostForm.Get("grant_type") != PreAuthGrant {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only the pre-authorized code grant is supported")
		return
	}
	code := r.PostForm.Get("pre-authorized_code")
	if code == "" || len(code) > 256 {
		oauthError(w, http.StatusBadRequest, "invalid_request", "pre-authorized_code missing")
		return
	}
	st := a.Proofing.Store()
	now := a.now()
	cardID, err := st.UseSecret(r.Context(), proofing.SecretOffer, proofing.Hash(code), now)
	if errors.Is(err, proofing.ErrNotFound) || errors.Is(err, proofing.ErrConflict) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code is unknown, used or expired")
		return
	}
	if err != nil {
		a.internal(w, "token", err)
		return
	}
	tok := proofing.RandomID(32)
	if err := st.PutSecret(r.Context(), proofing.Secret{Kind: proofing.SecretToken, Hash: proofing.Hash(tok), Ref: cardID,
		ExpiresAt: now.Add(tokenTTL)}); err != nil {
		a.internal(w, "token", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(tokenTTL / time.Second)})
}

// c_nonce limits per client address: a wallet collecting a card asks for
// one nonce per credential configuration (three).
const (
	NonceClientEvery = time.Second
	NonceClientBurst = 30
)

func (a *API) nonce(w http.ResponseWriter, r *http.Request) {
	if !a.limit(w, r, a.NonceLimit, clientAddr(r)) {
		return
	}
	n := proofing.RandomID(16)
	if err := a.Proofing.Store().PutSecret(r.Context(), proofing.Secret{Kind: proofing.SecretNonce, Hash: proofing.Hash(n),
		ExpiresAt: a.now().Add(nonceTTL)}); err != nil {
		a.internal(w, "nonce", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"c_nonce": n})
}

func (a *API) internal(w http.ResponseWriter, what string, err error) {
	a.log().Error("oid4vc: "+what, "err", err)
	oauthError(w, http.StatusInternalServerError, "server_error", "the server could not complete the request")
}

type credentialRequest struct {
	ConfigID string `json:"credential_configuration_id"`
	Proof    *struct {
		ProofType string `json:"proof_type"`
		JWT       string `json:"jwt"`
	} `json:"proof"`
	Proofs *struct {
		JWT []string `json:"jwt"`
	} `json:"proofs"`
}

func (a *API) credential(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st := a.Proofing.Store()
	now := a.now()
	tok := bearer(r)
	var cardID string
	var err error = proofing.ErrNotFound
	if tok != "" && len(tok) <= 256 {
		cardID, err = st.PeekSecret(ctx, proofing.SecretToken, proofing.Hash(tok), now)
	}
	if errors.Is(err, proofing.ErrNotFound) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", "missing, unknown or expired access token")
		return
	}
	if err != nil {
		a.internal(w, "credential", err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_credential_request", "body too large")
		return
	}
	var req credentialRequest
	if err := json.Unmarshal(body, &req); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_credential_request", "body is not the JSON credential request")
		return
	}
	if !knownConfig(req.ConfigID) {
		oauthError(w, http.StatusBadRequest, "unknown_credential_configuration", "credential_configuration_id must be one of "+strings.Join(Configs, ", "))
		return
	}
	var proofJWT string
	switch {
	case req.Proofs != nil && len(req.Proofs.JWT) == 1 && req.Proof == nil:
		proofJWT = req.Proofs.JWT[0]
	case req.Proof != nil && req.Proof.ProofType == "jwt" && req.Proofs == nil:
		proofJWT = req.Proof.JWT
	default:
		oauthError(w, http.StatusBadRequest, "invalid_proof", "exactly one jwt proof is required")
		return
	}
	card, err := st.Card(ctx, cardID)
	if err != nil {
		a.internal(w, "credential: card", err)
		return
	}
	if card.State != proofing.CardActive {
		oauthError(w, http.StatusBadRequest, "credential_request_denied", "this card was revoked")
		return
	}
	holder, nonce, err := a.checkProof(proofJWT, card, now)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_proof", err.Error())
		return
	}
	if _, err := st.UseSecret(ctx, proofing.SecretNonce, proofing.Hash(nonce), now); err != nil {
		if errors.Is(err, proofing.ErrNotFound) || errors.Is(err, proofing.ErrConflict) {
			oauthError(w, http.StatusBadRequest, "invalid_nonce", "c_nonce unknown, used or expired: fetch a new one")
			return
		}
		a.internal(w, "credential: nonce", err)
		return
	}
	collected := proofing.Hash(tok + "\x00" + req.ConfigID)
	if _, err := st.PeekSecret(ctx, proofing.SecretCollected, collected, now); err == nil {
		oauthError(w, http.StatusBadRequest, "credential_request_denied", "this configuration was already collected with this token")
		return
	}
	cred, err := a.Cards.Issue(ctx, req.ConfigID, card, holder)
	if err != nil {
		a.internal(w, "credential: issue", err)
		return
	}
	// Marked after issuing, so a failure to issue can be retried with the
	// same token; two racing requests may both get a card, the same card
	// (same holder key, same status entry) twice.
	if err := st.PutSecret(ctx, proofing.Secret{Kind: proofing.SecretCollected, Hash: collected, Ref: card.ID,
		ExpiresAt: now.Add(tokenTTL)}); err != nil && !errors.Is(err, proofing.ErrConflict) {
		a.internal(w, "credential: mark collected", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": []map[string]string{{"credential": cred}}})
}

type proofClaims struct {
	Aud   any    `json:"aud"`
	Iat   int64  `json:"iat"`
	Nonce string `json:"nonce"`
	Iss   string `json:"iss,omitempty"`
}

// checkProof verifies an OpenID4VCI key proof: typ, ES256, a jwk header
// that is the card's device key, the signature, aud, iat; it returns the
// key and the proof's nonce (consumed by the caller).
func (a *API) checkProof(compact string, card proofing.Card, now time.Time) (*ecdsa.PublicKey, string, error) {
	if len(compact) > 4096 {
		return nil, "", errors.New("proof too large")
	}
	jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", errors.New("proof is not an ES256 compact JWS")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != ProofType {
		return nil, "", fmt.Errorf("proof typ must be %s", ProofType)
	}
	if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		return nil, "", errors.New("proof must carry the device key as a public jwk header")
	}
	pub, ok := h.JSONWebKey.Key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, "", errors.New("proof key must be EC P-256")
	}
	tp, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil || base64.RawURLEncoding.EncodeToString(tp) != card.DeviceThumb {
		return nil, "", errors.New("proof key is not the enrolled device key")
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, "", errors.New("proof signature does not verify")
	}
	var c proofClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, "", errors.New("proof payload is not JSON")
	}
	audOK := false
	switch v := c.Aud.(type) {
	case string:
		audOK = v == a.Issuer
	case []any:
		for _, x := range v {
			if s, _ := x.(string); s == a.Issuer {
				audOK = true
			}
		}
	}
	if !audOK {
		return nil, "", errors.New("proof aud must be the credential issuer")
	}
	iat := time.Unix(c.Iat, 0)
	if c.Iat == 0 || iat.Before(now.Add(-proofAge)) || iat.After(now.Add(time.Minute)) {
		return nil, "", errors.New("proof iat outside the accepted window")
	}
	if c.Nonce == "" || len(c.Nonce) > 256 {
		return nil, "", errors.New("proof nonce missing")
	}
	return pub, c.Nonce, nil
}

// MakeProof makes an OpenID4VCI key proof with a device key (the CLI and
// tests use it; wallets make their own).
func MakeProof(key *ecdsa.PrivateKey, issuer, nonce string, iat time.Time) (string, error) {
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(ProofType)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(proofClaims{Aud: issuer, Iat: iat.Unix(), Nonce: nonce})
	obj, err := s.Sign(b)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}
