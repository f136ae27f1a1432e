package status

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/shenfen/shenfen/keys/jws"
)

// Fetcher gets a status list token from its URI (package trustapi has the
// HTTP one, asking for application/statuslist+jwt).
type Fetcher interface {
	Fetch(ctx context.Context, uri string) ([]byte, error)
}

// Cache keeps raw tokens across restarts so that a verifier works offline.
type Cache interface {
	Load(uri string) ([]byte, error)
	Store(uri string, token []byte) error
}

// Checker is the verifier side: it answers the status of an index of a
// list, fetching the list's token when its cached copy is older than the
// token's ttl, verifying it (signature under a trusted key, sub equal to
// the URI, exp), and falling back to the last verified token while that is
// unexpired when fetching fails (offline). It is safe for concurrent use.
type Checker struct {
	// Fetcher fetches tokens; nil means offline only (Cache and Add).
	Fetcher Fetcher
	// Key finds the trusted key of a token (see [ChainKeys]).
	Key KeyFunc
	// Cache, if set, persists verified tokens.
	Cache Cache
	// Limits bound tokens.
	Limits Limits
	// DefaultTTL is used when a token has no ttl (default 5 minutes).
	DefaultTTL time.Duration
	// Skew is the clock skew allowed on iat (default 5 minutes).
	Skew time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu    sync.Mutex
	lists map[string]*cached
	// fetching holds one in-flight fetch per URI.
	fetching map[string]chan struct{}
}

type cached struct {
	tok     *Token
	fetched time.Time
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Status returns the status of entry index of the list at uri.
func (c *Checker) Status(ctx context.Context, uri string, index int) (Status, error) {
	tok, err := c.token(ctx, uri)
	if err != nil {
		return 0, err
	}
	return tok.List.Get(index)
}

// Prefetch fetches and verifies the token of every uri now (a verifier
// about to go offline; the URIs come from the issuer's aggregation
// endpoint). It returns the first error and keeps going.
func (c *Checker) Prefetch(ctx context.Context, uris []string) error {
	var first error
	for _, u := range uris {
		now := c.now()
		var tok *Token
		var err error
		if c.Fetcher == nil {
			err = fmt.Errorf("status: no fetcher")
		} else if raw, ferr := c.Fetcher.Fetch(ctx, u); ferr != nil {
			err = fmt.Errorf("status: fetch %s: %w", u, ferr)
		} else if tok, err = c.verify(u, raw, now); err == nil {
			c.put(u, tok, now)
			if c.Cache != nil {
				err = c.Cache.Store(u, raw)
			}
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Add verifies a token obtained out of band (a file carried to an offline
// verifier) and caches it for uri.
func (c *Checker) Add(uri string, raw []byte) error {
	now := c.now()
	tok, err := c.verify(uri, raw, now)
	if err != nil {
		return err
	}
	c.put(uri, tok, now)
	if c.Cache != nil {
		if err := c.Cache.Store(uri, raw); err != nil {
			return fmt.Errorf("status: cache %s: %w", uri, err)
		}
	}
	return nil
}

func (c *Checker) verify(uri string, raw []byte, now time.Time) (*Token, error) {
	if c.Key == nil {
		return nil, fmt.Errorf("%w: no trusted keys configured", ErrUntrusted)
	}
	tok, err := ParseToken(raw, c.Key, now, c.Limits)
	if err != nil {
		return nil, err
	}
	skew := c.Skew
	if skew == 0 {
		skew = 5 * time.Minute
	}
	if err := tok.Check(uri, now, skew); err != nil {
		return nil, err
	}
	return tok, nil
}

func (c *Checker) put(uri string, tok *Token, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lists == nil {
		c.lists = map[string]*cached{}
	}
	if old := c.lists[uri]; old != nil && old.tok.IssuedAt.After(tok.IssuedAt) {
		return // never replace a newer token by an older one (rollback)
	}
	c.lists[uri] = &cached{tok: tok, fetched: now}
}

func (c *Checker) fresh(e *cached, now time.Time) bool {
	ttl := e.tok.TTL
	if ttl == 0 {
		ttl = c.DefaultTTL
		if ttl == 0 {
			ttl = 5 * time.Minute
		}
	}
	return now.Sub(e.fetched) < ttl && e.usable(now)
}

func (e *cached) usable(now time.Time) bool {
	return e.tok.Expires.IsZero() || now.Before(e.tok.Expires)
}

func (c *Checker) token(ctx context.Context, uri string) (*Token, error) {
	for {
		now := c.now()
		c.mu.Lock()
		e := c.lists[uri]
		if e != nil && c.fresh(e, now) {
			c.mu.Unlock()
			return e.tok, nil
		}
		if c.fetching == nil {
			c.fetching = map[string]chan struct{}{}
		}
		if ch, busy := c.fetching[uri]; busy {
			c.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		c.fetching[uri] = ch
		c.mu.Unlock()
		tok, err := c.refresh(ctx, uri, e, now)
		c.mu.Lock()
		delete(c.fetching, uri)
		close(ch)
		c.mu.Unlock()
		return tok, err
	}
}

// refresh fetches and verifies uri's token; on failure it falls back to
// the in-memory or persisted token while that is unexpired.
func (c *Checker) refresh(ctx context.Context, uri string, e *cached, now time.Time) (*Token, error) {
	var ferr error
	if c.Fetcher != nil {
		raw, err := c.Fetcher.Fetch(ctx, uri)
		if err == nil {
			tok, verr := c.verify(uri, raw, now)
			if verr == nil {
				c.put(uri, tok, now)
				if c.Cache != nil {
					c.Cache.Store(uri, raw) // best effort: the token is verified and in memory
				}
				c.mu.Lock()
				tok = c.lists[uri].tok
				c.mu.Unlock()
				return tok, nil
			}
			ferr = verr
		} else {
			ferr = fmt.Errorf("status: fetch %s: %w", uri, err)
		}
	} else {
		ferr = fmt.Errorf("status: %s: not cached and no fetcher (offline)", uri)
	}
	if e != nil && e.usable(now) {
		return e.tok, nil
	}
	if c.Cache != nil {
		if raw, err := c.Cache.Load(uri); err == nil {
			if tok, err := c.verify(uri, raw, now); err == nil {
				c.put(uri, tok, now.Add(-24*time.Hour)) // stale: try the network next time
				return tok, nil
			}
		}
	}
	return nil, ferr
}

// DirCache is a [Cache] of token files in a directory, one per URI (named
// by the SHA-256 of the URI).
type DirCache string

func (d DirCache) path(uri string) string {
	h := sha256.Sum256([]byte(uri))
	return filepath.Join(string(d), hex.EncodeToString(h[:])+".jwt")
}

// Load reads the token cached for uri.
func (d DirCache) Load(uri string) ([]byte, error) { return os.ReadFile(d.path(uri)) }

// Store writes the token for uri atomically.
func (d DirCache) Store(uri string, token []byte) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(string(d), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(token); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), d.path(uri))
}

// ChainKeys returns a [KeyFunc] that trusts a token whose x5c chain (leaf
// first) leads to one of roots at the time of checking, and whose leaf is a
// P-256 key allowed to sign (keyUsage digitalSignature).
func ChainKeys(roots ...*x509.Certificate) KeyFunc {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	return func(h jws.Header, now time.Time) (*ecdsa.PublicKey, error) {
		if len(h.X5C) == 0 {
			return nil, errors.New("no x5c header")
		}
		if len(h.X5C) > 8 {
			return nil, fmt.Errorf("x5c of %d certificates", len(h.X5C))
		}
		leaf, err := x509.ParseCertificate(h.X5C[0])
		if err != nil {
			return nil, fmt.Errorf("x5c[0]: %v", err)
		}
		inter := x509.NewCertPool()
		for i, der := range h.X5C[1:] {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("x5c[%d]: %v", i+1, err)
			}
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, err
		}
		if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return nil, errors.New("x5c leaf may not sign (keyUsage)")
		}
		pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			return nil, errors.New("x5c leaf key is not P-256")
		}
		return pub, nil
	}
}
