package credential_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/internal/benchutil"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/proofing"
)

// batchFixture is a batch request as the issuer receives it: 20 key proofs
// for SD-JWT VCs and 20 for mdocs, each by its own key, vouched for by the
// enrolled device key's attestation (one per request).
type batchFixture struct {
	api           *oid4vc.API
	card          proofing.Card
	sdProofs      []string
	mdocProofs    []string
	pid           credential.PID
	iss           *credtest.Issuer
	at, exp, now  time.Time
	refs          []credential.StatusRef
	rawKey        *ecdsa.PrivateKey
	rawPubs       []*ecdsa.PublicKey
	rawSigned     [][]byte
	rawSigs       [][]byte
	sdItem, mItem []byte
}

const batchN = 20

func newBatchFixture(b *testing.B) *batchFixture {
	b.Helper()
	now := time.Now().UTC()
	iss, err := credtest.NewIssuer("bench", now.AddDate(-1, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	pid, err := credtest.PID()
	if err != nil {
		b.Skipf("no portrait: %v", err)
	}
	device := credtest.HolderKey()
	jwk := jose.JSONWebKey{Key: &device.PublicKey}
	jb, _ := jwk.MarshalJSON()
	tp, _ := jwk.Thumbprint(crypto.SHA256)
	fx := &batchFixture{api: &oid4vc.API{Issuer: credtest.IssuerURL}, pid: pid, iss: iss, now: now,
		card: proofing.Card{DeviceKey: jb, DeviceThumb: base64.RawURLEncoding.EncodeToString(tp)},
		at:   now.Truncate(24 * time.Hour)}
	fx.exp = fx.at.Add(oid4vc.DefaultBatchValidity)
	var sdPubs []*ecdsa.PublicKey
	proofs := func(nonce string) []string {
		var keys []*ecdsa.PrivateKey
		var pubs []*ecdsa.PublicKey
		for range batchN {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			keys, pubs = append(keys, k), append(pubs, &k.PublicKey)
		}
		att, err := oid4vc.MakeKeyAttestation(device, pubs, nonce, now)
		if err != nil {
			b.Fatal(err)
		}
		if sdPubs == nil {
			sdPubs = pubs
		}
		var out []string
		for i, k := range keys {
			if i > 0 {
				att = "" // as the wallet: the attestation in the first proof only
			}
			p, err := oid4vc.MakeAttestedProof(k, credtest.IssuerURL, nonce, now, att)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	fx.sdProofs, fx.mdocProofs = proofs("nonce-sd"), proofs("nonce-mdoc")
	for i := range 2 * batchN {
		fx.refs = append(fx.refs, credential.StatusRef{URI: "https://id.shenfen.test/status/" + string(rune('a'+i%16)), Index: 1000 + i*7919})
	}
	// The raw cost's inputs: a signing input of each format's size, the
	// proofs' signatures, and the portrait as each format hashes it (the
	// SD-JWT disclosure in base64url, the mdoc item).
	fx.rawKey, fx.rawPubs = iss.Key, sdPubs
	for _, p := range fx.sdProofs {
		i := len(p) - 86 // the ES256 signature in base64url
		sig, _ := base64.RawURLEncoding.DecodeString(p[i:])
		fx.rawSigned = append(fx.rawSigned, []byte(p[:i-1]))
		fx.rawSigs = append(fx.rawSigs, sig)
	}
	disc, _ := json.Marshal([]any{"c2FsdHNhbHRzYWx0c2FsdA", "picture", "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(pid.Portrait)})
	fx.sdItem = []byte(base64.RawURLEncoding.EncodeToString(disc))
	fx.mItem = append(make([]byte, 64), pid.Portrait...)
	return fx
}

// issue is the issuer's whole work for the batch: check the 40 key proofs
// (and the two attestations), then sign 20 SD-JWT VCs and 20 mdocs.
func (fx *batchFixture) issue(b *testing.B) {
	ctx := context.Background()
	sdKeys, _, err := fx.api.CheckProofs(fx.sdProofs, fx.card, fx.now)
	if err != nil {
		b.Fatal(err)
	}
	mKeys, _, err := fx.api.CheckProofs(fx.mdocProofs, fx.card, fx.now)
	if err != nil {
		b.Fatal(err)
	}
	sd, err := sdjwt.NewBatch(sdjwt.IssueParams{Issuer: credtest.IssuerURL, Profile: credential.ProfileCN, PID: fx.pid,
		IssuedAt: fx.at, ExpiresAt: fx.exp, Signer: fx.iss.Signer(), Chain: fx.iss.Chain})
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range sdKeys {
		if _, err := sd.Issue(ctx, k, &fx.refs[i]); err != nil {
			b.Fatal(err)
		}
	}
	md, err := mdoc.NewBatch(mdoc.IssueParams{Profile: credential.ProfileCN, PID: fx.pid,
		IssuedAt: fx.at, ExpiresAt: fx.exp, Signer: fx.iss.Signer(), Chain: fx.iss.Chain})
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range mKeys {
		if _, err := md.Issue(ctx, k, &fx.refs[batchN+i]); err != nil {
			b.Fatal(err)
		}
	}
}

// issueOneByOne is issue with each credential issued on its own
// (sdjwt.Issue, mdoc.Issue: a batch of one each), the claim values encoded
// per credential: what a batch saves.
func (fx *batchFixture) issueOneByOne(b *testing.B) {
	ctx := context.Background()
	sdKeys, _, err := fx.api.CheckProofs(fx.sdProofs, fx.card, fx.now)
	if err != nil {
		b.Fatal(err)
	}
	mKeys, _, err := fx.api.CheckProofs(fx.mdocProofs, fx.card, fx.now)
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range sdKeys {
		if _, err := sdjwt.Issue(ctx, sdjwt.IssueParams{Issuer: credtest.IssuerURL, Profile: credential.ProfileCN, PID: fx.pid, Holder: k,
			Status: &fx.refs[i], IssuedAt: fx.at, ExpiresAt: fx.exp, Signer: fx.iss.Signer(), Chain: fx.iss.Chain}); err != nil {
			b.Fatal(err)
		}
	}
	for i, k := range mKeys {
		if _, err := mdoc.Issue(ctx, mdoc.IssueParams{Profile: credential.ProfileCN, PID: fx.pid, Holder: k,
			Status: &fx.refs[batchN+i], IssuedAt: fx.at, ExpiresAt: fx.exp, Signer: fx.iss.Signer(), Chain: fx.iss.Chain}); err != nil {
			b.Fatal(err)
		}
	}
}

// raw is the issue's raw cost of the batch: 40 ES256 signatures, 20 proof
// verifications, and the portrait hashed into each of the 40 credentials.
func (fx *batchFixture) raw(b *testing.B) {
	for i := range 2 * batchN {
		h := sha256.Sum256(fx.rawSigned[i%batchN])
		if _, err := ecdsa.SignASN1(rand.Reader, fx.rawKey, h[:]); err != nil {
			b.Fatal(err)
		}
	}
	for i := range batchN {
		h := sha256.Sum256(fx.rawSigned[i])
		r, s := new(big.Int).SetBytes(fx.rawSigs[i][:32]), new(big.Int).SetBytes(fx.rawSigs[i][32:])
		if !ecdsa.Verify(fx.rawPubs[i], h[:], r, s) {
			b.Fatal("raw verification failed")
		}
	}
	for range batchN {
		sha256.Sum256(fx.sdItem)
		sha256.Sum256(fx.mItem)
	}
}

// BenchmarkIssueBatch is the issuer's work for a batch of 20 SD-JWT VCs
// and 20 mdocs with their 40 key proofs checked.
func BenchmarkIssueBatch(b *testing.B) {
	fx := newBatchFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		fx.issue(b)
	}
}

// BenchmarkIssueBatchRaw is the raw cost alone.
func BenchmarkIssueBatchRaw(b *testing.B) {
	fx := newBatchFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		fx.raw(b)
	}
}

// BenchmarkIssueBatchRatio alternates the batch and its raw cost in one
// loop and reports batch/raw (benchutil.Ratio): the issue's goal is 3.
func BenchmarkIssueBatchRatio(b *testing.B) {
	fx := newBatchFixture(b)
	benchutil.Ratio(b, func() { fx.issue(b) }, func() { fx.raw(b) })
}

// BenchmarkIssueOneByOneRatio is BenchmarkIssueBatchRatio with every
// credential issued on its own: the cost of not sharing the encoding.
func BenchmarkIssueOneByOneRatio(b *testing.B) {
	fx := newBatchFixture(b)
	benchutil.Ratio(b, func() { fx.issueOneByOne(b) }, func() { fx.raw(b) })
}
