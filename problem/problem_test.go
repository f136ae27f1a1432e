package problem

import (
	"encoding/json"
	"net/http/httptest"
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
