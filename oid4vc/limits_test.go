package oid4vc_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/proofing"
)

// TestNonceFloodLimited: /vci/nonce stores a row per call; one client's
// flood stops at its burst with 429 and a Retry-After.
func TestNonceFloodLimited(t *testing.T) {
	e := doubleEnv(t)
	e.api.NonceLimit = proofing.NewLimiter(oid4vc.NonceClientEvery*1000, oid4vc.NonceClientBurst, 100)
	codes := map[int]int{}
	var last *http.Response
	for range 200 {
		resp, err := http.Post(e.srv.URL+"/vci/nonce", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
		last = resp
	}
	if codes[200] != oid4vc.NonceClientBurst || codes[429] != 200-oid4vc.NonceClientBurst {
		t.Fatalf("answers %v", codes)
	}
	if last.Header.Get("Retry-After") == "" || last.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("429 headers %v", last.Header)
	}
}

// TestJSONAndCrossSite: JSON endpoints refuse other content types with 415
// before reading the body; the browser-facing ones refuse cross-site
// requests with 403.
func TestJSONAndCrossSite(t *testing.T) {
	e := doubleEnv(t)
	for _, tc := range []struct {
		name, path, ctype string
		hdr               map[string]string
		want              int
		wantType          string
	}{
		{"verifier request as a form", "/api/verifier/requests", "application/x-www-form-urlencoded", nil, 415, "unsupported-media-type"},
		{"verifier request as text", "/api/verifier/requests", "text/plain", nil, 415, "unsupported-media-type"},
		{"verifier request without type", "/api/verifier/requests", "", nil, 415, "unsupported-media-type"},
		{"verifier request cross-site", "/api/verifier/requests", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "csrf"},
		{"verifier request from another origin", "/api/verifier/requests", "application/json", map[string]string{"Origin": "http://evil.example"}, 403, "csrf"},
		{"enrollment as text", "/api/enrollments", "text/plain", nil, 415, "unsupported-media-type"},
		{"enrollment cross-site", "/api/enrollments", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "csrf"},
		{"credential as a form", "/vci/credential", "application/x-www-form-urlencoded", nil, 415, "unsupported-media-type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.srv.URL+tc.path, strings.NewReader(`{"claims":["family_name"]}`))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 4096)
			n, _ := resp.Body.Read(buf)
			b.Write(buf[:n])
			if resp.StatusCode != tc.want || !strings.Contains(b.String(), "/problems/"+tc.wantType) {
				t.Fatalf("%d %s", resp.StatusCode, b.String())
			}
		})
	}
	// The same-origin page's own request passes.
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/verifier/requests", strings.NewReader(`{"claims":["family_name"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.desk)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", e.srv.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("same-origin verifier request: %d", resp.StatusCode)
	}
}
