package card

import (
	"context"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	"github.com/shenfen/shenfen/credential/sdjwt"
)

func TestIssueAllThree(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	iss, err := credtest.NewIssuer("card", now.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	pid.Thumbnail = nil // made by Issue
	holder := credtest.HolderKey()
	ref := &credential.StatusRef{URI: "https://id.shenfen.test/status/1", Index: 5}
	is := &Issuer{URL: credtest.IssuerURL, Signer: iss.Signer(), Chain: iss.Chain}
	c, err := is.Issue(ctx, pid, &holder.PublicKey, ref, now)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.Equal(now.AddDate(1, 0, 0)) {
		t.Errorf("expires %v", c.ExpiresAt)
	}
	at := now.Add(time.Minute)
	clock := func() time.Time { return at }
	anchors := iss.Anchors()
	anchors.AddIssuers(iss.Leaf)
	status := &credtest.Status{}

	pres, err := sdjwt.Present(ctx, c.SDJWT, []string{"given_name"}, holder, "rp", "n", at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&sdjwt.Verifier{Anchors: anchors, Status: status, Clock: clock}).Verify(ctx, pres, sdjwt.Expect{Nonce: "n", Audience: "rp"}); err != nil {
		t.Errorf("SD-JWT: %v", err)
	}
	st, _ := mdoc.OID4VPSessionTranscript("rp", "n", nil, "rp/response")
	resp, err := mdoc.Present(ctx, c.Mdoc, map[string][]string{credential.ProfileCN.Namespace: {"given_name"}}, holder, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&mdoc.Verifier{Anchors: anchors, Status: status, Clock: clock}).Verify(ctx, resp, mdoc.Expect{SessionTranscript: st}); err != nil {
		t.Errorf("mdoc: %v", err)
	}
	payload, err := qr.Present(ctx, c.Compact, nil, holder, nil, at)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&qr.Verifier{Anchors: anchors, Status: status, Seen: &credtest.Nonces{}, Clock: clock}).Verify(ctx, payload, nil)
	if err != nil {
		t.Fatalf("QR: %v", err)
	}
	if len(res.Thumbnail) == 0 || res.Status == nil || res.Status.Index != 5 {
		t.Errorf("QR result: thumbnail %d bytes, status %v", len(res.Thumbnail), res.Status)
	}

	// The document's own expiry caps the card.
	pid.ExpiresOn = "2027-01-01"
	c, err = is.Issue(ctx, pid, &holder.PublicKey, ref, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); !c.ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want the document's %v", c.ExpiresAt, want)
	}
	pid.ExpiresOn = "2020-01-01"
	if _, err := is.Issue(ctx, pid, &holder.PublicKey, ref, now); err == nil {
		t.Error("issued a card for an expired document")
	}
}
