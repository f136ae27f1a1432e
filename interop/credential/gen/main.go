// Command gen is the Go side of the credential interop suite
// (scripts/test.d/interop-credential.sh):
//
//	gen -dir D -make    issue and present an SD-JWT VC and an mdoc with
//	                    shenfen's library, for the Node scripts to verify
//	gen -dir D -check   verify with shenfen's library what the Node scripts
//	                    produced with independent implementations
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/sdjwt"
)

// Params is shared with the Node scripts through params.json.
type Params struct {
	Issuer      string `json:"iss"`
	Nonce       string `json:"nonce"`
	Audience    string `json:"aud"`
	ResponseURI string `json:"response_uri"`
	StatusURI   string `json:"status_uri"`
	ValidIdx    int    `json:"valid_idx"`
	RevokedIdx  int    `json:"revoked_idx"`
	VCT         string `json:"vct"`
	DocType     string `json:"doctype"`
	Namespace   string `json:"namespace"`
}

func main() {
	dir := flag.String("dir", "", "working directory shared with the Node scripts")
	mk := flag.Bool("make", false, "issue and present credentials")
	check := flag.Bool("check", false, "verify the credentials the Node scripts made")
	flag.Parse()
	var err error
	switch {
	case *dir == "":
		err = errors.New("-dir is required")
	case *mk:
		err = make_(context.Background(), *dir)
	case *check:
		err = check_(context.Background(), *dir)
	default:
		err = errors.New("-make or -check")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(dir, name string, b []byte) error {
	return os.WriteFile(filepath.Join(dir, name), b, 0o600)
}

func make_(ctx context.Context, dir string) error {
	now := time.Now()
	iss, err := credtest.NewIssuer("shenfen interop", now.AddDate(0, 0, -1))
	if err != nil {
		return err
	}
	pid, err := credtest.PID()
	if err != nil {
		return err
	}
	holder := credtest.HolderKey()
	p := Params{
		Issuer: credtest.IssuerURL,
		Nonce:  "n-7Hq0s2KxV9", Audience: "x509_san_dns:verifier.shenfen.test",
		ResponseURI: "https://verifier.shenfen.test/response",
		StatusURI:   "https://status.shenfen.test/lists/1", ValidIdx: 42, RevokedIdx: 43,
		VCT: credential.ProfileCN.VCT, DocType: credential.ProfileCN.DocType, Namespace: credential.ProfileCN.Namespace,
	}
	// Keys and certificates, for the Node side to verify chains and to sign
	// its own credentials under our root.
	if err := write(dir, "root.pem", iss.RootPEM()); err != nil {
		return err
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.Leaf.Raw})
	if err := write(dir, "issuer.pem", leafPEM); err != nil {
		return err
	}
	k8, err := x509.MarshalPKCS8PrivateKey(iss.Key)
	if err != nil {
		return err
	}
	if err := write(dir, "issuer-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8})); err != nil {
		return err
	}
	common := sdjwt.IssueParams{
		Issuer: p.Issuer, Profile: credential.ProfileCN, PID: pid, Holder: &holder.PublicKey,
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.AddDate(1, 0, 0), Signer: iss.Signer(), Chain: iss.Chain,
	}
	disclose := []string{"family_name", "given_name", "birthdate", "age_equal_or_over.18", "picture", "address.formatted"}
	for name, idx := range map[string]int{"sdjwt.txt": p.ValidIdx, "sdjwt-revoked.txt": p.RevokedIdx} {
		ip := common
		ip.Status = &credential.StatusRef{URI: p.StatusURI, Index: idx}
		issued, err := sdjwt.Issue(ctx, ip)
		if err != nil {
			return err
		}
		pres, err := sdjwt.Present(ctx, issued, disclose, holder, p.Audience, p.Nonce, now)
		if err != nil {
			return err
		}
		if err := write(dir, name, []byte(pres)); err != nil {
			return err
		}
	}
	issued, err := mdoc.Issue(ctx, mdoc.IssueParams{
		Profile: credential.ProfileCN, PID: pid, Holder: &holder.PublicKey,
		Status:   &credential.StatusRef{URI: p.StatusURI, Index: p.ValidIdx},
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.AddDate(1, 0, 0), Signer: iss.Signer(), Chain: iss.Chain,
	})
	if err != nil {
		return err
	}
	st, err := mdoc.OID4VPSessionTranscript(p.Audience, p.Nonce, nil, p.ResponseURI)
	if err != nil {
		return err
	}
	resp, err := mdoc.Present(ctx, issued, map[string][]string{p.Namespace: {"family_name", "given_name", "birth_date", "age_over_18", "portrait", "sex"}}, holder, st, nil)
	if err != nil {
		return err
	}
	if err := write(dir, "mdoc-response.cbor", resp); err != nil {
		return err
	}
	if err := write(dir, "mdoc-transcript.cbor", st); err != nil {
		return err
	}
	// The SD-JWT VC type metadata the issuer serves for the card's vct.
	if err := write(dir, "type-metadata.json", credential.ProfileCN.TypeMetadataJSON()); err != nil {
		return err
	}
	pj, _ := json.MarshalIndent(p, "", "  ")
	return write(dir, "params.json", pj)
}

// check verifies theirs-sdjwt.txt (made by @sd-jwt/sd-jwt-vc) and, when
// present, theirs-mdoc.cbor (made by @auth0/mdl).
func check_(ctx context.Context, dir string) error {
	var p Params
	b, err := os.ReadFile(filepath.Join(dir, "params.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	rootPEM, err := os.ReadFile(filepath.Join(dir, "root.pem"))
	if err != nil {
		return err
	}
	anchors, err := credential.ParseAnchorsPEM(rootPEM)
	if err != nil {
		return err
	}
	theirs, err := os.ReadFile(filepath.Join(dir, "theirs-sdjwt.txt"))
	if err != nil {
		return err
	}
	v := &sdjwt.Verifier{Anchors: anchors}
	res, err := v.Verify(ctx, string(theirs), sdjwt.Expect{Nonce: p.Nonce, Audience: p.Audience})
	if err != nil {
		return fmt.Errorf("SD-JWT VC from @sd-jwt/sd-jwt-vc: %w", err)
	}
	if res.Claims["given_name"] != "三" || res.Claims["id_number"] == nil {
		return fmt.Errorf("SD-JWT VC from @sd-jwt/sd-jwt-vc: claims %v", res.Claims)
	}
	if n, _ := res.Claims["nationalities"].([]any); len(n) != 1 || n[0] != "CN" {
		return fmt.Errorf("SD-JWT VC from @sd-jwt/sd-jwt-vc: array element disclosures: nationalities %v, want [CN]", res.Claims["nationalities"])
	}
	if _, leaked := res.Claims["address"]; leaked {
		return errors.New("SD-JWT VC from @sd-jwt/sd-jwt-vc: undisclosed address present")
	}
	fmt.Println("ok: shenfen verified the SD-JWT VC + KB-JWT made by @sd-jwt/sd-jwt-vc:", res.Claims["family_name"], res.Claims["given_name"])
	// Hostile: their presentation with our nonce changed must fail.
	if _, err := v.Verify(ctx, string(theirs), sdjwt.Expect{Nonce: "other", Audience: p.Audience}); !errors.Is(err, credential.ErrNonce) {
		return fmt.Errorf("their SD-JWT with a wrong nonce: %v, want ErrNonce", err)
	}
	if m, err := os.ReadFile(filepath.Join(dir, "theirs-mdoc.cbor")); err == nil {
		st, err := os.ReadFile(filepath.Join(dir, "mdoc-transcript.cbor"))
		if err != nil {
			return err
		}
		mv := &mdoc.Verifier{Anchors: anchors}
		r, err := mv.Verify(ctx, m, mdoc.Expect{SessionTranscript: st})
		if err != nil {
			return fmt.Errorf("mdoc from @auth0/mdl: %w", err)
		}
		fmt.Println("ok: shenfen verified the mdoc DeviceResponse made by @auth0/mdl:", r.Type, r.Claims)
	}
	return nil
}
