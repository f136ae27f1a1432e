package admin_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/operator"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/verifier"
)

func init() { operator.SecretIterations = 1000 } // tests only: hashing at full cost is the production path

type keySource struct{ k *ecdsa.PrivateKey }

func (s keySource) SigningKey(context.Context) (jws.Key, error) {
	return jws.Key{Signer: s.k, KeyID: "test"}, nil
}

// fakeCards is one citizen's one card.
type fakeCards struct{ status string }

const cardID = "card-1"

func (f *fakeCards) CardsOf(ctx context.Context, id registry.IDNumber) ([]proofing.CardInfo, error) {
	return []proofing.CardInfo{{Card: proofing.Card{ID: cardID, CreatedAt: time.Now()}, Status: f.status}}, nil
}

func (f *fakeCards) SetCardStatus(ctx context.Context, id, next, by string) (string, error) {
	if id != cardID {
		return "", proofing.ErrNotFound
	}
	old := f.status
	f.status = next
	return old, nil
}

type guardEnv struct {
	srv   *httptest.Server
	db    *store.DB
	log   *audit.Log
	guard *admin.Guard
	cards *fakeCards
	subj  string // the test citizen's history key
	dump  func() string
}

const citizenID = "440115199003071238"

func newGuardEnv(t *testing.T) *guardEnv {
	t.Helper()
	db := storetest.SQLite(t)
	sl, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{1}, seal.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lg := audit.New(db.Audit(), keySource{k}, sl)
	reg := registry.NewService(store.NewRegistry(db), sl)
	subject := func(id string) (string, error) {
		n, err := registry.ParseIDNumber(id, time.Now())
		if err != nil {
			return "", err
		}
		return base64.RawURLEncoding.EncodeToString(reg.Index(n)), nil
	}
	subj, _ := subject(citizenID)
	e := &guardEnv{db: db, log: lg, cards: &fakeCards{status: proofing.StatusValid}, subj: subj}
	ops := db.Operators()
	e.guard = &admin.Guard{
		Policy: operator.DefaultPolicy(), Operators: ops, Approvals: ops, Log: lg, Sealer: sl, Subject: subject,
		Tokens: []admin.MachineToken{{Name: "loader", Token: token, Roles: []operator.Role{operator.RegistryClerk}}},
		CardSubject: func(ctx context.Context, id string) (string, error) {
			if id != cardID {
				return "", errors.New("no card")
			}
			return subj, nil
		},
		StatusSubject: func(ctx context.Context, uri string, idx int) (string, error) { return subj, nil },
	}
	mux := http.NewServeMux()
	quiet := slog.New(slog.DiscardHandler)
	e.guard.Mount(mux)
	admin.NewRegistryAPI(reg, quiet).MountGate(mux, e.guard)
	admin.NewCardsAPI(e.cards, quiet).MountGate(mux, e.guard)
	admin.NewRPAPI(db.OIDC(), quiet).MountGate(mux, e.guard)
	admin.NewVerifierAPI(&verifier.Registry{Store: db.Verifiers()}, quiet).MountGate(mux, e.guard)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) })
	mux.Handle("POST /admin/status", e.guard.Wrap("POST /admin/status", ok))
	mux.Handle("GET /admin/api/enrollments/stats", e.guard.Wrap("GET /admin/api/enrollments/stats", ok))
	mux.Handle("GET /admin/api/unlisted", e.guard.Wrap("GET /admin/api/unlisted", ok))
	// The console puts the signed-in operator in the context; here a test
	// header names the operator to load, as the console's session does.
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("Test-Operator"); id != "" {
			op, err := ops.Operator(r.Context(), id)
			if err != nil {
				t.Errorf("test operator %s: %v", id, err)
			}
			r = r.WithContext(operator.WithPrincipal(r.Context(), op.Principal()))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	// One operator per role, and a second card officer and clerk for four eyes.
	for i, r := range operator.Roles {
		e.addOperator(t, string(r), operator.Operator{Name: "Operator " + string(r), Badge: fmt.Sprintf("B%03d", i),
			Office: "Nansha office", Roles: []operator.Role{r}})
	}
	e.addOperator(t, "card-officer-2", operator.Operator{Name: "Second Officer", Badge: "B100", Office: "Nansha office",
		Roles: []operator.Role{operator.CardOfficer}})
	e.addOperator(t, "registry-clerk-2", operator.Operator{Name: "Second Clerk", Badge: "B101", Office: "Nansha office",
		Roles: []operator.Role{operator.RegistryClerk}})
	e.dump = func() string { // the public log: every leaf
		var b strings.Builder
		n, _ := lg.Size(context.Background())
		for i := uint64(0); i < n; i++ {
			l, _ := lg.Leaf(context.Background(), i)
			b.Write(l.Data)
			b.WriteByte('\n')
		}
		return b.String()
	}
	// The citizen's record exists.
	if code, body := e.do(t, "registry-clerk", "", "POST", "/admin/api/registry", "purpose=civil-status", record); code != 201 {
		t.Fatalf("add record: %d %s", code, body)
	}
	return e
}

func (e *guardEnv) addOperator(t *testing.T, id string, op operator.Operator) {
	t.Helper()
	op.ID = id
	op.SecretHash, _ = operator.HashSecret("secret-" + id)
	op.CreatedAt = time.Now()
	if err := e.db.Operators().AddOperator(context.Background(), op); err != nil {
		t.Fatal(err)
	}
}

// do calls the API as operator op (or with bearer tok), with a reason.
func (e *guardEnv) do(t *testing.T, op, tok, method, path, reason, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if op != "" {
		req.Header.Set("Test-Operator", op)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if reason != "" {
		req.Header.Set(admin.ReasonHeader, reason)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// routeCall is a concrete request for each admin route.
var routeCall = map[string]struct{ path, body string }{
	"POST /admin/api/registry":                     {"/admin/api/registry", record},
	"GET /admin/api/registry/{id}":                 {"/admin/api/registry/" + citizenID, ""},
	"POST /admin/api/registry/{id}/status":         {"/admin/api/registry/" + citizenID + "/status", `{"status":"valid"}`},
	"GET /admin/api/registry/{id}/cards":           {"/admin/api/registry/" + citizenID + "/cards", ""},
	"POST /admin/api/cards/{card}/status":          {"/admin/api/cards/" + cardID + "/status", `{"status":"suspended"}`},
	"POST /admin/status":                           {"/admin/status", `{"uri":"https://x/status/1","idx":3,"status":"suspended"}`},
	"POST /admin/api/rps":                          {"/admin/api/rps", `{"name":"x"}`},
	"GET /admin/api/rps":                           {"/admin/api/rps", ""},
	"GET /admin/api/rps/{id}":                      {"/admin/api/rps/none", ""},
	"PATCH /admin/api/rps/{id}":                    {"/admin/api/rps/none", `{}`},
	"DELETE /admin/api/rps/{id}":                   {"/admin/api/rps/none", ""},
	"POST /admin/api/verifiers":                    {"/admin/api/verifiers", `{"kind":"desk"}`},
	"GET /admin/api/verifiers":                     {"/admin/api/verifiers", ""},
	"GET /admin/api/verifiers/{id}":                {"/admin/api/verifiers/none", ""},
	"PUT /admin/api/verifiers/{id}":                {"/admin/api/verifiers/none", `{}`},
	"POST /admin/api/verifiers/{id}/certificate":   {"/admin/api/verifiers/none/certificate", ""},
	"DELETE /admin/api/verifiers/{id}":             {"/admin/api/verifiers/none", ""},
	"GET /admin/api/enrollments/stats":             {"/admin/api/enrollments/stats", ""},
	"GET /admin/api/operators":                     {"/admin/api/operators", ""},
	"POST /admin/api/operators":                    {"/admin/api/operators", `{}`},
	"GET /admin/api/approvals":                     {"/admin/api/approvals", ""},
	"POST /admin/api/approvals/{approval}/approve": {"/admin/api/approvals/none/approve", ""},
	"POST /admin/api/approvals/{approval}/reject":  {"/admin/api/approvals/none/reject", ""},
	"GET /admin/api/whoami":                        {"/admin/api/whoami", ""},
}

// TestRoleRouteTable calls every admin route as nobody, as a wrong token,
// as each role and as the scoped machine token: a principal gets past the
// guard exactly when its roles grant the route's permission.
func TestRoleRouteTable(t *testing.T) {
	e := newGuardEnv(t)
	policy := operator.DefaultPolicy()
	for _, rt := range admin.Routes {
		call, ok := routeCall[rt.Pattern]
		if !ok {
			t.Fatalf("route %s has no test call", rt.Pattern)
		}
		method, _, _ := strings.Cut(rt.Pattern, " ")
		if code, _ := e.do(t, "", "", method, call.path, "purpose=counter-service", call.body); code != 401 {
			t.Errorf("%s without a principal: %d, want 401", rt.Pattern, code)
		}
		if code, _ := e.do(t, "", "wrong-token-0123456789", method, call.path, "purpose=counter-service", call.body); code != 401 {
			t.Errorf("%s with a wrong token: %d, want 401", rt.Pattern, code)
		}
		type who struct {
			name, op, tok string
			roles         []operator.Role
		}
		var principals []who
		for _, r := range operator.Roles {
			principals = append(principals, who{string(r), string(r), "", []operator.Role{r}})
		}
		principals = append(principals, who{"machine token", "", token, []operator.Role{operator.RegistryClerk}})
		for _, p := range principals {
			want := rt.Permission == "" || policy.Allows(p.roles, rt.Permission)
			code, body := e.do(t, p.op, p.tok, method, call.path, "purpose=counter-service", call.body)
			denied := code == 403 && strings.Contains(body, "your roles do not allow")
			if denied == want || code == 401 {
				t.Errorf("%s as %s: %d %s; allowed by policy: %v", rt.Pattern, p.name, code, body, want)
			}
		}
	}
	// A route without a rule is refused to everyone, administrators included.
	for _, r := range operator.Roles {
		if code, _ := e.do(t, string(r), "", "GET", "/admin/api/unlisted", "", ""); code != 403 {
			t.Errorf("unlisted route as %s: %d, want 403", r, code)
		}
	}
	// Each permission is granted to some role, and the citizen's record to
	// none of auditor and administrator (separation of duties).
	for _, rt := range admin.Routes {
		if rt.Permission != "" && len(policy.Grants[rt.Permission]) == 0 {
			t.Errorf("%s: permission %s granted to no role", rt.Pattern, rt.Permission)
		}
	}
	for _, r := range []operator.Role{operator.Auditor, operator.Administrator} {
		if policy.Allows([]operator.Role{r}, operator.ReadRecord) || policy.Allows([]operator.Role{r}, operator.ReadCards) {
			t.Errorf("%s may read a citizen's record", r)
		}
	}
}

// TestReasonRequired: reading a record or its cards, or changing a record
// or a card, without a valid reason is refused, and nothing is recorded.
func TestReasonRequired(t *testing.T) {
	e := newGuardEnv(t)
	before, _ := e.log.AccessHistory(context.Background(), e.subj, 0)
	for _, rt := range admin.Routes {
		if !rt.Personal() {
			continue
		}
		call := routeCall[rt.Pattern]
		method, _, _ := strings.Cut(rt.Pattern, " ")
		op := map[operator.Permission]string{operator.ReadRecord: "registry-reader", operator.ReadCards: "registry-reader",
			operator.WriteRecord: "registry-clerk", operator.RecordStatus: "registry-clerk", operator.CardStatus: "card-officer"}[rt.Permission]
		for _, reason := range []string{"", "because", "purpose=curiosity", "case=", "purpose=counter-service; purpose=lost-card", "case=a b"} {
			code, body := e.do(t, op, "", method, call.path, reason, call.body)
			if code != 400 || !strings.Contains(body, "reason-required") {
				t.Errorf("%s with reason %q: %d %s, want 400 reason-required", rt.Pattern, reason, code, body)
			}
		}
	}
	after, _ := e.log.AccessHistory(context.Background(), e.subj, 0)
	if len(after) != len(before) {
		t.Errorf("refused requests were recorded: %d accesses, want %d", len(after), len(before))
	}
	for _, good := range []string{"purpose=counter-service", "case=2026-NS-0042", "purpose=court-order; case=(2026)粤01"} {
		code, body := e.do(t, "registry-reader", "", "GET", "/admin/api/registry/"+citizenID, good, "")
		if want := 200; strings.Contains(good, "粤") {
			want = 400 // a case number is printable ASCII
			if code != want {
				t.Errorf("reason %q: %d %s, want %d", good, code, body, want)
			}
		} else if code != want {
			t.Errorf("reason %q: %d %s, want %d", good, code, body, want)
		}
	}
}

func approvalID(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		Approval string `json:"approval"`
		State    string `json:"state"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Approval == "" || v.State != "pending" {
		t.Fatalf("not a pending request: %s", body)
	}
	return v.Approval
}

// TestFourEyes: revoking a card and cancelling a record wait for a second
// operator; the requester, a machine, and an operator without the
// permission cannot approve; a rejected request does nothing; a role named
// in Policy.Alone acts alone.
func TestFourEyes(t *testing.T) {
	e := newGuardEnv(t)
	code, body := e.do(t, "card-officer", "", "POST", "/admin/api/cards/"+cardID+"/status", "purpose=lost-card; case=C-1", `{"status":"revoked"}`)
	if code != 202 {
		t.Fatalf("revoke: %d %s, want 202", code, body)
	}
	id := approvalID(t, body)
	if e.cards.status != proofing.StatusValid {
		t.Fatal("the card was revoked before the second operator approved")
	}
	for _, tc := range []struct{ who, tok, why string }{
		{"card-officer", "", "own request"},
		{"registry-clerk", "", "without the permission"},
		{"", token, "a machine"},
		{"auditor", "", "auditor"},
	} {
		if code, body := e.do(t, tc.who, tc.tok, "POST", "/admin/api/approvals/"+id+"/approve", "", ""); code != 403 {
			t.Errorf("approve by %s: %d %s, want 403", tc.why, code, body)
		}
	}
	if e.cards.status != proofing.StatusValid {
		t.Fatal("the card was revoked without a second operator")
	}
	// The second officer sees it in the list and approves: it takes effect.
	if code, body := e.do(t, "card-officer-2", "", "GET", "/admin/api/approvals", "", ""); code != 200 || !strings.Contains(body, id) || !strings.Contains(body, "lost-card") {
		t.Fatalf("approvals list: %d %s", code, body)
	}
	if code, body := e.do(t, "card-officer-2", "", "POST", "/admin/api/approvals/"+id+"/approve", "", ""); code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	if e.cards.status != proofing.StatusRevoked {
		t.Fatalf("card status %q after approval, want revoked", e.cards.status)
	}
	if code, _ := e.do(t, "card-officer-2", "", "POST", "/admin/api/approvals/"+id+"/approve", "", ""); code != 409 {
		t.Errorf("second approval of one request: %d, want 409", code)
	}
	// Cancelling a record: rejected by the second clerk, nothing changes.
	code, body = e.do(t, "registry-clerk", "", "POST", "/admin/api/registry/"+citizenID+"/status", "purpose=civil-status", `{"status":"cancelled"}`)
	if code != 202 {
		t.Fatalf("cancel: %d %s, want 202", code, body)
	}
	id = approvalID(t, body)
	if code, body := e.do(t, "registry-clerk-2", "", "POST", "/admin/api/approvals/"+id+"/reject", "", ""); code != 200 {
		t.Fatalf("reject: %d %s", code, body)
	}
	if _, body := e.do(t, "registry-reader", "", "GET", "/admin/api/registry/"+citizenID, "purpose=counter-service", ""); !strings.Contains(body, `"status":"valid"`) {
		t.Fatalf("record after a rejected cancellation: %s", body)
	}
	// Reversible changes need no second operator.
	if code, body := e.do(t, "registry-clerk", "", "POST", "/admin/api/registry/"+citizenID+"/status", "purpose=civil-status", `{"status":"valid"}`); code != 200 {
		t.Errorf("set valid: %d %s", code, body)
	}
	// A request older than ApprovalTTL can no longer be approved.
	_, body = e.do(t, "registry-clerk", "", "POST", "/admin/api/registry/"+citizenID+"/status", "purpose=civil-status", `{"status":"deceased"}`)
	id = approvalID(t, body)
	e.guard.Now = func() time.Time { return time.Now().Add(admin.ApprovalTTL + time.Minute) }
	if code, body := e.do(t, "registry-clerk-2", "", "GET", "/admin/api/approvals", "", ""); strings.Contains(body, id) {
		t.Errorf("expired request listed: %d %s", code, body)
	}
	if code, body := e.do(t, "registry-clerk-2", "", "POST", "/admin/api/approvals/"+id+"/approve", "", ""); code != 409 || !strings.Contains(body, "expired") {
		t.Errorf("approve an expired request: %d %s, want 409 expired", code, body)
	}
	e.guard.Now = nil
	if _, body := e.do(t, "registry-reader", "", "GET", "/admin/api/registry/"+citizenID, "purpose=counter-service", ""); !strings.Contains(body, `"status":"valid"`) {
		t.Fatalf("record after an expired request: %s", body)
	}
	// Configured per role: card officers act alone.
	e.guard.Policy.Alone = []operator.Role{operator.CardOfficer}
	e.cards.status = proofing.StatusValid
	if code, body := e.do(t, "card-officer", "", "POST", "/admin/api/cards/"+cardID+"/status", "purpose=lost-card", `{"status":"revoked"}`); code != 200 || e.cards.status != proofing.StatusRevoked {
		t.Errorf("revoke by a role that acts alone: %d %s", code, body)
	}
}

// TestHistoryShowsEveryAccess performs every admin action that touches the
// citizen, then reads the citizen's history: each is there with its
// office, badge, action and reason; each checks against its log leaf from
// the citizen's view alone; and the public log holds nothing personal.
func TestHistoryShowsEveryAccess(t *testing.T) {
	e := newGuardEnv(t)
	ctx := context.Background()
	type action struct {
		op, method, path, reason, body string
		want                           int
		action                         string
	}
	steps := []action{
		{"registry-reader", "GET", "/admin/api/registry/" + citizenID, "purpose=counter-service", "", 200, "registry.read"},
		{"registry-reader", "GET", "/admin/api/registry/" + citizenID + "/cards", "case=NS-2026-7", "", 200, "cards.read"},
		{"registry-clerk", "POST", "/admin/api/registry", "purpose=registry-correction", record, 200, "registry.write"},
		{"registry-clerk", "POST", "/admin/api/registry/" + citizenID + "/status", "purpose=civil-status", `{"status":"valid"}`, 200, "registry.status:valid"},
		{"card-officer", "POST", "/admin/api/cards/" + cardID + "/status", "purpose=lost-card", `{"status":"suspended"}`, 200, "cards.status:suspended"},
		{"card-officer", "POST", "/admin/status", "purpose=lost-card", `{"uri":"https://x/status/1","idx":3,"status":"valid"}`, 200, "cards.status:valid"},
		{"card-officer", "POST", "/admin/api/cards/" + cardID + "/status", "purpose=police-case; case=P-9", `{"status":"revoked"}`, 202, "cards.status:revoked:requested"},
	}
	for _, s := range steps {
		if code, body := e.do(t, s.op, "", s.method, s.path, s.reason, s.body); code != s.want {
			t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, code, body, s.want)
		}
	}
	_, body := e.do(t, "card-officer-2", "", "GET", "/admin/api/approvals", "", "")
	var list struct {
		Approvals []struct{ ID string } `json:"approvals"`
	}
	json.Unmarshal([]byte(body), &list)
	if len(list.Approvals) != 1 {
		t.Fatalf("approvals: %s", body)
	}
	if code, body := e.do(t, "card-officer-2", "", "POST", "/admin/api/approvals/"+list.Approvals[0].ID+"/approve", "", ""); code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	steps = append(steps, action{"card-officer", "", "", "purpose=police-case; case=P-9", "", 0, "cards.status:revoked"})
	// Machine access is recorded too, named.
	if code, body := e.do(t, "", token, "POST", "/admin/api/registry", "purpose=data-quality", record); code != 200 {
		t.Fatalf("machine write: %d %s", code, body)
	}
	hist, err := e.log.AccessHistory(ctx, e.subj, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first; the setup's add comes first in time.
	slices.Reverse(hist)
	if len(hist) != 1+len(steps)+1 {
		t.Fatalf("history has %d accesses, want %d", len(hist), 1+len(steps)+1)
	}
	for i, s := range steps {
		a := hist[1+i]
		if a.Action != s.action || a.Reason != s.reason || a.Operator != s.op || a.Office != "Nansha office" || a.Badge == "" {
			t.Errorf("access %d: %+v, want %s by %s for %q", i, a.Access, s.action, s.op, s.reason)
		}
	}
	if last := hist[len(steps)]; last.ApprovedBy != "B100" || last.Approval == "" {
		t.Errorf("approved revocation recorded without its approver: %+v", last.Access)
	}
	if m := hist[len(hist)-1]; m.Kind != "machine" || m.Operator != "machine:loader" {
		t.Errorf("machine access: %+v", m.Access)
	}
	// The citizen's view (badge, no name by default) checks against the leaves.
	for _, a := range hist {
		v := a.ForCitizen(false)
		if v.Name != "" || v.Operator != "" {
			t.Errorf("citizen view shows the name against the policy: %+v", v)
		}
		d, err := v.Digest(e.subj)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := e.log.Leaf(ctx, a.LeafIndex)
		if err != nil {
			t.Fatal(err)
		}
		var ev audit.Event
		json.Unmarshal(leaf.Data, &ev)
		if ev.Type != audit.EventAccess || ev.Digest != d {
			t.Errorf("leaf %d: %s does not match the citizen's digest %s", a.LeafIndex, leaf.Data, d)
		}
	}
	if c, err := e.log.CheckAccesses(ctx); err != nil || c.Leaves != len(hist) || c.Records != len(hist) {
		t.Errorf("check: %+v %v", c, err)
	}
	// Nothing personal in the public log: no ID number, name, subject key,
	// operator, badge, office, reason or case number.
	pub := e.dump()
	for _, s := range []string{citizenID, "王伟", e.subj, "registry-reader", "card-officer", "B00", "Nansha", "counter-service", "P-9", "loader"} {
		if strings.Contains(pub, s) {
			t.Errorf("public log contains %q", s)
		}
	}
}
