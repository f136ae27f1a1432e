package oid4vc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/keys/jws"
)

// IssuerMetadata is the credential issuer metadata (OpenID4VCI 1.0 §12.2).
type IssuerMetadata struct {
	CredentialIssuer   string                             `json:"credential_issuer"`
	CredentialEndpoint string                             `json:"credential_endpoint"`
	NonceEndpoint      string                             `json:"nonce_endpoint"`
	Display            []Display                          `json:"display"`
	Configurations     map[string]CredentialConfiguration `json:"credential_configurations_supported"`
	// Batch says how many key proofs (credentials) one request may carry.
	Batch *BatchIssuance `json:"batch_credential_issuance,omitempty"`
	// Log names the transparency log issuances are recorded in (an
	// extension of this metadata; the wallet pins its key from the signed
	// metadata).
	Log *TransparencyLog `json:"shenfen_transparency_log,omitempty"`
	// Signed is signed_metadata: these parameters as a JWT signed by the
	// issuer (typ openidvci-issuer-metadata+jwt, x5c).
	Signed string `json:"signed_metadata,omitempty"`
}

// TransparencyLog is where the issuer logs every issuance: the C2SP
// checkpoint origin and its signed-note verifier key
// (/audit/checkpoint-key serves the same key).
type TransparencyLog struct {
	VerifierKey string `json:"verifier_key"`
	Checkpoint  string `json:"checkpoint"`
}

// SignedMetadataType is the typ of signed_metadata (OpenID4VCI 1.0 §12.2.3).
const SignedMetadataType = "openidvci-issuer-metadata+jwt"

// BatchIssuance is the batch_credential_issuance metadata parameter
// (OpenID4VCI 1.0 §12.2.4).
type BatchIssuance struct {
	BatchSize int `json:"batch_size"`
}

// Display is a name in one language (issuer and credential display).
type Display struct {
	Name        string `json:"name"`
	Locale      string `json:"locale"`
	Description string `json:"description,omitempty"`
}

// CredentialConfiguration describes one credential configuration
// (OpenID4VCI 1.0 §12.2.4 and Appendix A): VCT for dc+sd-jwt, DocType for
// mso_mdoc. Signing algorithms are JOSE names for SD-JWT VC and COSE
// numbers for mdoc.
type CredentialConfiguration struct {
	Format            string                   `json:"format"`
	VCT               string                   `json:"vct,omitempty"`
	DocType           string                   `json:"doctype,omitempty"`
	BindingMethods    []string                 `json:"cryptographic_binding_methods_supported"`
	SigningAlgs       any                      `json:"credential_signing_alg_values_supported"`
	ProofTypes        map[string]ProofTypeInfo `json:"proof_types_supported"`
	CredentialDisplay CredentialMetadata       `json:"credential_metadata"`
}

// ProofTypeInfo lists the algorithms of one key proof type.
type ProofTypeInfo struct {
	SigningAlgs []string `json:"proof_signing_alg_values_supported"`
}

// CredentialMetadata is what a wallet shows of a credential
// (OpenID4VCI 1.0 §12.2.4, credential_metadata).
type CredentialMetadata struct {
	Display []Display           `json:"display"`
	Claims  []ClaimsDescription `json:"claims"`
}

// ClaimsDescription names one claim (OpenID4VCI 1.0 Appendix B.2): its
// path in the credential and its display names.
type ClaimsDescription struct {
	Path      []string  `json:"path"`
	Mandatory bool      `json:"mandatory,omitempty"`
	Display   []Display `json:"display,omitempty"`
}

// AuthServerMetadata is the authorization server metadata (RFC 8414) of
// the pre-authorized code flow.
type AuthServerMetadata struct {
	Issuer                string   `json:"issuer"`
	TokenEndpoint         string   `json:"token_endpoint"`
	GrantTypes            []string `json:"grant_types_supported"`
	ResponseTypes         []string `json:"response_types_supported"`
	PreAuthAnonymousGrant bool     `json:"pre-authorized_grant_anonymous_access_supported"`
}

// profile is the card profile whose vct the API issues (ProfileCN when
// none matches).
func (a *API) profile() credential.Profile {
	for _, p := range credential.Profiles {
		if p.VCT != "" && p.VCT == a.VCT {
			return p
		}
	}
	return credential.ProfileCN
}

func displays(names [2]string) []Display {
	return []Display{{Name: names[0], Locale: "en"}, {Name: names[1], Locale: "zh"}}
}

func claimDisplay(key string) []Display {
	var out []Display
	for _, l := range credential.Labels(key) {
		out = append(out, Display{Name: l.Label, Locale: l.Locale})
	}
	return out
}

// IssuerMetadata returns the issuer metadata document.
func (a *API) IssuerMetadata() IssuerMetadata {
	proof := map[string]ProofTypeInfo{"jwt": {SigningAlgs: []string{"ES256"}}}
	pr := a.profile()
	var sdClaims, mdocClaims []ClaimsDescription
	for _, c := range pr.Claims() {
		d := claimDisplay(c.Key)
		sdClaims = append(sdClaims, ClaimsDescription{Path: c.JWT, Display: d})
		mdocClaims = append(mdocClaims, ClaimsDescription{Path: []string{a.Namespace, c.Mdoc}, Display: d})
	}
	qr := credential.ProfileQR
	var qrClaims []ClaimsDescription
	for _, c := range qr.Claims() {
		qrClaims = append(qrClaims, ClaimsDescription{Path: []string{qr.Namespace, c.Mdoc}, Display: claimDisplay(c.Key)})
	}
	card := displays(pr.DisplayNames())
	return IssuerMetadata{
		CredentialIssuer:   a.Issuer,
		CredentialEndpoint: a.Issuer + "/vci/credential",
		NonceEndpoint:      a.Issuer + "/vci/nonce",
		Display:            displays([2]string{"shenfen virtual ID", "身份证电子证照"}),
		Batch:              &BatchIssuance{BatchSize: BatchSize},
		Log:                a.transparencyLog(),
		Configurations: map[string]CredentialConfiguration{
			ConfigSDJWT: {
				Format: "dc+sd-jwt", VCT: a.VCT,
				BindingMethods: []string{"jwk"}, SigningAlgs: []string{"ES256"}, ProofTypes: proof,
				CredentialDisplay: CredentialMetadata{Display: card, Claims: sdClaims},
			},
			ConfigMdoc: {
				Format: "mso_mdoc", DocType: a.DocType,
				BindingMethods: []string{"cose_key"}, SigningAlgs: []int{-7}, ProofTypes: proof,
				CredentialDisplay: CredentialMetadata{Display: card, Claims: mdocClaims},
			},
			ConfigQR: {
				Format: "mso_mdoc", DocType: qr.DocType,
				BindingMethods: []string{"cose_key"}, SigningAlgs: []int{-7}, ProofTypes: proof,
				CredentialDisplay: CredentialMetadata{Display: displays(qr.DisplayNames()), Claims: qrClaims},
			},
		},
	}
}

func (a *API) issuerMetadata(w http.ResponseWriter, r *http.Request) {
	m := a.IssuerMetadata()
	if a.MetadataSigner != nil {
		signed, err := a.signMetadata(r.Context(), m)
		if err != nil {
			// The unsigned metadata still serves every wallet but the
			// one that pins the log key from it: say why it is missing.
			a.log().ErrorContext(r.Context(), "oid4vc: sign the issuer metadata", "err", err)
		}
		m.Signed = signed
	}
	writeMetadata(w, m)
}

// signMetadata returns signed_metadata: the metadata's parameters with
// iss and sub the issuer and iat now, ES256 by the current document
// signer, its certificate in x5c.
func (a *API) signMetadata(ctx context.Context, m IssuerMetadata) (string, error) {
	key, chain, err := a.MetadataSigner.Chain(ctx)
	if err != nil {
		return "", fmt.Errorf("oid4vc: metadata signer: %w", err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		return "", err
	}
	claims["iss"], claims["sub"], claims["iat"] = a.Issuer, a.Issuer, a.now().Unix()
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	x5c := make([][]byte, len(chain))
	for i, c := range chain {
		x5c[i] = c.Raw
	}
	return jws.Sign(jws.Key{Signer: key, Chain: x5c}, SignedMetadataType, payload)
}

func (a *API) asMetadata(w http.ResponseWriter, r *http.Request) {
	writeMetadata(w, AuthServerMetadata{
		Issuer:                a.Issuer,
		TokenEndpoint:         a.Issuer + "/vci/token",
		GrantTypes:            []string{PreAuthGrant, "refresh_token"},
		ResponseTypes:         []string{},
		PreAuthAnonymousGrant: true,
	})
}

func (a *API) transparencyLog() *TransparencyLog {
	if a.LogKey == "" {
		return nil
	}
	return &TransparencyLog{VerifierKey: a.LogKey, Checkpoint: a.Issuer + "/audit/checkpoint"}
}

// TypeMetadataPath is where the SD-JWT VC type metadata of the card's vct
// is served ({credential_issuer}/vct/{vct}); credentials carry its digest
// in vct#integrity.
const TypeMetadataPath = "/vct/"

func (a *API) typeMetadata(w http.ResponseWriter, r *http.Request) {
	pr := a.profile()
	if r.PathValue("vct") != a.VCT || pr.VCT != a.VCT {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(pr.TypeMetadataJSON())
}
