package main

import (
	"context"
	"errors"
	"time"

	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/web"
)

// defaultBodyLimit is the body limit of every route not in bodyLimits.
const defaultBodyLimit = 64 << 10

// bodyLimits are the request body limits, in bytes, of the routes that take
// a body (docs/api.md section 7 lists the same table; a test compares them).
// The server answers 413 to a declared Content-Length over the limit and
// cuts a longer body off at it; handlers with a tighter limit of their own
// keep it.
var bodyLimits = map[string]int64{
	// Enrollment: selfie 4 MiB + audio 2 MiB + up to 8 frames of 1 MiB.
	"POST /api/enrollments":                      4 << 10,
	"POST /api/enrollments/{id}/submission":      16 << 20,
	"POST /vci/token":                            4 << 10,
	"POST /vci/nonce":                            1 << 10,
	"POST /vci/credential":                       256 << 10, // 20 key proofs with their key attestation
	"POST /api/verifier/requests":                4 << 10,
	"DELETE /api/verifier/requests/{id}":         1 << 10,
	"POST /oid4vp/responses/{id}":                1 << 20,
	"POST /api/wallet/nonce":                     1 << 10,
	"POST /api/wallet/suspend":                   1 << 10,
	"POST /api/wallet/revocation-code":           1 << 10,
	"POST /api/wallet/lost":                      1 << 10,
	"POST /verifier/api/check":                   64 << 10,
	"POST /oidc/authorize":                       64 << 10,
	"POST /oidc/par":                             64 << 10,
	"POST /oidc/wallet/response/{txn}":           512<<10 + 4<<10,
	"POST /oidc/oauth/token":                     64 << 10,
	"POST /oidc/revoke":                          4 << 10,
	"POST /oidc/oauth/introspect":                4 << 10,
	"/oidc/userinfo":                             4 << 10,
	"/oidc/end_session":                          4 << 10,
	"/oidc/authorize/callback":                   1 << 10,
	"/oidc/":                                     4 << 10,
	"POST /admin/session":                        4 << 10,
	"DELETE /admin/session":                      1 << 10,
	"POST /admin/console/api/":                   1 << 20, // as the API it forwards to
	"PUT /admin/console/api/":                    1 << 20,
	"DELETE /admin/console/api/":                 1 << 10,
	"POST /admin/status":                         4 << 10,
	"POST /admin/api/registry":                   1 << 20, // a record with its portrait (base64)
	"POST /admin/api/registry/{id}/status":       4 << 10,
	"POST /admin/api/cards/{card}/status":        4 << 10,
	"POST /admin/api/rps":                        64 << 10,
	"PATCH /admin/api/rps/{id}":                  64 << 10,
	"DELETE /admin/api/rps/{id}":                 1 << 10,
	"POST /admin/api/verifiers":                  64 << 10,
	"PUT /admin/api/verifiers/{id}":              64 << 10,
	"POST /admin/api/verifiers/{id}/certificate": 4 << 10,
	"DELETE /admin/api/verifiers/{id}":           1 << 10,
}

// Per-client rate limits of the unauthenticated endpoints that store rows
// or hold state, kept in the database (every server counts together).
func (a *app) walletNonceLimit() *store.RateLimiter {
	return a.rateLimiter("wallet-nonce-client", web.NonceClientEvery, web.NonceClientBurst)
}

func (a *app) vciNonceLimit() *store.RateLimiter {
	return a.rateLimiter("vci-nonce-client", oid4vc.NonceClientEvery, oid4vc.NonceClientBurst)
}

func (a *app) authorizeLimit() *store.RateLimiter {
	return a.rateLimiter("oidc-authorize-client", oidc.AuthorizeClientEvery, oidc.AuthorizeClientBurst)
}

func (a *app) signInLimits() (client, token *store.RateLimiter) {
	return a.rateLimiter("console-signin-client", web.SignInClientEvery, web.SignInClientBurst),
		a.rateLimiter("console-signin-token", web.SignInTokenEvery, web.SignInTokenBurst)
}

// walletNonceMAC keys the wallet's stateless sign-in nonces: a blind index
// under the master key, the same on every server.
func (a *app) walletNonceMAC(data []byte) []byte { return a.sealer.Index("wallet-nonce", data) }

// applyEdge sets the server's body limits and trusted proxies.
func applyEdge(a *app, srv *server.Server) error {
	proxies, err := a.cfg.TrustedProxyPrefixes()
	if err != nil {
		return err
	}
	srv.TrustedProxies = proxies
	srv.MaxBodyBytes = defaultBodyLimit
	for p, n := range bodyLimits {
		srv.SetBodyLimit(p, n)
	}
	return nil
}

// loop is background work that serve runs at start and then every period,
// joined at shutdown.
type loop struct {
	name  string
	every time.Duration
	run   func(ctx context.Context, now time.Time) error
}

// addLoop registers background work for serve.
func (a *app) addLoop(name string, every time.Duration, run func(ctx context.Context, now time.Time) error) {
	a.loops = append(a.loops, loop{name, every, run})
}

// runLoop runs l until ctx ends; failures are logged and retried next
// period (a sweep that fails once only leaves rows for the next one).
// Each run takes the loop's database lock first, so that of several
// servers on one database one runs it at a time; a server that finds the
// lock taken skips the period (another is doing the work). The work itself
// is safe to repeat: sweeps delete what has expired, and applying a
// pending revocation twice changes the status once (its list row lock).
func (a *app) runLoop(ctx context.Context, l loop) error {
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	for {
		if err := a.runOnce(ctx, l); err != nil && ctx.Err() == nil {
			a.log.Error("background "+l.name, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// runOnce runs l once under its lock, or not at all when another server
// holds it.
func (a *app) runOnce(ctx context.Context, l loop) error {
	unlock, err := a.db.TryLock(ctx, "loop "+l.name)
	if errors.Is(err, store.ErrLocked) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unlock()
	return l.run(ctx, time.Now())
}

// maintenance registers the storage upkeep: expired rate-limit rows and
// single-use records are deleted, and the SQLite WAL is checkpointed and
// truncated, every minute.
func (a *app) maintenance() {
	limits := a.rateLimiter("sweep", time.Second, 1)
	a.addLoop("storage upkeep", time.Minute, func(ctx context.Context, now time.Time) error {
		if _, err := limits.Sweep(ctx, now); err != nil {
			return err
		}
		if _, err := a.db.SingleUse().Sweep(ctx, now); err != nil {
			return err
		}
		busy, pages, err := a.db.Checkpoint(ctx)
		if err != nil {
			return err
		}
		if busy {
			a.log.Warn("WAL checkpoint incomplete: readers held it", "wal_pages", pages)
		}
		return nil
	})
}
