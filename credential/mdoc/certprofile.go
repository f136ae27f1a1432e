package mdoc

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"github.com/shenfen/shenfen/credential"
)

// OIDDocumentSigner is the extended key usage of an mdoc document signer,
// id-mdl-kp-mdlDS (ISO/IEC 18013-5, 1.0.18013.5.1.2).
var OIDDocumentSigner = asn1.ObjectIdentifier{1, 0, 18013, 5, 1, 2}

// checkDocumentSigner checks the verified issuer chain against the
// certificate profile of ISO/IEC 18013-5 Annex B: the leaf is a document
// signer (not a CA; key usage digitalSignature; extended key usage mdlDS)
// issued under an IACA root that is a CA allowed to sign certificates. A
// document signer trusted directly, without an IACA above it, is refused.
func checkDocumentSigner(ch *credential.Chain) error {
	ds := ch.Certs[0]
	if ds.BasicConstraintsValid && ds.IsCA {
		return fmt.Errorf("%w: document signer %q is a CA", credential.ErrCertProfile, ch.Subject)
	}
	if ds.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: document signer %q without key usage digitalSignature", credential.ErrCertProfile, ch.Subject)
	}
	if !hasEKU(ds, OIDDocumentSigner) {
		return fmt.Errorf("%w: document signer %q without extended key usage mdlDS (%s)", credential.ErrCertProfile, ch.Subject, OIDDocumentSigner)
	}
	root := ch.Root
	if root == nil || root.Equal(ds) {
		return fmt.Errorf("%w: document signer %q is trusted directly, not through an IACA root", credential.ErrCertProfile, ch.Subject)
	}
	if !root.BasicConstraintsValid || !root.IsCA {
		return fmt.Errorf("%w: IACA root %q is not a CA", credential.ErrCertProfile, root.Subject)
	}
	if root.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w: IACA root %q without key usage keyCertSign", credential.ErrCertProfile, root.Subject)
	}
	return nil
}

func hasEKU(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, o := range c.UnknownExtKeyUsage {
		if o.Equal(oid) {
			return true
		}
	}
	return false
}
