package credential_test

import (
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
)

// FuzzParseAnchorsPEM feeds arbitrary trust-list PEM: no panic, and any
// anchors it returns must verify nothing that is not theirs.
func FuzzParseAnchorsPEM(f *testing.F) {
	iss, err := credtest.NewIssuer("fuzz", time.Now().AddDate(0, 0, -1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(iss.RootPEM())
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := credential.ParseAnchorsPEM(b)
		if err != nil {
			return
		}
		a.Verify([][]byte{b}, time.Now())
	})
}
