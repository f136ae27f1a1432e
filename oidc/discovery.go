package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// cached is a precomputed response body with its strong ETag: discovery and
// JWKS change only when the provider is rebuilt, so they are served from
// memory with no allocation beyond the response itself.
type cached struct {
	body []byte
	etag string
	// The header values, made once (net/http copies a handler's header
	// values when it writes them, so they are never modified).
	etagV, ctV []string
}

var (
	cachedCacheControl = []string{"public, max-age=300"}
	cachedAnyOrigin    = []string{"*"}
)

func newCached(body []byte, ct string) cached {
	h := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(h[:16]) + `"`
	return cached{body: body, etag: etag, etagV: []string{etag}, ctV: []string{ct}}
}

func (c *cached) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Etag"] = c.etagV
	h["Cache-Control"] = cachedCacheControl
	h["Access-Control-Allow-Origin"] = cachedAnyOrigin
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, c.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = c.ctV
	w.Write(c.body)
}

// precompute renders op's discovery document and key set once, with
// shenfen's additions: pairwise subjects, acr values, PAR, the client auth
// methods and algorithms actually accepted.
func (p *Provider) precompute() error {
	get := func(path string) ([]byte, error) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		p.op.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return nil, fmt.Errorf("oidc: render %s: status %d", path, rec.Code)
		}
		return rec.Body.Bytes(), nil
	}
	raw, err := get("/.well-known/openid-configuration")
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("oidc: discovery: %w", err)
	}
	iss := p.cfg.Issuer
	doc["subject_types_supported"] = []string{"pairwise"}
	doc["acr_values_supported"] = []string{ACRHigh, ACRSubstantial}
	doc["pushed_authorization_request_endpoint"] = iss + "/par"
	doc["require_pushed_authorization_requests"] = false
	doc["response_types_supported"] = []string{"code"}
	doc["response_modes_supported"] = []string{"query", "form_post"}
	doc["grant_types_supported"] = []string{"authorization_code", "refresh_token"}
	doc["code_challenge_methods_supported"] = []string{"S256"}
	doc["token_endpoint_auth_methods_supported"] = []string{AuthSecretBasic, AuthPrivateKeyJWT}
	doc["token_endpoint_auth_signing_alg_values_supported"] = []string{"ES256", "RS256", "PS256"}
	doc["revocation_endpoint_auth_methods_supported"] = []string{AuthSecretBasic, AuthPrivateKeyJWT}
	doc["revocation_endpoint_auth_signing_alg_values_supported"] = []string{"ES256", "RS256", "PS256"}
	doc["introspection_endpoint_auth_methods_supported"] = []string{AuthSecretBasic, AuthPrivateKeyJWT}
	doc["introspection_endpoint_auth_signing_alg_values_supported"] = []string{"ES256", "RS256", "PS256"}
	doc["prompt_values_supported"] = []string{"none", "login", "consent"}
	// The sign-in pages' languages (ui_locales picks one; i18n.go).
	doc["ui_locales_supported"] = pageLocales
	// Request objects (RFC 9101) are not accepted, by value or by
	// reference: the only request_uri the authorization endpoint expands is
	// one the PAR endpoint issued (RFC 9126), which PAR metadata announces.
	doc["request_parameter_supported"] = false
	doc["request_uri_parameter_supported"] = false
	// id_token_signing_alg_values_supported comes from op (Storage.
	// SignatureAlgorithms): ES256, and RS256 when the provider has an RSA
	// key, which signs the ID tokens of clients registered with
	// id_token_signed_response_alg RS256 (idtokenalg.go).
	// Read for the id_token acr member (assurance.go).
	doc["claims_parameter_supported"] = true
	delete(doc, "device_authorization_endpoint")
	delete(doc, "request_object_signing_alg_values_supported")
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	p.disc = newCached(body, "application/json")
	keys, err := get("/keys")
	if err != nil {
		return err
	}
	p.jwks = newCached(keys, "application/jwk-set+json")
	return nil
}

// Discovery returns the discovery document (for tests and tools).
func (p *Provider) Discovery() []byte { return p.disc.body }
