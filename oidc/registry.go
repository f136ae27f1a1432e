package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/verifier"
)

// ErrInvalidClient is returned by NewClient for a registration that cannot
// be accepted; the message says why.
var ErrInvalidClient = errors.New("oidc: invalid client registration")

// ClientSpec is a relying party registration as the authority submits it
// (admin API JSON, CLI flags).
type ClientSpec struct {
	// ID is the client_id; empty means a random one.
	ID string `json:"client_id,omitempty"`
	// Name is the name citizens see, in Chinese and English (both
	// required).
	Name verifier.Text `json:"name"`
	// Purpose, optional, is why the RP signs citizens in, in both
	// languages.
	Purpose                verifier.Text `json:"purpose,omitzero"`
	RedirectURIs           []string      `json:"redirect_uris"`
	PostLogoutRedirectURIs []string      `json:"post_logout_redirect_uris,omitempty"`
	// AuthMethod: client_secret_basic (default; a secret is generated) or
	// private_key_jwt (JWKS required).
	AuthMethod string          `json:"token_endpoint_auth_method,omitempty"`
	JWKS       json.RawMessage `json:"jwks,omitempty"`
	// Sector groups RPs that may share subjects; default the host of the
	// first redirect URI.
	Sector string `json:"sector_identifier,omitempty"`
	// Claims are the entitlements, e.g. "name,id_number,picture?".
	Claims string `json:"claims"`
	// IDTokenAlg is id_token_signed_response_alg (OpenID Connect Dynamic
	// Client Registration): "ES256" (the default) or "RS256".
	IDTokenAlg string `json:"id_token_signed_response_alg,omitempty"`
}

var clientIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidClient, fmt.Sprintf(format, args...))
}

func checkRedirect(u string) error {
	p, err := url.Parse(u)
	if err != nil || !p.IsAbs() || p.Host == "" || p.Fragment != "" || p.User != nil {
		return invalid("redirect URI %q must be an absolute URL without fragment or user info", u)
	}
	if p.Scheme != "https" && p.Scheme != "http" {
		return invalid("redirect URI %q: scheme must be https (or http)", u)
	}
	if strings.ContainsAny(u, "*") {
		return invalid("redirect URI %q: patterns are not allowed", u)
	}
	return nil
}

// NewClient validates a registration and returns the client to store and,
// for client_secret_basic, the secret (shown once, stored only as a hash).
func NewClient(s ClientSpec, now time.Time) (Client, string, error) {
	c := Client{ID: s.ID, Name: trimText(s.Name), Purpose: trimText(s.Purpose), RedirectURIs: s.RedirectURIs,
		PostLogoutRedirectURIs: s.PostLogoutRedirectURIs, AuthMethod: s.AuthMethod, Sector: s.Sector, Created: now}
	if c.ID == "" {
		b := make([]byte, 12)
		rand.Read(b)
		c.ID = "rp-" + base64.RawURLEncoding.EncodeToString(b)
	}
	if !clientIDRE.MatchString(c.ID) {
		return c, "", invalid("client_id %q: 1 to 64 letters, digits, '.', '_' or '-'", c.ID)
	}
	if err := checkTexts(c.Name, c.Purpose, true); err != nil {
		return c, "", err
	}
	if err := checkRedirects(&c); err != nil {
		return c, "", err
	}
	if c.Sector == "" {
		u, _ := url.Parse(c.RedirectURIs[0])
		c.Sector = u.Host
	}
	switch s.IDTokenAlg {
	case "", AlgES256:
	case AlgRS256:
		c.IDTokenAlg = AlgRS256
	default:
		return c, "", invalid("id_token_signed_response_alg %q: use ES256 or RS256", s.IDTokenAlg)
	}
	var err error
	if c.Entitlements, err = ParseEntitlements(s.Claims); err != nil {
		return c, "", fmt.Errorf("%w: %v", ErrInvalidClient, err)
	}
	secret := ""
	switch c.AuthMethod {
	case "", AuthSecretBasic:
		c.AuthMethod = AuthSecretBasic
		if len(s.JWKS) > 0 {
			return c, "", invalid("jwks is only for private_key_jwt")
		}
		secret = newSecret(&c)
	case AuthPrivateKeyJWT:
		if c.JWKS, err = checkJWKS(s.JWKS); err != nil {
			return c, "", err
		}
	default:
		return c, "", invalid("token_endpoint_auth_method %q: use client_secret_basic or private_key_jwt", c.AuthMethod)
	}
	return c, secret, nil
}

// maxText bounds each language's name or purpose, in bytes.
const maxText = 200

func trimText(t verifier.Text) verifier.Text {
	return verifier.Text{Zh: strings.TrimSpace(t.Zh), En: strings.TrimSpace(t.En)}
}

// checkTexts checks a registration's name (both languages required when
// it is set; a name kept from a registration that predates the second
// language needs one) and purpose (both languages or neither).
func checkTexts(name, purpose verifier.Text, nameSet bool) error {
	if nameSet && (name.Zh == "" || name.En == "") || name.Zh == "" && name.En == "" {
		return invalid("name: both zh and en are required")
	}
	if (purpose.Zh == "") != (purpose.En == "") {
		return invalid("purpose: give both zh and en, or neither")
	}
	for _, s := range []string{name.Zh, name.En, purpose.Zh, purpose.En} {
		if len(s) > maxText {
			return invalid("name and purpose: at most %d bytes in each language", maxText)
		}
	}
	return nil
}

func checkRedirects(c *Client) error {
	if len(c.RedirectURIs) == 0 || len(c.RedirectURIs) > 20 {
		return invalid("1 to 20 redirect URIs are required")
	}
	if len(c.PostLogoutRedirectURIs) > 20 {
		return invalid("at most 20 post-logout redirect URIs")
	}
	for _, u := range append(append([]string(nil), c.RedirectURIs...), c.PostLogoutRedirectURIs...) {
		if err := checkRedirect(u); err != nil {
			return err
		}
	}
	return nil
}

// newSecret makes a client secret and stores its hash in c.
func newSecret(c *Client) string {
	b := make([]byte, 32)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(secret))
	c.SecretHash = h[:]
	return secret
}

// checkJWKS validates a private_key_jwt client's key set and returns it
// re-encoded.
func checkJWKS(raw []byte) ([]byte, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 || len(set.Keys) > 10 {
		return nil, invalid("private_key_jwt needs a JWKS with 1 to 10 keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			return nil, invalid("jwks must hold valid public keys only")
		}
		if len(set.Keys) > 1 && k.KeyID == "" {
			return nil, invalid("every key of a multi-key JWKS needs a kid")
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, invalid("jwks: %v", err)
	}
	return b, nil
}

// ClientUpdate changes a registered relying party; nil fields are kept.
// The client_id, the sector (which would change every citizen's subject at
// the RP) and the authentication method cannot be changed: remove and
// register again for that.
type ClientUpdate struct {
	// Name replaces both languages of the name (both required).
	Name *verifier.Text `json:"name,omitempty"`
	// Purpose replaces the purpose (both languages, or neither to remove
	// it).
	Purpose                *verifier.Text `json:"purpose,omitempty"`
	RedirectURIs           *[]string      `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs *[]string      `json:"post_logout_redirect_uris,omitempty"`
	// Claims replaces the entitlements, e.g. "name,id_number,picture?".
	Claims *string `json:"claims,omitempty"`
	// JWKS replaces a private_key_jwt client's keys.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// RotateSecret gives a client_secret_basic client a new secret (the old
	// one stops working at once).
	RotateSecret bool `json:"rotate_secret,omitempty"`
}

// Update applies u to the client id and stores it. It returns the client
// and, when the secret was rotated, the new secret (shown once). When the
// RP loses an entitlement, its tokens are revoked in the same transaction:
// refresh tokens carry the claims granted, which the RP may no longer
// receive. A concurrent change of the same client may be lost (last write
// wins); a client removed meanwhile stays removed (ErrNotFound).
func Update(ctx context.Context, st ClientStore, id string, u ClientUpdate) (Client, string, error) {
	c, err := st.Client(ctx, id)
	if err != nil {
		return c, "", err
	}
	if u.Name != nil || u.Purpose != nil {
		name, purpose := c.Name, c.Purpose
		if u.Name != nil {
			name = trimText(*u.Name)
		}
		if u.Purpose != nil {
			purpose = trimText(*u.Purpose)
		}
		if err := checkTexts(name, purpose, u.Name != nil); err != nil {
			return c, "", err
		}
		c.Name, c.Purpose = name, purpose
	}
	if u.RedirectURIs != nil {
		c.RedirectURIs = *u.RedirectURIs
	}
	if u.PostLogoutRedirectURIs != nil {
		c.PostLogoutRedirectURIs = *u.PostLogoutRedirectURIs
	}
	if err := checkRedirects(&c); err != nil {
		return c, "", err
	}
	revoke := false
	if u.Claims != nil {
		ents, err := ParseEntitlements(*u.Claims)
		if err != nil {
			return c, "", fmt.Errorf("%w: %v", ErrInvalidClient, err)
		}
		for _, old := range c.Entitlements {
			if !slices.ContainsFunc(ents, func(e Entitlement) bool { return e.Claim == old.Claim }) {
				revoke = true
			}
		}
		c.Entitlements = ents
	}
	if len(u.JWKS) > 0 {
		if c.AuthMethod != AuthPrivateKeyJWT {
			return c, "", invalid("jwks is only for private_key_jwt clients (this one uses %s)", c.AuthMethod)
		}
		if c.JWKS, err = checkJWKS(u.JWKS); err != nil {
			return c, "", err
		}
	}
	secret := ""
	if u.RotateSecret {
		if c.AuthMethod != AuthSecretBasic {
			return c, "", invalid("rotate_secret is only for client_secret_basic clients (this one uses %s)", c.AuthMethod)
		}
		secret = newSecret(&c)
	}
	if err := st.UpdateClient(ctx, c, revoke); err != nil {
		return c, "", err
	}
	return c, secret, nil
}

// ClientStore is the part of Store that manages registrations.
type ClientStore interface {
	PutClient(ctx context.Context, c Client) error
	Client(ctx context.Context, id string) (Client, error)
	Clients(ctx context.Context) ([]Client, error)
	DeleteClient(ctx context.Context, id string) error
	UpdateClient(ctx context.Context, c Client, revokeTokens bool) error
}

// Register validates spec and stores the new client; an existing client_id
// is ErrConflict.
func Register(ctx context.Context, st ClientStore, spec ClientSpec, now time.Time) (Client, string, error) {
	c, secret, err := NewClient(spec, now)
	if err != nil {
		return c, "", err
	}
	if _, err := st.Client(ctx, c.ID); err == nil {
		return c, "", fmt.Errorf("oidc: client %q: %w", c.ID, ErrConflict)
	} else if !errors.Is(err, ErrNotFound) {
		return c, "", err
	}
	return c, secret, st.PutClient(ctx, c)
}
