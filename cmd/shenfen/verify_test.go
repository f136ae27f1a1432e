package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/status"
)

func TestVerifyCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	iss, err := credtest.NewIssuer("cli test", now.AddDate(0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	holder := credtest.HolderKey()
	anchors := filepath.Join(dir, "anchors.pem")
	os.WriteFile(anchors, append(iss.RootPEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.Leaf.Raw})...), 0o600)
	ref := &credential.StatusRef{URI: "https://id.shenfen.test/status/1", Index: 1}

	issued, err := sdjwt.Issue(ctx, sdjwt.IssueParams{Issuer: "https://id.shenfen.test", Profile: credential.ProfileCN, PID: pid,
		Holder: &holder.PublicKey, Status: ref, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.AddDate(1, 0, 0),
		Signer: iss.Signer(), Chain: iss.Chain})
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.Present(ctx, issued, []string{"given_name"}, holder, "hotel", "n1", now)
	if err != nil {
		t.Fatal(err)
	}
	sdFile := filepath.Join(dir, "sd.txt")
	os.WriteFile(sdFile, []byte(pres), 0o600)

	mi, err := mdoc.Issue(ctx, mdoc.IssueParams{Profile: credential.ProfileCN, PID: pid, Holder: &holder.PublicKey, Status: ref,
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.AddDate(1, 0, 0), Signer: iss.Signer(), Chain: iss.Chain})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := mdoc.OID4VPSessionTranscript("hotel", "n1", nil, "https://hotel/response")
	resp, err := mdoc.Present(ctx, mi, map[string][]string{credential.ProfileCN.Namespace: {"given_name"}}, holder, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	mdFile := filepath.Join(dir, "resp.cbor")
	os.WriteFile(mdFile, resp, 0o600)

	compact, err := qr.Issue(ctx, mdoc.IssueParams{PID: pid, Holder: &holder.PublicKey, Status: ref,
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.AddDate(1, 0, 0), Signer: iss.Signer(), Chain: iss.Chain})
	if err != nil {
		t.Fatal(err)
	}
	nonce := []byte("0123456789abcdef")
	payload, err := qr.Present(ctx, compact, nil, holder, nonce, now)
	if err != nil {
		t.Fatal(err)
	}
	png, err := qr.Encode(payload, 4)
	if err != nil {
		t.Fatal(err)
	}
	qrFile := filepath.Join(dir, "qr.png")
	os.WriteFile(qrFile, png, 0o600)
	thumb := filepath.Join(dir, "thumb.jpg")

	// Cached status lists signed by the issuer: index 1 valid in list 1,
	// revoked in list 2 (same URI, as a later download would be).
	statusFile := func(name string, st status.Status) string {
		l, _ := status.NewList(2, 16)
		l.Set(1, st)
		tok := &status.Token{Subject: "https://id.shenfen.test/status/1", IssuedAt: now.Add(-time.Minute), Expires: now.Add(time.Hour), List: l}
		raw, err := tok.Sign(jws.Key{Signer: iss.Signer(), Chain: [][]byte{iss.Leaf.Raw}})
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(raw), 0o600)
		return f
	}
	validList := statusFile("valid.jwt", status.Valid)
	revokedList := statusFile("revoked.jwt", status.Invalid)
	suspendedList := statusFile("suspended.jwt", status.Suspended)

	stdout := os.Stdout
	os.Stdout, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer func() { os.Stdout.Close(); os.Stdout = stdout }()

	// The issuer's trust list as served by trustapi (JSON with PEM entries).
	pemOf := func(c []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})) }
	trustList, _ := json.Marshal(map[string]any{
		"issuer":  credtest.IssuerURL,
		"anchors": []map[string]string{{"pem": pemOf(iss.Root.Raw)}},
		"signers": []map[string]string{{"pem": pemOf(iss.Leaf.Raw)}},
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(trustList)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name string
		args []string
		err  error
	}{
		{"qr with trust list URL", []string{"--trust-list", srv.URL, "--no-status", "--nonce", hex.EncodeToString(nonce), "--qr", qrFile}, nil},
		{"sd-jwt", []string{"--anchors", anchors, "--no-status", "--nonce", "n1", "--aud", "hotel", sdFile}, nil},
		{"sd-jwt wrong nonce", []string{"--anchors", anchors, "--no-status", "--nonce", "n2", "--aud", "hotel", sdFile}, credential.ErrNonce},
		{"sd-jwt status unchecked", []string{"--anchors", anchors, "--nonce", "n1", "--aud", "hotel", sdFile}, credential.ErrStatus},
		{"sd-jwt cached status valid", []string{"--anchors", anchors, "--status-list", validList, "--nonce", "n1", "--aud", "hotel", sdFile}, nil},
		{"sd-jwt cached status revoked", []string{"--anchors", anchors, "--status-list", revokedList, "--nonce", "n1", "--aud", "hotel", sdFile}, credential.ErrRevoked},
		{"mdoc cached status suspended", []string{"--anchors", anchors, "--status-list", suspendedList, "--nonce", "n1", "--aud", "hotel", "--response-uri", "https://hotel/response", mdFile}, credential.ErrSuspended},
		{"qr cached status revoked", []string{"--anchors", anchors, "--status-list", revokedList, "--nonce", hex.EncodeToString(nonce), "--qr", qrFile}, credential.ErrRevoked},
		{"mdoc", []string{"--anchors", anchors, "--no-status", "--nonce", "n1", "--aud", "hotel", "--response-uri", "https://hotel/response", mdFile}, nil},
		{"mdoc other verifier", []string{"--anchors", anchors, "--no-status", "--nonce", "n1", "--aud", "bar", "--response-uri", "https://hotel/response", mdFile}, credential.ErrHolderBinding},
		{"qr image", []string{"--anchors", anchors, "--no-status", "--nonce", hex.EncodeToString(nonce), "--qr", qrFile, "--thumbnail", thumb}, nil},
		{"qr image, wrong nonce", []string{"--anchors", anchors, "--no-status", "--nonce", "00", "--qr", qrFile}, credential.ErrHolderBinding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runVerify(ctx, tc.args)
			if tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
	if b, err := os.ReadFile(thumb); err != nil || len(b) < 100 || b[0] != 0xFF {
		t.Errorf("thumbnail not written: %v", err)
	}
}

// FuzzTrustList feeds arbitrary trust-list bodies (fetched from the
// network) to the parser behind --trust-list.
func FuzzTrustList(f *testing.F) {
	f.Add([]byte(`{"anchors":[{"pem":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}],"signers":[]}`))
	f.Add([]byte(`{"keys":[{"x5c":["AAAA"]}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := trustJSONToPEM(b); err == nil {
			credential.ParseAnchorsPEM(p)
		}
		isSDJWT(string(b))
	})
}
