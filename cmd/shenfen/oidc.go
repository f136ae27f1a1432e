package main

import (
	"context"
	"crypto"
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

// openOIDC builds the OpenID Provider at PUBLIC_URL/oidc.
func openOIDC(ctx context.Context, a *app) (*oidc.Provider, error) {
	t, err := a.openTrust(ctx)
	if err != nil {
		return nil, err
	}
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
