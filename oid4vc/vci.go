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
	st := a.Proofing.Store()
	now := a.now()
	var cardID, refresh string
	var err error
	switch r.PostForm.Get("grant_type") {
	case PreAuthGrant:
		code := r.PostForm.Get("pre-authorized_code")
		if code == "" || len(code) > 256 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "pre-authorized_code missing")
			return
		}
		cardID, err = st.UseSecret(r.Context(), proofing.SecretOffer, proofing.Hash(code), now)
		if err == nil {
			// The refresh token lets the wallet collect new batches of
			// single-use credentials; alone it issues nothing (every key
			// must be the device key or attested by it, CheckProofs).
			refresh = proofing.RandomID(32)
			err = st.PutSecret(r.Context(), proofing.Secret{Kind: SecretRefresh, Hash: proofing.Hash(refresh), Ref: cardID,
				ExpiresAt: now.Add(RefreshTTL)})
		}
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if rt == "" || len(rt) > 256 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "refresh_token missing")
			return
		}
		cardID, err = st.PeekSecret(r.Context(), SecretRefresh, proofing.Hash(rt), now)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only the pre-authorized code and refresh token grants are supported")
		return
	}
	if errors.Is(err, proofing.ErrNotFound) || errors.Is(err, proofing.ErrConflict) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code or refresh token is unknown, used or expired")
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
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(tokenTTL / time.Second)}
	if refresh != "" {
		resp["refresh_token"] = refresh
	}
	writeJSON(w, http.StatusOK, resp)
}

// SecretRefresh is the secret kind of refresh tokens; RefreshTTL their
// lifetime (they are not rotated: a refresh is useless without the device
// key, and a wallet that lost one mid-refresh keeps working).
const (
	SecretRefresh = "refresh"
	RefreshTTL    = 400 * 24 * time.Hour
)

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

// BatchSize is the most key proofs, hence credentials, one credential
// request may carry (batch_credential_issuance.batch_size).
const BatchSize = 20

// Batch issuance limits per card and configuration: a wallet refills
// its single-use credentials a few times a day at most.
const (
	BatchCardEvery = time.Hour
	BatchCardBurst = 6
)

// maxCredentialBody bounds the credential request: BatchSize proofs, each
// with its key attestation of BatchSize keys.
const maxCredentialBody = 256 << 10

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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCredentialBody))
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
	var proofJWTs []string
	switch {
	case req.Proofs != nil && len(req.Proofs.JWT) >= 1 && len(req.Proofs.JWT) <= BatchSize && req.Proof == nil:
		proofJWTs = req.Proofs.JWT
	case req.Proof != nil && req.Proof.ProofType == "jwt" && req.Proofs == nil:
		proofJWTs = []string{req.Proof.JWT}
	default:
		oauthError(w, http.StatusBadRequest, "invalid_proof", fmt.Sprintf("proofs.jwt must hold 1 to %d key proofs", BatchSize))
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
	holders, nonce, err := a.CheckProofs(proofJWTs, card, now)
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
	if !a.limit(w, r, a.BatchLimit, "batch\x00"+card.ID+"\x00"+req.ConfigID) {
		return
	}
	creds, err := a.Cards.Issue(ctx, req.ConfigID, card, holders)
	if errors.Is(err, ErrTooManyCredentials) {
		oauthError(w, http.StatusBadRequest, "credential_request_denied", "the card holds enough unused credentials; use them first")
		return
	}
	if err != nil {
		a.internal(w, "credential: issue", err)
		return
	}
	// Marked after issuing, so a failure to issue can be retried with the
	// same token; two racing requests may both get credentials.
	if err := st.PutSecret(ctx, proofing.Secret{Kind: proofing.SecretCollected, Hash: collected, Ref: card.ID,
		ExpiresAt: now.Add(tokenTTL)}); err != nil && !errors.Is(err, proofing.ErrConflict) {
		a.internal(w, "credential: mark collected", err)
		return
	}
	out := make([]map[string]string, len(creds))
	for i, c := range creds {
		out[i] = map[string]string{"credential": c}
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": out})
}

// CheckProofs verifies the key proofs of one credential request and
// returns the keys to bind and the c_nonce they carry (which the caller
// consumes): each one a proof of possession of its own key (checkProof),
// all over the same c_nonce, no key twice. A proof by the card's enrolled
// device key stands alone; any other key must be vouched for by the device
// key: a key_attestation header (OpenID4VCI 1.0 Appendix D), a JWT signed
// by the enrolled device key whose attested_keys lists the key and whose
// nonce is the c_nonce, carried by that proof or by another proof of the
// same request (shenfen's wallet sends it once, in the first proof, rather
// than 20 times). So a stolen access token alone issues nothing: every
// credential is bound to the enrolled device or to keys it attested for
// this nonce.
func (a *API) CheckProofs(proofs []string, card proofing.Card, now time.Time) ([]*ecdsa.PublicKey, string, error) {
	checked := make([]checkedProof, len(proofs))
	seen := map[string]bool{}
	var nonce string
	for i, p := range proofs {
		pr, err := a.checkProof(p, now)
		if err != nil {
			return nil, "", fmt.Errorf("proof %d: %w", i, err)
		}
		if i == 0 {
			nonce = pr.nonce
		} else if pr.nonce != nonce {
			return nil, "", fmt.Errorf("proof %d: every proof of a request must carry the same c_nonce", i)
		}
		if seen[pr.thumb] {
			return nil, "", fmt.Errorf("proof %d: the same key twice", i)
		}
		seen[pr.thumb] = true
		checked[i] = pr
	}
	attested := map[string]bool{} // key thumbprints
	done := map[string]bool{}     // attestations verified
	for i, pr := range checked {
		if pr.attestation == "" || done[pr.attestation] {
			continue
		}
		keys, err := checkAttestation(pr.attestation, card, nonce, now)
		if err != nil {
			return nil, "", fmt.Errorf("proof %d: key_attestation: %w", i, err)
		}
		done[pr.attestation] = true
		for k := range keys {
			attested[k] = true
		}
	}
	holders := make([]*ecdsa.PublicKey, len(checked))
	for i, pr := range checked {
		if pr.thumb != card.DeviceThumb && !attested[pr.thumb] {
			if len(done) == 0 {
				return nil, "", fmt.Errorf("proof %d: a key other than the enrolled device key needs a key_attestation by the device key", i)
			}
			return nil, "", fmt.Errorf("proof %d: key not in the attested_keys of the request's key_attestation", i)
		}
		holders[i] = pr.key
	}
	return holders, nonce, nil
}

// KeyAttestationType is the JOSE typ of a key attestation (OpenID4VCI 1.0
// Appendix D.1).
const KeyAttestationType = "key-attestation+jwt"

type attestationClaims struct {
	Iat          int64             `json:"iat"`
	Nonce        string            `json:"nonce"`
	AttestedKeys []jose.JSONWebKey `json:"attested_keys"`
}

// checkAttestation verifies a key attestation signed by the card's
// enrolled device key and returns the thumbprints of its attested keys.
func checkAttestation(compact string, card proofing.Card, nonce string, now time.Time) (map[string]bool, error) {
	if len(compact) > 16<<10 {
		return nil, errors.New("too large")
	}
	var dev jose.JSONWebKey
	if err := dev.UnmarshalJSON(card.DeviceKey); err != nil {
		return nil, fmt.Errorf("the card's device key: %w", err)
	}
	jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("not an ES256 compact JWS")
	}
	if typ, _ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType].(string); typ != KeyAttestationType {
		return nil, fmt.Errorf("typ must be %s", KeyAttestationType)
	}
	payload, err := jws.Verify(dev.Key)
	if err != nil {
		return nil, errors.New("not signed by the enrolled device key")
	}
	var c attestationClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("payload is not JSON")
	}
	if c.Nonce != nonce {
		return nil, errors.New("nonce is not the proofs' c_nonce")
	}
	iat := time.Unix(c.Iat, 0)
	if c.Iat == 0 || iat.Before(now.Add(-proofAge)) || iat.After(now.Add(time.Minute)) {
		return nil, errors.New("iat outside the accepted window")
	}
	if len(c.AttestedKeys) == 0 || len(c.AttestedKeys) > BatchSize {
		return nil, fmt.Errorf("attested_keys must list 1 to %d keys", BatchSize)
	}
	out := map[string]bool{}
	for _, k := range c.AttestedKeys {
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil || !k.IsPublic() {
			return nil, errors.New("attested_keys holds a key that is not a public JWK")
		}
		out[base64.RawURLEncoding.EncodeToString(tp)] = true
	}
	return out, nil
}

type proofClaims struct {
	Aud   any    `json:"aud"`
	Iat   int64  `json:"iat"`
	Nonce string `json:"nonce"`
	Iss   string `json:"iss,omitempty"`
}

// checkedProof is what a verified key proof gives.
type checkedProof struct {
	key   *ecdsa.PublicKey
	thumb string
	nonce string
	// attestation is the key_attestation header, if any (not verified).
	attestation string
}

// checkProof verifies an OpenID4VCI key proof: typ, ES256, a public jwk
// header (the key to bind), the signature, aud, iat; it returns the key,
// its thumbprint, the proof's nonce (consumed by the caller) and its
// key_attestation header (checked by the caller).
func (a *API) checkProof(compact string, now time.Time) (checkedProof, error) {
	var out checkedProof
	if len(compact) > 16<<10 {
		return out, errors.New("proof too large")
	}
	jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return out, errors.New("proof is not an ES256 compact JWS")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != ProofType {
		return out, fmt.Errorf("proof typ must be %s", ProofType)
	}
	if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		return out, errors.New("proof must carry the key to bind as a public jwk header")
	}
	pub, ok := h.JSONWebKey.Key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return out, errors.New("proof key must be EC P-256")
	}
	tp, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return out, errors.New("proof key has no thumbprint")
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return out, errors.New("proof signature does not verify")
	}
	var c proofClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return out, errors.New("proof payload is not JSON")
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
		return out, errors.New("proof aud must be the credential issuer")
	}
	iat := time.Unix(c.Iat, 0)
	if c.Iat == 0 || iat.Before(now.Add(-proofAge)) || iat.After(now.Add(time.Minute)) {
		return out, errors.New("proof iat outside the accepted window")
	}
	if c.Nonce == "" || len(c.Nonce) > 256 {
		return out, errors.New("proof nonce missing")
	}
	out.key, out.thumb, out.nonce = pub, base64.RawURLEncoding.EncodeToString(tp), c.Nonce
	out.attestation, _ = h.ExtraHeaders["key_attestation"].(string)
	return out, nil
}

// MakeProof makes an OpenID4VCI key proof with a device key (the CLI and
// tests use it; wallets make their own).
func MakeProof(key *ecdsa.PrivateKey, issuer, nonce string, iat time.Time) (string, error) {
	return MakeAttestedProof(key, issuer, nonce, iat, "")
}

// MakeAttestedProof makes a key proof carrying a key attestation
// (MakeKeyAttestation) in its key_attestation header; "" for none.
func MakeAttestedProof(key *ecdsa.PrivateKey, issuer, nonce string, iat time.Time, attestation string) (string, error) {
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(ProofType)
	if attestation != "" {
		opts = opts.WithHeader("key_attestation", attestation)
	}
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

// MakeKeyAttestation makes the key attestation with which the enrolled
// device key vouches for the keys of a batch (the CLI and tests use it).
func MakeKeyAttestation(device *ecdsa.PrivateKey, keys []*ecdsa.PublicKey, nonce string, iat time.Time) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: device}, (&jose.SignerOptions{}).WithType(KeyAttestationType))
	if err != nil {
		return "", err
	}
	c := attestationClaims{Iat: iat.Unix(), Nonce: nonce}
	for _, k := range keys {
		c.AttestedKeys = append(c.AttestedKeys, jose.JSONWebKey{Key: k})
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
