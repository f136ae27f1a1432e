package oid4vc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/proofing/proofingtest"
)

// The compact QR card is advertised, offered and issued with the others:
// same device key, status entry and validity; its QR presentation
// verifies offline and follows the card's status.
func TestCollectQRCard(t *testing.T) {
	e := doubleEnv(t)
	ctx := context.Background()

	// Metadata: a third mso_mdoc configuration with the compact docType.
	resp, err := http.Get(e.srv.URL + "/.well-known/openid-credential-issuer")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Configs map[string]struct {
			Format  string `json:"format"`
			DocType string `json:"doctype"`
		} `json:"credential_configurations_supported"`
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if c := meta.Configs[oid4vc.ConfigQR]; c.Format != "mso_mdoc" || c.DocType != credential.ProfileQR.DocType {
		t.Fatalf("metadata %s: %+v", oid4vc.ConfigQR, c)
	}

	key := credtest.HolderKey()
	offer := e.enroll(t, key)
	ids, _ := offer["credential_configuration_ids"].([]any)
	if len(ids) != 3 || ids[2] != oid4vc.ConfigQR {
		t.Fatalf("offer configurations %v", ids)
	}
	creds := e.collect(t, offer, key, oid4vc.ConfigSDJWT, oid4vc.ConfigMdoc, oid4vc.ConfigQR)
	compact, err := base64.RawURLEncoding.DecodeString(creds[2])
	if err != nil {
		t.Fatal(err)
	}

	// The QR payload verifies offline with the cached document signer.
	iss := e.api.Cards.(*oid4vc.Issuer).Signers.(signers).iss
	anchors := iss.Anchors()
	anchors.AddIssuers(iss.Leaf)
	now := time.Now()
	payload, err := qr.Present(ctx, compact, nil, key, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	v := &qr.Verifier{Anchors: anchors, Status: e.checker, Seen: &credtest.Nonces{}}
	got, err := v.Verify(ctx, payload, nil)
	if err != nil {
		t.Fatalf("verify QR: %v", err)
	}
	if got.Type != credential.ProfileQR.DocType || got.Elements["id_number"] != string(e.person.IDNumber) || len(got.Thumbnail) == 0 {
		t.Fatalf("QR result %s %v (thumbnail %d bytes)", got.Type, got.Elements["id_number"], len(got.Thumbnail))
	}
	if !got.HolderKey.Equal(&key.PublicKey) {
		t.Fatal("QR card not bound to the device key")
	}

	// One card: the same status entry and validity in every format.
	pres, err := mdoc.Present(ctx, mustB64(t, creds[1]), map[string][]string{credential.ProfileCN.Namespace: {"id_number"}}, key,
		qr.SessionTranscript(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	full, err := (&mdoc.Verifier{Anchors: iss.Anchors(), Status: e.checker}).Verify(ctx, pres, mdoc.Expect{SessionTranscript: qr.SessionTranscript(nil)})
	if err != nil {
		t.Fatal(err)
	}
	sdPres, err := sdjwt.Present(ctx, creds[0], []string{"id_number"}, key, "aud", "n1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sd, err := e.api.Verifier.VerifySDJWT(ctx, sdPres, "n1", "aud")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*credential.Verified{"mdoc": &full.Verified, "sd-jwt": sd} {
		if *r.Status != *got.Status || !r.ValidFrom.Equal(got.ValidFrom) || !r.ValidUntil.Equal(got.ValidUntil) {
			t.Errorf("%s: status %v valid %s..%s; QR card: %v %s..%s", name, r.Status, r.ValidFrom, r.ValidUntil, got.Status, got.ValidFrom, got.ValidUntil)
		}
	}

	// Revoking the card revokes the QR card too.
	e.checker.Set(got.Status.URI, got.Status.Index, credential.StatusInvalid)
	payload, err = qr.Present(ctx, compact, nil, key, nil, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, payload, nil); !errors.Is(err, credential.ErrRevoked) {
		t.Fatalf("revoked QR card: %v", err)
	}
}

// A configuration outside the three is refused.
func TestUnknownConfiguration(t *testing.T) {
	e := doubleEnv(t)
	key := credtest.HolderKey()
	offer := e.enroll(t, key)
	code := offer["grants"].(map[string]any)[oid4vc.PreAuthGrant].(map[string]any)["pre-authorized_code"].(string)
	resp, err := http.PostForm(e.srv.URL+"/vci/token", map[string][]string{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	tok := decode(t, resp)["access_token"].(string)
	if st, m := e.credentialRequest(t, tok, "pid_mdoc_qr2", key, e.freshNonce(t)); st != 400 || m["error"] != "unknown_credential_configuration" {
		t.Fatalf("unknown configuration: %d %v", st, m)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCardBoundedByIDCard: a card never outlives the ID card it stands for
// (good through its valid-until date).
func TestCardBoundedByIDCard(t *testing.T) {
	p := zhang(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	p.ValidUntil = today.AddDate(0, 0, 10)
	e := newEnv(t, &proofingtest.Face{}, proofingtest.Speech{}, proofingtest.Records{p.IDNumber: p}, p)
	key := credtest.HolderKey()
	creds := e.collect(t, e.enroll(t, key), key, oid4vc.ConfigSDJWT)
	pres, err := sdjwt.Present(context.Background(), creds[0], []string{"id_number"}, key, "aud", "n", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.api.Verifier.VerifySDJWT(context.Background(), pres, "n", "aud")
	if err != nil {
		t.Fatal(err)
	}
	if end := p.ValidUntil.AddDate(0, 0, 1); !v.ValidUntil.Equal(end) {
		t.Fatalf("card valid until %s, want the ID card's end %s", v.ValidUntil, end)
	}
}
