package problem

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		d          *Details
		wantStatus int
		wantRetry  string
	}{
		{"bad request", BadRequest("x"), 400, ""},
		{"rate limited", TooManyRequests("slow down", 1500*time.Millisecond), 429, "2"},
		{"internal", Internal(), 500, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, httptest.NewRequest("GET", "/p", nil), tc.d)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.wantRetry {
				t.Fatalf("Retry-After %q, want %q", got, tc.wantRetry)
			}
			var d Details
			if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
				t.Fatal(err)
			}
			if d.Type != tc.d.Type || d.Instance != "/p" || d.Status != tc.wantStatus {
				t.Fatalf("body %+v", d)
			}
		})
	}
}

type causeWriter struct {
	*httptest.ResponseRecorder
	got error
}

func (c *causeWriter) RecordCause(err error) { c.got = err }

// TestCauseNeverSent: the cause travels with the error (errors.Is) and to
// the response writer's recorder, never into the body.
func TestCauseNeverSent(t *testing.T) {
	secret := errors.New("go-jose/go-jose: compact JWS format must have three parts")
	d := BadRequest("send a compact JWS").WithCause(secret)
	if !errors.Is(d, secret) {
		t.Fatal("errors.Is does not see the cause")
	}
	w := &causeWriter{ResponseRecorder: httptest.NewRecorder()}
	Write(w, httptest.NewRequest("POST", "/x", nil), d)
	if w.got != secret {
		t.Fatalf("recorder got %v", w.got)
	}
	if strings.Contains(w.Body.String(), "go-jose") || strings.Contains(w.Body.String(), "cause") {
		t.Fatalf("cause sent: %s", w.Body.String())
	}
}
