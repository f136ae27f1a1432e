package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/operator"
)

type opDir map[string]operator.Operator

func (d opDir) Operator(ctx context.Context, id string) (operator.Operator, error) {
	if op, ok := d[id]; ok {
		return op, nil
	}
	return operator.Operator{}, operator.ErrNotFound
}

// TestOperatorSignInNotLockedOutByStrangers: a stranger flooding the
// sign-in with wrong secrets for a named operator, from one address, is
// limited; the operator, from another address, signs in at once. The admin
// token signs nobody in once operators are on.
func TestOperatorSignInNotLockedOutByStrangers(t *testing.T) {
	operator.SecretIterations = 1000
	defer func() { operator.SecretIterations = 600_000 }()
	hash, _ := operator.HashSecret("the-right-secret")
	s := NewSessions("0123456789abcdef0123", nil, nil, nil)
	s.UseOperators(opDir{"wang.fang": {ID: "wang.fang", Name: "王芳", Office: "南沙", Roles: []operator.Role{operator.RegistryReader}, SecretHash: hash}})
	try := func(addr, body string) int {
		req := httptest.NewRequest("POST", "http://shenfen.test/admin/session", strings.NewReader(body))
		req.RemoteAddr = addr
		req.Header.Set("Origin", "http://shenfen.test")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(csrfHeader, "pre")
		req.AddCookie(&http.Cookie{Name: preCookie, Value: "pre"})
		rec := httptest.NewRecorder()
		s.signIn(rec, req)
		return rec.Code
	}
	limited := false
	for i := range 40 {
		switch code := try("203.0.113.9:4000", `{"operator":"wang.fang","secret":"guess-`+string(rune('a'+i%26))+`"}`); code {
		case http.StatusTooManyRequests:
			limited = true
		case http.StatusUnauthorized:
		default:
			t.Fatalf("stranger's guess %d: %d", i, code)
		}
	}
	if !limited {
		t.Error("40 guesses from one address were never limited")
	}
	if code := try("198.51.100.7:5000", `{"operator":"wang.fang","secret":"the-right-secret"}`); code != http.StatusOK {
		t.Fatalf("the operator after the stranger's flood: %d, want 200", code)
	}
	if code := try("198.51.100.8:5000", `{"token":"0123456789abcdef0123"}`); code != http.StatusBadRequest {
		t.Fatalf("the admin token as a console sign-in: %d, want 400", code)
	}
	// A session naming an operator is refused once the operator is disabled.
	sess := s.newOperatorSession("wang.fang")
	if _, ok := s.principal(context.Background(), sess); !ok {
		t.Fatal("fresh session refused")
	}
	s.ops.(opDir)["wang.fang"] = operator.Operator{ID: "wang.fang", Disabled: true}
	if _, ok := s.principal(context.Background(), sess); ok {
		t.Fatal("a disabled operator's session still works")
	}
	// A forged session (operator changed, MAC kept) is refused.
	parts := strings.Split(s.newOperatorSession("li.na"), ".")
	forged := parts[0] + "." + b64([]byte("wang.fang")) + "." + parts[2]
	if _, ok := s.parse(forged); ok {
		t.Fatal("a session with another operator's name and the old MAC was accepted")
	}
}
