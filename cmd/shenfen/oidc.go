package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/status"
)

// localStatus answers card status from the authority's own status lists
// (no HTTP round trip to itself).
type localStatus struct{ svc *status.Service }

func (l localStatus) Status(ctx context.Context, uri string, index int) (credential.Status, error) {
	return l.svc.Get(ctx, status.Ref{URI: uri, Index: index})
}

// auditRecorder writes OIDC grants into the citizen's disclosure history,
// keyed like every other disclosure by the registry's blind index of the
// ID number (base64url).
type auditRecorder struct {
	log *audit.Log
	reg *registry.Service
}

func (r auditRecorder) RecordDisclosure(ctx context.Context, d oidc.Disclosure) error {
	id, err := registry.ParseIDNumber(d.CitizenKey, d.At)
	if err != nil {
		return fmt.Errorf("oidc disclosure: citizen key: %w", err)
	}
	_, err = r.log.Record(ctx, audit.Disclosure{
		Subject: base64.RawURLEncoding.EncodeToString(r.reg.Index(id)),
		RP:      d.ClientID, RPName: d.ClientName, Claims: d.Claims, Channel: audit.ChannelOIDC, At: d.At,
	})
	return err
}

// oidcSigner opens (or makes, on first start) the provider's ID-token key,
// sealed with the master key in DATA/keys-oidc.
func oidcSigner(ctx context.Context, a *app) (crypto.Signer, error) {
	return keys.NewFileProvider(filepath.Join(a.cfg.DataDir, "keys-oidc"), a.sealer).OpenOrGenerate(ctx, "oidc", keys.KindP256)
}

// oidcRSASigner opens (or makes) the provider's RS256 ID-token key, for
// relying parties registered with id_token_signed_response_alg RS256,
// sealed like the other in DATA/keys-oidc.
func oidcRSASigner(ctx context.Context, a *app) (crypto.Signer, error) {
	return keys.NewFileProvider(filepath.Join(a.cfg.DataDir, "keys-oidc"), a.sealer).OpenOrGenerate(ctx, "oidc-rs256", keys.KindRSA)
}

// errOtherOIDCKeys: the data directory's provider secret or ID-token key
// is not the one the database's first server recorded.
var errOtherOIDCKeys = errors.New("the data directory's OpenID Provider secret or ID-token key is not the one the other servers of this database use")

// pinOIDC records digests of the provider's secret and of each public key
// on first start (each under its own name, so that a key added later is
// pinned when it is made) and refuses others later (a server given another
// data directory).
func pinOIDC(ctx context.Context, a *app, secret []byte, signers map[string]crypto.Signer) error {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("shenfen oidc secret pin"))
	want := map[string][]byte{"oidc-secret": m.Sum(nil)}
	for label, s := range signers {
		pub, err := x509.MarshalPKIXPublicKey(s.Public())
		if err != nil {
			return err
		}
		sum := sha256.Sum256(pub)
		want["oidc-key "+label] = sum[:]
	}
	for name, w := range want {
		got, err := a.db.Pin(ctx, name, w, time.Now())
		if err != nil {
			return err
		}
		if !bytes.Equal(got, w) {
			return fmt.Errorf("oidc keys: %w (%s): give every server the same DATA/oidc-secret and DATA/keys-oidc", errOtherOIDCKeys, name)
		}
	}
	return nil
}

// openOIDC builds the OpenID Provider at PUBLIC_URL/oidc.
func openOIDC(ctx context.Context, a *app) (*oidc.Provider, error) {
	t, err := a.openTrust(ctx)
	if err != nil {
		return nil, err
	}
	// Servers sharing the database make the provider's secret and key one
	// at a time, and all must hold the same: a code or token one server
	// issued is redeemed on another, and an ID token must verify against
	// the JWKS any of them serves.
	unlock, err := a.db.Lock(ctx, "oidc-keys")
	if err != nil {
		return nil, fmt.Errorf("oidc keys: %w", err)
	}
	defer unlock()
	secretHex, err := secretFile(filepath.Join(a.cfg.DataDir, "oidc-secret"), 32)
	if err != nil {
		return nil, fmt.Errorf("oidc secret: %w", err)
	}
	secret, err := hex.DecodeString(secretHex)
	if err != nil || len(secret) < 32 {
		return nil, errors.New("oidc secret: DATA/oidc-secret must hold 32 hex-encoded bytes")
	}
	signer, err := oidcSigner(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("oidc signing key: %w", err)
	}
	requestKey, err := a.signInKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("oidc sign-in request key: %w", err)
	}
	rsaSigner, err := oidcRSASigner(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("oidc RS256 signing key: %w", err)
	}
	if err := pinOIDC(ctx, a, secret, map[string]crypto.Signer{"oidc": signer, "oidc-rs256": rsaSigner}); err != nil {
		return nil, err
	}
	return oidc.New(oidc.Config{
		Issuer: strings.TrimSuffix(a.cfg.PublicURL, "/") + "/oidc",
		Store:  a.db.OIDC(), Signer: signer, RSASigner: rsaSigner, Secret: secret, Sealer: a.sealer,
		Verifier: oidc.CardVerifier{SDJWT: &sdjwt.Verifier{
			Anchors: credential.NewAnchors(t.ring.Root()), Status: localStatus{t.status},
		}},
		RequestKey:     requestKey,
		Recorder:       auditRecorder{log: t.audit, reg: a.registry},
		AuthorizeLimit: a.authorizeLimit(),
		Log:            a.log,
	})
}

// mountOIDC serves the provider and the RP admin API, and purges expired
// requests and tokens every five minutes.
func mountOIDC(ctx context.Context, a *app, srv *server.Server) error {
	p, err := openOIDC(ctx, a)
	if err != nil {
		return err
	}
	for _, pat := range p.Patterns() { // one route label per endpoint in metrics and logs
		srv.Handle(pat, p.Handler())
	}
	g, err := a.guard(ctx)
	if err != nil {
		return err
	}
	admin.NewRPAPI(a.db.OIDC(), a.log).MountGate(srv, g)
	a.addLoop("oidc purge", 5*time.Minute, a.db.OIDC().Purge)
	return nil
}
