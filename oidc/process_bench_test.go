//go:build linux

package oidc_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// BenchmarkProvider measures what the provider alone costs. The provider
// runs in a child process (this test binary re-executed in provider mode:
// oidctest.Start over a real store, loopback HTTP), the scripted clients
// (browser, wallet, relying party) run in the benchmark process, and each
// side's CPU time is read separately: the child's from /proc/PID/stat, the
// benchmark process's from getrusage, and for PostgreSQL the CPU time of the
// server backends serving the benchmark's database, from /proc as well.
// Reported per operation:
//
//   - provider-cpu-µs/op: the provider process (HTTP, protocol, crypto,
//     SQLite when that is the driver);
//   - pg-cpu-µs/op: PostgreSQL's backends (PostgreSQL driver only);
//   - client-cpu-µs/op: the load generator;
//   - ops/s@2cores: 2 CPU-seconds per second ÷ (provider + PostgreSQL CPU
//     per operation), what two dedicated cores would sustain when
//     CPU-bound.
//
// Set SHENFEN_OIDC_BENCH_PROFILE to a directory to get a CPU profile of the
// provider process for each benchmark (name.pprof, the last b.N round).
// On PostgreSQL, SHENFEN_OIDC_BENCH_POSTGRES names an existing database to
// use instead of a fresh one (scripts/bench.d/scale.sh: the large registry's),
// and SHENFEN_OIDC_BENCH_WARMUP runs that many whole logins and ANALYZE
// first (scripts/bench.d/hydra.sh does the same for Hydra).
func BenchmarkProvider(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		c := startChild(b, filepath.Join(b.TempDir(), "shenfen.db"), "")
		providerBenches(b, c)
	})
	b.Run("postgres", func(b *testing.B) {
		u := os.Getenv("SHENFEN_OIDC_BENCH_POSTGRES")
		if u == "" {
			u = storetest.NewPostgresDatabase(b)
		}
		c := startChild(b, u, u)
		warmUp(b, c, u)
		providerBenches(b, c)
	})
}

// warmUp runs SHENFEN_OIDC_BENCH_WARMUP whole logins (default none), then
// ANALYZE on the database at pgURL, so that the planner has statistics of
// tables that were empty when the provider started (the Hydra comparison
// does the same on Hydra's database).
func warmUp(b *testing.B, c *child, pgURL string) {
	b.Helper()
	n, _ := strconv.Atoi(os.Getenv("SHENFEN_OIDC_BENCH_WARMUP"))
	if n <= 0 {
		return
	}
	ctx := context.Background()
	rp := &oidctest.RP{Issuer: c.hs.Issuer, ClientID: "hotel", Secret: c.hs.Secret, Redirect: hotelRedirect,
		Scopes: []string{"openid", "profile", "id_number"}, HTTP: c.hc}
	for range n {
		if _, err := rp.Flow(ctx, &oidctest.Wallet{Card: c.card}); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	analyze(b, pgURL)
}

// analyze runs ANALYZE on the database at pgURL.
func analyze(b *testing.B, pgURL string) {
	b.Helper()
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("ANALYZE"); err != nil {
		b.Fatalf("ANALYZE: %v", err)
	}
}

const childEnv = "SHENFEN_OIDC_BENCH_CHILD"

// TestMain turns this test binary into the provider process when asked.
func TestMain(m *testing.M) {
	if admin := os.Getenv(hydraAppEnv); admin != "" {
		if err := serveHydraApp(admin, os.Getenv(hydraAppAddrEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "login and consent app:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if dsn := os.Getenv(childEnv); dsn != "" {
		if err := serveChild(dsn); err != nil {
			fmt.Fprintln(os.Stderr, "provider process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// handshake is what the provider process tells the benchmark: where it
// listens and the credentials of its test relying parties and card.
type handshake struct {
	Issuer    string `json:"issuer"`
	Secret    string `json:"secret"`     // client "hotel", client_secret_basic
	ClientKey []byte `json:"client_key"` // client "bank", private_key_jwt (PKCS #8)
	Card      string `json:"card"`       // an issued SD-JWT VC
	Holder    []byte `json:"holder"`     // its device key (PKCS #8)
}

const (
	hotelRedirect = "http://hotel.example/callback"
	bankRedirect  = "https://bank.example/cb"
)

func serveChild(dsn string) error {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	e, err := oidctest.Start(db.OIDC(), nil)
	if err != nil {
		return err
	}
	defer e.Close()
	secret, err := e.SecretClient(ctx, "hotel", "Grand Hotel", hotelRedirect, "name,id_number")
	if err != nil {
		return err
	}
	key, err := e.KeyClient(ctx, "bank", "Bank", bankRedirect, "name,id_number")
	if err != nil {
		return err
	}
	card, err := e.Authority.NewCard(nil)
	if err != nil {
		return err
	}
	hs := handshake{Issuer: e.Issuer, Secret: secret, Card: card.Issued}
	if hs.ClientKey, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
		return err
	}
	if hs.Holder, err = x509.MarshalPKCS8PrivateKey(card.Holder); err != nil {
		return err
	}
	if err := json.NewEncoder(os.Stdout).Encode(hs); err != nil {
		return err
	}
	// Commands on standard input: "profile PATH" starts a CPU profile,
	// "stop" ends it; end of input stops the process.
	in := bufio.NewScanner(os.Stdin)
	var prof *os.File
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "profile":
			if prof, err = os.Create(arg); err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(prof); err != nil {
				return err
			}
		case "stop":
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
				prof = nil
			}
		}
		fmt.Println("ok")
	}
	return in.Err()
}

// child is a running provider process.
type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	hs   handshake
	pg   *sql.DB // admin connection, to find the database's backends
	db   string  // PostgreSQL database name
	card *oidctest.Card
	key  *ecdsa.PrivateKey
	hc   *http.Client
}

func startChild(b *testing.B, dsn, pgURL string) *child {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dsn)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	b.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("provider process: %v", err)
		}
	})
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		b.Fatalf("provider process handshake: %v", err)
	}
	if err := json.Unmarshal(line, &c.hs); err != nil {
		b.Fatalf("provider process handshake %q: %v", line, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(c.hs.ClientKey)
	if err != nil {
		b.Fatal(err)
	}
	c.key = k.(*ecdsa.PrivateKey)
	h, err := x509.ParsePKCS8PrivateKey(c.hs.Holder)
	if err != nil {
		b.Fatal(err)
	}
	c.card = &oidctest.Card{Issued: c.hs.Card, Holder: h.(*ecdsa.PrivateKey)}
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	c.hc = &http.Client{Transport: tr, Timeout: time.Minute}
	if pgURL != "" {
		u, err := url.Parse(pgURL)
		if err != nil {
			b.Fatal(err)
		}
		c.db = strings.TrimPrefix(u.Path, "/")
		if c.pg, err = sql.Open("pgx", storetest.PostgresAdminURL()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.pg.Close() })
	}
	return c
}

// command sends a line to the provider process and waits for its answer.
func (c *child) command(b *testing.B, line string) {
	b.Helper()
	if _, err := fmt.Fprintln(c.in, line); err != nil {
		b.Fatal(err)
	}
	if _, err := c.out.ReadString('\n'); err != nil {
		b.Fatal(err)
	}
}

// procCPU is the CPU time (user + system) a process has used, from
// /proc/PID/stat (clock ticks of 10 ms).
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// After the command: state(3) ... utime(14) stime(15); f[0] is field 3.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	const tick = 10 * time.Millisecond // CLK_TCK is 100 on Linux
	return time.Duration(ut+st) * tick, nil
}

// backends maps each PostgreSQL backend serving database db to its CPU
// time so far (pids from pg_stat_activity over the admin connection pg;
// none when pg is nil).
func backends(b *testing.B, pg *sql.DB, db string) map[int]time.Duration {
	b.Helper()
	out := map[int]time.Duration{}
	if pg == nil {
		return out
	}
	rows, err := pg.Query(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, db)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		if t, err := procCPU(pid); err == nil {
			out[pid] = t
		}
	}
	return out
}

// meter samples the CPU clocks around a benchmark round: the provider
// process, an optional helper process (Hydra's login and consent app), the
// PostgreSQL backends of the provider's database, and this process.
type meter struct {
	server, app   int // pids; app 0 when there is none
	pgConn        *sql.DB
	db            string
	prov, a, self time.Duration
	pg            map[int]time.Duration
	done          func() // run after the round (ends a profile)
}

func (c *child) start(b *testing.B) *meter {
	b.Helper()
	var done func()
	if dir := os.Getenv("SHENFEN_OIDC_BENCH_PROFILE"); dir != "" {
		name := strings.NewReplacer("/", "_").Replace(b.Name())
		c.command(b, "profile "+filepath.Join(dir, name+".pprof"))
		done = func() { c.command(b, "stop") }
	}
	return startMeter(b, &meter{server: c.cmd.Process.Pid, pgConn: c.pg, db: c.db, done: done})
}

// startMeter reads m's clocks and starts the benchmark timer.
func startMeter(b *testing.B, m *meter) *meter {
	b.Helper()
	m.pg = backends(b, m.pgConn, m.db)
	var err error
	if m.prov, err = procCPU(m.server); err != nil {
		b.Fatal(err)
	}
	if m.app != 0 {
		if m.a, err = procCPU(m.app); err != nil {
			b.Fatal(err)
		}
	}
	m.self = cpuTime()
	b.ResetTimer()
	return m
}

func (m *meter) stop(b *testing.B, unit string) {
	b.Helper()
	b.StopTimer()
	prov, err := procCPU(m.server)
	if err != nil {
		b.Fatal(err)
	}
	var app time.Duration
	if m.app != 0 {
		if app, err = procCPU(m.app); err != nil {
			b.Fatal(err)
		}
		app -= m.a
	}
	self := cpuTime()
	var pg time.Duration
	for pid, t := range backends(b, m.pgConn, m.db) {
		pg += t - m.pg[pid] // a backend that started during the round counts whole
	}
	if m.done != nil {
		m.done()
	}
	n := float64(b.N)
	provUS := float64((prov - m.prov).Microseconds()) / n
	pgUS := float64(pg.Microseconds()) / n
	appUS := float64(app.Microseconds()) / n
	b.ReportMetric(n/b.Elapsed().Seconds(), unit)
	b.ReportMetric(provUS, "provider-cpu-µs/op")
	b.ReportMetric(float64((self-m.self).Microseconds())/n, "client-cpu-µs/op")
	if m.pgConn != nil {
		b.ReportMetric(pgUS, "pg-cpu-µs/op")
	}
	if m.app != 0 {
		b.ReportMetric(appUS, "app-cpu-µs/op")
	}
	if all := provUS + pgUS + appUS; all > 0 {
		b.ReportMetric(2e6/all, "ops/s@2cores")
	}
}

func providerBenches(b *testing.B, c *child) {
	ctx := context.Background()
	b.Run("Flow", func(b *testing.B) {
		rp := &oidctest.RP{Issuer: c.hs.Issuer, ClientID: "hotel", Secret: c.hs.Secret, Redirect: hotelRedirect,
			Scopes: []string{"openid", "profile", "id_number"}, HTTP: c.hc}
		parallel8(b)
		m := c.start(b)
		b.RunParallel(func(pb *testing.PB) {
			w := &oidctest.Wallet{Card: c.card}
			for pb.Next() {
				if _, err := rp.Flow(ctx, w); err != nil {
					b.Error(err)
					return
				}
			}
		})
		m.stop(b, "flows/s")
	})
	b.Run("TokenPrivateKeyJWT", func(b *testing.B) {
		rp := &oidctest.RP{Issuer: c.hs.Issuer, ClientID: "bank", Key: c.key, KID: "bank-key", Redirect: bankRedirect,
			Scopes: []string{"openid", "profile", "offline_access"}, HTTP: c.hc}
		const workers = 8
		tokens := make(chan string, workers)
		for range workers {
			tok, err := rp.Flow(ctx, &oidctest.Wallet{Card: c.card})
			if err != nil {
				b.Fatal(err)
			}
			tokens <- tok["refresh_token"].(string)
		}
		parallel8(b)
		m := c.start(b)
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
		m.stop(b, "req/s")
	})
	for _, s := range []struct{ name, path string }{
		{"Discovery", "/.well-known/openid-configuration"}, {"JWKS", "/keys"},
	} {
		b.Run(s.name, func(b *testing.B) {
			u := c.hs.Issuer + s.path
			parallel8(b)
			m := c.start(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := c.hc.Get(u)
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
