package mdoc

import (
	"bytes"
	"context"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
)

// TestBatchItemsCanonical: the items a batch writes by hand are exactly
// the core deterministic encoding of the IssuerSignedItem they carry, and
// two credentials of a batch share no random, digest or device key.
func TestBatchItemsCanonical(t *testing.T) {
	fx := newFixture(t)
	pid, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBatch(IssueParams{Profile: credential.ProfileCN, PID: pid, IssuedAt: t0, ExpiresAt: t0.AddDate(0, 1, 0),
		Signer: fx.iss.Signer(), Chain: fx.iss.Chain})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 2 {
		hk := credtest.HolderKey()
		out, err := b.Issue(context.Background(), &hk.PublicKey, &credential.StatusRef{URI: statusURI, Index: 10 + i})
		if err != nil {
			t.Fatal(err)
		}
		var is IssuerSigned
		if err := cbor.Unmarshal(out, &is); err != nil {
			t.Fatal(err)
		}
		items := is.NameSpaces[ns]
		if len(items) != len(credential.ProfileCN.Attributes(pid, t0)) {
			t.Fatalf("%d items", len(items))
		}
		for _, raw := range items {
			inner, err := untag24(raw, "item")
			if err != nil {
				t.Fatal(err)
			}
			var it issuerSignedItem
			if err := cbor.Unmarshal(inner, &it); err != nil {
				t.Fatal(err)
			}
			again, err := tag24(it)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, raw) {
				t.Fatalf("item %s is not canonical:\n%x\n%x", it.ElementIdentifier, raw, again)
			}
			if seen[string(it.Random)] {
				t.Fatalf("random %x twice", it.Random)
			}
			seen[string(it.Random)] = true
		}
		// The credential verifies (digests, signature) through the
		// ordinary path.
		if _, err := Elements(out); err != nil {
			t.Fatal(err)
		}
	}
}
