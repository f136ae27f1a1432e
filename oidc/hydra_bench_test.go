//go:build linux

package oidc_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store/storetest"
)

// BenchmarkHydra drives a running Ory Hydra on PostgreSQL with the same
// load generator and the same clocks as BenchmarkProvider (8 concurrent
// clients; CPU of the server process, of the PostgreSQL backends serving its
// database, and of Hydra's login and consent app, read apart from the load
// generator's). It is skipped unless scripts/bench.d/hydra.sh, which builds
// and starts Hydra, sets:
//
//	SHENFEN_HYDRA_PUBLIC  Hydra's public URL (its issuer), e.g. http://127.0.0.1:24444
//	SHENFEN_HYDRA_ADMIN   Hydra's admin URL
//	SHENFEN_HYDRA_PID     the Hydra process
//	SHENFEN_HYDRA_DB      the PostgreSQL URL of Hydra's database
//	SHENFEN_HYDRA_APP     HOST:PORT of the login and consent app, which this
//	                      benchmark starts (Hydra's urls.login is
//	                      http://HOST:PORT/login, urls.consent …/consent)
//
// SHENFEN_OIDC_BENCH_WARMUP whole flows run first (default 200), then
// ANALYZE on Hydra's database. The operations are those of
// BenchmarkProvider:
//
//   - Flow: authorize (PKCE S256, state, nonce) → login app (accepts the
//     login) → consent app (reads the consent request, grants what was
//     asked, with name and id_number claims in the ID token) → code → token
//     exchange (client_secret_basic) with the ID token (ES256 when Hydra's
//     key set hydra.openid.id-token holds an ES256 key; the benchmark checks).
//   - TokenPrivateKeyJWT: refresh_token grant, the client authenticated by a
//     fresh ES256 private_key_jwt assertion per request, refresh token rotated.
//   - Discovery and JWKS.
func BenchmarkHydra(b *testing.B) {
	pub, admin := os.Getenv("SHENFEN_HYDRA_PUBLIC"), os.Getenv("SHENFEN_HYDRA_ADMIN")
	if pub == "" || admin == "" {
		b.Skip("SHENFEN_HYDRA_PUBLIC and SHENFEN_HYDRA_ADMIN not set (scripts/bench.d/hydra.sh sets them)")
	}
	pid, err := strconv.Atoi(os.Getenv("SHENFEN_HYDRA_PID"))
	if err != nil {
		b.Fatalf("SHENFEN_HYDRA_PID: %v", err)
	}
	dbURL := os.Getenv("SHENFEN_HYDRA_DB")
	u, err := url.Parse(dbURL)
	if err != nil || dbURL == "" {
		b.Fatalf("SHENFEN_HYDRA_DB %q: %v", dbURL, err)
	}
	pg, err := sql.Open("pgx", storetest.PostgresAdminURL())
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()
	h := &hydra{public: strings.TrimSuffix(pub, "/"), admin: strings.TrimSuffix(admin, "/"), pid: pid,
		pg: pg, db: strings.TrimPrefix(u.Path, "/"), hc: benchHTTP(b)}
	h.app = startHydraApp(b, admin, os.Getenv("SHENFEN_HYDRA_APP"))
	h.setUp(b)
	n := 200
	if s := os.Getenv("SHENFEN_OIDC_BENCH_WARMUP"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	for range n {
		if _, err := h.flow(ctx, h.hotel, "openid profile"); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	analyze(b, dbURL)
	h.benches(b)
}

// hydra is a running Hydra and the clients registered with it.
type hydra struct {
	public, admin string
	pid, app      int
	pg            *sql.DB
	db            string
	hc            *http.Client
	hotel, bank   hydraClient
}

type hydraClient struct {
	id, secret string
	key        *ecdsa.PrivateKey // private_key_jwt when set
	redirect   string
}

func benchHTTP(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// setUp registers the two relying parties (as BenchmarkProvider's "hotel"
// and "bank") and checks that Hydra signs ID tokens with ES256.
func (h *hydra) setUp(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	var hotel struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := h.adminJSON(ctx, http.MethodPost, "/admin/clients", map[string]any{
		"client_name": "Grand Hotel", "grant_types": []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}, "scope": "openid offline_access profile",
		"redirect_uris": []string{hotelRedirect}, "token_endpoint_auth_method": "client_secret_basic",
	}, &hotel); err != nil {
		b.Fatal(err)
	}
	h.hotel = hydraClient{id: hotel.ID, secret: hotel.Secret, redirect: hotelRedirect}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: "bank-key", Algorithm: "ES256", Use: "sig"}
	var bank struct {
		ID string `json:"client_id"`
	}
	if err := h.adminJSON(ctx, http.MethodPost, "/admin/clients", map[string]any{
		"client_name": "Bank", "grant_types": []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}, "scope": "openid offline_access profile",
		"redirect_uris": []string{bankRedirect}, "token_endpoint_auth_method": "private_key_jwt",
		"token_endpoint_auth_signing_alg": "ES256", "jwks": map[string]any{"keys": []any{jwk}},
	}, &bank); err != nil {
		b.Fatal(err)
	}
	h.bank = hydraClient{id: bank.ID, key: key, redirect: bankRedirect}
	// The first JWKS request makes Hydra generate its other key sets (RSA):
	// not part of what is measured.
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/jwks.json"} {
		res, err := h.hc.Get(h.public + p)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	tok, err := h.flow(ctx, h.hotel, "openid profile")
	if err != nil {
		b.Fatal(err)
	}
	idt, _ := tok["id_token"].(string)
	hdr, _, _ := strings.Cut(idt, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(hdr)
	var jh struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &jh); err != nil || jh.Alg != "ES256" {
		b.Fatalf("Hydra's ID token is signed %q, want ES256 (hydra.sh creates the key set hydra.openid.id-token with ES256 first)", jh.Alg)
	}
}

func (h *hydra) adminJSON(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, h.admin+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := h.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("hydra admin %s %s: %s: %.300s", method, path, res.Status, raw)
	}
	return json.Unmarshal(raw, out)
}

// flow runs one authorization-code flow with PKCE for client c, asking for
// scope, through the login and consent app, and returns the token response.
func (h *hydra) flow(ctx context.Context, c hydraClient, scope string) (map[string]any, error) {
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {c.id}, "response_type": {"code"}, "redirect_uri": {c.redirect},
		"scope": {scope}, "state": {rand.Text()}, "nonce": {rand.Text()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Transport: h.hc.Transport, Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := h.public + "/oauth2/auth?" + q.Encode()
	// authorize → login app → authorize → consent app → authorize → callback
	for range 5 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		res, err := browser.Do(req)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
			return nil, fmt.Errorf("GET %s: %s: %.300s", next, res.Status, body)
		}
		loc, err := res.Location()
		if err != nil {
			return nil, err
		}
		next = loc.String()
	}
	cb, err := url.Parse(next)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(next, c.redirect) || cb.Query().Get("state") != q.Get("state") || cb.Query().Get("code") == "" {
		return nil, fmt.Errorf("flow ended at %s", next)
	}
	return h.token(ctx, c, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
		"code_verifier": {verifier}, "redirect_uri": {c.redirect}})
}

// token posts a token request with c's client authentication.
func (h *hydra) token(ctx context.Context, c hydraClient, f url.Values) (map[string]any, error) {
	endpoint := h.public + "/oauth2/token"
	if c.key != nil {
		a, err := oidctest.ClientAssertion(c.key, "bank-key", c.id, endpoint)
		if err != nil {
			return nil, err
		}
		f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		f.Set("client_assertion", a)
		f.Set("client_id", c.id)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(f.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.key == nil {
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	}
	res, err := h.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return out, fmt.Errorf("hydra token endpoint %s: %v", res.Status, out)
	}
	return out, nil
}

func (h *hydra) start(b *testing.B) *meter {
	return startMeter(b, &meter{server: h.pid, app: h.app, pgConn: h.pg, db: h.db})
}

func (h *hydra) benches(b *testing.B) {
	ctx := context.Background()
	b.Run("Flow", func(b *testing.B) {
		parallel8(b)
		m := h.start(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := h.flow(ctx, h.hotel, "openid profile"); err != nil {
					b.Error(err)
					return
				}
			}
		})
		m.stop(b, "flows/s")
	})
	b.Run("TokenPrivateKeyJWT", func(b *testing.B) {
		const workers = 8
		tokens := make(chan string, workers)
		for range workers {
			tok, err := h.flow(ctx, h.bank, "openid offline_access profile")
			if err != nil {
				b.Fatal(err)
			}
			rt, _ := tok["refresh_token"].(string)
			if rt == "" {
				b.Fatalf("no refresh token: %v", tok)
			}
			tokens <- rt
		}
		parallel8(b)
		m := h.start(b)
		b.RunParallel(func(pb *testing.PB) {
			rt := <-tokens
			for pb.Next() {
				out, err := h.token(ctx, h.bank, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				if err != nil {
					b.Error(err)
					return
				}
				rt, _ = out["refresh_token"].(string)
			}
		})
		m.stop(b, "req/s")
	})
	for _, s := range []struct{ name, path string }{
		{"Discovery", "/.well-known/openid-configuration"}, {"JWKS", "/.well-known/jwks.json"},
	} {
		b.Run(s.name, func(b *testing.B) {
			u := h.public + s.path
			parallel8(b)
			m := h.start(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := h.hc.Get(u)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
			m.stop(b, "req/s")
		})
	}
}

const (
	hydraAppEnv     = "SHENFEN_HYDRA_APP_CHILD" // Hydra's admin URL, in the app process
	hydraAppAddrEnv = "SHENFEN_HYDRA_APP_ADDR"
)

// startHydraApp runs the login and consent app in its own process (this
// test binary re-executed), listening on addr, and returns its pid.
func startHydraApp(b *testing.B, admin, addr string) int {
	b.Helper()
	if addr == "" {
		b.Fatal("SHENFEN_HYDRA_APP not set")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hydraAppEnv+"="+admin, hydraAppAddrEnv+"="+addr)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make([]byte, 64)
	if n, err := out.Read(line); err != nil || !strings.HasPrefix(string(line[:n]), "listening") {
		b.Fatalf("login and consent app did not start: %q %v", line[:n], err)
	}
	return cmd.Process.Pid
}

// serveHydraApp is the minimal login and consent app Hydra needs: the login
// is accepted for a fixed subject without reading the login request first
// (the least Hydra's protocol allows); the consent request is read (a real
// app must show what is asked) and granted as asked, with the name and
// id_number claims in the ID token.
func serveHydraApp(admin, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}, Timeout: time.Minute}
	call := func(r *http.Request, method, path string, in, out any) error {
		var body io.Reader
		if in != nil {
			raw, err := json.Marshal(in)
			if err != nil {
				return err
			}
			body = bytes.NewReader(raw)
		}
		req, err := http.NewRequestWithContext(r.Context(), method, admin+path, body)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		if res.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s: %.300s", method, path, res.Status, raw)
		}
		return json.Unmarshal(raw, out)
	}
	type redirect struct {
		To string `json:"redirect_to"`
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		var to redirect
		ch := url.QueryEscape(r.URL.Query().Get("login_challenge"))
		if err := call(r, http.MethodPut, "/admin/oauth2/auth/requests/login/accept?login_challenge="+ch,
			map[string]any{"subject": "citizen-1", "remember": false}, &to); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, to.To, http.StatusFound)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		ch := url.QueryEscape(r.URL.Query().Get("consent_challenge"))
		var cr struct {
			Scope    []string `json:"requested_scope"`
			Audience []string `json:"requested_access_token_audience"`
		}
		if err := call(r, http.MethodGet, "/admin/oauth2/auth/requests/consent?consent_challenge="+ch, nil, &cr); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var to redirect
		if err := call(r, http.MethodPut, "/admin/oauth2/auth/requests/consent/accept?consent_challenge="+ch, map[string]any{
			"grant_scope": cr.Scope, "grant_access_token_audience": cr.Audience, "remember": false,
			"session": map[string]any{"id_token": map[string]any{"name": "Wang Fang", "id_number": "11010519491231002X"}},
		}, &to); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, to.To, http.StatusFound)
	})
	fmt.Println("listening")
	err = (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
