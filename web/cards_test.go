package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/proofing/proofingtest"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// refCards accepts presentations "ref:URI|INDEX|IDNUMBER~KB" whose
// key-binding nonce and audience are the ones asked for: the card with
// that status entry, as the SD-JWT verifier would return it.
type refCards struct{}

func (refCards) VerifyCard(_ context.Context, pres, nonce, aud string) (*credential.Verified, error) {
	body, kb, _ := strings.Cut(pres, "~")
	if kb != kbFor(nonce, aud) {
		return nil, credential.ErrNonce
	}
	parts := strings.Split(strings.TrimPrefix(body, "ref:"), "|")
	if len(parts) != 3 {
		return nil, credential.ErrMalformed
	}
	idx, _ := strconv.Atoi(parts[1])
	return &credential.Verified{Format: "dc+sd-jwt", Claims: map[string]any{"id_number": parts[2]},
		Status: &credential.StatusRef{URI: parts[0], Index: idx}}, nil
}

const (
	cardsToken = "0123456789abcdef0123"
	zhangID    = "11010519491231002X"
	liID       = "110105199001011232"
)

type cardsEnv struct {
	mux    *http.ServeMux
	store  *store.Proofing
	status *status.Service
	cards  *proofing.Cards
	events *proofingtest.Events
}

func newCardsEnv(t *testing.T, db *store.DB) *cardsEnv {
	t.Helper()
	e := &cardsEnv{mux: http.NewServeMux(), store: db.Proofing(), events: &proofingtest.Events{},
		status: status.NewService(db.Status(), nil, "http://shenfen.test/status")}
	var err error
	e.cards, err = proofing.NewCards(proofing.CardsConfig{Store: e.store, Records: proofingtest.Records{},
		Status: e.status, Log: e.events,
		Client: proofing.NewLimiter(time.Hour, 6, 100), IDNumber: proofing.NewLimiter(time.Hour, 3, 100)})
	if err != nil {
		t.Fatal(err)
	}
	c := &Citizen{Verifier: refCards{}, Cards: e.cards, Audience: "http://shenfen.test/api/wallet",
		NonceMAC: testMAC, Used: db.SingleUse()}
	c.Mount(e.mux)
	admin.NewCardsAPI(e.cards, nil).Mount(e.mux, cardsToken)
	Mount(e.mux, Options{AdminToken: cardsToken, API: e.mux})
	return e
}

func (e *cardsEnv) issue(t *testing.T, cardID, id string) proofing.Card {
	t.Helper()
	ref, err := e.status.Allocate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := proofing.Card{ID: cardID, SessionID: "s-" + cardID, Subject: e.cards.Subject(registry.IDNumber(id)),
		IDNumber: []byte("sealed"), DeviceKey: []byte(`{}`), DeviceThumb: "thumb-" + cardID, StatusURI: ref.URI,
		StatusIndex: ref.Index, State: proofing.CardActive, CreatedAt: time.Now().UTC()}
	if err := proofingtest.SeedCard(context.Background(), e.store, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *cardsEnv) do(method, path, body string, h map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://shenfen.test"+path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.10:4000"
	for k, v := range h {
		if k == "RemoteAddr" {
			r.RemoteAddr = v
			continue
		}
		r.Header.Set(k, v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, r)
	return rec
}

// cardAuth is the Authorization header of a fresh presentation of c.
func (e *cardsEnv) cardAuth(c proofing.Card, id string) map[string]string {
	var n struct{ Nonce string }
	json.NewDecoder(e.do("POST", "/api/wallet/nonce", "", nil).Body).Decode(&n)
	pres := "ref:" + c.StatusURI + "|" + strconv.Itoa(c.StatusIndex) + "|" + id + "~" + kbFor(n.Nonce, "http://shenfen.test/api/wallet")
	return map[string]string{"Authorization": "Card " + pres}
}

func (e *cardsEnv) statusOf(t *testing.T, c proofing.Card) status.Status {
	t.Helper()
	st, err := e.status.Get(context.Background(), status.Ref{URI: c.StatusURI, Index: c.StatusIndex})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

type problemDoc struct {
	Type, Title, Detail string
	Status              int
}

func problemOf(t *testing.T, rec *httptest.ResponseRecorder) problemDoc {
	t.Helper()
	var p problemDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("not a problem document: %d %s", rec.Code, rec.Body)
	}
	return p
}

var jsonCT = map[string]string{"Content-Type": "application/json", "Origin": "http://shenfen.test"}

func lostBody(id, code string) string {
	b, _ := json.Marshal(map[string]string{"id_number": id, "revocation_code": code})
	return string(b)
}

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range h {
		if kk != k {
			out[kk] = vv
		}
	}
	return out
}

var codeRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$`)

func TestLostPhoneEndpoints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCardsEnv(t, db)
		mine := e.issue(t, "card-zhang", zhangID)
		other := e.issue(t, "card-li", liID)

		// The wallet gets the code once, with its card.
		if rec := e.do("POST", "/api/wallet/revocation-code", "", nil); rec.Code != 401 {
			t.Fatalf("code without a card: %d", rec.Code)
		}
		rec := e.do("POST", "/api/wallet/revocation-code", "", e.cardAuth(mine, zhangID))
		var got struct {
			Code string `json:"revocation_code"`
		}
		json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != 201 || !codeRE.MatchString(got.Code) || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("revocation code: %d %s", rec.Code, rec.Body)
		}
		code := got.Code
		rec = e.do("POST", "/api/wallet/revocation-code", "", e.cardAuth(mine, zhangID))
		if p := problemOf(t, rec); rec.Code != 409 || !strings.HasSuffix(p.Type, "/revocation-code-issued") {
			t.Fatalf("second code: %d %s", rec.Code, rec.Body)
		}

		// Hostile and mistaken attempts.
		wrong := []byte(code)
		wrong[0] = map[bool]byte{true: 'A', false: 'B'}[wrong[0] != 'A']
		refusal := func(name, body string, h map[string]string) problemDoc {
			t.Helper()
			rec := e.do("POST", "/api/wallet/lost", body, h)
			p := problemOf(t, rec)
			if rec.Code != 403 || !strings.HasSuffix(p.Type, "/revocation-refused") {
				t.Fatalf("%s: %d %s", name, rec.Code, rec.Body)
			}
			return p
		}
		pWrong := refusal("wrong code", lostBody(zhangID, string(wrong)), jsonCT)
		pUnknown := refusal("unknown ID number", lostBody("440106198001010019", code), with(jsonCT, "RemoteAddr", "192.0.2.11:1"))
		if pWrong != pUnknown {
			t.Fatalf("the answer tells whether the ID number exists: %+v vs %+v", pWrong, pUnknown)
		}
		refusal("another citizen's ID number", lostBody(liID, code), with(jsonCT, "RemoteAddr", "192.0.2.11:1"))
		for _, tc := range []struct {
			name, body string
			h          map[string]string
			want       int
			typ        string
		}{
			{"bad check digit", lostBody("110105194912310021", code), jsonCT, 400, "invalid-id-number"},
			{"not JSON", "id_number=" + zhangID, with(jsonCT, "Content-Type", "application/x-www-form-urlencoded"), 415, "unsupported-media-type"},
			{"cross-site", lostBody(zhangID, code), with(jsonCT, "Origin", "http://evil.test"), 403, "csrf"},
			{"unknown field", `{"id_number":"` + zhangID + `","revocation_code":"x","all":true}`, jsonCT, 400, "bad-request"},
			{"missing code", `{"id_number":"` + zhangID + `"}`, jsonCT, 400, "bad-request"},
			{"huge", `{"id_number":"` + zhangID + `","revocation_code":"` + strings.Repeat("A", 4000) + `"}`, jsonCT, 400, "bad-request"},
		} {
			rec := e.do("POST", "/api/wallet/lost", tc.body, with(tc.h, "RemoteAddr", "192.0.2.12:1"))
			if p := problemOf(t, rec); rec.Code != tc.want || !strings.HasSuffix(p.Type, "/"+tc.typ) {
				t.Fatalf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		if e.statusOf(t, mine) != status.Valid || e.statusOf(t, other) != status.Valid {
			t.Fatal("a refused attempt changed a card")
		}

		// The right code, typed loosely, from another browser.
		rec = e.do("POST", "/api/wallet/lost", lostBody(strings.ToLower(zhangID), strings.ToLower(strings.ReplaceAll(code, "-", " "))),
			with(jsonCT, "RemoteAddr", "203.0.113.5:1"))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"suspended":1`) {
			t.Fatalf("lost-phone suspension: %d %s", rec.Code, rec.Body)
		}
		if e.statusOf(t, mine) != status.Suspended || e.statusOf(t, other) != status.Valid {
			t.Fatal("wrong cards suspended")
		}
		refusal("spent code", lostBody(zhangID, code), with(jsonCT, "RemoteAddr", "203.0.113.5:1"))
		// Recorded: the status change (status service) and who asked.
		if a := e.events.Actions(); len(a) != 1 || a[0] != "suspend by citizen-revocation-code" {
			t.Fatalf("logged actions %v", a)
		}

		// Rate limits: the ID number has had 3 tries that reached the
		// limiter (wrong, right, spent; limit 3), so the next is refused
		// from any address, with Retry-After.
		rec = e.do("POST", "/api/wallet/lost", lostBody(zhangID, code), with(jsonCT, "RemoteAddr", "198.51.100.1:1"))
		if p := problemOf(t, rec); rec.Code != 429 || !strings.HasSuffix(p.Type, "/rate-limited") || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("per ID number limit: %d %s", rec.Code, rec.Body)
		}
		// A fresh address gets 6 tries (whatever the ID numbers), then 429.
		for i := range 10 {
			id := []string{"110101198001010010", "110101198001010029", "110101198001010037", "110101198001010045",
				"110101198001010053", "110101198001010061", "11010119800101007X", "110101198001010010", "110101198001010029", "110101198001010037"}[i]
			rec = e.do("POST", "/api/wallet/lost", lostBody(id, "WRONG"), with(jsonCT, "RemoteAddr", "192.0.2.99:1"))
			if rec.Code == 429 {
				if i != 6 {
					t.Fatalf("limited after %d tries", i)
				}
				break
			}
		}
		if rec.Code != 429 {
			t.Fatalf("per address limit never reached: %d", rec.Code)
		}
	})
}

func TestConsoleCards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newCardsEnv(t, db)
		old := e.issue(t, "card-old", zhangID)
		mine := e.issue(t, "card-new", zhangID) // marks the old one revoking
		bearer := map[string]string{"Authorization": "Bearer " + cardsToken}

		// No token, wrong token.
		for _, h := range []map[string]string{nil, {"Authorization": "Bearer nope"}} {
			if rec := e.do("GET", "/admin/api/registry/"+zhangID+"/cards", "", h); rec.Code != 401 {
				t.Fatalf("list without the token: %d", rec.Code)
			}
			if rec := e.do("POST", "/admin/api/cards/"+mine.ID+"/status", `{"status":"revoked"}`, with(h, "Content-Type", "application/json")); rec.Code != 401 {
				t.Fatalf("change without the token: %d", rec.Code)
			}
		}
		if e.statusOf(t, mine) != status.Valid {
			t.Fatal("an unauthenticated call changed the card")
		}

		rec := e.do("GET", "/admin/api/registry/"+zhangID+"/cards", "", bearer)
		var list struct {
			ID    string          `json:"id_number"`
			Cards []admin.CardDoc `json:"cards"`
		}
		json.Unmarshal(rec.Body.Bytes(), &list)
		if rec.Code != 200 || list.ID != zhangID || len(list.Cards) != 2 || list.Cards[0].ID != mine.ID ||
			list.Cards[0].State != "active" || list.Cards[0].Status != "valid" || list.Cards[0].Device != "thumb-card-new" ||
			list.Cards[1].ID != old.ID || list.Cards[1].State != "revoking" || list.Cards[0].IssuedAt == "" {
			t.Fatalf("cards: %d %s", rec.Code, rec.Body)
		}
		if rec := e.do("GET", "/admin/api/registry/440106198001010019/cards", "", bearer); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"cards":[]`) {
			t.Fatalf("no cards: %d %s", rec.Code, rec.Body)
		}
		if rec := e.do("GET", "/admin/api/registry/12345/cards", "", bearer); rec.Code != 400 {
			t.Fatalf("bad ID number: %d", rec.Code)
		}

		// The console: session cookie + CSRF token, forwarded with the bearer token.
		st := e.do("GET", "/admin/session", "", nil)
		pre := cookieOf(st, preCookie)
		in := e.do("POST", "/admin/session", `{"token":"`+cardsToken+`"}`,
			map[string]string{"Origin": "http://shenfen.test", csrfHeader: pre.Value, "Content-Type": "application/json"}, pre)
		sess := cookieOf(in, sessionCookie)
		var s struct{ CSRF string }
		json.Unmarshal(in.Body.Bytes(), &s)
		if sess == nil || s.CSRF == "" {
			t.Fatalf("sign-in: %d %s", in.Code, in.Body)
		}
		console := map[string]string{"Origin": "http://shenfen.test", csrfHeader: s.CSRF, "Content-Type": "application/json"}
		set := func(card, st string, h map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
			return e.do("POST", "/admin/console/api/cards/"+card+"/status", `{"status":"`+st+`"}`, h, cookies...)
		}
		if rec := set(mine.ID, "suspended", with(console, csrfHeader, ""), sess); rec.Code != 403 {
			t.Fatalf("console without CSRF: %d", rec.Code)
		}
		if rec := set(mine.ID, "suspended", with(console, csrfHeader, pre.Value), sess); rec.Code != 403 {
			t.Fatalf("console with the pre-session token: %d", rec.Code)
		}
		if rec := set(mine.ID, "suspended", with(console, "Origin", "http://evil.test"), sess); rec.Code != 403 {
			t.Fatalf("console cross-site: %d", rec.Code)
		}
		if rec := set(mine.ID, "suspended", console); rec.Code != 401 {
			t.Fatalf("console without a session: %d", rec.Code)
		}
		if e.statusOf(t, mine) != status.Valid {
			t.Fatal("a refused console call changed the card")
		}
		if rec := e.do("GET", "/admin/console/api/registry/"+zhangID+"/cards", "", console, sess); rec.Code != 200 || !strings.Contains(rec.Body.String(), mine.ID) {
			t.Fatalf("console list: %d %s", rec.Code, rec.Body)
		}
		steps := []struct {
			card, status string
			want         int
			typ, prev    string
			after        status.Status
		}{
			{mine.ID, "suspended", 200, "", "valid", status.Suspended},
			{mine.ID, "suspended", 200, "", "suspended", status.Suspended},
			{mine.ID, "valid", 200, "", "suspended", status.Valid},
			{mine.ID, "deleted", 422, "invalid-status", "", status.Valid},
			{"no-such-card", "suspended", 404, "card-not-found", "", status.Valid},
			{mine.ID, "revoked", 200, "", "valid", status.Invalid},
			{mine.ID, "valid", 409, "card-revoked", "", status.Invalid},
			{mine.ID, "suspended", 409, "card-revoked", "", status.Invalid},
		}
		for i, tc := range steps {
			rec := set(tc.card, tc.status, console, sess)
			if rec.Code != tc.want {
				t.Fatalf("step %d (%s %s): %d %s", i, tc.card, tc.status, rec.Code, rec.Body)
			}
			if tc.typ != "" {
				if p := problemOf(t, rec); !strings.HasSuffix(p.Type, "/"+tc.typ) {
					t.Fatalf("step %d: %s", i, rec.Body)
				}
			} else if !strings.Contains(rec.Body.String(), `"previous":"`+tc.prev+`"`) {
				t.Fatalf("step %d: %s", i, rec.Body)
			}
			if got := e.statusOf(t, mine); got != tc.after {
				t.Fatalf("step %d: status %v, want %v", i, got, tc.after)
			}
		}
		if c, _ := e.store.Card(context.Background(), mine.ID); c.State != proofing.CardRevoked {
			t.Fatalf("revoked card's record is %s", c.State)
		}
		// A revoked card gets no revocation code.
		if rec := e.do("POST", "/api/wallet/revocation-code", "", e.cardAuth(mine, zhangID)); rec.Code != 409 {
			t.Fatalf("code for a revoked card: %d %s", rec.Code, rec.Body)
		}
		want := "suspend by authority,reinstate by authority,revoke by authority"
		if got := strings.Join(e.events.Actions(), ","); got != want {
			t.Fatalf("logged actions %s, want %s", got, want)
		}
	})
}
