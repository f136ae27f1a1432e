package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// docShots are the screenshots docs/walkthrough.md shows, by step name.
var docShots = []string{
	"wallet-home", "enroll-form", "challenge", "challenge-zh", "recording", "card",
	"verifier", "verifier-request", "wallet-consent-front-desk", "verifier-result", "verifier-checkin",
	"verifier-offline", "verifier-offline-result", "verifier-offline-replay",
	"hotel-login", "wallet-consent-hotel", "hotel-signed-in",
	"hotel-login-zh", "oidc-error-zh", "oidc-rate-limited-zh",
	"history", "admin-record",
	"enrollment-attempts-left", "verifier-request-countdown", "verifier-declined", "verifier-cancelled",
	"wallet-request-gone", "card-suspended",
}

var shotName = regexp.MustCompile(`^[0-9]+-(.+)\.png$`)

// publishDocs copies the screenshots of docShots from a passing run to
// docs/screenshots/<step>.png, re-encoded at the best PNG compression.
// They are blurred already (journey.shot). It runs when SHENFEN_E2E_DOCS=1
// (scripts/screenshots.sh).
func publishDocs(t *testing.T, j *journey) {
	t.Helper()
	byName := map[string]string{}
	for _, p := range j.shots {
		if m := shotName.FindStringSubmatch(filepath.Base(p)); m != nil {
			byName[m[1]] = p
		}
	}
	dir := filepath.Join(root(t), "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, name := range docShots {
		src, ok := byName[name]
		if !ok {
			t.Fatalf("e2e: docs: the run has no screenshot %q", name)
		}
		b, err := smallPNG(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		total += len(b)
	}
	t.Logf("docs: %d screenshots, %d bytes, in %s", len(docShots), total, dir)
}

// smallPNG re-encodes a PNG file at the best compression.
func smallPNG(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("e2e: decode %s: %w", path, err)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("e2e: encode %s: %w", path, err)
	}
	return buf.Bytes(), nil
}
