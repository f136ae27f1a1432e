package main

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/shenfen/shenfen/credential"
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
