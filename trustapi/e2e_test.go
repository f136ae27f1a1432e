package trustapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/trustapi"
)

// TestCardsAcrossRotationAndRevocation issues real SD-JWT VC cards with the
// ring's document signer and status entries, rotates the signer, revokes
// one card through the admin endpoint, and verifies both with the
// credential library, trusting only what the server publishes
// (/trust-list.pem) and reading status over HTTP.
func TestCardsAcrossRotationAndRevocation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	pid, err := credential.NewPID(credential.PID{
		FamilyName: "张", GivenName: "三", NameOriginal: "张三", Sex: credential.SexMale, BirthDate: "1990-03-07",
		IDNumber: "44011519900307001X", Authority: "广州市公安局南沙分局", Country: "CN",
		IssuedOn: "2020-01-01", ExpiresOn: "2040-01-01",
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	type card struct {
		issued string
		holder *ecdsa.PrivateKey
		ref    status.Ref
	}
	issue := func() card {
		holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ref, err := e.api.Status.Allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		signer, chain, err := e.ring.Chain(ctx)
		if err != nil {
			t.Fatal(err)
		}
		issued, err := sdjwt.Issue(ctx, sdjwt.IssueParams{Issuer: e.srv.URL, Profile: credential.ProfileCN, PID: pid,
			Holder: &holder.PublicKey, Status: &credential.StatusRef{URI: ref.URI, Index: ref.Index},
			IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), Signer: signer, Chain: chain})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.api.Audit.Append(ctx, audit.Issuance(now, ref.URI, ref.Index, "dc+sd-jwt", []byte(issued))); err != nil {
			t.Fatal(err)
		}
		return card{issued, holder, ref}
	}
	c1 := issue()
	if _, err := e.ring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	c2 := issue()

	verify := func(c card) error {
		_, pemBytes := get(t, e.srv.URL+"/trust-list.pem")
		anchors, err := credential.ParseAnchorsPEM(pemBytes)
		if err != nil {
			t.Fatal(err)
		}
		checker := &status.Checker{Fetcher: trustapi.Fetcher{}, Key: status.ChainKeys(anchors.Roots()...)}
		v := &sdjwt.Verifier{Anchors: anchors, Status: credential.StatusFunc(func(ctx context.Context, uri string, idx int) (credential.Status, error) {
			s, err := checker.Status(ctx, uri, idx)
			return credential.Status(s), err
		})}
		pres, err := sdjwt.Present(ctx, c.issued, []string{"given_name"}, c.holder, "rp", "n-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(ctx, pres, sdjwt.Expect{Nonce: "n-1", Audience: "rp"})
		return err
	}
	for i, c := range []card{c1, c2} {
		if err := verify(c); err != nil {
			t.Fatalf("card %d before revocation: %v", i+1, err)
		}
	}
	resp, body := post(t, e.srv.URL+"/admin/status", `{"uri":"`+c1.ref.URI+`","idx":`+itoa(c1.ref.Index)+`,"status":"revoked"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	if err := verify(c1); !errors.Is(err, credential.ErrRevoked) {
		t.Fatalf("revoked card (signed before the rotation): %v", err)
	}
	if err := verify(c2); err != nil {
		t.Fatalf("card signed after the rotation: %v", err)
	}
	// The log holds both issuances and the revocation.
	if n, _ := e.api.Audit.Size(ctx); n != 3 {
		t.Fatalf("audit log has %d leaves, want 3", n)
	}
}
