package sdjwt_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/sdjwt"
)

// A relying party verifies a presentation it asked for with its nonce.
func ExampleVerifier_Verify() {
	ctx := context.Background()
	now := time.Now()
	// Issuer and wallet side (normally elsewhere).
	iss, _ := credtest.NewIssuer("example", now.AddDate(-1, 0, 0))
	pid, _ := credtest.PID()
	device := credtest.HolderKey()
	issued, _ := sdjwt.Issue(ctx, sdjwt.IssueParams{Issuer: credtest.IssuerURL, Profile: credential.ProfileCN, PID: pid,
		Holder: &device.PublicKey, Status: &credential.StatusRef{URI: "https://id.shenfen.test/status/1", Index: 9},
		IssuedAt: now, ExpiresAt: now.AddDate(1, 0, 0), Signer: iss.Signer(), Chain: iss.Chain})
	presentation, _ := sdjwt.Present(ctx, issued, []string{"age_equal_or_over.18"}, device, "https://bar.example", "n-123", now)

	// Relying party: trust anchors (e.g. credential.ParseAnchorsPEM of the
	// issuer's trust list), a status checker, a nonce store; one Verifier
	// reused for every presentation.
	v := &sdjwt.Verifier{
		Anchors: credential.NewAnchors(iss.Root),
		Status:  &credtest.Status{}, // package status's Checker in production
		Nonces:  &credential.MemoryNonces{},
	}
	res, err := v.Verify(ctx, presentation, sdjwt.Expect{Nonce: "n-123", Audience: "https://bar.example"})
	switch {
	case errors.Is(err, credential.ErrRevoked), errors.Is(err, credential.ErrSuspended):
		fmt.Println("card withdrawn")
	case err != nil:
		fmt.Println("refused:", err)
	default:
		fmt.Println("over 18:", res.Claims["age_equal_or_over"].(map[string]any)["18"])
		_, hasName := res.Claims["given_name"]
		fmt.Println("name disclosed:", hasName)
	}
	// The same presentation again is a replay.
	_, err = v.Verify(ctx, presentation, sdjwt.Expect{Nonce: "n-123", Audience: "https://bar.example"})
	fmt.Println(errors.Is(err, credential.ErrReplay))
	// Output:
	// over 18: true
	// name disclosed: false
	// true
}
