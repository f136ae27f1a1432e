package status_test

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// revokedList is a 2^20-entry 1-bit shard with a fraction of random
// entries invalid.
func revokedList(b testing.TB, frac float64, seed uint64) *status.List {
	l, _ := status.NewList(1, status.DefaultShardSize)
	r := rand.New(rand.NewPCG(seed, 1))
	n := int(frac * float64(status.DefaultShardSize))
	for i := 0; i < n; i++ {
		l.Set(r.IntN(status.DefaultShardSize), status.Invalid)
	}
	return l
}

// BenchmarkTokenSign1M: compress and sign the token of one full shard
// (2^20 entries, 1% revoked).
func BenchmarkTokenSign1M(b *testing.B) {
	p := newPKI(b)
	l := revokedList(b, 0.01, 1)
	now := time.Now()
	tok := &status.Token{Subject: "https://id.example/status/x", IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Minute, List: l}
	var size int
	for b.Loop() {
		s, err := tok.Sign(p.key)
		if err != nil {
			b.Fatal(err)
		}
		size = len(s)
	}
	b.ReportMetric(float64(size), "token-bytes")
}

// BenchmarkTokenFromStore1M: the whole regeneration of a changed shard as
// the server does it: read the 1% revoked entries from SQLite, build,
// compress, sign.
func BenchmarkTokenFromStore1M(b *testing.B) {
	ctx := context.Background()
	db := storetest.SQLite(b)
	p := newPKI(b)
	svc := status.NewService(db.Status(), p, "https://id.example/status")
	ref, err := svc.Allocate(ctx)
	if err != nil {
		b.Fatal(err)
	}
	id, _ := svc.ListID(ref.URI)
	// Fill 1% of the shard with revoked entries directly (allocation of
	// 10 485 of them through the service would take as long, to no point).
	r := rand.New(rand.NewPCG(2, 2))
	tx, _ := db.SQL().Begin()
	for i := 0; i < status.DefaultShardSize/100; i++ {
		tx.Exec(`INSERT INTO status_entries (list_id, idx, status, updated_at) VALUES (?, ?, 1, 0) ON CONFLICT DO NOTHING`, id, r.IntN(status.DefaultShardSize))
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		info, _ := db.Status().StatusList(ctx, id)
		tok, err := svc.Build(ctx, info, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tok.Sign(p.key); err != nil {
			b.Fatal(err)
		}
	}
}

// drivers runs a benchmark on SQLite and, unless SHENFEN_TEST_POSTGRES=off,
// on PostgreSQL.
func drivers(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.SQLite(b)) })
	if os.Getenv("SHENFEN_TEST_POSTGRES") != "off" {
		b.Run("postgres", func(b *testing.B) { fn(b, storetest.Postgres(b)) })
	}
}

// BenchmarkSetStatus: one suspend or reinstate through the service (each a
// transaction).
func BenchmarkSetStatus(b *testing.B) { drivers(b, benchSetStatus) }

func benchSetStatus(b *testing.B, db *store.DB) {
	ctx := context.Background()
	svc := status.NewService(db.Status(), newPKI(b), "https://id.example/status")
	var refs []status.Ref
	for i := 0; i < 64; i++ {
		r, err := svc.Allocate(ctx)
		if err != nil {
			b.Fatal(err)
		}
		refs = append(refs, r)
	}
	i := 0
	for b.Loop() {
		r := refs[i%len(refs)]
		next := status.Suspended
		if (i/len(refs))%2 == 1 {
			next = status.Valid
		}
		if _, err := svc.Set(ctx, r, next); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAllocate: one index allocation (a transaction).
func BenchmarkAllocate(b *testing.B) { drivers(b, benchAllocate) }

func benchAllocate(b *testing.B, db *store.DB) {
	ctx := context.Background()
	svc := status.NewService(db.Status(), newPKI(b), "https://id.example/status")
	for b.Loop() {
		if _, err := svc.Allocate(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckerCachedLookup: a verifier's status lookup answered from
// its cached, already verified 1M-entry list.
func BenchmarkCheckerCachedLookup(b *testing.B) {
	ctx := context.Background()
	p := newPKI(b)
	now := time.Now()
	uri := "https://id.example/status/x"
	tok := &status.Token{Subject: uri, IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Hour, List: revokedList(b, 0.01, 3)}
	raw, _ := tok.Sign(p.key)
	c := &status.Checker{Key: status.ChainKeys(p.root)}
	if err := c.Add(uri, []byte(raw)); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := c.Status(ctx, uri, (i*7919)%status.DefaultShardSize); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkParseToken1M: a verifier's full check of a fresh 1M-entry
// token (signature, x5c chain, inflate).
func BenchmarkParseToken1M(b *testing.B) {
	p := newPKI(b)
	now := time.Now()
	tok := &status.Token{Subject: "https://id.example/status/x", IssuedAt: now, Expires: now.Add(time.Hour), List: revokedList(b, 0.01, 4)}
	raw, _ := tok.Sign(p.key)
	keys := status.ChainKeys(p.root)
	for b.Loop() {
		if _, err := status.ParseToken([]byte(raw), keys, now, status.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSize100M builds the 96 shards that hold 100 million cards, in
// one-bit and two-bit lists, with a share of them revoked (and, in 2-bit
// lists, suspended) at random, and reports the raw and compressed totals
// (one pass; the time is that of compressing them all).
func BenchmarkSize100M(b *testing.B) {
	const cards = 100_000_000
	shards := (cards + status.DefaultShardSize - 1) / status.DefaultShardSize
	for _, c := range []struct {
		name               string
		bits               int
		revoked, suspended float64
	}{
		{"1bit/revoked1pct", 1, 0.01, 0}, {"1bit/revoked5pct", 1, 0.05, 0},
		{"2bit/revoked1pct", 2, 0.01, 0}, {"2bit/revoked1pct-suspended0.5pct", 2, 0.01, 0.005},
		{"2bit/revoked5pct", 2, 0.05, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			var raw, comp int
			for b.Loop() {
				raw, comp = 0, 0
				for s := 0; s < shards; s++ {
					l := markedList(b, c.bits, c.revoked, c.suspended, uint64(s))
					z, err := l.Compress()
					if err != nil {
						b.Fatal(err)
					}
					raw += len(l.Bytes())
					comp += len(z)
				}
			}
			b.ReportMetric(float64(raw)/1e6, "raw-MB")
			b.ReportMetric(float64(comp)/1e6, "compressed-MB")
			b.ReportMetric(float64(shards), "shards")
		})
	}
}

// markedList is a full shard of bits-bit entries with the fractions
// revoked and suspended of them marked at random.
func markedList(b testing.TB, bits int, revoked, suspended float64, seed uint64) *status.List {
	l, err := status.NewList(bits, status.DefaultShardSize)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	for _, m := range []struct {
		f float64
		s status.Status
	}{{revoked, status.Invalid}, {suspended, status.Suspended}} {
		for i := 0; i < int(m.f*float64(status.DefaultShardSize)); i++ {
			l.Set(r.IntN(status.DefaultShardSize), m.s)
		}
	}
	return l
}
