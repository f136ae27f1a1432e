package oid4vc_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/proofing/proofingtest"
	"github.com/shenfen/shenfen/registry"
)

// window is the length of the byte strings compared: the 8.
const window = 8

// useCase is what one kind of verifier asks, in each format.
type useCase struct {
	name             string
	sd, mdoc, qrElts []string
}

// The three use cases of docs/privacy.md.
var useCases = []useCase{
	{name: "bar age check", sd: []string{"age_equal_or_over.18"}, mdoc: []string{"age_over_18"}, qrElts: []string{"age_over_18"}},
	{name: "hotel", sd: []string{"family_name", "given_name", "id_number", "picture"},
		mdoc:   []string{"family_name", "given_name", "id_number", "portrait"},
		qrElts: []string{"name_original", "id_number", "portrait_thumbnail"}},
	{name: "station gate", sd: []string{"name_original", "id_number"}, mdoc: []string{"name_original", "id_number", "portrait"},
		qrElts: []string{"name_original", "id_number", "portrait_thumbnail"}},
}

// presentation is one presentation as the verifier received it: the
// values it can parse out of it (leaves) and the claim values it was
// told (disclosed).
type presentation struct {
	citizen, format, useCase string
	verifier                 int
	leaves                   [][]byte
	disclosed                [][]byte
}

// TestLinkability issues batches to several citizens, presents each
// credential once to a different verifier for three use cases in the
// three formats, and compares what verifiers received: every byte string
// of 8 bytes common to two presentations of one citizen must be part of a
// claim value disclosed in them, of the issuer's certificate, or of a
// presentation of another citizen (a value every card of the period
// carries: the issuer URL, the day of issuance, a status list shared by
// all). A verifier sees a presentation as the values it can parse out of
// it: the SD-JWT's JSON strings and numbers after base64url decoding, the
// signatures, and every CBOR string, byte string (and the CBOR inside
// byte strings) and integer of a DeviceResponse; each encoding is a
// function of these values. The control presents one credential twice and
// must be found linkable; the hotel case shows what is linkable: the
// disclosed name, ID number and portrait.
func TestLinkability(t *testing.T) {
	people := linkPeople(t)
	recs := proofingtest.Records{}
	for _, p := range people {
		recs[p.IDNumber] = p
	}
	e := newEnv(t, &proofingtest.Face{}, proofingtest.Speech{}, recs, people[0])
	iss := e.api.Cards.(*oid4vc.Issuer).Signers.(signers).iss
	// Every presentation is made at one instant: the time a verifier sees
	// a presentation (KB-JWT iat, the QR's signed_at) is not a property of
	// the credential, and two presentations in the same second would be
	// linked by it in any system.
	now := time.Now().UTC().Truncate(time.Second)
	perUse := 6 // presentations per citizen, use case and format: 3 × 6 = 18 of 20
	var all []presentation
	controls := map[string][2]presentation{}
	for _, person := range people {
		e.person = person
		device := newKeys(t, 1)[0]
		offer := e.enroll(t, device)
		_, tok := e.token(t, url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {preAuthCode(offer)}})
		access := tok["access_token"].(string)
		for _, cfg := range []string{oid4vc.ConfigSDJWT, oid4vc.ConfigMdoc, oid4vc.ConfigQR} {
			keys := newKeys(t, oid4vc.BatchSize)
			code, m := e.batchRequest(t, access, cfg, keys, device, e.freshNonce(t))
			if code != 200 {
				t.Fatalf("%s: batch %s: %d %v", person.Name, cfg, code, m)
			}
			creds := credentialsOf(t, m)
			k := 0
			for _, uc := range useCases {
				for range perUse {
					verifier := k // each credential of the batch to a different verifier
					p := present(t, e, iss, cfg, creds[k], keys[k], uc, verifier, now)
					p.citizen, p.useCase = person.Name, uc.name
					all = append(all, p)
					k++
				}
			}
			// The control: credential k presented twice, to two verifiers.
			a := present(t, e, iss, cfg, creds[k], keys[k], useCases[0], 100, now)
			b := present(t, e, iss, cfg, creds[k], keys[k], useCases[0], 101, now)
			a.citizen, b.citizen = person.Name, person.Name
			controls[person.Name+" "+cfg] = [2]presentation{a, b}
		}
	}
	// What counts as neither linking nor disclosed: the issuer's
	// certificate (DER, and base64 as in x5c).
	var allowed [][]byte
	for _, c := range iss.Chain {
		allowed = append(allowed, c.Raw, []byte(base64.StdEncoding.EncodeToString(c.Raw)))
	}
	allowedW := windows(allowed)
	// The population: per citizen, every window of the others' presentations.
	byCitizen := map[string]map[[window]byte]bool{}
	for _, p := range all {
		w := byCitizen[p.citizen]
		if w == nil {
			w = map[[window]byte]bool{}
			byCitizen[p.citizen] = w
		}
		for k := range windows(p.leaves) {
			w[k] = true
		}
	}
	shared := func(citizen string, k [window]byte) bool {
		for c, w := range byCitizen {
			if c != citizen && w[k] {
				return true
			}
		}
		return false
	}
	// linkable lists the windows common to p and q that are no disclosed
	// value (unless keepDisclosed), nor the certificate, nor seen with
	// another citizen.
	linkable := func(p, q presentation, keepDisclosed bool) []string {
		wq := windows(q.leaves)
		disc := windows(append(append([][]byte{}, p.disclosed...), q.disclosed...))
		var out []string
		for k := range windows(p.leaves) {
			if !wq[k] || allowedW[k] || (!keepDisclosed && disc[k]) || shared(p.citizen, k) {
				continue
			}
			out = append(out, fmt.Sprintf("%q", k[:]))
		}
		sort.Strings(out)
		return out
	}

	// 1. No handle across the presentations of one citizen: the goal.
	pairs, linked := 0, 0
	disclosedLinks, pairsOf := map[string]int{}, map[string]int{}
	for i, p := range all {
		for _, q := range all[i+1:] {
			if p.citizen != q.citizen || p.useCase != q.useCase || p.format != q.format {
				continue
			}
			pairs++
			if l := linkable(p, q, false); len(l) > 0 {
				linked++
				t.Errorf("%s, %s, %s: verifiers %d and %d share %d byte strings beyond the disclosed values, e.g. %s",
					p.citizen, p.useCase, p.format, p.verifier, q.verifier, len(l), l[0])
			}
			disclosedLinks[p.useCase+" / "+p.format] += len(linkable(p, q, true))
			pairsOf[p.useCase+" / "+p.format]++
		}
	}
	t.Logf("%d pairs of presentations of one citizen to two verifiers compared; %d share a byte string of %d bytes beyond the disclosed claim values, the issuer certificate and the values of other citizens' presentations",
		pairs, linked, window)
	// 2. What IS linkable: the disclosed values. The bar's age_over_18
	// alone links nothing; the hotel's and the station's name and ID
	// number link every presentation of the citizen.
	for _, uc := range useCases {
		for _, f := range []string{"dc+sd-jwt", "mso_mdoc", "qr"} {
			n := disclosedLinks[uc.name+" / "+f]
			t.Logf("%s / %s: %d common windows over %d pairs, every one inside a disclosed value", uc.name, f, n, pairsOf[uc.name+" / "+f])
			if uc.name == "bar age check" && n != 0 {
				t.Errorf("%s / %s: age_over_18 alone shares %d windows between presentations of one citizen", uc.name, f, n)
			}
			if uc.name != "bar age check" && n == 0 {
				t.Errorf("%s / %s: the disclosed name and ID number should link the presentations of one citizen, found nothing: the comparison is blind", uc.name, f)
			}
		}
	}
	// 3. The control: one credential shown twice is linked by its
	// signature, device key, digests and status entry.
	for name, c := range controls {
		l := linkable(c[0], c[1], false)
		t.Logf("control %s: one credential presented twice shares %d windows beyond the disclosed values", name, len(l))
		if len(l) < 64 {
			t.Errorf("%s: one credential presented twice shares only %d windows: the comparison misses the credential's own values", name, len(l))
		}
	}
}

// linkPeople are four registry people with distinct faces (the doubles
// tell faces by colour) and names.
func linkPeople(t *testing.T) []registry.Record {
	z := zhang(t)
	out := []registry.Record{z}
	for i, n := range []struct {
		name string
		col  []byte
		born time.Time
	}{
		{"李四", []byte{10, 200, 10}, time.Date(1985, 3, 14, 0, 0, 0, 0, time.UTC)},
		{"王五", []byte{10, 10, 200}, time.Date(1992, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"欧阳娜娜", []byte{120, 120, 10}, time.Date(2000, 11, 30, 0, 0, 0, 0, time.UTC)},
	} {
		id, err := registry.MakeIDNumber("110105", n.born, 10+i)
		if err != nil {
			t.Fatal(err)
		}
		p := z
		p.IDNumber, p.Name, p.BirthDate, p.FaceTemplate = id, n.name, n.born, n.col
		p.Address = fmt.Sprintf("北京市朝阳区 %d 号", 20+i)
		out = append(out, p)
	}
	return out
}

// present makes one presentation of credential cred (format of cfg) for
// use case uc to verifier number v, checks it as that verifier would, and
// returns what the verifier received.
func present(t *testing.T, e *env, iss *credtest.Issuer, cfg, cred string, key *ecdsa.PrivateKey, uc useCase, v int, now time.Time) presentation {
	t.Helper()
	ctx := context.Background()
	aud := fmt.Sprintf("https://verifier-%d.example", v)
	nonce := fmt.Sprintf("nonce-of-verifier-%d-%s", v, strings.Repeat("x", v%3))
	out := presentation{verifier: v}
	switch cfg {
	case oid4vc.ConfigSDJWT:
		pres, err := sdjwt.Present(ctx, cred, uc.sd, key, aud, nonce, now)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.api.Verifier.VerifySDJWT(ctx, pres, nonce, aud)
		if err != nil {
			t.Fatalf("verify SD-JWT: %v", err)
		}
		out.format, out.leaves, out.disclosed = "dc+sd-jwt", sdjwtLeaves(t, pres), valueLeaves(got.Claims)
	case oid4vc.ConfigMdoc:
		b, _ := base64.RawURLEncoding.DecodeString(cred)
		st := qr.SessionTranscript([]byte(nonce))
		dr, err := mdoc.Present(ctx, b, map[string][]string{credential.ProfileCN.Namespace: uc.mdoc}, key, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.api.Verifier.VerifyMdoc(ctx, dr, st)
		if err != nil {
			t.Fatalf("verify mdoc: %v", err)
		}
		out.format, out.leaves, out.disclosed = "mso_mdoc", cborLeaves(t, dr), valueLeaves(got.Claims)
	case oid4vc.ConfigQR:
		b, _ := base64.RawURLEncoding.DecodeString(cred)
		payload, err := qr.Present(ctx, b, uc.qrElts, key, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		anchors := iss.Anchors()
		anchors.AddIssuers(iss.Leaf)
		got, err := (&qr.Verifier{Anchors: anchors, Status: e.checker, Seen: &credtest.Nonces{}, Clock: func() time.Time { return now }}).Verify(ctx, payload, nil)
		if err != nil {
			t.Fatalf("verify QR: %v", err)
		}
		dr, err := qr.Decode(payload)
		if err != nil {
			t.Fatal(err)
		}
		out.format, out.leaves = "qr", cborLeaves(t, dr)
		out.disclosed = append(valueLeaves(got.Elements), got.Thumbnail)
	}
	return out
}

// windows is the set of every window-byte string inside one leaf.
func windows(leaves [][]byte) map[[window]byte]bool {
	out := map[[window]byte]bool{}
	for _, l := range leaves {
		for i := 0; i+window <= len(l); i++ {
			out[[window]byte(l[i:i+window])] = true
		}
	}
	return out
}

// sdjwtLeaves are the values of an SD-JWT presentation "JWT~D~...~KB":
// each JWT's header and payload JSON values, its signature, and each
// disclosure's JSON values.
func sdjwtLeaves(t *testing.T, pres string) [][]byte {
	t.Helper()
	var out [][]byte
	parts := strings.Split(pres, "~")
	jwt := func(s string) {
		segs := strings.Split(s, ".")
		if len(segs) != 3 {
			t.Fatalf("JWT of %d segments", len(segs))
		}
		for i, seg := range segs {
			b, err := base64.RawURLEncoding.DecodeString(seg)
			if err != nil {
				t.Fatal(err)
			}
			if i == 2 {
				out = append(out, b)
			} else {
				out = append(out, jsonLeaves(t, b)...)
			}
		}
	}
	jwt(parts[0])
	for _, d := range parts[1 : len(parts)-1] {
		b, err := base64.RawURLEncoding.DecodeString(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, jsonLeaves(t, b)...)
	}
	jwt(parts[len(parts)-1])
	return out
}

func jsonLeaves(t *testing.T, b []byte) [][]byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return valueLeaves(v)
}

// valueLeaves are the strings, byte strings and numbers (as decimal
// text) of a decoded JSON or CBOR value, map keys included.
func valueLeaves(v any) [][]byte {
	var out [][]byte
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, []byte(x))
		case []byte:
			out = append(out, x)
		case json.Number:
			out = append(out, []byte(x.String()))
		case float64:
			out = append(out, []byte(strconv.FormatFloat(x, 'f', -1, 64)))
		case int:
			out = append(out, []byte(strconv.Itoa(x)))
		case int64:
			out = append(out, []byte(strconv.FormatInt(x, 10)))
		case uint64:
			out = append(out, []byte(strconv.FormatUint(x, 10)))
		case time.Time:
			out = append(out, []byte(x.Format(time.RFC3339)))
		case credential.Date:
			out = append(out, []byte(x))
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				out = append(out, []byte(k))
				walk(e)
			}
		case map[any]any:
			for k, e := range x {
				walk(k)
				walk(e)
			}
		case cbor.Tag:
			walk(x.Content)
		case cbor.RawTag:
			walk(x.Content)
		}
	}
	walk(v)
	return out
}

// cborLeaves are the values of a CBOR document, and of the CBOR inside
// its byte strings (tag 24 items, the MSO, COSE headers), recursively.
func cborLeaves(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var v any
	if err := cbor.Unmarshal(b, &v); err != nil {
		t.Fatalf("CBOR: %v", err)
	}
	var out [][]byte
	for _, l := range valueLeaves(v) {
		// A byte string holding a CBOR structure (a tag 24 item, the MSO, a
		// COSE header) is a function of its values: those are compared. Any
		// other (signature, random, digest, key, image) is compared whole.
		var inner any
		if len(l) > 1 && cbor.Unmarshal(l, &inner) == nil {
			switch inner.(type) {
			case map[any]any, []any, cbor.Tag:
				out = append(out, cborLeaves(t, l)...)
				continue
			}
		}
		out = append(out, l)
	}
	return out
}
