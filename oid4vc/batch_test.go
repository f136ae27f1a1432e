package oid4vc_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/proofing/proofingtest"
	"github.com/shenfen/shenfen/status"
)

func newKeys(t testing.TB, n int) []*ecdsa.PrivateKey {
	t.Helper()
	out := make([]*ecdsa.PrivateKey, n)
	for i := range out {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = k
	}
	return out
}

// tokens runs the token endpoint with a grant and returns the answer.
func (e *env) token(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(e.srv.URL+"/vci/token", form)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, decode(t, resp)
}

func preAuthCode(offer map[string]any) string {
	return offer["grants"].(map[string]any)[oid4vc.PreAuthGrant].(map[string]any)["pre-authorized_code"].(string)
}

// batchRequest asks for one credential per key, each proof signed by its
// key and carrying attestation (made by attester over all keys, unless
// attestation is given).
func (e *env) batchRequest(t *testing.T, token, cfg string, keys []*ecdsa.PrivateKey, attester *ecdsa.PrivateKey, nonce string) (int, map[string]any) {
	t.Helper()
	var pubs []*ecdsa.PublicKey
	for _, k := range keys {
		pubs = append(pubs, &k.PublicKey)
	}
	att := ""
	if attester != nil {
		var err error
		if att, err = oid4vc.MakeKeyAttestation(attester, pubs, nonce, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var proofs []string
	for _, k := range keys {
		p, err := oid4vc.MakeAttestedProof(k, credtest.IssuerURL, nonce, time.Now(), att)
		if err != nil {
			t.Fatal(err)
		}
		proofs = append(proofs, p)
	}
	b, _ := json.Marshal(map[string]any{"credential_configuration_id": cfg, "proofs": map[string]any{"jwt": proofs}})
	req, _ := http.NewRequest("POST", e.srv.URL+"/vci/credential", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, decode(t, resp)
}

func credentialsOf(t *testing.T, m map[string]any) []string {
	t.Helper()
	var out []string
	for _, c := range m["credentials"].([]any) {
		out = append(out, c.(map[string]any)["credential"].(string))
	}
	return out
}

// TestBatchIssuance collects a batch of single-use credentials of each
// format: one per attested key, each bound to its own key with its own
// status entry, the entries spread over different lists, validity from
// the start of the day; a refresh token collects another batch; the
// card's suspension and revocation change every entry at once, with one
// audit entry each, and the history finds the card from any of them.
func TestBatchIssuance(t *testing.T) {
	e := doubleEnv(t)
	ctx := context.Background()
	device := credtest.HolderKey()
	offer := e.enroll(t, device)
	code, tok := e.token(t, url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {preAuthCode(offer)}})
	if code != 200 || tok["refresh_token"] == nil {
		t.Fatalf("token: %d %v", code, tok)
	}
	seenRef := map[credential.StatusRef]bool{}
	lists := map[string]bool{}
	var refs []credential.StatusRef
	collectBatch := func(access string) {
		for _, cfg := range []string{oid4vc.ConfigSDJWT, oid4vc.ConfigMdoc} {
			keys := newKeys(t, oid4vc.BatchSize)
			code, m := e.batchRequest(t, access, cfg, keys, device, e.freshNonce(t))
			if code != 200 {
				t.Fatalf("%s batch: %d %v", cfg, code, m)
			}
			creds := credentialsOf(t, m)
			if len(creds) != len(keys) {
				t.Fatalf("%s: %d credentials for %d proofs", cfg, len(creds), len(keys))
			}
			batchLists := map[string]bool{}
			for i, c := range creds {
				var v *credential.Verified
				var err error
				now := time.Now()
				if cfg == oid4vc.ConfigSDJWT {
					pres, perr := sdjwt.Present(ctx, c, []string{"age_equal_or_over.18"}, keys[i], "aud", "n", now)
					if perr != nil {
						t.Fatal(perr)
					}
					v, err = e.api.Verifier.VerifySDJWT(ctx, pres, "n", "aud")
				} else {
					b, _ := base64.RawURLEncoding.DecodeString(c)
					v, err = mdocVerify(t, e, b, keys[i])
				}
				if err != nil {
					t.Fatalf("%s credential %d: %v", cfg, i, err)
				}
				if !v.HolderKey.Equal(&keys[i].PublicKey) {
					t.Fatalf("%s credential %d not bound to its key", cfg, i)
				}
				day := now.UTC().Truncate(24 * time.Hour)
				if !v.ValidFrom.Equal(day) || !v.ValidUntil.Equal(day.Add(oid4vc.DefaultBatchValidity)) {
					t.Fatalf("%s credential %d valid %v..%v, want from %v for %v", cfg, i, v.ValidFrom, v.ValidUntil, day, oid4vc.DefaultBatchValidity)
				}
				ref := *v.Status
				if seenRef[ref] || ref == (credential.StatusRef{URI: "", Index: 0}) {
					t.Fatalf("status entry %v twice", ref)
				}
				seenRef[ref] = true
				refs = append(refs, ref)
				lists[ref.URI], batchLists[ref.URI] = true, true
				card, err := e.store.CardByStatus(ctx, ref.URI, ref.Index)
				if err != nil {
					t.Fatalf("card of entry %v: %v", ref, err)
				}
				if card.DeviceThumb == "" || card.State != proofing.CardActive {
					t.Fatalf("card %+v", card)
				}
			}
			if len(batchLists) < status.DefaultSpread {
				t.Fatalf("%s: %d credentials from %d lists, want %d (each from its own while shards last)", cfg, len(creds), len(batchLists), status.DefaultSpread)
			}
		}
	}
	collectBatch(tok["access_token"].(string))
	// Refill with the refresh token.
	code, tok2 := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}})
	if code != 200 || tok2["access_token"] == nil || tok2["refresh_token"] != nil {
		t.Fatalf("refresh: %d %v", code, tok2)
	}
	collectBatch(tok2["access_token"].(string))
	if len(refs) != 4*oid4vc.BatchSize {
		t.Fatalf("%d entries", len(refs))
	}

	// The card's suspension and revocation change every entry, each with
	// its audit entry, in one transaction.
	card, err := e.store.CardByStatus(ctx, refs[0].URI, refs[0].Index)
	if err != nil {
		t.Fatal(err)
	}
	var changes int
	e.lists.Changed = func(ctx context.Context, ref status.Ref, old, next status.Status) error {
		changes++
		return nil
	}
	cards, err := proofing.NewCards(proofing.CardsConfig{Store: e.store.(proofing.CardStore), Records: proofingtest.Records{},
		Status: e.lists})
	if err != nil {
		t.Fatal(err)
	}
	// The card's own entry comes from the test double of proofing; give
	// the real lists one so that the card's change can be applied.
	own, err := e.lists.Allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, `UPDATE proofing_cards SET status_uri = ?, status_idx = ? WHERE id = ?`, own.URI, own.Index, card.ID); err != nil {
		t.Fatal(err)
	}
	for _, next := range []string{proofing.StatusSuspended, proofing.StatusValid, proofing.StatusRevoked} {
		changes = 0
		if _, err := cards.SetCardStatus(ctx, card.ID, next, proofing.ByAuthority); err != nil {
			t.Fatalf("%s: %v", next, err)
		}
		if changes != len(refs)+1 {
			t.Fatalf("%s: %d entries changed, want %d", next, changes, len(refs)+1)
		}
		want, _ := status.ParseStatus(next)
		for _, r := range refs {
			if got, err := e.lists.Get(ctx, r); err != nil || got != want {
				t.Fatalf("%s: entry %v is %v (%v)", next, r, got, err)
			}
		}
	}
}

// TestBatchAtomicWithAudit: when the audit entry of one credential's entry
// cannot be written, none of the card's entries change.
func TestBatchAtomicWithAudit(t *testing.T) {
	e := doubleEnv(t)
	ctx := context.Background()
	device := credtest.HolderKey()
	offer := e.enroll(t, device)
	_, tok := e.token(t, url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {preAuthCode(offer)}})
	keys := newKeys(t, 5)
	code, m := e.batchRequest(t, tok["access_token"].(string), oid4vc.ConfigSDJWT, keys, device, e.freshNonce(t))
	if code != 200 {
		t.Fatalf("%d %v", code, m)
	}
	creds := credentialsOf(t, m)
	pres, _ := sdjwt.Present(ctx, creds[0], []string{"age_equal_or_over.18"}, keys[0], "aud", "n", time.Now())
	v, err := e.api.Verifier.VerifySDJWT(ctx, pres, "n", "aud")
	if err != nil {
		t.Fatal(err)
	}
	card, err := e.store.CardByStatus(ctx, v.Status.URI, v.Status.Index)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := e.lists.Allocate(ctx)
	e.db.Exec(ctx, `UPDATE proofing_cards SET status_uri = ?, status_idx = ? WHERE id = ?`, own.URI, own.Index, card.ID)
	n := 0
	e.lists.Changed = func(ctx context.Context, ref status.Ref, old, next status.Status) error {
		if n++; n == 4 {
			return errAudit
		}
		return nil
	}
	cards, _ := proofing.NewCards(proofing.CardsConfig{Store: e.store.(proofing.CardStore), Records: proofingtest.Records{},
		Status: e.lists})
	if _, err := cards.SetCardStatus(ctx, card.ID, proofing.StatusSuspended, proofing.ByAuthority); err == nil {
		t.Fatal("suspension with a failing audit log succeeded")
	}
	for _, r := range append([]credential.StatusRef{own}, *v.Status) {
		if got, err := e.lists.Get(ctx, r); err != nil || got != status.Valid {
			t.Fatalf("entry %v is %v after an undone change (%v)", r, got, err)
		}
	}
}

type auditError struct{}

func (auditError) Error() string { return "audit log unavailable" }

var errAudit = auditError{}

// mdocVerify presents an mdoc IssuerSigned with key and verifies it.
func mdocVerify(t *testing.T, e *env, issuerSigned []byte, key *ecdsa.PrivateKey) (*credential.Verified, error) {
	t.Helper()
	st := qr.SessionTranscript([]byte("a test verifier's nonce"))
	dr, err := mdoc.Present(context.Background(), issuerSigned, map[string][]string{credential.ProfileCN.Namespace: {"age_over_18"}}, key, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.api.Verifier.VerifyMdoc(context.Background(), dr, st)
}

// TestBatchRefusals: what a batch request must not get.
func TestBatchRefusals(t *testing.T) {
	e := doubleEnv(t)
	device := credtest.HolderKey()
	offer := e.enroll(t, device)
	_, tok := e.token(t, url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {preAuthCode(offer)}})
	access := tok["access_token"].(string)
	other := newKeys(t, 1)[0]
	cases := []struct {
		name     string
		keys     int
		attester *ecdsa.PrivateKey
		want     string
	}{
		// A stolen access token alone: fresh keys without the device's attestation.
		{"no attestation", 3, nil, "invalid_proof"},
		// An attestation by some other key.
		{"attested by a stranger", 3, other, "invalid_proof"},
		{"too many proofs", oid4vc.BatchSize + 1, device, "invalid_proof"},
	}
	for _, c := range cases {
		code, m := e.batchRequest(t, access, oid4vc.ConfigSDJWT, newKeys(t, c.keys), c.attester, e.freshNonce(t))
		if code != 400 || m["error"] != c.want {
			t.Errorf("%s: %d %v", c.name, code, m)
		}
	}
	// A key not among the attested ones.
	nonce := e.freshNonce(t)
	keys := newKeys(t, 2)
	att, _ := oid4vc.MakeKeyAttestation(device, []*ecdsa.PublicKey{&keys[0].PublicKey}, nonce, time.Now())
	var proofs []string
	for _, k := range keys {
		p, _ := oid4vc.MakeAttestedProof(k, credtest.IssuerURL, nonce, time.Now(), att)
		proofs = append(proofs, p)
	}
	if code, m := e.rawCredentialRequest(t, access, oid4vc.ConfigSDJWT, proofs); code != 400 || !strings.Contains(m["error_description"].(string), "attested_keys") {
		t.Errorf("unattested key: %d %v", code, m)
	}
	// The attestation over another nonce.
	nonce2 := e.freshNonce(t)
	att2, _ := oid4vc.MakeKeyAttestation(device, []*ecdsa.PublicKey{&keys[0].PublicKey}, nonce, time.Now())
	p2, _ := oid4vc.MakeAttestedProof(keys[0], credtest.IssuerURL, nonce2, time.Now(), att2)
	if code, m := e.rawCredentialRequest(t, access, oid4vc.ConfigSDJWT, []string{p2}); code != 400 || !strings.Contains(m["error_description"].(string), "nonce") {
		t.Errorf("attestation of another nonce: %d %v", code, m)
	}
	// The same key twice.
	att3, _ := oid4vc.MakeKeyAttestation(device, []*ecdsa.PublicKey{&keys[0].PublicKey}, nonce2, time.Now())
	p3, _ := oid4vc.MakeAttestedProof(keys[0], credtest.IssuerURL, nonce2, time.Now(), att3)
	if code, m := e.rawCredentialRequest(t, access, oid4vc.ConfigSDJWT, []string{p3, p3}); code != 400 || !strings.Contains(m["error_description"].(string), "twice") {
		t.Errorf("same key twice: %d %v", code, m)
	}
	// The attestation carried once, by the first proof, covers the request
	// (as shenfen's wallet sends it); a second attestation by a stranger
	// spoils it.
	nonce4 := e.freshNonce(t)
	keys4 := newKeys(t, 3)
	pubs4 := []*ecdsa.PublicKey{&keys4[0].PublicKey, &keys4[1].PublicKey, &keys4[2].PublicKey}
	att4, _ := oid4vc.MakeKeyAttestation(device, pubs4, nonce4, time.Now())
	bad4, _ := oid4vc.MakeKeyAttestation(other, pubs4, nonce4, time.Now())
	var once, spoiled []string
	for i, k := range keys4 {
		a, b := "", ""
		if i == 0 {
			a, b = att4, att4
		}
		if i == 2 {
			b = bad4
		}
		p, _ := oid4vc.MakeAttestedProof(k, credtest.IssuerURL, nonce4, time.Now(), a)
		q, _ := oid4vc.MakeAttestedProof(k, credtest.IssuerURL, nonce4, time.Now(), b)
		once, spoiled = append(once, p), append(spoiled, q)
	}
	if code, m := e.rawCredentialRequest(t, access, oid4vc.ConfigSDJWT, spoiled); code != 400 || !strings.Contains(m["error_description"].(string), "key_attestation") {
		t.Errorf("a second attestation by a stranger: %d %v", code, m)
	}
	if code, m := e.rawCredentialRequest(t, access, oid4vc.ConfigSDJWT, once); code != 200 || len(credentialsOf(t, m)) != 3 {
		t.Errorf("attestation in the first proof only: %d %v", code, m)
	}
	// An unknown refresh token.
	if code, m := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}); code != 400 || m["error"] != "invalid_grant" {
		t.Errorf("unknown refresh token: %d %v", code, m)
	}
	// Batch size 1 with the device key, the shape a wallet without batch
	// support sends, still works (the card's own credential).
	if code, m := e.credentialRequest(t, access, oid4vc.ConfigMdoc, device, e.freshNonce(t)); code != 200 || len(credentialsOf(t, m)) != 1 {
		t.Errorf("device-key proof: %d %v", code, m)
	}
}

func (e *env) rawCredentialRequest(t *testing.T, token, cfg string, proofs []string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"credential_configuration_id": cfg, "proofs": map[string]any{"jwt": proofs}})
	req, _ := http.NewRequest("POST", e.srv.URL+"/vci/credential", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, decode(t, resp)
}

// TestReenrollRevokesBatch: enrolling on a new device revokes the old
// card, its single-use credentials included: a verifier then refuses them.
func TestReenrollRevokesBatch(t *testing.T) {
	e := doubleEnv(t)
	ctx := context.Background()
	device := credtest.HolderKey()
	offer := e.enroll(t, device)
	_, tok := e.token(t, url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {preAuthCode(offer)}})
	keys := newKeys(t, 3)
	code, m := e.batchRequest(t, tok["access_token"].(string), oid4vc.ConfigSDJWT, keys, device, e.freshNonce(t))
	if code != 200 {
		t.Fatalf("%d %v", code, m)
	}
	creds := credentialsOf(t, m)
	present := func(i int) error {
		pres, err := sdjwt.Present(ctx, creds[i], []string{"age_equal_or_over.18"}, keys[i], "aud", "n", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.api.Verifier.VerifySDJWT(ctx, pres, "n", "aud")
		return err
	}
	if err := present(0); err != nil {
		t.Fatalf("before re-enrollment: %v", err)
	}
	e.enroll(t, credtest.HolderKey()) // a new phone
	for i := range creds {
		if err := present(i); !errors.Is(err, credential.ErrRevoked) {
			t.Fatalf("single-use credential %d after re-enrollment: %v, want revoked", i, err)
		}
	}
}

// TestBatchCap: a card's unexpired single-use credentials are bounded, so
// that a wallet cannot make its card's revocation arbitrarily long.
func TestBatchCap(t *testing.T) {
	e := doubleEnv(t)
	device := credtest.HolderKey()
	offer := e.enroll(t, device)
	_, tok := e.token(t, url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {preAuthCode(offer)}})
	refresh := tok["refresh_token"].(string)
	got := 0
	for got < oid4vc.MaxLiveCredentials {
		_, tk := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		code, m := e.batchRequest(t, tk["access_token"].(string), oid4vc.ConfigMdoc, newKeys(t, oid4vc.BatchSize), device, e.freshNonce(t))
		if code != 200 {
			t.Fatalf("after %d credentials: %d %v", got, code, m)
		}
		got += oid4vc.BatchSize
	}
	_, tk := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	code, m := e.batchRequest(t, tk["access_token"].(string), oid4vc.ConfigMdoc, newKeys(t, 1), device, e.freshNonce(t))
	if code != 400 || m["error"] != "credential_request_denied" {
		t.Fatalf("beyond %d unexpired credentials: %d %v", oid4vc.MaxLiveCredentials, code, m)
	}
}
