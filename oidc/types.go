package oidc

import (
	"context"
	"errors"
	"time"

	"github.com/shenfen/shenfen/verifier"
)

// Sentinel errors of the storage contract; store returns them so that this
// package can branch without knowing SQL.
var (
	// ErrNotFound: no such client, request, token or pushed request.
	ErrNotFound = errors.New("oidc: not found")
	// ErrConflict: a conditional write lost (the row was not in the expected
	// state, or the key already exists): a replayed code, a second wallet
	// response, a refresh token used twice.
	ErrConflict = errors.New("oidc: conflict")
)

// Client auth methods a relying party may register.
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthPrivateKeyJWT = "private_key_jwt"
)

// Entitlement is one claim a relying party is legally entitled to receive.
// An optional claim may be left out by the citizen in the wallet's
// consent; a required one may only be refused by declining the whole login.
type Entitlement struct {
	Claim    string `json:"claim"`
	Optional bool   `json:"optional,omitempty"`
}

// Client is a registered relying party.
type Client struct {
	ID string `json:"client_id"`
	// Name is the RP's name as citizens see it, in Chinese and English; a
	// page shows the one in its language, else the other (a registration
	// made before names had two languages may have only one).
	Name verifier.Text `json:"name"`
	// Purpose, optional, says what the RP signs citizens in for (e.g.
	// "online check-in"), in each language; shown like Name.
	Purpose verifier.Text `json:"purpose,omitzero"`
	// RedirectURIs are compared exactly (no patterns).
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// AuthMethod is AuthSecretBasic or AuthPrivateKeyJWT.
	AuthMethod string `json:"token_endpoint_auth_method"`
	// SecretHash is SHA-256 of the client secret (client_secret_basic);
	// secrets are 32 random bytes, so a fast hash is enough.
	SecretHash []byte `json:"-"`
	// JWKS is the RP's public key set (private_key_jwt), as JSON.
	JWKS []byte `json:"jwks,omitempty"`
	// Sector is the pairwise sector identifier: RPs of one sector share
	// subject identifiers; default the host of the first redirect URI.
	Sector string `json:"sector_identifier"`
	// Entitlements are the claims the RP may receive.
	Entitlements []Entitlement `json:"entitlements"`
	// IDTokenAlg is the client's id_token_signed_response_alg: "ES256"
	// (also when empty, the default) or "RS256".
	IDTokenAlg string    `json:"id_token_signed_response_alg,omitempty"`
	Created    time.Time `json:"created_at"`
}

// Request states.
const (
	StatePending   = "pending"   // waiting for the wallet
	StatePresented = "presented" // wallet presentation verified (the citizen consented in the wallet); the browser's finish next
	StateDone      = "done"      // granted; code may be issued
	StateUsed      = "used"      // code exchanged (kept to detect replay)
	StateDenied    = "denied"    // citizen declined
	// StateRefused: the card presented did not meet the request's
	// assurance requirement (acr_values); the RP gets
	// unmet_authentication_requirements. Or the citizen declined in the
	// wallet (loginData.Declined); the RP gets access_denied.
	StateRefused = "refused"
)

// AuthRequest is a stored authorization request and its login transaction.
// Store persists ID, ClientID, Txn, State, CodeHash, Expires, Browser, Subject and Token as columns
// and the rest as the opaque Data blob.
type AuthRequest struct {
	ID, ClientID string
	// Txn is the wallet transaction id (in the QR / deep link).
	Txn      string
	State    string
	CodeHash string
	Expires  time.Time
	// Browser is the hash of the browser binding secret ("" while the
	// request is not bound to a browser).
	Browser string
	// Subject and Token are written by GrantAuthRequest: the pairwise
	// subject, and the data of the access token the code exchange stores
	// with ConsumeCode (nil when the grant has a refresh token as well).
	Subject string
	Token   []byte
	Data    []byte
}

// Token is an access or refresh token's server-side record.
type Token struct {
	// ID is the access token id, or the SHA-256 (hex) of a refresh token.
	ID       string
	Refresh  bool
	ClientID string
	Subject  string
	// AuthRequestID ties tokens to the code they came from (revoked on replay).
	AuthRequestID string
	Expires       time.Time
	// Data is the opaque grant (scopes, claims sealed, acr, auth_time).
	Data []byte
}

// PushedRequest is a PAR (RFC 9126) request, stored until used once.
type PushedRequest struct {
	ID, ClientID string
	Params       string // form-encoded authorization request parameters
	Expires      time.Time
}

// Grant is one recorded disclosure to a relying party, for the citizen's
// history. Citizen is a blind index of the citizen (never the ID number).
type Grant struct {
	Citizen  []byte
	ClientID string
	Subject  string
	Claims   []string
	ACR      string
	At       time.Time
}

// Assertion is a client assertion (private_key_jwt) to spend: its jti is
// single use for its client until Expires.
type Assertion struct {
	ClientID, JTI string
	Expires       time.Time
}

// ErrAssertionSpent: the client assertion's jti was spent before (a
// replay). Store wraps it together with ErrConflict.
var ErrAssertionSpent = errors.New("oidc: client assertion already used")

// Store is what the provider needs from storage (implemented by store.OIDC).
type Store interface {
	PutClient(ctx context.Context, c Client) error
	Client(ctx context.Context, id string) (Client, error)
	Clients(ctx context.Context) ([]Client, error)
	DeleteClient(ctx context.Context, id string) error
	// UpdateClient replaces an existing client (ErrNotFound if there is
	// none), deleting its tokens in the same transaction when revokeTokens
	// is set.
	UpdateClient(ctx context.Context, c Client, revokeTokens bool) error

	CreateAuthRequest(ctx context.Context, ar AuthRequest) error
	AuthRequest(ctx context.Context, id string) (AuthRequest, error)
	AuthRequestByTxn(ctx context.Context, txn string) (AuthRequest, error)
	// BindAuthRequest binds request id to a browser (the hash of its
	// binding secret) in one statement if it is not bound yet and has not
	// expired at now, and returns the request and whether this call bound
	// it (false: bound before, or expired; the request is returned as it
	// is). ErrNotFound for an unknown id.
	BindAuthRequest(ctx context.Context, id, browser string, now time.Time) (AuthRequest, bool, error)
	// UpdateAuthRequest writes ar (all but its browser binding) if the
	// stored state is still from (ErrConflict otherwise).
	UpdateAuthRequest(ctx context.Context, ar AuthRequest, from string) error
	// GrantAuthRequest ends a consent in one transaction: it writes ar (the
	// request done, with its code's hash and expiry) if the stored state is
	// still from and the request has no code yet, and records g; if not
	// (ErrConflict), nothing is written.
	GrantAuthRequest(ctx context.Context, ar AuthRequest, from string, g Grant) error
	// SetCode records the authorization code (its hash) and the code's
	// expiry on request id, in one statement, if the request is done and
	// has no code yet (ErrConflict otherwise: one code per request).
	SetCode(ctx context.Context, id, codeHash string, expires time.Time) error
	// ConsumeCode moves the request holding codeHash from done to used and
	// returns it. A code already used returns the request with ErrConflict
	// (so the caller can revoke what it issued); an unknown or expired code
	// ErrNotFound. If access is not nil and the request has a Token, the
	// access token is stored in the same transaction, with access's ID and
	// Expires and the request's client, Subject, ID and Token as its data.
	ConsumeCode(ctx context.Context, codeHash string, now time.Time, access *Token) (AuthRequest, error)

	// PutTokens stores toks in one transaction, first deleting the refresh
	// token replaced (ErrConflict if it is already gone: a replay).
	PutTokens(ctx context.Context, replaces string, toks ...Token) error
	// RotateRefreshToken replaces the refresh token replaces by t in one
	// transaction, first spending the client assertion spend if it is not
	// nil: ErrAssertionSpent (with ErrConflict) if that was spent before,
	// and then nothing is written; ErrConflict if the old token is gone (a
	// replay), and then only the assertion is spent.
	RotateRefreshToken(ctx context.Context, spend *Assertion, replaces string, t Token) error
	Token(ctx context.Context, id string) (Token, error)
	DeleteToken(ctx context.Context, id string) error
	// DeleteTokens removes every token of subject at client (logout), or of
	// one auth request when authRequestID is set (code replay).
	DeleteTokens(ctx context.Context, subject, clientID, authRequestID string) error

	PutPushedRequest(ctx context.Context, p PushedRequest) error
	// TakePushedRequest returns and deletes it (single use).
	TakePushedRequest(ctx context.Context, id string) (PushedRequest, error)

	RecordGrant(ctx context.Context, g Grant) error
	Grants(ctx context.Context, citizen []byte) ([]Grant, error)

	// UseAssertion spends a client assertion's jti for clientID until exp:
	// ErrConflict if the pair was already spent (a replay). It is shared by
	// every provider process on the database.
	UseAssertion(ctx context.Context, clientID, jti string, exp time.Time) error

	EnrollmentRecords

	// Purge deletes expired requests, tokens, pushed requests and spent
	// client assertions.
	Purge(ctx context.Context, now time.Time) error
}
