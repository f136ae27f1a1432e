package audit_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

type keySource struct{ k *ecdsa.PrivateKey }

func (s keySource) SigningKey(context.Context) (jws.Key, error) {
	return jws.Key{Signer: s.k, KeyID: "test"}, nil
}

func newLog(t testing.TB) (*audit.Log, *ecdsa.PrivateKey, func() []byte) {
	return newLogOn(t, storetest.SQLite(t))
}

func newLogOn(t testing.TB, db *store.DB) (*audit.Log, *ecdsa.PrivateKey, func() []byte) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sl, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	dump := func() []byte { // every byte of the tables, to look for PII
		var out []byte
		for _, q := range []string{`SELECT data FROM audit_leaves`, `SELECT sealed FROM audit_disclosures`, `SELECT subject FROM audit_disclosures`} {
			rows, err := db.SQL().Query(q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var b []byte
				rows.Scan(&b)
				out = append(out, b...)
			}
			rows.Close()
		}
		return out
	}
	return audit.New(db.Audit(), keySource{k}, sl), k, dump
}

func TestLogTreeHeadsAndProofs(t *testing.T) {
	ctx := context.Background()
	log, key, _ := newLog(t)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	log.Now = func() time.Time { return now }
	sth0, err := log.STH(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sth0.Size != 0 || sth0.Root != audit.EmptyRoot {
		t.Fatalf("empty head %+v", sth0)
	}
	var events []audit.Event
	for i := 0; i < 11; i++ {
		e := audit.Issuance(now, "https://id.example/status/abc", i*7, "dc+sd-jwt", []byte{byte(i)})
		events = append(events, e)
		idx, err := log.Append(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if idx != uint64(i) {
			t.Fatalf("leaf index %d, want %d", idx, i)
		}
	}
	sth1, err := log.STH(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := audit.VerifyTreeHead(sth1.JWS, &key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != 11 || got.Root != sth1.Root {
		t.Fatalf("verified head %+v", got)
	}
	if again, _ := log.STH(ctx); again.JWS != sth1.JWS {
		t.Fatal("unchanged tree re-signed")
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := audit.VerifyTreeHead(sth1.JWS, &other.PublicKey); !errors.Is(err, audit.ErrProof) {
		t.Fatalf("head under another key: %v", err)
	}
	// An auditor checks an event it holds is in the tree.
	data, _ := events[6].Encode()
	p, err := log.InclusionProof(ctx, 6, sth1.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.VerifyInclusion(audit.HashLeaf(data), 6, sth1.Size, p, got.Root); err != nil {
		t.Fatal(err)
	}
	leaf, err := log.Leaf(ctx, 6)
	if err != nil || !bytes.Equal(leaf.Data, data) {
		t.Fatalf("leaf 6: %v", err)
	}
	// The log grows; the auditor checks the new head extends the old one.
	for i := 0; i < 6; i++ {
		log.Append(ctx, audit.StatusChange(now, "https://id.example/status/abc", i, "invalid"))
	}
	now = now.Add(time.Minute)
	sth2, _ := log.STH(ctx)
	cp, err := log.ConsistencyProof(ctx, sth1.Size, sth2.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.VerifyConsistency(sth1.Size, sth2.Size, sth1.Root, sth2.Root, cp); err != nil {
		t.Fatal(err)
	}
	if _, err := log.InclusionProof(ctx, 1, 100); !errors.Is(err, audit.ErrProof) {
		t.Fatalf("proof beyond the log: %v", err)
	}
	if h, err := log.TreeHeadAt(ctx, 11); err != nil || h.JWS != sth1.JWS {
		t.Fatalf("head at 11: %v", err)
	}
	for _, bad := range []audit.Event{{Type: "", At: now}, {Type: "x"}, {Type: "x", At: now, Ref: strings.Repeat("a", 5000)}} {
		if _, err := log.Append(ctx, bad); !errors.Is(err, audit.ErrInvalid) {
			t.Fatalf("bad event %+v: %v", bad.Type, err)
		}
	}
}

func TestDisclosureHistory(t *testing.T) {
	ctx := context.Background()
	log, _, dump := newLog(t)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	subject := "bi-3f9a1c"
	ds := []audit.Disclosure{
		{Subject: subject, RP: "hotel-client", RPName: "Pearl River Hotel", Claims: []string{"name", "id_number", "portrait"}, Channel: audit.ChannelOIDC, At: at},
		{Subject: subject, RP: "bar-verifier", RPName: "Night Owl Bar", Claims: []string{"age_over_18"}, Channel: audit.ChannelInPerson, At: at.Add(time.Hour)},
		{Subject: "someone-else", RP: "bank", Claims: []string{"name"}, Channel: audit.ChannelOID4VP, At: at},
	}
	for _, d := range ds {
		if _, err := log.Record(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	h, err := log.History(ctx, subject, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].RP != "bar-verifier" || h[1].RPName != "Pearl River Hotel" {
		t.Fatalf("history %+v", h)
	}
	if got := strings.Join(h[1].Claims, ","); got != "id_number,name,portrait" {
		t.Fatalf("claims %s", got)
	}
	// The citizen can check each entry is committed in the public log.
	sth, _ := log.STH(ctx)
	for _, r := range h {
		leaf, err := log.Leaf(ctx, r.LeafIndex)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := audit.Commitment(r.Disclosure, r.Salt)
		if !bytes.Contains(leaf.Data, []byte(c)) {
			t.Fatalf("leaf %d does not commit to the disclosure", r.LeafIndex)
		}
		p, _ := log.InclusionProof(ctx, r.LeafIndex, sth.Size)
		if err := audit.VerifyInclusion(leaf.Hash, r.LeafIndex, sth.Size, p, sth.Root); err != nil {
			t.Fatal(err)
		}
	}
	// Neither the public leaves nor the database hold the relying party or
	// the claims in the clear.
	all := dump()
	for _, s := range []string{"Pearl River", "hotel-client", "portrait", "age_over_18", "Night Owl"} {
		if bytes.Contains(all, []byte(s)) {
			t.Fatalf("%q stored in the clear", s)
		}
	}
	for _, bad := range []audit.Disclosure{
		{RP: "x", Claims: []string{"a"}, Channel: audit.ChannelOIDC, At: at},
		{Subject: "s", Claims: []string{"a"}, Channel: audit.ChannelOIDC, At: at},
		{Subject: "s", RP: "x", Claims: []string{"a"}, Channel: "carrier-pigeon", At: at},
		{Subject: "s", RP: "x", Claims: []string{""}, Channel: audit.ChannelOIDC, At: at},
		{Subject: "s", RP: "x", Claims: []string{"a"}, Channel: audit.ChannelOIDC},
	} {
		if _, err := log.Record(ctx, bad); !errors.Is(err, audit.ErrInvalid) {
			t.Fatalf("bad disclosure %+v: %v", bad, err)
		}
	}
}
