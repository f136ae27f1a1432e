package main

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/verifier"
)

// verifierRegistry is the verifier registry on the database and the
// authority's key ring: entitlements in the card's SD-JWT VC claim names,
// desks and the sign-in certified for the public host.
func (a *app) verifierRegistry(ctx context.Context) (*verifier.Registry, error) {
	t, err := a.openTrust(ctx)
	if err != nil {
		return nil, err
	}
	var claims []string
	for _, c := range credential.ProfileCN.Claims() {
		if !slices.Contains(claims, c.JWT[0]) {
			claims = append(claims, c.JWT[0])
		}
	}
	u, err := url.Parse(strings.TrimSuffix(a.cfg.PublicURL, "/"))
	if err != nil {
		return nil, err
	}
	return &verifier.Registry{Store: a.db.Verifiers(), CA: t.ring, Claims: claims, Host: u.Hostname()}, nil
}

// signInID is the verifier registration of the OpenID Provider's sign-in.
const signInID = "sign-in"

var (
	signInName    = verifier.Text{Zh: "虚拟身份证登录", En: "Sign in with the virtual ID card"}
	signInPurpose = verifier.Text{Zh: "登录网站：网站只收到您同意提供的信息", En: "Sign in to a website, which receives only what you agree to share"}
)

// signInKey returns the provider's RequestKey source: the sign-in's
// registration (made, or its certificate renewed, by EnsureSignIn; read
// again every minute, so that servers which started together converge on
// the certificate stored) and its key.
func (a *app) signInKey(ctx context.Context) (func(context.Context) (oidc.RequestKey, error), error) {
	reg, err := a.verifierRegistry(ctx)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var cur oidc.RequestKey
	var checked time.Time
	get := func(ctx context.Context) (oidc.RequestKey, error) {
		mu.Lock()
		defer mu.Unlock()
		if cur.Signer != nil && time.Since(checked) < time.Minute {
			return cur, nil
		}
		v, err := reg.EnsureSignIn(ctx, signInID, signInName, signInPurpose)
		if err != nil {
			return cur, err
		}
		k, err := reg.Signer(ctx, v)
		if err != nil {
			return cur, err
		}
		cur, checked = oidc.RequestKey{Signer: k, Cert: v.Cert, ClientID: v.ClientID()}, time.Now()
		return cur, nil
	}
	_, err = get(ctx)
	return get, err
}
