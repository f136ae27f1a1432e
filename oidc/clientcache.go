package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// clientTTL bounds how long a registration change (or removal) takes to
// reach a running provider. Every login reads the client several times
// (authorize, login page, wallet, consent, token), so reading it from the
// database each time was a measurable share of a login.
const clientTTL = 2 * time.Second

type clientEntry struct {
	c    Client
	keys *jose.JSONWebKeySet // parsed JWKS (private_key_jwt)
	err  error
	at   time.Time
}

type clientCache struct {
	st Store
	mu sync.Mutex
	m  map[string]clientEntry
}

func (cc *clientCache) entry(ctx context.Context, id string) (clientEntry, error) {
	now := time.Now()
	cc.mu.Lock()
	e, ok := cc.m[id]
	cc.mu.Unlock()
	if ok && now.Sub(e.at) < clientTTL {
		return e, e.err
	}
	c, err := cc.st.Client(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return clientEntry{c: c}, err // not cached: a transient failure
	}
	e = clientEntry{c: c, err: err, at: now}
	if err == nil && len(c.JWKS) > 0 {
		var set jose.JSONWebKeySet
		if json.Unmarshal(c.JWKS, &set) == nil {
			e.keys = &set
		}
	}
	cc.mu.Lock()
	if len(cc.m) > 10000 {
		clear(cc.m) // unknown ids from hostile requests cannot grow it without bound
	}
	cc.m[id] = e
	cc.mu.Unlock()
	return e, err
}

// client returns a registered client (cached for clientTTL).
func (p *Provider) client(ctx context.Context, id string) (Client, error) {
	e, err := p.clients.entry(ctx, id)
	return e.c, err
}

// clientKeys returns a private_key_jwt client's parsed key set.
func (p *Provider) clientKeys(ctx context.Context, id string) (*jose.JSONWebKeySet, error) {
	e, err := p.clients.entry(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.c.AuthMethod != AuthPrivateKeyJWT || e.keys == nil {
		return nil, ErrNotFound
	}
	return e.keys, nil
}
