package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/verifier"
)

func TestOIDCStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.OIDC()
		now := time.Now()

		// Clients.
		c := oidc.Client{ID: "hotel", Name: verifier.Text{Zh: "酒店", En: "Hotel"}, RedirectURIs: []string{"https://h.example/cb"}, AuthMethod: oidc.AuthSecretBasic,
			SecretHash: []byte("0123456789abcdef0123456789abcdef"), Sector: "h.example",
			Entitlements: []oidc.Entitlement{{Claim: "name"}, {Claim: "picture", Optional: true}}, Created: now}
		if err := s.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		c.Name = verifier.Text{Zh: "酒店二号", En: "Hotel 2"}
		c.Purpose = verifier.Text{Zh: "在线入住", En: "Online check-in"}
		if err := s.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Client(ctx, "hotel")
		if err != nil || got.Name != c.Name || got.Purpose != c.Purpose || string(got.SecretHash) != string(c.SecretHash) || len(got.Entitlements) != 2 || !got.Entitlements[1].Optional {
			t.Fatalf("client = %+v, %v", got, err)
		}
		if _, err := s.Client(ctx, "nope"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("missing client: %v", err)
		}
		if all, err := s.Clients(ctx); err != nil || len(all) != 1 {
			t.Fatalf("clients = %v, %v", all, err)
		}

		// Auth requests: conditional transitions.
		ar := oidc.AuthRequest{ID: "ar1", ClientID: "hotel", Txn: "txn1", State: oidc.StatePending, Expires: now.Add(time.Minute), Data: []byte(`{}`)}
		if err := s.CreateAuthRequest(ctx, ar); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAuthRequest(ctx, ar); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("duplicate request: %v", err)
		}
		if got, err := s.AuthRequestByTxn(ctx, "txn1"); err != nil || got.ID != "ar1" {
			t.Fatalf("by txn: %+v %v", got, err)
		}
		ar.State = oidc.StatePresented
		if err := s.UpdateAuthRequest(ctx, ar, oidc.StatePending); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateAuthRequest(ctx, ar, oidc.StatePending); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("second answer: %v", err)
		}
		// A code only on a request that is done, and only once.
		if err := s.SetCode(ctx, "ar1", "code0", now.Add(time.Minute)); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("code on a request not done: %v", err)
		}
		ar.State = oidc.StateDone
		if err := s.UpdateAuthRequest(ctx, ar, oidc.StatePresented); err != nil {
			t.Fatal(err)
		}
		codeExp := now.Add(30 * time.Second).Truncate(time.Microsecond)
		if err := s.SetCode(ctx, "ar1", "code1", codeExp); err != nil {
			t.Fatal(err)
		}
		if err := s.SetCode(ctx, "ar1", "code2", codeExp); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("second code: %v", err)
		}
		if err := s.SetCode(ctx, "nope", "code3", codeExp); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("code on an unknown request: %v", err)
		}
		if got, err := s.AuthRequest(ctx, "ar1"); err != nil || got.CodeHash != "code1" || !got.Expires.Equal(codeExp) || string(got.Data) != `{}` {
			t.Fatalf("after SetCode: %+v %v", got, err)
		}
		// Eight concurrent exchanges of one code: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.ConsumeCode(ctx, "code1", time.Now(), nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, oidc.ErrConflict):
					conflicts++
				default:
					t.Errorf("consume: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || conflicts != 7 {
			t.Fatalf("wins %d conflicts %d", wins, conflicts)
		}
		if _, err := s.ConsumeCode(ctx, "unknown", now, nil); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("unknown code: %v", err)
		}
		// An expired code is not found.
		ar2 := oidc.AuthRequest{ID: "ar2", ClientID: "hotel", Txn: "txn2", State: oidc.StateDone, CodeHash: "code2", Expires: now.Add(-time.Second), Data: []byte(`{}`)}
		s.CreateAuthRequest(ctx, ar2)
		if _, err := s.ConsumeCode(ctx, "code2", now, nil); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("expired code: %v", err)
		}

		// Tokens and refresh rotation.
		at := oidc.Token{ID: "at1", ClientID: "hotel", Subject: "sub1", AuthRequestID: "ar1", Expires: now.Add(time.Hour), Data: []byte("d")}
		rt := oidc.Token{ID: "rt1", Refresh: true, ClientID: "hotel", Subject: "sub1", AuthRequestID: "ar1", Expires: now.Add(time.Hour), Data: []byte("d")}
		if err := s.PutTokens(ctx, "", at, rt); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Token(ctx, "rt1"); err != nil || !got.Refresh || got.Subject != "sub1" || string(got.Data) != "d" {
			t.Fatalf("token = %+v %v", got, err)
		}
		rt2 := rt
		rt2.ID = "rt2"
		if err := s.PutTokens(ctx, "rt1", rt2); err != nil {
			t.Fatal(err)
		}
		rt3 := rt
		rt3.ID = "rt3"
		if err := s.PutTokens(ctx, "rt1", rt3); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("reused refresh: %v", err)
		}
		if _, err := s.Token(ctx, "rt3"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatal("failed rotation left a token")
		}
		// A rotation whose new row cannot be inserted keeps the old token:
		// the delete and the insert are one unit.
		at9 := at
		at9.ID = "at9"
		if err := s.PutTokens(ctx, "", at9); err != nil {
			t.Fatal(err)
		}
		clash := rt
		clash.ID = "at9"
		if err := s.PutTokens(ctx, "rt2", clash); err == nil {
			t.Fatal("rotation onto an existing id succeeded")
		}
		if got, err := s.Token(ctx, "rt2"); err != nil || !got.Refresh {
			t.Fatalf("failed rotation lost the old token: %+v %v", got, err)
		}
		if got, err := s.Token(ctx, "at9"); err != nil || got.Refresh {
			t.Fatalf("failed rotation changed the other token: %+v %v", got, err)
		}
		if err := s.DeleteTokens(ctx, "", "", "ar1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Token(ctx, "at1"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatal("tokens of a request survived")
		}

		// Pushed requests are single use.
		if err := s.PutPushedRequest(ctx, oidc.PushedRequest{ID: "p1", ClientID: "hotel", Params: "a=b", Expires: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if p, err := s.TakePushedRequest(ctx, "p1"); err != nil || p.Params != "a=b" || p.ClientID != "hotel" {
			t.Fatalf("take = %+v %v", p, err)
		}
		if _, err := s.TakePushedRequest(ctx, "p1"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("second take: %v", err)
		}

		// Grants, oldest first.
		for i, cl := range []string{"name", "age_over_18"} {
			if err := s.RecordGrant(ctx, oidc.Grant{Citizen: []byte("cit"), ClientID: "hotel", Subject: "s", Claims: []string{cl}, ACR: oidc.ACRHigh, At: now.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		gs, err := s.Grants(ctx, []byte("cit"))
		if err != nil || len(gs) != 2 || gs[0].Claims[0] != "name" || gs[1].Claims[0] != "age_over_18" {
			t.Fatalf("grants = %+v %v", gs, err)
		}
		if gs, _ := s.Grants(ctx, []byte("other")); len(gs) != 0 {
			t.Fatal("grants of another citizen")
		}

		// Purge and client removal.
		if err := s.Purge(ctx, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthRequest(ctx, "ar2"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatal("expired request survived purge")
		}
		if err := s.DeleteClient(ctx, "hotel"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteClient(ctx, "hotel"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

// TestOIDCAssertions: a client assertion's jti is spent once, for every
// process on the database, until Purge drops it after its expiry.
func TestOIDCAssertions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, b := db.OIDC(), db.OIDC() // two provider processes' stores
		now := time.Now()
		exp := now.Add(time.Minute)
		if err := a.UseAssertion(ctx, "bank", "j1", exp); err != nil {
			t.Fatal(err)
		}
		if err := b.UseAssertion(ctx, "bank", "j1", exp); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("replay to another process: %v", err)
		}
		if err := b.UseAssertion(ctx, "shop", "j1", exp); err != nil {
			t.Fatalf("same jti of another client: %v", err)
		}
		// The pair is hashed with a separator: ("ban", "kj1") is another pair.
		if err := b.UseAssertion(ctx, "ban", "kj1", exp); err != nil {
			t.Fatalf("shifted pair: %v", err)
		}
		// Eight concurrent uses of one fresh assertion: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				err := s.UseAssertion(ctx, "bank", "j2", exp)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, oidc.ErrConflict):
					conflicts++
				default:
					t.Errorf("use: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || conflicts != 7 {
			t.Fatalf("wins %d conflicts %d", wins, conflicts)
		}
		// Purge keeps live ones, drops expired ones.
		if err := a.Purge(ctx, now); err != nil {
			t.Fatal(err)
		}
		if err := a.UseAssertion(ctx, "bank", "j1", exp); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("live assertion purged: %v", err)
		}
		if err := a.Purge(ctx, exp.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := a.UseAssertion(ctx, "bank", "j1", exp.Add(time.Hour)); err != nil {
			t.Fatalf("after purge: %v", err)
		}
	})
}

// TestOIDCUpdateClient: an update replaces an existing client only, and
// revokes its tokens when asked, in the same transaction.
func TestOIDCUpdateClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.OIDC()
		c := oidc.Client{ID: "hotel", Name: verifier.Text{Zh: "酒店", En: "Hotel"}, RedirectURIs: []string{"https://h.example/cb"}, AuthMethod: oidc.AuthSecretBasic,
			SecretHash: []byte("0123456789abcdef0123456789abcdef"), Sector: "h.example", Entitlements: []oidc.Entitlement{{Claim: "name"}}, Created: time.Now()}
		if err := s.UpdateClient(ctx, c, false); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("update of a missing client: %v", err)
		}
		if err := s.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		tok := oidc.Token{ID: "rt", Refresh: true, ClientID: "hotel", Subject: "s", AuthRequestID: "ar", Expires: time.Now().Add(time.Hour), Data: []byte("d")}
		if err := s.PutTokens(ctx, "", tok); err != nil {
			t.Fatal(err)
		}
		c.Name, c.SecretHash = verifier.Text{Zh: "酒店二号", En: "Hotel 2"}, []byte("fedcba9876543210fedcba9876543210")
		if err := s.UpdateClient(ctx, c, false); err != nil {
			t.Fatal(err)
		}
		got, err := s.Client(ctx, "hotel")
		if err != nil || got.Name != c.Name || string(got.SecretHash) != string(c.SecretHash) {
			t.Fatalf("client = %+v, %v", got, err)
		}
		if _, err := s.Token(ctx, "rt"); err != nil {
			t.Fatalf("token gone without revocation: %v", err)
		}
		if err := s.UpdateClient(ctx, c, true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Token(ctx, "rt"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("token survived revocation: %v", err)
		}
	})
}

// TestOIDCEnrollmentProof: the provider finds how a card's enrollment was
// proofed from the card's status entry.
func TestOIDCEnrollmentProof(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, s := db.Proofing(), db.OIDC()
		t0 := time.UnixMilli(1_800_000_000_000).UTC()
		issue := func(n int, dec proofing.Decision) {
			t.Helper()
			id := fmt.Sprintf("s%d", n)
			if err := p.CreateSession(ctx, proofing.Session{ID: id, DeviceKey: []byte(`{}`), DeviceThumb: "th" + id, Digits: "1234",
				State: proofing.StatePending, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if err := p.Claim(ctx, id, t0, t0.Add(time.Minute), []byte("e")); err != nil {
				t.Fatal(err)
			}
			dec.SessionID, dec.Approved, dec.Reason, dec.Subject, dec.DecidedAt = id, true, proofing.ReasonApproved, fmt.Sprintf("subj%d", n), t0
			card := &proofing.Card{ID: "c" + id, SessionID: id, Subject: dec.Subject, IDNumber: []byte{1}, DeviceKey: []byte(`{}`),
				DeviceThumb: "th" + id, StatusURI: "https://x/status/1", StatusIndex: n, State: proofing.CardActive, CreatedAt: t0}
			if err := p.Finish(ctx, proofing.Finish{Decision: dec, Card: card}); err != nil {
				t.Fatal(err)
			}
		}
		issue(1, proofing.Decision{FaceDistance: 0.3, SpeechConfidence: 0.9, Liveness: 0.8})
		issue(2, proofing.Decision{FaceDistance: 0.3, SpeechConfidence: -1, Liveness: -1})
		got, err := s.EnrollmentProof(ctx, "https://x/status/1", 1)
		want := oidc.EnrollmentProof{Approved: true, FaceMatched: true, Live: true, Spoken: true, CardActive: true}
		if err != nil || got != want || got.Level() != oidc.ACRHigh {
			t.Fatalf("full proof = %+v, %v", got, err)
		}
		got, err = s.EnrollmentProof(ctx, "https://x/status/1", 2)
		want = oidc.EnrollmentProof{Approved: true, FaceMatched: true, CardActive: true}
		if err != nil || got != want || got.Level() != oidc.ACRSubstantial {
			t.Fatalf("face-only proof = %+v, %v", got, err)
		}
		if _, err := s.EnrollmentProof(ctx, "https://x/status/2", 1); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("other list: %v", err)
		}
		if err := p.SetCardState(ctx, "cs1", proofing.CardRevoking); err != nil {
			t.Fatal(err)
		}
		if got, err := s.EnrollmentProof(ctx, "https://x/status/1", 1); err != nil || got.CardActive {
			t.Fatalf("revoking card = %+v, %v", got, err)
		}
	})
}

// TestOIDCClientNamesMigration: relying parties registered when a name was
// one string get it in the language it is written in (Chinese characters:
// zh, else en) on both drivers; rows already in two languages, and the
// rest of each row, are left as they were.
func TestOIDCClientNamesMigration(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "shenfen.db") },
	}
	if os.Getenv("SHENFEN_TEST_POSTGRES") != "off" {
		urls["postgres"] = func(t *testing.T) string { return storetest.NewPostgresDatabase(t) }
	}
	for driver, newURL := range urls {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			u := newURL(t)
			db, err := store.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			// Rows as the provider wrote them before, then migration 3 undone.
			for id, name := range map[string]string{
				"hotel": `"Grand Hotel"`, "inn": `"北京饭店 Beijing"`, "rare": `"㐀 Inn"`, "quote": `"O'Neil \"Bar\""`,
				"new": `{"zh":"新酒店","en":"New Hotel"}`,
			} {
				data := `{"client_id":"` + id + `","name":` + name + `,"redirect_uris":["https://` + id + `.example/cb"],` +
					`"token_endpoint_auth_method":"client_secret_basic","sector_identifier":"` + id + `.example","entitlements":[{"claim":"name"}],"created_at":"2026-01-02T03:04:05Z"}`
				if _, err := db.SQL().ExecContext(ctx, `INSERT INTO oidc_clients (id, data, secret, created_at) VALUES ('`+id+`', '`+
					strings.ReplaceAll(data, "'", "''")+`', NULL, 1)`); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.SQL().ExecContext(ctx, `DELETE FROM schema_migrations WHERE domain = 'oidc' AND version = 3`); err != nil {
				t.Fatal(err)
			}
			db.Close()
			db, err = store.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			want := map[string]verifier.Text{
				"hotel": {En: "Grand Hotel"}, "inn": {Zh: "北京饭店 Beijing"}, "rare": {Zh: "㐀 Inn"}, "quote": {En: `O'Neil "Bar"`},
				"new": {Zh: "新酒店", En: "New Hotel"},
			}
			cs, err := db.OIDC().Clients(ctx)
			if err != nil || len(cs) != len(want) {
				t.Fatalf("clients after the migration: %d, %v", len(cs), err)
			}
			for _, c := range cs {
				if c.Name != want[c.ID] {
					t.Errorf("%s: name %+v, want %+v", c.ID, c.Name, want[c.ID])
				}
				if c.Sector != c.ID+".example" || len(c.RedirectURIs) != 1 || len(c.Entitlements) != 1 || c.Created.Year() != 2026 {
					t.Errorf("%s: the rest of the row changed: %+v", c.ID, c)
				}
			}
		})
	}
}

// TestOIDCBindAuthRequest: the first binding wins, once, and only on a
// live request; the request comes back with it.
func TestOIDCBindAuthRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.OIDC()
		now := time.Now()
		ar := oidc.AuthRequest{ID: "ar1", ClientID: "hotel", Txn: "txn1", State: oidc.StatePending, Expires: now.Add(time.Minute), Data: []byte(`{"a":1}`)}
		if err := s.CreateAuthRequest(ctx, ar); err != nil {
			t.Fatal(err)
		}
		got, bound, err := s.BindAuthRequest(ctx, "ar1", "b1", now)
		if err != nil || !bound || got.Browser != "b1" || got.Txn != "txn1" || string(got.Data) != `{"a":1}` || got.State != oidc.StatePending {
			t.Fatalf("first bind: %+v %v %v", got, bound, err)
		}
		got, bound, err = s.BindAuthRequest(ctx, "ar1", "b2", now)
		if err != nil || bound || got.Browser != "b1" {
			t.Fatalf("second bind: %+v %v %v", got, bound, err)
		}
		// Later writes keep the binding.
		ar.State = oidc.StatePresented
		if err := s.UpdateAuthRequest(ctx, ar, oidc.StatePending); err != nil {
			t.Fatal(err)
		}
		if got, err := s.AuthRequestByTxn(ctx, "txn1"); err != nil || got.Browser != "b1" || got.State != oidc.StatePresented {
			t.Fatalf("after update: %+v %v", got, err)
		}
		// An expired request is returned, not bound.
		ar2 := oidc.AuthRequest{ID: "ar2", ClientID: "hotel", Txn: "txn2", State: oidc.StatePending, Expires: now.Add(-time.Second), Data: []byte(`{}`)}
		if err := s.CreateAuthRequest(ctx, ar2); err != nil {
			t.Fatal(err)
		}
		if got, bound, err := s.BindAuthRequest(ctx, "ar2", "b3", now); err != nil || bound || got.Browser != "" || got.ID != "ar2" {
			t.Fatalf("expired: %+v %v %v", got, bound, err)
		}
		if _, _, err := s.BindAuthRequest(ctx, "nope", "b4", now); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		// Eight browsers at once: exactly one binds.
		ar3 := oidc.AuthRequest{ID: "ar3", ClientID: "hotel", Txn: "txn3", State: oidc.StatePending, Expires: now.Add(time.Minute), Data: []byte(`{}`)}
		if err := s.CreateAuthRequest(ctx, ar3); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		winners := map[string]bool{}
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := fmt.Sprint("browser", i)
				got, bound, err := s.BindAuthRequest(ctx, "ar3", b, now)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("bind: %v", err)
				}
				if bound {
					winners[b] = got.Browser == b
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("winners %v", winners)
		}
		for _, ok := range winners {
			if !ok {
				t.Fatal("the winner was not returned its binding")
			}
		}
	})
}

// TestOIDCGrantAuthRequest: the consent's writes (request done with its
// code, grant recorded) happen together or not at all.
func TestOIDCGrantAuthRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.OIDC()
		now := time.Now()
		ar := oidc.AuthRequest{ID: "ar1", ClientID: "hotel", Txn: "txn1", State: oidc.StatePresented, Expires: now.Add(time.Minute), Data: []byte(`{}`)}
		if err := s.CreateAuthRequest(ctx, ar); err != nil {
			t.Fatal(err)
		}
		g := oidc.Grant{Citizen: []byte("cit"), ClientID: "hotel", Subject: "sub", Claims: []string{"name"}, ACR: oidc.ACRHigh, At: now}
		done := ar
		done.State, done.CodeHash, done.Expires, done.Data = oidc.StateDone, "code1", now.Add(30*time.Second).Truncate(time.Microsecond), []byte(`{"granted":1}`)
		// From the wrong state: nothing written.
		if err := s.GrantAuthRequest(ctx, done, oidc.StatePending, g); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("wrong state: %v", err)
		}
		if gs, _ := s.Grants(ctx, []byte("cit")); len(gs) != 0 {
			t.Fatalf("grant recorded by a refused consent: %+v", gs)
		}
		if err := s.GrantAuthRequest(ctx, done, oidc.StatePresented, g); err != nil {
			t.Fatal(err)
		}
		got, err := s.AuthRequest(ctx, "ar1")
		if err != nil || got.State != oidc.StateDone || got.CodeHash != "code1" || !got.Expires.Equal(done.Expires) || string(got.Data) != `{"granted":1}` {
			t.Fatalf("after grant: %+v %v", got, err)
		}
		if gs, err := s.Grants(ctx, []byte("cit")); err != nil || len(gs) != 1 || gs[0].Subject != "sub" || gs[0].Claims[0] != "name" || gs[0].ACR != oidc.ACRHigh {
			t.Fatalf("grants = %+v %v", gs, err)
		}
		// A second submission: conflict, no second grant, the code stays.
		again := done
		again.CodeHash = "code2"
		if err := s.GrantAuthRequest(ctx, again, oidc.StatePresented, g); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("second grant: %v", err)
		}
		if gs, _ := s.Grants(ctx, []byte("cit")); len(gs) != 1 {
			t.Fatalf("grants after a second submission: %d", len(gs))
		}
		if _, err := s.ConsumeCode(ctx, "code1", now, nil); err != nil {
			t.Fatalf("consume: %v", err)
		}
		// A code that clashes with another request's fails as a whole.
		ar2 := ar
		ar2.ID, ar2.Txn = "ar2", "txn2"
		if err := s.CreateAuthRequest(ctx, ar2); err != nil {
			t.Fatal(err)
		}
		clash := done
		clash.ID = "ar2"
		if err := s.GrantAuthRequest(ctx, clash, oidc.StatePresented, g); err == nil {
			t.Fatal("a clashing code was recorded")
		}
		if got, _ := s.AuthRequest(ctx, "ar2"); got.State != oidc.StatePresented {
			t.Fatalf("clash moved the request: %+v", got)
		}
		if gs, _ := s.Grants(ctx, []byte("cit")); len(gs) != 1 {
			t.Fatalf("grants after a clash: %d", len(gs))
		}
	})
}

// TestOIDCRotateRefreshToken: the client assertion is spent by the
// rotation; a replayed assertion writes nothing (the token stays live), a
// reused token spends the assertion and issues nothing.
func TestOIDCRotateRefreshToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, b := db.OIDC(), db.OIDC()
		now := time.Now()
		rt := oidc.Token{ID: "rt1", Refresh: true, ClientID: "bank", Subject: "s", AuthRequestID: "ar1", Expires: now.Add(time.Hour), Data: []byte("d")}
		if err := a.PutTokens(ctx, "", rt); err != nil {
			t.Fatal(err)
		}
		next := func(id string) oidc.Token { t := rt; t.ID = id; return t }
		j1 := &oidc.Assertion{ClientID: "bank", JTI: "j1", Expires: now.Add(time.Minute)}
		if err := a.RotateRefreshToken(ctx, j1, "rt1", next("rt2")); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Token(ctx, "rt2"); err != nil || !got.Refresh || string(got.Data) != "d" {
			t.Fatalf("rotated: %+v %v", got, err)
		}
		if _, err := a.Token(ctx, "rt1"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatal("old token survived")
		}
		// The assertion is spent, for every process.
		if err := b.UseAssertion(ctx, "bank", "j1", now.Add(time.Minute)); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("assertion not spent: %v", err)
		}
		// Replayed assertion: ErrAssertionSpent, the live token untouched.
		err := b.RotateRefreshToken(ctx, j1, "rt2", next("rt3"))
		if !errors.Is(err, oidc.ErrAssertionSpent) || !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("replayed assertion: %v", err)
		}
		if _, err := a.Token(ctx, "rt2"); err != nil {
			t.Fatalf("replayed assertion burnt the token: %v", err)
		}
		if _, err := a.Token(ctx, "rt3"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatal("replayed assertion issued a token")
		}
		// Reused refresh token with a fresh assertion: ErrConflict, not
		// ErrAssertionSpent; the assertion is spent all the same.
		j2 := &oidc.Assertion{ClientID: "bank", JTI: "j2", Expires: now.Add(time.Minute)}
		err = a.RotateRefreshToken(ctx, j2, "rt1", next("rt4"))
		if !errors.Is(err, oidc.ErrConflict) || errors.Is(err, oidc.ErrAssertionSpent) {
			t.Fatalf("reused token: %v", err)
		}
		if _, err := a.Token(ctx, "rt4"); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatal("reused token issued a token")
		}
		if err := b.UseAssertion(ctx, "bank", "j2", now.Add(time.Minute)); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("assertion of a reused token not spent: %v", err)
		}
		// Without an assertion it is PutTokens' rotation.
		if err := a.RotateRefreshToken(ctx, nil, "rt2", next("rt5")); err != nil {
			t.Fatal(err)
		}
		if err := a.RotateRefreshToken(ctx, nil, "rt2", next("rt6")); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("reused without assertion: %v", err)
		}
		// Eight concurrent rotations of one token, each with its own
		// assertion: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				err := s.RotateRefreshToken(ctx, &oidc.Assertion{ClientID: "bank", JTI: fmt.Sprint("c", i), Expires: now.Add(time.Minute)},
					"rt5", next(fmt.Sprint("rt-c", i)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, oidc.ErrConflict) && !errors.Is(err, oidc.ErrAssertionSpent):
					conflicts++
				default:
					t.Errorf("rotate: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || conflicts != 7 {
			t.Fatalf("wins %d conflicts %d", wins, conflicts)
		}
	})
}

// TestOIDCConsumeCodeIssuing: the access token prepared at consent is
// stored by the exchange that spends the code, and by no other.
func TestOIDCConsumeCodeIssuing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := db.OIDC()
		now := time.Now()
		g := oidc.Grant{Citizen: []byte("cit"), ClientID: "hotel", Subject: "sub", Claims: []string{"name"}, ACR: oidc.ACRHigh, At: now}
		// consented stores a request in state presented and grants it.
		consented := func(id, code string, token []byte, codeExp time.Time) {
			t.Helper()
			ar := oidc.AuthRequest{ID: id, ClientID: "hotel", Txn: "txn-" + id, State: oidc.StatePresented, Expires: now.Add(time.Minute), Data: []byte(`{}`)}
			if err := s.CreateAuthRequest(ctx, ar); err != nil {
				t.Fatal(err)
			}
			ar.State, ar.CodeHash, ar.Expires, ar.Subject, ar.Token = oidc.StateDone, code, codeExp, "sub", token
			if err := s.GrantAuthRequest(ctx, ar, oidc.StatePresented, g); err != nil {
				t.Fatal(err)
			}
		}
		access := func(id string) *oidc.Token {
			return &oidc.Token{ID: id, Expires: now.Add(15 * time.Minute).Truncate(time.Microsecond)}
		}
		noToken := func(id string) {
			t.Helper()
			if _, err := s.Token(ctx, id); !errors.Is(err, oidc.ErrNotFound) {
				t.Fatalf("token %s stored: %v", id, err)
			}
		}

		consented("ar1", "code1", []byte(`{"scopes":["openid"]}`), now.Add(time.Minute))
		got, err := s.ConsumeCode(ctx, "code1", now, access("at1"))
		if err != nil || got.ID != "ar1" || got.Subject != "sub" || string(got.Token) != `{"scopes":["openid"]}` || got.State != oidc.StateUsed {
			t.Fatalf("consume: %+v %v", got, err)
		}
		at, err := s.Token(ctx, "at1")
		if err != nil || at.Refresh || at.ClientID != "hotel" || at.Subject != "sub" || at.AuthRequestID != "ar1" ||
			string(at.Data) != `{"scopes":["openid"]}` || !at.Expires.Equal(access("at1").Expires) {
			t.Fatalf("access token: %+v %v", at, err)
		}
		// A replay stores nothing, and the caller can revoke by request.
		if got, err := s.ConsumeCode(ctx, "code1", now, access("at2")); !errors.Is(err, oidc.ErrConflict) || got.ID != "ar1" {
			t.Fatalf("replay: %+v %v", got, err)
		}
		noToken("at2")
		// Without a prepared token (a grant with a refresh token), or
		// without access, nothing is stored.
		consented("ar2", "code2", nil, now.Add(time.Minute))
		if _, err := s.ConsumeCode(ctx, "code2", now, access("at3")); err != nil {
			t.Fatal(err)
		}
		noToken("at3")
		consented("ar3", "code3", []byte(`{}`), now.Add(time.Minute))
		if got, err := s.ConsumeCode(ctx, "code3", now, nil); err != nil || got.State != oidc.StateUsed {
			t.Fatalf("consume without access: %+v %v", got, err)
		}
		// An expired code is burnt, not found, and issues nothing.
		consented("ar4", "code4", []byte(`{}`), now.Add(-time.Second))
		if _, err := s.ConsumeCode(ctx, "code4", now, access("at4")); !errors.Is(err, oidc.ErrNotFound) {
			t.Fatalf("expired code: %v", err)
		}
		noToken("at4")
		if _, err := s.ConsumeCode(ctx, "code4", now, access("at4")); !errors.Is(err, oidc.ErrConflict) {
			t.Fatalf("expired code was not burnt: %v", err)
		}
		// Eight concurrent exchanges: one wins, one token.
		consented("ar5", "code5", []byte(`{}`), now.Add(time.Minute))
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.ConsumeCode(ctx, "code5", time.Now(), access(fmt.Sprint("c", i)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, oidc.ErrConflict):
					t.Errorf("consume: %v", err)
				}
			}()
		}
		wg.Wait()
		stored := 0
		for i := range 8 {
			if _, err := s.Token(ctx, fmt.Sprint("c", i)); err == nil {
				stored++
			}
		}
		if wins != 1 || stored != 1 {
			t.Fatalf("wins %d, tokens stored %d", wins, stored)
		}
	})
}
