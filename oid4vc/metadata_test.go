package oid4vc_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/oid4vc"
)

func getJSON(t *testing.T, url string, v any) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return b
}

// hasLocales reports whether a display list names something in English and
// in Chinese, each non-empty, under the member name (OpenID4VCI "name",
// SD-JWT VC type metadata "label").
func hasLocales(list []map[string]string, name string) bool {
	var en, zh bool
	for _, d := range list {
		if d[name] == "" {
			return false
		}
		en = en || d["locale"] == "en"
		zh = zh || d["locale"] == "zh"
	}
	return en && zh
}

// OpenID4VCI 1.0 final: each configuration's display sits under
// credential_metadata with its claims, every claim named in English and
// Chinese; nothing is displayed outside credential_metadata.
func TestIssuerMetadataShape(t *testing.T) {
	e := doubleEnv(t)
	var meta struct {
		Display []map[string]string                   `json:"display"`
		Configs map[string]map[string]json.RawMessage `json:"credential_configurations_supported"`
	}
	getJSON(t, e.srv.URL+"/.well-known/openid-credential-issuer", &meta)
	if !hasLocales(meta.Display, "name") {
		t.Errorf("issuer display %v: want en and zh names", meta.Display)
	}
	if len(meta.Configs) != len(oid4vc.Configs) {
		t.Fatalf("%d configurations, want %d", len(meta.Configs), len(oid4vc.Configs))
	}
	want := map[string]credential.Profile{oid4vc.ConfigSDJWT: credential.ProfileCN, oid4vc.ConfigMdoc: credential.ProfileCN,
		oid4vc.ConfigQR: credential.ProfileQR}
	for _, id := range oid4vc.Configs {
		c := meta.Configs[id]
		if _, ok := c["display"]; ok {
			t.Errorf("%s: display outside credential_metadata", id)
		}
		if _, ok := c["claims"]; ok {
			t.Errorf("%s: claims outside credential_metadata", id)
		}
		var cm struct {
			Display []map[string]string `json:"display"`
			Claims  []struct {
				Path    []string            `json:"path"`
				Display []map[string]string `json:"display"`
			} `json:"claims"`
		}
		if err := json.Unmarshal(c["credential_metadata"], &cm); err != nil {
			t.Fatalf("%s: credential_metadata: %v", id, err)
		}
		if !hasLocales(cm.Display, "name") {
			t.Errorf("%s: credential display %v", id, cm.Display)
		}
		pr := want[id]
		if len(cm.Claims) != len(pr.Claims()) {
			t.Errorf("%s: %d claims, the card has %d", id, len(cm.Claims), len(pr.Claims()))
		}
		for i, cl := range cm.Claims {
			if !hasLocales(cl.Display, "name") {
				t.Errorf("%s: claim %v display %v", id, cl.Path, cl.Display)
			}
			if i >= len(pr.Claims()) {
				continue
			}
			p := pr.Claims()[i]
			wantPath := p.JWT
			if id != oid4vc.ConfigSDJWT {
				wantPath = []string{pr.Namespace, p.Mdoc}
			}
			if !slices.Equal(cl.Path, wantPath) {
				t.Errorf("%s: claim %d path %v, want %v", id, i, cl.Path, wantPath)
			}
		}
	}
	var as map[string]any
	getJSON(t, e.srv.URL+"/.well-known/oauth-authorization-server", &as)
	if as["issuer"] != credtest.IssuerURL || as["token_endpoint"] != credtest.IssuerURL+"/vci/token" {
		t.Errorf("authorization server metadata %v", as)
	}
}

// The card's SD-JWT VC names its type metadata by digest (vct#integrity,
// W3C SRI sha256); the issuer serves that document, whose claims are
// labelled in both languages.
func TestTypeMetadataIntegrity(t *testing.T) {
	e := doubleEnv(t)
	vct := credential.ProfileCN.VCT
	var tm struct {
		VCT     string              `json:"vct"`
		Display []map[string]string `json:"display"`
		Claims  []struct {
			Path    []string            `json:"path"`
			Display []map[string]string `json:"display"`
			SD      string              `json:"sd"`
		} `json:"claims"`
	}
	body := getJSON(t, e.srv.URL+oid4vc.TypeMetadataPath+vct, &tm)
	if tm.VCT != vct || !hasLocales(tm.Display, "name") {
		t.Fatalf("type metadata vct %q display %v", tm.VCT, tm.Display)
	}
	for _, c := range tm.Claims {
		if !hasLocales(c.Display, "label") || c.SD != "always" {
			t.Errorf("type metadata claim %v: display %v sd %q", c.Path, c.Display, c.SD)
		}
	}
	if resp, err := http.Get(e.srv.URL + oid4vc.TypeMetadataPath + "urn:other:type"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown vct: %v %v, want 404", resp.StatusCode, err)
	}

	key := credtest.HolderKey()
	creds := e.collect(t, e.enroll(t, key), key, oid4vc.ConfigSDJWT)
	jwt := strings.SplitN(creds[0], "~", 2)[0]
	seg := strings.Split(jwt, ".")
	payload, err := base64.RawURLEncoding.DecodeString(seg[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	want := "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	if claims["vct"] != vct || claims["vct#integrity"] != want {
		t.Fatalf("credential vct %v vct#integrity %v, want %s", claims["vct"], claims["vct#integrity"], want)
	}
}

// A verifier request names claims the card carries, in the chosen
// format's names: SD-JWT VC claim names or mdoc element identifiers.
func TestVerifierRequestClaimNames(t *testing.T) {
	e := doubleEnv(t)
	for _, c := range []struct {
		format string
		claims []string
		want   int
	}{
		{"dc+sd-jwt", []string{"family_name", "birthdate", "picture", "address", "age_equal_or_over"}, http.StatusCreated},
		{"mso_mdoc", []string{"family_name", "birth_date", "portrait", "resident_address", "age_over_18"}, http.StatusCreated},
		{"dc+sd-jwt", []string{"family_name", "birth_date"}, http.StatusBadRequest}, // the mdoc name
		{"dc+sd-jwt", []string{"portrait"}, http.StatusBadRequest},
		{"mso_mdoc", []string{"birthdate"}, http.StatusBadRequest}, // the SD-JWT name
		{"dc+sd-jwt", []string{"favourite_colour"}, http.StatusBadRequest},
	} {
		resp, m := e.ask(t, map[string]any{"claims": c.claims, "format": c.format})
		if resp.StatusCode != c.want {
			t.Errorf("%s %v: %d %v, want %d", c.format, c.claims, resp.StatusCode, m, c.want)
		}
		if c.want == http.StatusBadRequest && !strings.Contains(fmt.Sprint(m["detail"]), "family_name") {
			t.Errorf("%s %v: the refusal does not list the card's claims: %v", c.format, c.claims, m)
		}
	}
}
