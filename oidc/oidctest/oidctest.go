// Package oidctest runs shenfen's OpenID Provider in-process for tests,
// benchmarks and interop runs: a real card (SD-JWT VC issued by a test
// authority, bound to a device key), a scripted wallet that answers login
// transactions the way the wallet page does, and a scripted browser that
// walks the login page and the login's finish.
package oidctest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/verifier"
)

// Authority is a test card issuer with its status double and its record
// of how each card's enrollment was proofed (oidc.EnrollmentRecords).
type Authority struct {
	Issuer *credtest.Issuer
	Status *credtest.Status

	mu     sync.Mutex
	proofs map[int]oidc.EnrollmentProof // by status index
}

// FullProof is the record of an enrollment that passed face match,
// liveness and the spoken digits (the cards of NewCard).
var FullProof = oidc.EnrollmentProof{Approved: true, FaceMatched: true, Live: true, Spoken: true, CardActive: true}

// SetProof records how card's enrollment was proofed.
func (a *Authority) SetProof(card *Card, p oidc.EnrollmentProof) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proofs == nil {
		a.proofs = map[int]oidc.EnrollmentProof{}
	}
	a.proofs[card.Status.Index] = p
}

// Forget removes card's enrollment record (a card issued outside the
// enrollment flow).
func (a *Authority) Forget(card *Card) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.proofs, card.Status.Index)
}

// EnrollmentProof implements oidc.EnrollmentRecords.
func (a *Authority) EnrollmentProof(_ context.Context, uri string, index int) (oidc.EnrollmentProof, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.proofs[index]
	if !ok || uri != StatusURI {
		return oidc.EnrollmentProof{}, oidc.ErrNotFound
	}
	return p, nil
}

// NewAuthority makes a test issuing authority.
func NewAuthority() (*Authority, error) {
	iss, err := credtest.NewIssuer("shenfen oidc test", time.Now().AddDate(-1, 0, 0))
	if err != nil {
		return nil, err
	}
	return &Authority{Issuer: iss, Status: &credtest.Status{}}, nil
}

// StatusURI is where the test cards' status list lives.
const StatusURI = "https://status.shenfen.test/lists/1"

// Card is an issued card and the device key it is bound to.
type Card struct {
	Issued string
	Holder *ecdsa.PrivateKey
	PID    credential.PID
	Status credential.StatusRef
}

var statusIndex atomic.Int64

// NewCard issues a card for a citizen, recorded as fully proofed
// (FullProof); edit may change the sample holder's data (ID number, names,
// birth date).
func (a *Authority) NewCard(edit func(*credential.PID)) (*Card, error) {
	p := credential.PID{
		FamilyName: "张", GivenName: "三", NameOriginal: "张三",
		Sex: credential.SexMale, BirthDate: "1990-03-07", Ethnicity: "汉",
		Address: "广东省广州市南沙区进港大道 1 号", IDNumber: "440115199003070016",
		Authority: "广州市公安局南沙分局", Country: "CN", IssuedOn: "2020-01-01", ExpiresOn: "2040-01-01",
	}
	if img, thumb, err := credtest.Portrait(); err == nil {
		p.Portrait, p.Thumbnail = img, thumb
	}
	if edit != nil {
		edit(&p)
	}
	pid, err := credential.NewPID(p)
	if err != nil {
		return nil, err
	}
	hk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ref := credential.StatusRef{URI: StatusURI, Index: int(statusIndex.Add(1))}
	now := time.Now()
	issued, err := sdjwt.Issue(context.Background(), sdjwt.IssueParams{
		Issuer: "https://id.shenfen.test", Profile: credential.ProfileCN, PID: pid, Holder: &hk.PublicKey,
		Status: &ref, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.AddDate(1, 0, 0),
		Signer: a.Issuer.Signer(), Chain: a.Issuer.Chain,
	})
	if err != nil {
		return nil, err
	}
	c := &Card{Issued: issued, Holder: hk, PID: pid, Status: ref}
	a.SetProof(c, FullProof)
	return c, nil
}

// Verifier is the real presentation verifier over this authority's anchors.
func (a *Authority) Verifier() oidc.PresentationVerifier {
	return oidc.CardVerifier{SDJWT: &sdjwt.Verifier{Anchors: a.Issuer.Anchors(), Status: a.Status}}
}

// Env is a provider served on a loopback port.
type Env struct {
	Provider  *oidc.Provider
	Server    *httptest.Server
	Issuer    string
	Store     oidc.Store
	Authority *Authority
	Recorded  chan oidc.Disclosure
	// RequestRoot is the test authority's root that certifies the
	// provider's sign-in key; SignIn is the sign-in's registration. A
	// Wallet with Checker (NewChecker) verifies every request with them.
	RequestRoot *x509.Certificate
	SignIn      verifier.Public
}

// NewChecker is the wallet's request check against this provider's test
// authority (verifier.Checker; the sign-in is the one registration).
func (e *Env) NewChecker() *verifier.Checker {
	return &verifier.Checker{Root: e.RequestRoot, Lookup: func(_ context.Context, h string) (verifier.Public, error) {
		if h != e.SignIn.CertHash {
			return verifier.Public{}, verifier.ErrNotFound
		}
		return e.SignIn, nil
	}}
}

// signInKey makes a test authority root and the provider's sign-in
// certificate under it for host (what the verifier registry does with the
// authority's key ring in the server).
func signInKey(host string) (oidc.RequestKey, *x509.Certificate, verifier.Public, error) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "oidctest IACA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	if err != nil {
		return oidc.RequestKey{}, nil, verifier.Public{}, err
	}
	root, _ := x509.ParseCertificate(caDER)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{keys.OIDMdocReaderAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, root, k.Public(), caKey)
	if err != nil {
		return oidc.RequestKey{}, nil, verifier.Public{}, err
	}
	v := verifier.Verifier{ID: "sign-in", Kind: verifier.SignIn, Name: verifier.Text{Zh: "身份证登录", En: "Sign in with the ID card"},
		Purpose: verifier.Text{Zh: "登录", En: "Sign-in"}, DNSNames: []string{host}, Cert: der, CertHash: verifier.CertHash(der)}
	for _, c := range credential.ProfileCN.Claims() {
		v.Claims = append(v.Claims, verifier.Claim{Name: c.JWT[0]})
	}
	return oidc.RequestKey{Signer: k, Cert: der, ClientID: v.ClientID()}, root, v.Public(), nil
}

// Start serves a provider over st on 127.0.0.1 (Close the Env when done);
// edit, if given, adjusts the configuration (clock, lifetimes).
func Start(st oidc.Store, log *slog.Logger, edit ...func(*oidc.Config)) (*Env, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &Env{Store: st, Issuer: "http://" + ln.Addr().String() + "/oidc", Recorded: make(chan oidc.Disclosure, 1024)}
	if e.Authority, err = NewAuthority(); err != nil {
		ln.Close()
		return nil, err
	}
	sealer, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{9}, seal.KeySize)})
	if err != nil {
		ln.Close()
		return nil, err
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, root, signIn, err := signInKey("127.0.0.1")
	if err != nil {
		ln.Close()
		return nil, err
	}
	e.RequestRoot, e.SignIn = root, signIn
	rsaK, err := rsaKey()
	if err != nil {
		ln.Close()
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := oidc.Config{
		Issuer: e.Issuer, Store: st, Signer: key, RSASigner: rsaK, Secret: bytes.Repeat([]byte{7}, 32), Sealer: sealer,
		Verifier: e.Authority.Verifier(), Enrollments: e.Authority, Recorder: recorder(e.Recorded), Log: log,
		RequestKey: func(context.Context) (oidc.RequestKey, error) { return rk, nil },
	}
	for _, f := range edit {
		f(&cfg)
	}
	e.Provider, err = oidc.New(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(e.Provider.Path()+"/", e.Provider.Handler())
	e.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	e.Server.Start()
	return e, nil
}

// rsaKey is the providers' RS256 key, made once per test binary (a 2048-bit
// key takes a noticeable time to make).
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// Close stops the server.
func (e *Env) Close() { e.Server.Close() }

type recorder chan oidc.Disclosure

func (r recorder) RecordDisclosure(_ context.Context, d oidc.Disclosure) error {
	select {
	case r <- d:
	default:
	}
	return nil
}

// SecretClient registers a client_secret_basic client and returns its
// secret. The client has an English name only, as a registration made
// before names had two languages (oidc.Update gives it both).
func (e *Env) SecretClient(ctx context.Context, id, name, redirect, claims string) (string, error) {
	ents, err := oidc.ParseEntitlements(claims)
	if err != nil {
		return "", err
	}
	secret := "secret-" + id
	h := sha256.Sum256([]byte(secret))
	return secret, e.Store.PutClient(ctx, oidc.Client{ID: id, Name: verifier.Text{En: name}, RedirectURIs: []string{redirect},
		PostLogoutRedirectURIs: []string{redirect}, AuthMethod: oidc.AuthSecretBasic, SecretHash: h[:],
		Sector: hostOf(redirect), Entitlements: ents, Created: time.Now()})
}

// KeyClient registers a private_key_jwt client with a new P-256 key and,
// like SecretClient, an English name only.
func (e *Env) KeyClient(ctx context.Context, id, name, redirect, claims string) (*ecdsa.PrivateKey, error) {
	ents, err := oidc.ParseEntitlements(claims)
	if err != nil {
		return nil, err
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	jwks, err := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "kid": id + "-key", "alg": "ES256", "use": "sig",
		"x": b64(pub[1:33]), "y": b64(pub[33:65]),
	}}})
	if err != nil {
		return nil, err
	}
	return k, e.Store.PutClient(ctx, oidc.Client{ID: id, Name: verifier.Text{En: name}, RedirectURIs: []string{redirect},
		AuthMethod: oidc.AuthPrivateKeyJWT, JWKS: jwks, Sector: hostOf(redirect), Entitlements: ents, Created: time.Now()})
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Host
}

// Wallet answers login transactions with a card, like the wallet page.
type Wallet struct {
	Card *Card
	HTTP *http.Client
	// Withhold lists card paths not to disclose (the citizen unticked them).
	Withhold []string
	// Extra lists card paths to disclose beyond the request (a hostile or
	// buggy wallet).
	Extra []string
	// Audience and Nonce, when set, replace the request's (hostile tests).
	Audience, Nonce string
	// Checker, when set, verifies each request object as shenfen's wallet
	// does (Env.NewChecker); otherwise its payload is read unverified.
	Checker *verifier.Checker
}

// Request fetches a wallet request object and returns its payload.
func (w *Wallet) Request(ctx context.Context, requestURI string) (*oidc.WalletRequest, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, requestURI, nil)
	res, err := w.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("wallet request: %s: %s", res.Status, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/oauth-authz-req+jwt" {
		return nil, fmt.Errorf("wallet request: content type %q", ct)
	}
	if w.Checker != nil {
		c, err := w.Checker.Check(ctx, string(b), "")
		if err != nil {
			return nil, err
		}
		return &c.Request, nil
	}
	p, err := jws.Parse(b, 1<<20)
	if err != nil {
		return nil, err
	}
	var wr oidc.WalletRequest
	return &wr, json.Unmarshal(p.Payload, &wr)
}

func (w *Wallet) client() *http.Client {
	if w.HTTP != nil {
		return w.HTTP
	}
	return http.DefaultClient
}

// Paths lists the card paths a request's DCQL query asks for, dotted
// ("age_equal_or_over.18").
func Paths(wr *oidc.WalletRequest) []string {
	var out []string
	for _, q := range wr.DCQL.Credentials {
		for _, c := range q.Claims {
			var parts []string
			for _, p := range c.Path {
				parts = append(parts, fmt.Sprint(p))
			}
			out = append(out, strings.Join(parts, "."))
		}
	}
	return out
}

// Present makes the presentation for a wallet request.
func (w *Wallet) Present(ctx context.Context, wr *oidc.WalletRequest) (string, error) {
	var disclose []string
	for _, p := range append(Paths(wr), w.Extra...) {
		withheld := false
		for _, x := range w.Withhold {
			withheld = withheld || x == p
		}
		if !withheld {
			disclose = append(disclose, p)
		}
	}
	aud, nonce := wr.ClientID, wr.Nonce
	if w.Audience != "" {
		aud = w.Audience
	}
	if w.Nonce != "" {
		nonce = w.Nonce
	}
	return sdjwt.Present(ctx, w.Card.Issued, disclose, w.Card.Holder, aud, nonce, time.Now())
}

// VPToken is the DCQL vp_token of a presentation: {"pid": [vp]}.
func VPToken(vp string) string {
	b, _ := json.Marshal(map[string][]string{"pid": {vp}})
	return string(b)
}

// Respond posts a presentation to the request's response URI and returns
// the redirect_uri of the answer.
func (w *Wallet) Respond(ctx context.Context, wr *oidc.WalletRequest, vp string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, wr.ResponseURI, strings.NewReader(url.Values{"vp_token": {VPToken(vp)}, "state": {wr.State}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := w.client().Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		RedirectURI string `json:"redirect_uri"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: %s: %s %s", ErrRefused, res.Status, out.Error, out.Description)
	}
	return out.RedirectURI, nil
}

// Decline fetches the request and answers it the way the wallet does
// when the citizen declines: an OpenID4VP error response, access_denied.
func (w *Wallet) Decline(ctx context.Context, requestURI string) error {
	wr, err := w.Request(ctx, requestURI)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, wr.ResponseURI, strings.NewReader(url.Values{"error": {"access_denied"}, "state": {wr.State}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := w.client().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s", ErrRefused, res.Status)
	}
	return nil
}

// ErrRefused is returned when the provider refuses a wallet response.
var ErrRefused = errors.New("oidctest: wallet response refused")

// Approve fetches the request, presents the card and posts it.
func (w *Wallet) Approve(ctx context.Context, requestURI string) (string, error) {
	wr, err := w.Request(ctx, requestURI)
	if err != nil {
		return "", err
	}
	vp, err := w.Present(ctx, wr)
	if err != nil {
		return "", err
	}
	return w.Respond(ctx, wr, vp)
}

// Browser walks the provider's pages with a cookie jar, following no
// redirect by itself so each hop can be checked.
type Browser struct{ HTTP *http.Client }

// NewBrowser makes a browser with an empty cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Get fetches u and returns status, Location and body.
func (b *Browser) Get(ctx context.Context, u string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", "", err
	}
	return b.do(req)
}

// PostForm posts a form.
func (b *Browser) PostForm(ctx context.Context, u string, f url.Values) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(f.Encode()))
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *Browser) do(req *http.Request) (int, string, string, error) {
	res, err := b.HTTP.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	loc := ""
	if l, err := res.Location(); err == nil {
		loc = l.String()
	}
	return res.StatusCode, loc, string(body), err
}

var (
	reqURIRe = regexp.MustCompile(`#/approve\?client_id=[^&"]*&amp;request_uri=([^"]+)"`)
)

// RequestURI extracts the wallet request URI from a login page.
func RequestURI(page string) (string, error) {
	m := reqURIRe.FindStringSubmatch(page)
	if m == nil {
		return "", errors.New("oidctest: no wallet link on the login page")
	}
	return url.QueryUnescape(html.UnescapeString(m[1]))
}

// Login runs the browser side of a login from the RP's authorization URL:
// authorize → login page → wallet approval (the one consent: w leaves out
// the optional claims in w.Withhold) → finish → the RP's callback URL.
func (b *Browser) Login(ctx context.Context, authURL string, w *Wallet) (*url.URL, error) {
	st, loc, body, err := b.Get(ctx, authURL)
	if err != nil {
		return nil, err
	}
	if st != http.StatusFound && st != http.StatusSeeOther {
		return nil, fmt.Errorf("authorize: status %d: %.200s", st, body)
	}
	if u, _ := url.Parse(loc); u != nil && u.Query().Get("error") != "" {
		return u, nil // the RP gets an error
	}
	loginURL := resolve(authURL, loc)
	st, _, body, err = b.Get(ctx, loginURL)
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("login page: status %d: %.300s", st, body)
	}
	ru, err := RequestURI(body)
	if err != nil {
		return nil, err
	}
	if _, err := w.Approve(ctx, ru); err != nil {
		return nil, err
	}
	// The citizen consented in the wallet (its Withhold left optional
	// claims out); the login page's next step finishes the login.
	st, loc, body, err = b.Get(ctx, strings.Replace(loginURL, "/login?", "/finish?", 1))
	if err != nil {
		return nil, err
	}
	if st != http.StatusFound && st != http.StatusSeeOther {
		return nil, fmt.Errorf("finish: status %d: %.300s", st, body)
	}
	return url.Parse(resolve(authURL, loc))
}

func resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// ClientAssertion makes a private_key_jwt client assertion (RFC 7523) for
// clientID, signed ES256 with key, for the audience (the issuer).
func ClientAssertion(key *ecdsa.PrivateKey, kid, clientID, audience string) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return "", err
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": clientID, "sub": clientID, "aud": audience,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": rand.Text()})
	obj, err := signer.Sign(claims)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// RP is a scripted relying party: it drives whole flows for load tests.
type RP struct {
	Issuer, ClientID, Redirect string
	Scopes                     []string
	// Secret (client_secret_basic) or Key and KID (private_key_jwt).
	Secret string
	Key    *ecdsa.PrivateKey
	KID    string
	HTTP   *http.Client
}

// Flow runs authorize with PKCE, the browser login with wallet approval,
// and the code exchange; it returns the token response.
func (rp *RP) Flow(ctx context.Context, w *Wallet) (map[string]any, error) {
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {rp.ClientID}, "response_type": {"code"}, "redirect_uri": {rp.Redirect},
		"scope": {strings.Join(rp.Scopes, " ")}, "state": {rand.Text()}, "nonce": {rand.Text()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	b := NewBrowser()
	if rp.HTTP != nil {
		b.HTTP.Transport = rp.HTTP.Transport
		w = &Wallet{Card: w.Card, HTTP: rp.HTTP, Withhold: w.Withhold, Extra: w.Extra, Checker: w.Checker}
	}
	cb, err := b.Login(ctx, rp.Issuer+"/authorize?"+q.Encode(), w)
	if err != nil {
		return nil, err
	}
	if cb.Query().Get("state") != q.Get("state") {
		return nil, fmt.Errorf("oidctest: state mismatch in %v", cb)
	}
	return rp.Exchange(ctx, cb.Query().Get("code"), verifier)
}

// Exchange redeems a code at the token endpoint.
func (rp *RP) Exchange(ctx context.Context, code, verifier string) (map[string]any, error) {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {rp.Redirect}}
	return rp.Token(ctx, f)
}

// Token posts a token request with the RP's client authentication.
func (rp *RP) Token(ctx context.Context, f url.Values) (map[string]any, error) {
	if rp.Key != nil {
		a, err := ClientAssertion(rp.Key, rp.KID, rp.ClientID, rp.Issuer)
		if err != nil {
			return nil, err
		}
		f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		f.Set("client_assertion", a)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rp.Issuer+"/oauth/token", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if rp.Key == nil {
		req.SetBasicAuth(url.QueryEscape(rp.ClientID), url.QueryEscape(rp.Secret))
	}
	hc := rp.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return out, fmt.Errorf("oidctest: token endpoint %s: %v", res.Status, out)
	}
	return out, nil
}
