package keys_test

import (
	"context"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
)

// TestRingCertsPassMdocProfile checks that the ring's IACA root and
// document signer pass the mdoc verifier's ISO/IEC 18013-5 Annex B
// certificate checks end to end: an mdoc issued with the ring's signer
// verifies under the ring's root.
func TestRingCertsPassMdocProfile(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	r := openRing(t, t.TempDir(), &now)
	signer, chain, err := r.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	holder := credtest.HolderKey()
	issued, err := mdoc.Issue(ctx, mdoc.IssueParams{Profile: credential.ProfileCN, PID: pid, Holder: &holder.PublicKey,
		IssuedAt: now, ExpiresAt: now.AddDate(1, 0, 0), Signer: signer, Chain: chain})
	if err != nil {
		t.Fatal(err)
	}
	st, err := mdoc.OID4VPSessionTranscript("https://rp.example", "n-1", nil, "https://rp.example/response")
	if err != nil {
		t.Fatal(err)
	}
	ns := credential.ProfileCN.Namespace
	resp, err := mdoc.Present(ctx, issued, map[string][]string{ns: {"age_over_18"}}, holder, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := &mdoc.Verifier{Anchors: credential.NewAnchors(r.Root()), Clock: func() time.Time { return now.Add(time.Minute) }}
	if _, err := v.Verify(ctx, resp, mdoc.Expect{SessionTranscript: st}); err != nil {
		t.Fatalf("mdoc signed by the ring does not verify: %v", err)
	}
}
