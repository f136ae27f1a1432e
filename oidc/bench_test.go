//go:build unix

package oidc_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// The benchmarks drive the provider over loopback HTTP with 8 concurrent
// clients (RunParallel with parallelism 8/GOMAXPROCS), as Hydra's published
// figures were measured with 8 concurrent flows. Client work (presentation
// signing, client assertions) runs on the same cores.

func benchEnv(b *testing.B, db *store.DB) (*oidctest.Env, *http.Client) {
	b.Helper()
	e, err := oidctest.Start(db.OIDC(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	return e, &http.Client{Transport: tr, Timeout: time.Minute}
}

// cpuTime is the CPU time (user + system) this process has used: the
// machine is shared, so wall-clock rates depend on the neighbours, while
// CPU time per operation does not (much).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rates reports the wall-clock rate and the CPU time per operation of the
// whole process (server, database for SQLite, and the scripted clients).
func rates(b *testing.B, unit string, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

func parallel8(b *testing.B) {
	p := 8 / max(1, runtime.GOMAXPROCS(0))
	b.SetParallelism(max(1, p))
}

func drivers(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, storetest.Postgres(b)) })
}

// BenchmarkFlow is a whole login: authorize (PKCE) → login page → wallet
// request → card presentation (SD-JWT VC + KB-JWT) → verification with
// status → finish → code → token exchange (client_secret_basic) → ID token.
func BenchmarkFlow(b *testing.B) {
	drivers(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		e, hc := benchEnv(b, db)
		secret, err := e.SecretClient(ctx, "hotel", "Grand Hotel", "http://hotel.example/callback", "name,id_number")
		if err != nil {
			b.Fatal(err)
		}
		card, err := e.Authority.NewCard(nil)
		if err != nil {
			b.Fatal(err)
		}
		rp := &oidctest.RP{Issuer: e.Issuer, ClientID: "hotel", Secret: secret, Redirect: "http://hotel.example/callback",
			Scopes: []string{"openid", "profile", "id_number"}, HTTP: hc}
		parallel8(b)
		b.ResetTimer()
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			w := &oidctest.Wallet{Card: card}
			for pb.Next() {
				if _, err := rp.Flow(ctx, w); err != nil {
					b.Error(err)
					return
				}
			}
		})
		rates(b, "flows/s", cpu0)
	})
}

// BenchmarkTokenPrivateKeyJWT is the token endpoint with private_key_jwt
// (ES256 client assertion made per request): each worker rotates its own
// refresh token, so every request verifies the assertion, rotates the
// refresh token in one transaction, stores an access token and signs an
// ES256 ID token.
func BenchmarkTokenPrivateKeyJWT(b *testing.B) {
	drivers(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		e, hc := benchEnv(b, db)
		key, err := e.KeyClient(ctx, "bank", "Bank", "https://bank.example/cb", "name,id_number")
		if err != nil {
			b.Fatal(err)
		}
		card, err := e.Authority.NewCard(nil)
		if err != nil {
			b.Fatal(err)
		}
		rp := &oidctest.RP{Issuer: e.Issuer, ClientID: "bank", Key: key, KID: "bank-key", Redirect: "https://bank.example/cb",
			Scopes: []string{"openid", "profile", "offline_access"}, HTTP: hc}
		// One refresh token per worker, obtained by a full flow each.
		const workers = 8
		tokens := make(chan string, workers)
		for range workers {
			tok, err := rp.Flow(ctx, &oidctest.Wallet{Card: card})
			if err != nil {
				b.Fatal(err)
			}
			tokens <- tok["refresh_token"].(string)
		}
		parallel8(b)
		b.ResetTimer()
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			rt := <-tokens
			for pb.Next() {
				out, err := rp.Token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				if err != nil {
					b.Error(err)
					return
				}
				rt = out["refresh_token"].(string)
			}
		})
		rates(b, "req/s", cpu0)
	})
}

func benchGet(b *testing.B, path string, conditional bool) {
	e, hc := benchEnv(b, storetest.SQLite(b))
	u := e.Issuer + path
	res, err := hc.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	etag := res.Header.Get("ETag")
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	parallel8(b)
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if conditional {
				req.Header.Set("If-None-Match", etag)
			}
			res, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNotModified {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	rates(b, "req/s", cpu0)
}

// BenchmarkDiscovery and BenchmarkJWKS serve the precomputed documents.
func BenchmarkDiscovery(b *testing.B) { benchGet(b, "/.well-known/openid-configuration", false) }

// BenchmarkJWKS is the key set (full body, no conditional request).
func BenchmarkJWKS(b *testing.B) { benchGet(b, "/keys", false) }
