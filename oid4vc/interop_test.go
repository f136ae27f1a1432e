package oid4vc_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/oid4vc"
)

// TestOID4VCIInterop lets an independent OpenID4VCI client (the OpenWallet
// Foundation's @openid4vc/openid4vci, interop/oid4vci/collect.mjs) collect a
// card enrolled here, and the wallet's own module (web/static/wallet/collect.js)
// collect and verify a second one. It runs from scripts/test.d/interop-oid4vci.sh
// (SHENFEN_INTEROP_OID4VCI=1, after the npm packages are installed).
func TestOID4VCIInterop(t *testing.T) {
	if os.Getenv("SHENFEN_INTEROP_OID4VCI") == "" {
		t.Skip("run by scripts/test.d/interop-oid4vci.sh")
	}
	e := doubleEnv(t)
	// Signed metadata naming the log's key, as cmd/shenfen serves it.
	logKey := testLogKey(t)
	e.api.MetadataSigner, e.api.LogKey = e.api.Cards.(*oid4vc.Issuer).Signers, logKey
	key := credtest.HolderKey()
	offer := e.enroll(t, key)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pub, _ := key.PublicKey.Bytes()
	priv, _ := key.Bytes()
	settings, _ := json.Marshal(map[string]any{
		"offer": offer, "root": e.root, "server": e.srv.URL, "issuer": credtest.IssuerURL, "vct": credential.ProfileCN.VCT,
		"device_jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:65]), "d": b64(priv)},
	})
	f := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(f, settings, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join("..", "interop", "oid4vci", "collect.mjs"), f)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the independent OpenID4VCI client failed: %v", err)
	}

	// Re-enrollment (which revokes the card above) gives a second offer.
	settings, _ = json.Marshal(map[string]any{
		"offer": e.enroll(t, key), "root": e.root, "server": e.srv.URL, "log_key": logKey, "doctype": credential.ProfileCN.DocType, "issuer": credtest.IssuerURL, "vct": credential.ProfileCN.VCT,
		"device_jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:65]), "d": b64(priv)},
	})
	if err := os.WriteFile(f, settings, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command("node", filepath.Join("..", "interop", "oid4vci", "wallet.mjs"), f).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("shenfen's wallet module failed to collect: %v", err)
	}
}
