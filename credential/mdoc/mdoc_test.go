package mdoc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

const statusURI = "https://id.shenfen.test/status/1"

type fixture struct {
	iss    *credtest.Issuer
	holder *credtest.Issuer
	issued []byte
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	iss, err := credtest.NewIssuer("shenfen test", t0.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	hk := credtest.HolderKey()
	issued, err := Issue(context.Background(), IssueParams{
		Profile: credential.ProfileCN, PID: pid, Holder: &hk.PublicKey,
		Status:   &credential.StatusRef{URI: statusURI, Index: 7},
		IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), Signer: iss.Signer(), Chain: iss.Chain,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{iss: iss, holder: &credtest.Issuer{Key: hk}, issued: issued}
}

var ns = credential.ProfileCN.Namespace

func transcript(t testing.TB, nonce, client string) []byte {
	st, err := OID4VPSessionTranscript(client, nonce, nil, client+"/response")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (f *fixture) present(t testing.TB, issued []byte, st []byte) []byte {
	t.Helper()
	b, err := Present(context.Background(), issued, map[string][]string{ns: {"family_name", "given_name", "age_over_18", "portrait"}}, f.holder.Key, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) verifier(now time.Time) *Verifier {
	return &Verifier{Anchors: f.iss.Anchors(), Status: &credtest.Status{}, Nonces: &credtest.Nonces{}, Clock: func() time.Time { return now }}
}

func TestIssuePresentVerify(t *testing.T) {
	f := newFixture(t)
	st := transcript(t, "nonce-1", "https://hotel.example")
	resp := f.present(t, f.issued, st)
	res, err := f.verifier(t0.Add(time.Hour)).Verify(context.Background(), resp, Expect{SessionTranscript: st, Nonce: "nonce-1"})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Claims[ns].(map[string]any)
	if c["family_name"] != "张" || c["given_name"] != "三" || c["age_over_18"] != true {
		t.Errorf("claims = %v", c)
	}
	if p, _ := c["portrait"].([]byte); !bytes.HasPrefix(p, []byte{0xFF, 0xD8}) {
		t.Errorf("portrait is not a JPEG")
	}
	if len(c) != 4 {
		t.Errorf("disclosed %d elements, want 4", len(c))
	}
	if res.Status == nil || res.Status.Index != 7 || res.Type != credential.ProfileCN.DocType || !res.HolderKey.Equal(&f.holder.Key.PublicKey) {
		t.Errorf("result = %+v", res.Verified)
	}
	if !res.ValidUntil.Equal(t0.AddDate(1, 0, 0)) {
		t.Errorf("validUntil = %v", res.ValidUntil)
	}
}

func TestBirthDateIsFullDate(t *testing.T) {
	f := newFixture(t)
	var is IssuerSigned
	if err := unmarshal(f.issued, &is, "x"); err != nil {
		t.Fatal(err)
	}
	for _, raw := range is.NameSpaces[ns] {
		it, err := decodeItem(raw)
		if err != nil {
			t.Fatal(err)
		}
		if it.ElementIdentifier == "birth_date" {
			tag, ok := it.ElementValue.(cbor.Tag)
			if !ok || tag.Number != 1004 || tag.Content != "1990-03-07" {
				t.Errorf("birth_date = %#v, want tag 1004 full-date", it.ElementValue)
			}
			return
		}
	}
	t.Error("no birth_date")
}

// reencode edits the single document of a DeviceResponse.
func reencode(t testing.TB, resp []byte, edit func(d *Document)) []byte {
	var r DeviceResponse
	if err := unmarshal(resp, &r, "x"); err != nil {
		t.Fatal(err)
	}
	edit(&r.Documents[0])
	b, err := encMode.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editItem rewrites the item with the given identifier (digest not updated).
func editItem(t testing.TB, d *Document, id string, value any) {
	for i, raw := range d.IssuerSigned.NameSpaces[ns] {
		it, _ := decodeItem(raw)
		if it.ElementIdentifier == id {
			it.ElementValue = value
			b, err := tag24(it)
			if err != nil {
				t.Fatal(err)
			}
			d.IssuerSigned.NameSpaces[ns][i] = b
			return
		}
	}
	t.Fatalf("no item %s", id)
}

func nested(depth int) []byte {
	return append(bytes.Repeat([]byte{0x81}, depth), 0x00)
}

func TestHostile(t *testing.T) {
	f := newFixture(t)
	now := t0.Add(time.Hour)
	st := transcript(t, "nonce-1", "https://hotel.example")
	good := f.present(t, f.issued, st)
	rogue, err := credtest.NewIssuer("rogue", t0.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	issueWith := func(s *credtest.Issuer, chain *credtest.Issuer, from, until time.Time) []byte {
		b, err := Issue(context.Background(), IssueParams{Profile: credential.ProfileCN, PID: mustPID(t), Holder: &f.holder.Key.PublicKey,
			IssuedAt: from, ExpiresAt: until, Signer: s.Signer(), Chain: chain.Chain})
		if err != nil {
			t.Fatal(err)
		}
		return f.present(t, b, st)
	}
	trust := func(i *credtest.Issuer) func(*Verifier) {
		return func(v *Verifier) { v.Anchors = i.Anchors() }
	}
	noEKU := profileIssuer(t, func(_, leaf *x509.Certificate) { leaf.ExtraExtensions = nil })
	noKU := profileIssuer(t, func(_, leaf *x509.Certificate) { leaf.KeyUsage = x509.KeyUsageKeyAgreement })
	caSigner := profileIssuer(t, func(_, leaf *x509.Certificate) {
		leaf.IsCA, leaf.BasicConstraintsValid, leaf.KeyUsage = true, true, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign
	})
	rootNotCA := profileIssuer(t, func(root, _ *x509.Certificate) { root.IsCA, root.BasicConstraintsValid = false, false })
	rootNoCertSign := profileIssuer(t, func(root, _ *x509.Certificate) { root.KeyUsage = x509.KeyUsageCRLSign })
	// crypto/x509 lets a CA without a key usage extension sign; Annex B
	// requires keyCertSign.
	rootNoKU := profileIssuer(t, func(root, _ *x509.Certificate) { root.KeyUsage = 0 })
	withStatus := func(s credential.Status) func(*Verifier) {
		return func(v *Verifier) {
			c := &credtest.Status{}
			c.Set(statusURI, 7, s)
			v.Status = c
		}
	}
	tests := []struct {
		name  string
		resp  func() []byte
		st    []byte
		setup func(*Verifier)
		err   error
	}{
		{name: "tampered element", resp: func() []byte {
			return reencode(t, good, func(d *Document) { editItem(t, d, "given_name", "四") })
		}, err: credential.ErrDisclosure},
		{name: "tampered MSO", resp: func() []byte {
			return reencode(t, good, func(d *Document) {
				d.IssuerSigned.IssuerAuth = bytes.Replace(d.IssuerSigned.IssuerAuth, []byte("org.shenfen.pid.cn.1"), []byte("org.shenfen.pid.cn.2"), 1)
			})
		}, err: credential.ErrSignature},
		{name: "docType mismatch", resp: func() []byte {
			return reencode(t, good, func(d *Document) { d.DocType = "eu.europa.ec.eudi.pid.1" })
		}, err: credential.ErrDisclosure},
		{name: "wrong issuer key", resp: func() []byte { return issueWith(rogue, f.iss, t0, t0.AddDate(1, 0, 0)) }, err: credential.ErrSignature},
		{name: "untrusted issuer", resp: func() []byte { return issueWith(rogue, rogue, t0, t0.AddDate(1, 0, 0)) }, err: credential.ErrUntrusted},
		{name: "expired", resp: func() []byte { return issueWith(f.iss, f.iss, t0.AddDate(-1, 0, 0), now.Add(-time.Hour)) }, err: credential.ErrExpired},
		{name: "not yet valid", resp: func() []byte { return issueWith(f.iss, f.iss, now.Add(time.Hour), now.AddDate(1, 0, 0)) }, err: credential.ErrNotYetValid},
		{name: "wrong holder key", resp: func() []byte {
			// A device response signed by another key (Finish would refuse
			// it, so its check is bypassed here).
			u, err := Prepare(f.issued, map[string][]string{ns: {"given_name"}}, st, nil)
			if err != nil {
				t.Fatal(err)
			}
			k := credtest.HolderKey()
			sig, _ := cose.NewSigner(cose.AlgorithmES256, k)
			raw, _ := sig.Sign(rand.Reader, u.ToBeSigned())
			u.devKey = &k.PublicKey
			b, err := u.Finish(raw)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, err: credential.ErrHolderBinding},
		{name: "wrong nonce", resp: func() []byte { return good }, st: transcript(t, "nonce-2", "https://hotel.example"), err: credential.ErrHolderBinding},
		{name: "wrong audience", resp: func() []byte { return good }, st: transcript(t, "nonce-1", "https://bar.example"), err: credential.ErrHolderBinding},
		{name: "no device signature", resp: func() []byte {
			return reencode(t, good, func(d *Document) { d.DeviceSigned.DeviceAuth.DeviceSignature = nil })
		}, err: credential.ErrHolderBinding},
		{name: "replayed nonce", resp: func() []byte { return good }, setup: func(v *Verifier) {
			if _, err := v.Verify(context.Background(), good, Expect{SessionTranscript: st, Nonce: "nonce-1"}); err != nil {
				t.Fatalf("first use: %v", err)
			}
		}, err: credential.ErrReplay},
		{name: "revoked", resp: func() []byte { return good }, setup: withStatus(credential.StatusInvalid), err: credential.ErrRevoked},
		{name: "suspended", resp: func() []byte { return good }, setup: withStatus(credential.StatusSuspended), err: credential.ErrSuspended},
		{name: "signer without mdlDS extended key usage", resp: func() []byte { return issueWith(noEKU, noEKU, t0, t0.AddDate(1, 0, 0)) },
			setup: trust(noEKU), err: credential.ErrCertProfile},
		{name: "signer without digitalSignature key usage", resp: func() []byte { return issueWith(noKU, noKU, t0, t0.AddDate(1, 0, 0)) },
			setup: trust(noKU), err: credential.ErrCertProfile},
		{name: "signer is a CA", resp: func() []byte { return issueWith(caSigner, caSigner, t0, t0.AddDate(1, 0, 0)) },
			setup: trust(caSigner), err: credential.ErrCertProfile},
		{name: "root is not a CA", resp: func() []byte { return issueWith(rootNotCA, rootNotCA, t0, t0.AddDate(1, 0, 0)) },
			setup: trust(rootNotCA), err: credential.ErrUntrusted},
		{name: "root without keyCertSign", resp: func() []byte { return issueWith(rootNoCertSign, rootNoCertSign, t0, t0.AddDate(1, 0, 0)) },
			setup: trust(rootNoCertSign), err: credential.ErrUntrusted},
		{name: "root without key usage", resp: func() []byte { return issueWith(rootNoKU, rootNoKU, t0, t0.AddDate(1, 0, 0)) },
			setup: trust(rootNoKU), err: credential.ErrCertProfile},
		{name: "signer trusted directly without IACA", resp: func() []byte { return good },
			setup: func(v *Verifier) { v.Anchors = credential.NewAnchors(f.iss.Leaf) }, err: credential.ErrCertProfile},
		{name: "tagged COSE_Sign1", resp: func() []byte {
			return reencode(t, good, func(d *Document) {
				d.IssuerSigned.IssuerAuth = append([]byte{0xd2}, d.IssuerSigned.IssuerAuth...)
			})
		}, err: credential.ErrMalformed},
		{name: "alg in unprotected header", resp: func() []byte {
			return reencode(t, good, func(d *Document) {
				d.DeviceSigned.DeviceAuth.DeviceSignature = editSign1(t, d.DeviceSigned.DeviceAuth.DeviceSignature, func(m *cose.UntaggedSign1Message) {
					m.Headers.Unprotected = cose.UnprotectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256}
				})
			})
		}, err: credential.ErrMalformed},
		{name: "ES384 issuer algorithm", resp: func() []byte {
			return reencode(t, good, func(d *Document) {
				d.IssuerSigned.IssuerAuth = editSign1(t, d.IssuerSigned.IssuerAuth, func(m *cose.UntaggedSign1Message) {
					m.Headers.Protected = cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES384}
				})
			})
		}, err: credential.ErrSignature},
		{name: "critical protected header", resp: func() []byte {
			return reencode(t, good, func(d *Document) {
				d.IssuerSigned.IssuerAuth = editSign1(t, d.IssuerSigned.IssuerAuth, func(m *cose.UntaggedSign1Message) {
					m.Headers.Protected = cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256, cose.HeaderLabelCritical: []any{int64(99)}, int64(99): 1}
				})
			})
		}, err: credential.ErrMalformed},
		{name: "attached device signature payload", resp: func() []byte {
			return reencode(t, good, func(d *Document) {
				d.DeviceSigned.DeviceAuth.DeviceSignature = editSign1(t, d.DeviceSigned.DeviceAuth.DeviceSignature, func(m *cose.UntaggedSign1Message) {
					m.Payload = []byte{}
				})
			})
		}, err: credential.ErrMalformed},
		{name: "case-folded field name", resp: func() []byte {
			return bytes.Replace(good, []byte("\x67docType"), []byte("\x67DocType"), 1)
		}, err: credential.ErrMalformed},
		{name: "truncated", resp: func() []byte { return good[:len(good)-20] }, err: credential.ErrMalformed},
		{name: "oversized", resp: func() []byte { return append(good, make([]byte, MaxSize)...) }, err: credential.ErrTooLarge},
		{name: "trailing bytes", resp: func() []byte { return append(append([]byte{}, good...), 0x00) }, err: credential.ErrMalformed},
		{name: "duplicate map key", resp: func() []byte {
			// {"version":"1.0","version":"1.0","status":0}
			return []byte{0xa3, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x63, '1', '.', '0', 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x63, '1', '.', '0', 0x66, 's', 't', 'a', 't', 'u', 's', 0}
		}, err: credential.ErrMalformed},
		{name: "duplicate key inside item", resp: func() []byte {
			return reencode(t, good, func(d *Document) {
				// IssuerSignedItem with "elementIdentifier" twice.
				m := []byte{0xa5}
				enc := func(v any) []byte { b, _ := encMode.Marshal(v); return b }
				m = append(m, enc("digestID")...)
				m = append(m, enc(0)...)
				m = append(m, enc("random")...)
				m = append(m, enc(make([]byte, 16))...)
				m = append(m, enc("elementIdentifier")...)
				m = append(m, enc("given_name")...)
				m = append(m, enc("elementIdentifier")...)
				m = append(m, enc("family_name")...)
				m = append(m, enc("elementValue")...)
				m = append(m, enc("x")...)
				b, _ := encMode.Marshal(cbor.Tag{Number: 24, Content: m})
				d.IssuerSigned.NameSpaces[ns] = append(d.IssuerSigned.NameSpaces[ns], b)
			})
		}, err: credential.ErrMalformed},
		{name: "deep nesting", resp: func() []byte { return nested(10000) }, err: credential.ErrMalformed},
		{name: "deep nesting in element", resp: func() []byte {
			return reencode(t, good, func(d *Document) {
				b, _ := encMode.Marshal(cbor.Tag{Number: 24, Content: nested(100)})
				d.IssuerSigned.NameSpaces[ns] = append(d.IssuerSigned.NameSpaces[ns], b)
			})
		}, err: credential.ErrMalformed},
		{name: "huge array", resp: func() []byte {
			return append([]byte{0x9a, 0x00, 0x10, 0x00, 0x00}, make([]byte, 1<<16)...)
		}, err: credential.ErrTooLarge},
		{name: "indefinite length", resp: func() []byte { return []byte{0x9f, 0x01, 0xff} }, err: credential.ErrMalformed},
		{name: "self-described CBOR tag", resp: func() []byte { return append([]byte{0xd9, 0xd9, 0xf7}, good...) }, err: credential.ErrMalformed},
		{name: "foreign tag in element", resp: func() []byte {
			return reencode(t, good, func(d *Document) {
				for _, tagNum := range []uint64{1, 2, 18, 32, 55799} {
					item := map[string]any{"digestID": 99, "random": make([]byte, 16), "elementIdentifier": "x",
						"elementValue": cbor.Tag{Number: tagNum, Content: []byte{1}}}
					inner, _ := encMode.Marshal(item)
					b, _ := encMode.Marshal(cbor.Tag{Number: 24, Content: inner})
					d.IssuerSigned.NameSpaces[ns] = append(d.IssuerSigned.NameSpaces[ns], b)
				}
			})
		}, err: credential.ErrMalformed},
		{name: "empty", resp: func() []byte { return nil }, err: credential.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := f.verifier(now)
			if tc.setup != nil {
				tc.setup(v)
			}
			s := tc.st
			if s == nil {
				s = st
			}
			_, err := v.Verify(context.Background(), tc.resp(), Expect{SessionTranscript: s, Nonce: "nonce-1"})
			t.Log(err)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
	if _, err := f.verifier(now).Verify(context.Background(), good, Expect{SessionTranscript: st, Nonce: "nonce-1"}); err != nil {
		t.Fatalf("control: %v", err)
	}
}

// profileIssuer makes an IACA root and a document signer to the Annex B
// profile, as credtest does, after edit has changed their templates.
func profileIssuer(t testing.TB, edit func(root, leaf *x509.Certificate)) *credtest.Issuer {
	t.Helper()
	rk, lk := credtest.HolderKey(), credtest.HolderKey()
	from := t0.AddDate(-1, 0, 0)
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "profile root"},
		NotBefore: from, NotAfter: from.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{OIDDocumentSigner})
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "profile document signer"},
		NotBefore: from, NotAfter: from.AddDate(5, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}}
	edit(root, leaf)
	rder, err := x509.CreateCertificate(rand.Reader, root, root, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := x509.ParseCertificate(rder)
	lder, err := x509.CreateCertificate(rand.Reader, leaf, rc, &lk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	lc, _ := x509.ParseCertificate(lder)
	return &credtest.Issuer{Root: rc, RootKey: rk, Leaf: lc, Key: lk, Chain: []*x509.Certificate{lc}}
}

// editSign1 re-signs nothing: it decodes a COSE_Sign1, lets edit change it
// and encodes it again (signature unchanged).
func editSign1(t testing.TB, raw []byte, edit func(m *cose.UntaggedSign1Message)) []byte {
	t.Helper()
	var m cose.UntaggedSign1Message
	if err := m.UnmarshalCBOR(raw); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	m.Headers.RawProtected, m.Headers.RawUnprotected = nil, nil
	b, err := m.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustPID(t testing.TB) credential.PID {
	p, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProfileEU(t *testing.T) {
	f := newFixture(t)
	issued, err := Issue(context.Background(), IssueParams{Profile: credential.ProfileEU, PID: mustPID(t), Holder: &f.holder.Key.PublicKey,
		IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), Signer: f.iss.Signer(), Chain: f.iss.Chain})
	if err != nil {
		t.Fatal(err)
	}
	eu := credential.ProfileEU.Namespace
	st := transcript(t, "n", "https://rp.example")
	resp, err := Present(context.Background(), issued, map[string][]string{eu: {"personal_administrative_number", "issuance_date", "nationality"}}, f.holder.Key, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := f.verifier(t0.Add(time.Hour))
	v.DocTypes = []string{"eu.europa.ec.eudi.pid.1"}
	res, err := v.Verify(context.Background(), resp, Expect{SessionTranscript: st})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Claims[eu].(map[string]any)
	if c["personal_administrative_number"] != "44011519900307001X" || c["issuance_date"] != "2020-01-01" || c["nationality"].([]any)[0] != "CN" {
		t.Errorf("claims = %v", c)
	}
	if _, err := Present(context.Background(), issued, map[string][]string{eu: {"ethnicity"}}, f.holder.Key, st, nil); err == nil {
		t.Error("presented an element the card does not have")
	}
}

// TestPrepareFinish signs outside Go, as a browser wallet's WebCrypto key
// would: ECDSA P-256 over SHA-256 of ToBeSigned, 64-byte r||s.
func TestPrepareFinish(t *testing.T) {
	f := newFixture(t)
	st := transcript(t, "nonce-1", "https://hotel.example")
	u, err := Prepare(f.issued, map[string][]string{ns: {"given_name"}}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(u.ToBeSigned())
	r, s, err := ecdsa.Sign(rand.Reader, f.holder.Key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	if _, err := u.Finish(append([]byte{1}, sig[1:]...)); !errors.Is(err, credential.ErrHolderBinding) {
		t.Errorf("Finish with a bad signature: %v", err)
	}
	resp, err := u.Finish(sig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier(t0.Add(time.Hour)).Verify(context.Background(), resp, Expect{SessionTranscript: st}); err != nil {
		t.Fatal(err)
	}
}
