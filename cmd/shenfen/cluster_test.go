//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/config"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/verifier"
)

// The cluster tests run several shenfen servers (this test binary
// re-executed as `shenfen serve`, one process each) on the PostgreSQL
// cluster of scripts/cluster.sh, behind a small balancer in the test, and
// kill the database primary and a server under load. scripts/test.d/cluster.sh
// starts the cluster and sets:
//
//   - SHENFEN_TEST_CLUSTER: the cluster's multi-host URL (any database name;
//     the test makes a database of its own);
//   - SHENFEN_CLUSTER_DIR and SHENFEN_CLUSTER_PORT: passed on to
//     scripts/cluster.sh kill-primary / revive;
//   - SHENFEN_TEST_CLUSTER_HAPROXY: the HAProxy URL, which the third server
//     uses;
//   - SHENFEN_CLUSTER_FAILOVERS: how many primary failovers (default 1);
//   - SHENFEN_CLUSTER_REPORT: a file that gets one JSON line per failover.
const clusterChildEnv = "SHENFEN_CLUSTER_CHILD"

func TestMain(m *testing.M) {
	if v := os.Getenv(clusterChildEnv); v != "" {
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			fmt.Fprintln(os.Stderr, "cluster child:", err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := runServe(ctx, args)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "shenfen serve:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// balancer is the one address in front of the servers: round robin over
// the live ones; a request whose connection could not even be made goes to
// the next server (nothing was sent), any other failure is the client's.
type balancer struct {
	backends []string // host:port
	next     atomic.Uint64
	tr       *http.Transport
	// pick, when set, chooses the backend of a request (tests of one flow
	// across two servers); served records the choices.
	mu     sync.Mutex
	pick   func(r *http.Request) int
	served []int
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	pick := b.pick
	b.mu.Unlock()
	start := int(b.next.Add(1))
	if pick != nil {
		start = pick(r)
	}
	var lastErr error
	for i := range b.backends {
		n := (start + i) % len(b.backends)
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+b.backends[n]+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		out.Host = r.Host
		out.Header.Set("X-Forwarded-For", clientIP(r))
		res, err := b.tr.RoundTrip(out)
		if err != nil {
			lastErr = err
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" && pick == nil {
				continue // refused: that server is down, nothing was sent
			}
			break
		}
		b.mu.Lock()
		b.served = append(b.served, n)
		b.mu.Unlock()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
		res.Body.Close()
		return
	}
	http.Error(w, "balancer: "+fmt.Sprint(lastErr), http.StatusBadGateway)
}

// clientIP gives each scripted client its own address (X-Test-Client), so
// that per-client rate limits treat them as different citizens.
func clientIP(r *http.Request) string {
	if c := r.Header.Get("X-Test-Client"); c != "" {
		return c
	}
	var b [2]byte
	rand.Read(b[:])
	return fmt.Sprintf("10.9.%d.%d", b[0], b[1])
}

// child is one shenfen server process.
type child struct {
	addr string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
}

type cluster struct {
	t       *testing.T
	dbURL   string
	data    string
	token   string
	public  string
	bal     *balancer
	servers []*child
	tool    *app // this process's own app on the same data and database
	rp      *oidctest.RP
	http    *http.Client
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// clusterDatabase makes a fresh database on the cluster and returns its
// multi-host URL.
func clusterDatabase(t *testing.T, base string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var b [5]byte
	rand.Read(b[:])
	name := fmt.Sprintf("shenfen_cluster_%x", b)
	admin := *u
	admin.Path = "/postgres"
	out, err := exec.Command("psql", admin.String(), "-qc", "CREATE DATABASE "+name).CombinedOutput()
	if err != nil {
		t.Fatalf("create database: %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("psql", admin.String(), "-qc", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)").Run()
	})
	u.Path = "/" + name
	// pgx stops at the first host that answers "no such database", as a
	// replica does until it has replayed the CREATE DATABASE: wait for
	// every node to have it.
	for _, host := range strings.Split(u.Host, ",") {
		one := *u
		one.Host = host
		q := one.Query()
		q.Del("target_session_attrs")
		one.RawQuery = q.Encode()
		hp := strings.SplitN(host, ":", 2)
		if len(hp) != 2 || exec.Command("pg_isready", "-q", "-h", hp[0], "-p", hp[1]).Run() != nil {
			continue // a node that is down gets the database when it comes back
		}
		deadline := time.Now().Add(30 * time.Second)
		for exec.Command("psql", one.String(), "-Atqc", "select 1").Run() != nil {
			if time.Now().After(deadline) {
				t.Fatalf("database %s not on %s after 30 s", name, host)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return u.String()
}

func startCluster(t *testing.T, servers int) *cluster {
	base := os.Getenv("SHENFEN_TEST_CLUSTER")
	if base == "" {
		t.Skip("SHENFEN_TEST_CLUSTER not set: scripts/test.d/cluster.sh runs these tests on a Patroni cluster")
	}
	c := &cluster{t: t, dbURL: clusterDatabase(t, base), data: t.TempDir(), token: "cluster-admin-token-0123456789"}
	c.bal = &balancer{tr: &http.Transport{MaxIdleConnsPerHost: 32, ResponseHeaderTimeout: 60 * time.Second}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.public = "http://" + ln.Addr().String()
	hs := &http.Server{Handler: c.bal}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	c.http = &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

	// The first start is one process's: it makes the master key and the
	// issuer keys (servers started together on an empty database would
	// race to make them); here it is the test's own app, which later mints
	// test cards and reads the database back.
	ctx := context.Background()
	cfg, _, err := config.Load("serve", c.args("", c.dbURL), func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { a.Close() })
	if _, err := a.openTrust(ctx); err != nil {
		t.Fatal(err)
	}
	c.tool = a
	cl, secret, err := oidc.Register(ctx, a.db.OIDC(), oidc.ClientSpec{ID: "hotel", Name: verifier.Text{Zh: "大酒店", En: "Grand Hotel"},
		RedirectURIs: []string{"http://hotel.example/cb"}, Claims: "name,id_number"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.rp = &oidctest.RP{Issuer: c.public + "/oidc", ClientID: cl.ID, Secret: secret, Redirect: "http://hotel.example/cb",
		Scopes: []string{"openid", "profile", "id_number"}, HTTP: c.http}
	// The third server, if any, reaches the primary through HAProxy (its
	// Patroni health checks) instead of the multi-host URL.
	for i := range servers {
		db := c.dbURL
		if h := os.Getenv("SHENFEN_TEST_CLUSTER_HAPROXY"); h != "" && i == 2 {
			hu, err := url.Parse(h)
			if err != nil {
				t.Fatal(err)
			}
			mu, _ := url.Parse(c.dbURL)
			hu.Path = mu.Path
			db = hu.String()
		}
		c.servers = append(c.servers, c.startServer(db))
	}
	for _, s := range c.servers {
		c.bal.backends = append(c.bal.backends, s.addr)
	}
	return c
}

func (c *cluster) args(addr, db string) []string {
	a := []string{"--data", c.data, "--db", db, "--public-url", c.public, "--admin-token", c.token,
		"--trusted-proxies", "127.0.0.1", "--four-eyes-alone", "card-officer,administrator"}
	if addr != "" {
		a = append(a, "--addr", addr)
		// Status list tokens from a replica (HAProxy's replica port).
		if r := os.Getenv("SHENFEN_TEST_CLUSTER_REPLICA"); r != "" && strings.Contains(c.dbURL, ",") {
			ru, err := url.Parse(r)
			if err != nil {
				c.t.Fatal(err)
			}
			mu, _ := url.Parse(c.dbURL)
			ru.Path = mu.Path
			a = append(a, "--db-replica", ru.String())
		}
	}
	return a
}

func (c *cluster) startServer(db string) *child {
	s := c.launch(db)
	if err := s.ready(90 * time.Second); err != nil {
		c.t.Fatal(err)
	}
	return s
}

// launch starts a server process without waiting for it.
func (c *cluster) launch(db string) *child {
	t := c.t
	addr := freeAddr(t)
	args, _ := json.Marshal(c.args(addr, db))
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), clusterChildEnv+"="+string(args))
	logf, err := os.Create(filepath.Join(c.data, "server-"+strings.ReplaceAll(addr, ":", "_")+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &child{addr: addr, cmd: cmd, log: logf.Name(), done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("server %s log (end):\n%s", addr, b)
		}
	})
	return s
}

// ready waits until the server answers /readyz, or fails with the end of
// its log when it exited or did not answer in time.
func (s *child) ready(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		res, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		exited := false
		select {
		case <-s.done:
			exited = true
		default:
		}
		if exited || time.Now().After(deadline) {
			b, _ := os.ReadFile(s.log)
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			return fmt.Errorf("server %s not ready (exited: %v): %v\n%s", s.addr, exited, err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clusterScript runs scripts/cluster.sh with the test's cluster settings.
func clusterScript(t *testing.T, args ...string) string {
	cmd := exec.Command("bash", append([]string{"../../scripts/cluster.sh"}, args...)...)
	cmd.Env = os.Environ()
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("cluster.sh %v: %v: %s", args, err, ee.Stderr)
		}
		t.Fatalf("cluster.sh %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// ----- scripted clients -----

func newKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (c *cluster) post(ctx context.Context, base, path, ctype string, body []byte, hdr map[string]string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &m)
	return res.StatusCode, m, nil
}

// startEnrollment asks base for a challenge for a new device key and
// returns the enrollment id.
func (c *cluster) startEnrollment(ctx context.Context, base string, key *ecdsa.PrivateKey, client string) (string, error) {
	jwk, _ := proofing.PublicJWK(&key.PublicKey)
	b, _ := json.Marshal(map[string]json.RawMessage{"device_key": jwk})
	code, m, err := c.post(ctx, base, "/api/enrollments", "application/json", b, map[string]string{"X-Test-Client": client})
	if err != nil {
		return "", err
	}
	if code != http.StatusCreated {
		return "", fmt.Errorf("start enrollment: %d %v", code, m)
	}
	id, _ := m["id"].(string)
	return id, nil
}

// submitWrongDigits submits to base an enrollment whose recording reads
// other digits than the challenge (espeak-ng), with plain frames and
// selfie: a genuine decision (refused by the speech check) without a
// face.
func (c *cluster) submitWrongDigits(ctx context.Context, base string, key *ecdsa.PrivateKey, id string, rec registry.Record) (int, map[string]any, error) {
	res, err := c.http.Get(base + "/api/enrollments/" + id)
	if err != nil {
		return 0, nil, err
	}
	res.Body.Close()
	sess, err := c.tool.db.Proofing().Session(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	words := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	var say []string
	for _, d := range sess.Digits {
		say = append(say, words[(int(d-'0')+5)%10])
	}
	wav, err := exec.CommandContext(ctx, "bash", "-c", `espeak-ng -v en-us -s 140 -w /dev/stdout "$1" | sox -t wav - -r 16000 -c 1 -b 16 -t wav -`,
		"say", strings.Join(say, " ")).Output()
	if err != nil {
		return 0, nil, fmt.Errorf("espeak-ng: %w", err)
	}
	img := func(n int) []byte {
		m := image.NewGray(image.Rect(0, 0, n, n))
		for i := range m.Pix {
			m.Pix[i] = uint8(i * 7)
		}
		var buf bytes.Buffer
		png.Encode(&buf, m)
		return buf.Bytes()
	}
	selfie := img(128)
	claims := proofing.RequestClaims{EnrollmentID: id, IDNumber: string(rec.IDNumber), Name: rec.Name, IssuedAt: time.Now().Unix(),
		Selfie: proofing.Digest(selfie), Audio: proofing.Digest(wav), Language: "en"}
	var frames [][]byte
	for i := range 50 {
		f := img(96 + i%3)
		frames = append(frames, f)
		claims.Frames = append(claims.Frames, proofing.Digest(f))
		claims.FrameTimesMS = append(claims.FrameTimesMS, int64(i*80))
	}
	jws, err := proofing.SignRequest(key, claims)
	if err != nil {
		return 0, nil, err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("request", jws)
	add := func(name, file string, b []byte) {
		w, _ := mw.CreateFormFile(name, file)
		w.Write(b)
	}
	add("selfie", "selfie.png", selfie)
	add("audio", "digits.wav", wav)
	for _, f := range frames {
		add("frame", "frame.png", f)
	}
	mw.Close()
	return c.post(ctx, base, "/api/enrollments/"+id+"/submission", mw.FormDataContentType(), buf.Bytes(), map[string]string{"X-Test-Client": "10.8.0.2"})
}

// approval is an enrollment approved by the test's own app (the biometric
// checks are not what these tests are about; docs/biometrics.md has theirs),
// ready for the card to be collected through OpenID4VCI.
type approval struct {
	key    *ecdsa.PrivateKey
	cardID string
	code   string
}

func (c *cluster) approve(ctx context.Context, rec registry.Record, n int) (approval, error) {
	key := newKey(c.t)
	id, err := c.startEnrollment(ctx, c.public, key, fmt.Sprintf("10.7.%d.%d", n/250, n%250+1))
	if err != nil {
		return approval{}, err
	}
	st := c.tool.db.Proofing()
	sess, err := st.Session(ctx, id)
	if err != nil {
		return approval{}, err
	}
	now := time.Now()
	if err := st.Claim(ctx, id, now, now.Add(time.Minute), []byte("no evidence: approved by the test")); err != nil {
		return approval{}, err
	}
	ref, err := c.tool.trust.status.Allocate(ctx)
	if err != nil {
		return approval{}, err
	}
	subject := base64.RawURLEncoding.EncodeToString(c.tool.registry.Index(rec.IDNumber))
	card := &proofing.Card{ID: proofing.RandomID(16), SessionID: id, Subject: subject, DeviceKey: sess.DeviceKey,
		DeviceThumb: sess.DeviceThumb, StatusURI: ref.URI, StatusIndex: ref.Index, State: proofing.CardActive, CreatedAt: now}
	card.IDNumber = c.tool.sealer.Seal([]byte(rec.IDNumber), []byte("proofing/card "+card.ID))
	code := proofing.RandomID(32)
	offer := &proofing.Secret{Kind: proofing.SecretOffer, Hash: proofing.Hash(code), Ref: card.ID, ExpiresAt: now.Add(time.Hour)}
	d := proofing.Decision{SessionID: id, Approved: true, Reason: proofing.ReasonApproved, Subject: subject,
		FaceDistance: -1, Liveness: -1, Language: sess.Language, Checks: "{}", StartedAt: now, DecidedAt: now}
	if err := st.Finish(ctx, proofing.Finish{Decision: d, Card: card, Offer: offer}); err != nil {
		return approval{}, err
	}
	return approval{key: key, cardID: card.ID, code: code}, nil
}

// collect runs the OpenID4VCI pre-authorized code flow through the
// balancer and returns the SD-JWT VC's status reference.
func (c *cluster) collect(ctx context.Context, ap approval) (status.Ref, error) {
	code, m, err := c.post(ctx, c.public, "/vci/token", "application/x-www-form-urlencoded",
		[]byte(url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {ap.code}}.Encode()), nil)
	if err != nil || code != 200 {
		return status.Ref{}, fmt.Errorf("token: %d %v %v", code, m, err)
	}
	tok, _ := m["access_token"].(string)
	code, m, err = c.post(ctx, c.public, "/vci/nonce", "", nil, nil)
	if err != nil || code != 200 {
		return status.Ref{}, fmt.Errorf("nonce: %d %v %v", code, m, err)
	}
	nonce, _ := m["c_nonce"].(string)
	proof, err := oid4vc.MakeProof(ap.key, c.public, nonce, time.Now())
	if err != nil {
		return status.Ref{}, err
	}
	b, _ := json.Marshal(map[string]any{"credential_configuration_id": oid4vc.ConfigSDJWT, "proofs": map[string]any{"jwt": []string{proof}}})
	code, m, err = c.post(ctx, c.public, "/vci/credential", "application/json", b, map[string]string{"Authorization": "Bearer " + tok})
	if err != nil || code != 200 {
		return status.Ref{}, fmt.Errorf("credential: %d %v %v", code, m, err)
	}
	creds, _ := m["credentials"].([]any)
	if len(creds) != 1 {
		return status.Ref{}, fmt.Errorf("credential response %v", m)
	}
	cred, _ := creds[0].(map[string]any)["credential"].(string)
	return sdjwtStatus(cred)
}

// sdjwtStatus reads the status reference out of an SD-JWT VC's issuer JWT.
func sdjwtStatus(cred string) (status.Ref, error) {
	parts := strings.Split(strings.SplitN(cred, "~", 2)[0], ".")
	if len(parts) != 3 {
		return status.Ref{}, errors.New("not an SD-JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return status.Ref{}, err
	}
	var p struct {
		Status struct {
			List struct {
				URI string `json:"uri"`
				Idx int    `json:"idx"`
			} `json:"status_list"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.Status.List.URI == "" {
		return status.Ref{}, fmt.Errorf("no status in the credential: %v", err)
	}
	return status.Ref{URI: p.Status.List.URI, Index: p.Status.List.Idx}, nil
}

// mintCard makes a card with the authority's keys and status list (as
// TestOIDCWiring does) for scripted logins.
func (c *cluster) mintCard(ctx context.Context, rec registry.Record) (*oidctest.Card, error) {
	signer, chain, err := c.tool.trust.ring.Chain(ctx)
	if err != nil {
		return nil, err
	}
	ref, err := c.tool.trust.status.Allocate(ctx)
	if err != nil {
		return nil, err
	}
	name := []rune(rec.Name)
	pid, err := credential.NewPID(credential.PID{FamilyName: string(name[:1]), GivenName: string(name[1:]), Sex: credential.SexMale,
		BirthDate: credential.DateOf(rec.BirthDate), Address: "广州", IDNumber: string(rec.IDNumber), Authority: "广州市公安局南沙分局",
		Country: "CN", IssuedOn: "2020-01-01", ExpiresOn: "2040-01-01"})
	if err != nil {
		return nil, err
	}
	holder := newKey(c.t)
	now := time.Now()
	issued, err := sdjwt.Issue(ctx, sdjwt.IssueParams{Issuer: c.public, Profile: credential.ProfileCN, PID: pid,
		Holder: &holder.PublicKey, Status: &credential.StatusRef{URI: ref.URI, Index: ref.Index},
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.AddDate(1, 0, 0), Signer: signer, Chain: chain})
	if err != nil {
		return nil, err
	}
	return &oidctest.Card{Issued: issued, Holder: holder, PID: pid}, nil
}

func (c *cluster) subject(card *oidctest.Card) string {
	id, _ := registry.ParseIDNumber(card.PID.IDNumber, time.Now())
	return base64.RawURLEncoding.EncodeToString(c.tool.registry.Index(id))
}

func demoRecords(t *testing.T, n int) []registry.Record {
	seq, err := registry.DemoRecords(1414, n)
	if err != nil {
		t.Fatal(err)
	}
	var out []registry.Record
	for r := range seq {
		out = append(out, r)
	}
	return out
}

// sth is a tree head as GET /audit/sth serves it.
type sth struct {
	Size uint64 `json:"tree_size"`
	Root []byte `json:"sha256_root_hash"`
}

func (c *cluster) sth(ctx context.Context) (sth, error) {
	var h sth
	res, err := c.http.Get(c.public + "/audit/sth")
	if err != nil {
		return h, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return h, fmt.Errorf("sth: %d", res.StatusCode)
	}
	return h, json.NewDecoder(res.Body).Decode(&h)
}

// checkConsistency fetches and verifies the consistency proof between
// two tree heads: the log after the failover extends the one before.
func (c *cluster) checkConsistency(before, after sth) error {
	if after.Size < before.Size {
		return fmt.Errorf("tree shrank from %d to %d", before.Size, after.Size)
	}
	res, err := c.http.Get(fmt.Sprintf("%s/audit/consistency?first=%d&second=%d", c.public, before.Size, after.Size))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var p struct {
		Consistency [][]byte `json:"consistency"`
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		return err
	}
	path := make([]audit.Hash, len(p.Consistency))
	for i, h := range p.Consistency {
		copy(path[i][:], h)
	}
	var r1, r2 audit.Hash
	copy(r1[:], before.Root)
	copy(r2[:], after.Root)
	return audit.VerifyConsistency(before.Size, after.Size, r1, r2, path)
}

// ----- the tests -----

// TestClusterFlowsAcrossServers: a login begun on server A finishes on
// server B, and an enrollment started on A is approved, collected and
// looked up through B.
func TestClusterFlowsAcrossServers(t *testing.T) {
	c := startCluster(t, 2)
	ctx := context.Background()
	recs := demoRecords(t, 3)
	if _, err := c.tool.registry.PutAll(ctx, func(yield func(registry.Record) bool) {
		for _, r := range recs {
			if !yield(r) {
				return
			}
		}
	}, 100, nil); err != nil {
		t.Fatal(err)
	}
	card, err := c.mintCard(ctx, recs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Authorization request on A; the login page, the wallet's request and
	// response, the finish, callback and token on B.
	c.bal.mu.Lock()
	c.bal.pick = func(r *http.Request) int {
		if strings.HasSuffix(r.URL.Path, "/authorize") {
			return 0
		}
		return 1
	}
	c.bal.served = nil
	c.bal.mu.Unlock()
	tok, err := c.rp.Flow(ctx, &oidctest.Wallet{Card: card, HTTP: c.http})
	c.bal.mu.Lock()
	served := append([]int(nil), c.bal.served...)
	c.bal.pick = nil
	c.bal.mu.Unlock()
	if err != nil {
		t.Fatalf("login across servers: %v", err)
	}
	if tok["id_token"] == nil || len(served) < 3 || served[0] != 0 || served[len(served)-1] != 1 {
		t.Fatalf("token %v, servers %v", tok, served)
	}
	// Enrollment started on A (directly), approved, its card collected
	// through the balancer, and its state read on B.
	a, b := "http://"+c.servers[0].addr, "http://"+c.servers[1].addr
	ap, err := c.approve(ctx, recs[1], 1)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	id, err := c.startEnrollment(ctx, a, key, "10.8.0.1")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.http.Get(b + "/api/enrollments/" + id)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("enrollment started on A, read on B: %v %v", res, err)
	}
	res.Body.Close()
	// Decided on B: the submission reads other digits than the challenge,
	// so B's speech check refuses it and records the refusal; A then
	// answers with B's decision.
	code, m, err := c.submitWrongDigits(ctx, b, key, id, recs[2])
	if err != nil || code == 200 || code >= 500 {
		t.Fatalf("submission on B: %d %v %v", code, m, err)
	}
	res, err = c.http.Get(a + "/api/enrollments/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if st["status"] != string(proofing.StateRefused) {
		t.Fatalf("enrollment decided on B, read on A: %v (submission answered %d %v)", st, code, m)
	}
	ref, err := c.collect(ctx, ap)
	if err != nil {
		t.Fatal(err)
	}
	// The same pre-authorized code on the other server: refused.
	code, _, _ = c.post(ctx, b, "/vci/token", "application/x-www-form-urlencoded",
		[]byte(url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {ap.code}}.Encode()), nil)
	if code == 200 {
		t.Fatal("a pre-authorized code redeemed twice (second time on another server)")
	}
	// Revoked on A, seen revoked on B's status list.
	body, _ := json.Marshal(map[string]any{"uri": ref.URI, "idx": ref.Index, "status": "revoked"})
	if code, m, err := c.post(ctx, a, "/admin/status", "application/json", body, map[string]string{"Authorization": "Bearer " + c.token, "Shenfen-Reason": "purpose=lost-card"}); err != nil || code != 200 {
		t.Fatalf("revoke on A: %d %v %v", code, m, err)
	}
	got, err := c.tool.trust.status.Get(ctx, ref)
	if err != nil || got != status.Invalid {
		t.Fatalf("status after revocation: %v %v", got, err)
	}
	// B's status list token (built from a replica when the cluster has
	// one) shows the revocation within seconds.
	listID, err := c.tool.trust.status.ListID(ref.URI)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := c.http.Get(b + "/status/" + listID)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tok, err := status.ParseUnverified(body, status.Limits{})
		if err != nil {
			t.Fatalf("status list from B: %d %v", res.StatusCode, err)
		}
		if st, _ := tok.List.Get(ref.Index); st == status.Invalid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B's status list does not show the revocation made on A after 10 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// load is the scripted traffic of the failover tests and what it was told.
type load struct {
	c   *cluster
	ctx context.Context

	mu        sync.Mutex
	enrolled  []string          // acknowledged enrollment ids
	issued    []status.Ref      // acknowledged issuances
	issuedBy  map[string]string // status ref -> card id
	revoked   []status.Ref      // acknowledged revocations
	logins    map[string]int    // subject -> acknowledged logins
	errs      int
	oks       int
	inFlight  atomic.Int64
	lastOK    time.Time
	firstOKAt map[int]time.Time // after kill number k: first write acknowledged
	errsAfter map[int]int
	kills     int
	killAt    time.Time

	approvals chan approval
	refs      chan status.Ref
}

// ok counts an acknowledged write whose request began at start; the
// first one begun after a kill marks the time writes succeed again.
func (l *load) ok(start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.oks++
	now := time.Now()
	l.lastOK = now
	if l.kills > 0 && start.After(l.killAt) {
		if _, ok := l.firstOKAt[l.kills]; !ok {
			l.firstOKAt[l.kills] = now
		}
	}
}

func (l *load) fail() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs++
	if l.kills > 0 {
		if _, ok := l.firstOKAt[l.kills]; !ok {
			l.errsAfter[l.kills]++
		}
	}
}

func (l *load) run(stop <-chan struct{}, wg *sync.WaitGroup, cards []*oidctest.Card) {
	c := l.c
	worker := func(fn func(i int) bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				l.inFlight.Add(1)
				ok := fn(i)
				l.inFlight.Add(-1)
				if !ok {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	// Enrollments started.
	worker(func(i int) bool {
		start := time.Now()
		id, err := c.startEnrollment(l.ctx, c.public, newKey(c.t), fmt.Sprintf("10.6.%d.%d", i/250%250, i%250+1))
		if err != nil {
			l.fail()
			return false
		}
		l.mu.Lock()
		l.enrolled = append(l.enrolled, id)
		l.mu.Unlock()
		l.ok(start)
		return true
	})
	// Cards collected.
	worker(func(int) bool {
		var ap approval
		select {
		case ap = <-l.approvals:
		case <-stop:
			return true
		}
		start := time.Now()
		ref, err := c.collect(l.ctx, ap)
		if err != nil {
			l.fail()
			return false
		}
		l.mu.Lock()
		l.issued = append(l.issued, ref)
		l.issuedBy[fmt.Sprintf("%s#%d", ref.URI, ref.Index)] = ap.cardID
		l.mu.Unlock()
		l.ok(start)
		return true
	})
	// Revocations.
	worker(func(int) bool {
		var ref status.Ref
		select {
		case ref = <-l.refs:
		case <-stop:
			return true
		}
		start := time.Now()
		body, _ := json.Marshal(map[string]any{"uri": ref.URI, "idx": ref.Index, "status": "revoked"})
		code, _, err := c.post(l.ctx, c.public, "/admin/status", "application/json", body, map[string]string{"Authorization": "Bearer " + c.token, "Shenfen-Reason": "purpose=lost-card"})
		if err != nil || code != 200 {
			l.fail()
			return false
		}
		l.mu.Lock()
		l.revoked = append(l.revoked, ref)
		l.mu.Unlock()
		l.ok(start)
		return true
	})
	// Logins (each records a disclosure in the audit log: a write).
	for w := range 2 {
		worker(func(i int) bool {
			card := cards[(w+2*i)%len(cards)]
			start := time.Now()
			tok, err := c.rp.Flow(l.ctx, &oidctest.Wallet{Card: card, HTTP: c.http})
			if err != nil || tok["id_token"] == nil {
				l.fail()
				return false
			}
			l.mu.Lock()
			l.logins[c.subject(card)]++
			l.mu.Unlock()
			l.ok(start)
			return true
		})
	}
}

// verify checks that everything acknowledged is in the database (read
// through the test's own pool, which has reconnected to the new primary)
// and that no card was issued twice. It returns how many acknowledged
// writes are missing.
func (l *load) verify(t *testing.T) int {
	ctx := l.ctx
	c := l.c
	l.mu.Lock()
	defer l.mu.Unlock()
	lost := 0
	st := c.tool.db.Proofing()
	for _, id := range l.enrolled {
		if _, err := st.Session(ctx, id); err != nil {
			t.Errorf("acknowledged enrollment %s: %v", id, err)
			lost++
		}
	}
	seen := map[string]bool{}
	for _, ref := range l.issued {
		k := fmt.Sprintf("%s#%d", ref.URI, ref.Index)
		if seen[k] {
			t.Errorf("status entry %s in two issued cards", k)
		}
		seen[k] = true
		card, err := st.CardByStatus(ctx, ref.URI, ref.Index)
		if err != nil || card.ID != l.issuedBy[k] {
			t.Errorf("acknowledged card %s: %+v %v", k, card.ID, err)
			lost++
		}
	}
	for _, ref := range l.revoked {
		got, err := c.tool.trust.status.Get(ctx, ref)
		if err != nil || got != status.Invalid {
			t.Errorf("acknowledged revocation %s#%d: status %v %v", ref.URI, ref.Index, got, err)
			lost++
		}
	}
	for subj, n := range l.logins {
		h, err := c.tool.trust.audit.History(ctx, subj, 0)
		if err != nil || len(h) < n {
			t.Errorf("acknowledged logins of %s: %d, disclosures recorded %d (%v)", subj, n, len(h), err)
			lost += n - len(h)
		}
	}
	// No card issued twice: one issuance leaf per status entry and format.
	size, err := c.tool.trust.audit.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaves := map[string]int{}
	for i := uint64(0); i < size; i++ {
		lf, err := c.tool.trust.audit.Leaf(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		var e audit.Event
		if json.Unmarshal(lf.Data, &e) == nil && e.Type == audit.EventIssuance {
			leaves[e.Ref+" "+e.Attrs["format"]]++
		}
	}
	for k, n := range leaves {
		if n > 1 {
			t.Errorf("%d issuance leaves for %s", n, k)
		}
	}
	return lost
}

// TestClusterFailover kills the database primary with kill -9 (its Patroni
// and PostgreSQL: a machine's death) under a load of enrollments,
// issuances, revocations and logins spread over three servers, then kills
// one server. Every acknowledged write must be in the new primary, no card
// issued twice, and the audit log after the failover must extend the one
// before (consistency proof).
func TestClusterFailover(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	failovers := 1
	if v := os.Getenv("SHENFEN_CLUSTER_FAILOVERS"); v != "" {
		failovers, _ = strconv.Atoi(v)
	}
	recs := demoRecords(t, 400)
	if _, err := c.tool.registry.PutAll(ctx, func(yield func(registry.Record) bool) {
		for _, r := range recs {
			if !yield(r) {
				return
			}
		}
	}, 200, nil); err != nil {
		t.Fatal(err)
	}
	l := &load{c: c, ctx: ctx, issuedBy: map[string]string{}, logins: map[string]int{},
		firstOKAt: map[int]time.Time{}, errsAfter: map[int]int{},
		approvals: make(chan approval, 400), refs: make(chan status.Ref, 2000)}
	var cards []*oidctest.Card
	for i := range 8 {
		card, err := c.mintCard(ctx, recs[i])
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, card)
	}
	for i := range 60 * failovers {
		ap, err := c.approve(ctx, recs[10+i%(len(recs)-10)], i)
		if err != nil {
			t.Fatal(err)
		}
		l.approvals <- ap
	}
	for range 200 * failovers {
		ref, err := c.tool.trust.status.Allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l.refs <- ref
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	l.run(stop, &wg, cards)
	defer func() { close(stop); wg.Wait() }()

	report := func(m map[string]any) {
		b, _ := json.Marshal(m)
		t.Logf("cluster: %s", b)
		if f := os.Getenv("SHENFEN_CLUSTER_REPORT"); f != "" {
			if fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				fh.Write(append(b, '\n'))
				fh.Close()
			}
		}
	}
	for k := 1; k <= failovers; k++ {
		time.Sleep(3 * time.Second) // load on the healthy cluster
		before, err := c.sth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		okBefore := l.oks
		l.mu.Unlock()
		inFlight := l.inFlight.Load()
		killed := clusterScript(t, "kill-primary")
		// Requests begun from here on began after the primary's death.
		l.mu.Lock()
		l.kills, l.killAt = k, time.Now()
		l.mu.Unlock()
		t.Cleanup(func() { clusterScript(t, "revive", killed) }) // also when the test fails
		killAt := l.killAt
		// Wait for writes to be acknowledged again, then some more load.
		deadline := time.Now().Add(60 * time.Second)
		var back time.Time
		for time.Now().Before(deadline) {
			l.mu.Lock()
			back = l.firstOKAt[k]
			l.mu.Unlock()
			if !back.IsZero() {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if back.IsZero() {
			t.Fatalf("failover %d: no write acknowledged within 60 s of killing %s", k, killed)
		}
		time.Sleep(2 * time.Second)
		after, err := c.sth(ctx)
		if err != nil {
			t.Fatalf("tree head after the failover: %v", err)
		}
		if err := c.checkConsistency(before, after); err != nil {
			t.Errorf("failover %d: audit log before (size %d) and after (size %d) inconsistent: %v", k, before.Size, after.Size, err)
		}
		lost := l.verify(t)
		l.mu.Lock()
		errs := l.errsAfter[k]
		acked := l.oks - okBefore
		l.mu.Unlock()
		report(map[string]any{"failover": k, "killed": killed, "primary_now": clusterScript(t, "primary"),
			"in_flight_at_kill": inFlight, "errors_during_switch": errs,
			"seconds_until_writes": back.Sub(killAt).Seconds(), "acknowledged_since_last": acked,
			"acknowledged_writes_lost": lost, "sth_before": before.Size, "sth_after": after.Size})
		if lost > 0 {
			t.Fatalf("failover %d: %d acknowledged writes lost", k, lost)
		}
		// The dead node comes back as a replica before the next round.
		clusterScript(t, "revive", killed)
		if k < failovers {
			clusterScript(t, "wait-replicas", "2", "120")
		}
	}
	// One server dies (kill -9) under load: the others carry on.
	victim := c.servers[0]
	l.mu.Lock()
	okBefore := l.oks
	l.mu.Unlock()
	inFlight := l.inFlight.Load()
	victim.cmd.Process.Kill()
	killAt := time.Now()
	time.Sleep(4 * time.Second)
	l.mu.Lock()
	okAfter := l.oks - okBefore
	lastOK := l.lastOK
	l.mu.Unlock()
	lost := l.verify(t)
	l.mu.Lock()
	total, errsTotal := l.oks, l.errs
	l.mu.Unlock()
	report(map[string]any{"server_killed": victim.addr, "in_flight_at_kill": inFlight,
		"acknowledged_in_4s_after": okAfter, "acknowledged_writes_lost": lost,
		"acknowledged_total": total, "errors_total": errsTotal})
	if okAfter == 0 || lastOK.Before(killAt) {
		t.Fatalf("nothing acknowledged after a server died")
	}
	if lost > 0 {
		t.Fatalf("%d acknowledged writes lost after a server died", lost)
	}
}

// TestServersStartTogether: three servers started at the same moment on an
// empty PostgreSQL database and one new data directory make one master
// key, one issuer root and one provider key between them (database locks
// and pins), all become ready, and publish the same keys; the log records
// the first key once. It runs on the conformance suite's PostgreSQL, not
// on the Patroni cluster.
func TestServersStartTogether(t *testing.T) {
	if os.Getenv("SHENFEN_TEST_POSTGRES") == "off" {
		t.Skip("PostgreSQL off")
	}
	u := storetest.NewPostgresDatabase(t)
	c := &cluster{t: t, dbURL: u, data: t.TempDir(), token: "cluster-admin-token-0123456789", public: "http://id.example"}
	var servers []*child
	for range 3 {
		servers = append(servers, c.launch(u))
	}
	for _, s := range servers {
		if err := s.ready(90 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var first []byte
	for _, path := range []string{"/.well-known/jwks.json", "/oidc/keys"} {
		for i, s := range servers {
			res, err := http.Get("http://" + s.addr + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%s %s: %d %s", s.addr, path, res.StatusCode, b)
			}
			if i == 0 {
				first = b
			} else if !bytes.Equal(b, first) {
				t.Fatalf("%s differs between servers:\n%s\n%s", path, first, b)
			}
		}
	}
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_leaves WHERE convert_from(data, 'UTF8') LIKE '%"type":"key-rotation"%'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("key-rotation entries in the log: %d, %v; want 1", n, err)
	}
}
