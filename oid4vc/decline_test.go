package oid4vc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/oid4vc"
)

// TestVerifierDeclineCancel: the wallet's error response ends a desk's
// request (access_denied as declined, any other error as failed), and the
// desk cancels its own request with its result token; a closed request
// takes no answer, its request object is gone, and it cannot be closed
// twice.
func TestVerifierDeclineCancel(t *testing.T) {
	e := doubleEnv(t)
	key := credtest.HolderKey()
	sd := e.collect(t, e.enroll(t, key), key, oid4vc.ConfigSDJWT)[0]
	claims := []string{"family_name"}
	walletError := func(s vpSession, code, state string) int {
		t.Helper()
		resp, err := http.PostForm(e.srv.URL+"/oid4vp/responses/"+s.id, url.Values{"error": {code}, "state": {state}})
		if err != nil {
			t.Fatal(err)
		}
		decode(t, resp)
		return resp.StatusCode
	}
	cancel := func(s vpSession, tok string) int {
		t.Helper()
		req, _ := http.NewRequest("DELETE", e.srv.URL+"/api/verifier/requests/"+s.id, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	requestObject := func(s vpSession) int {
		t.Helper()
		resp, err := http.Get(e.srv.URL + "/oid4vp/requests/" + s.id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Declined: the right state is needed, then the desk's poll says so.
	s := e.present(t, sd, key, claims)
	if st := walletError(s, "access_denied", "wrong-state"); st != 400 {
		t.Fatalf("decline with a wrong state: %d", st)
	}
	if _, m := e.result(t, s.id, s.token); m["status"] != "pending" {
		t.Fatalf("after a refused decline: %v", m)
	}
	if st := walletError(s, "access_denied", s.id); st != 200 {
		t.Fatalf("decline: %d", st)
	}
	if st, m := e.result(t, s.id, s.token); st != 200 || m["status"] != "declined" {
		t.Fatalf("declined result: %d %v", st, m)
	}
	if st, _ := s.answer(s.id); st != 400 {
		t.Fatalf("a declined request took a presentation: %d", st)
	}
	if st := cancel(s, s.token); st != http.StatusConflict {
		t.Fatalf("cancel after decline: %d", st)
	}

	// Another error word: failed, and said to be the wallet's refusal.
	s = e.present(t, sd, key, claims)
	if st := walletError(s, "invalid_request", s.id); st != 200 {
		t.Fatalf("wallet error: %d", st)
	}
	if _, m := e.result(t, s.id, s.token); m["status"] != "failed" || m["error"] != "wallet-refused" {
		t.Fatalf("wallet error result: %v", m)
	}

	// Cancelled by the desk: only with the result token.
	s = e.present(t, sd, key, claims)
	for _, tok := range []string{"", "wrong"} {
		if st := cancel(s, tok); st != http.StatusUnauthorized {
			t.Fatalf("cancel with token %q: %d", tok, st)
		}
	}
	if st := cancel(s, s.token); st != http.StatusNoContent {
		t.Fatalf("cancel: %d", st)
	}
	if st, m := e.result(t, s.id, s.token); st != 200 || m["status"] != "cancelled" {
		t.Fatalf("cancelled result: %d %v", st, m)
	}
	if st := requestObject(s); st != 404 {
		t.Fatalf("request object of a cancelled request: %d", st)
	}
	if st, m := s.answer(s.id); st != 400 || !strings.Contains(m["error_description"].(string), "answered") {
		t.Fatalf("a cancelled request took a presentation: %d %v", st, m)
	}
	if st := walletError(s, "access_denied", s.id); st != 400 {
		t.Fatalf("decline after cancel: %d", st)
	}
	if st := cancel(s, s.token); st != http.StatusConflict {
		t.Fatalf("second cancel: %d", st)
	}
	req, _ := http.NewRequest("DELETE", e.srv.URL+"/api/verifier/requests/unknown", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("cancel an unknown request: %d", resp.StatusCode)
	}
	if len(e.disclosures.list) != 0 {
		t.Fatalf("%d disclosures recorded for declined and cancelled requests", len(e.disclosures.list))
	}
}
