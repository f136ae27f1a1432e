package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// BenchmarkAppend: one event appended to the log (a transaction writing
// the leaf and the O(log n) subtree nodes it completes), on SQLite and
// PostgreSQL.
func BenchmarkAppend(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchAppend(b, storetest.SQLite(b)) })
	if os.Getenv("SHENFEN_TEST_POSTGRES") != "off" {
		b.Run("postgres", func(b *testing.B) { benchAppend(b, storetest.Postgres(b)) })
	}
}

func benchAppend(b *testing.B, db *store.DB) {
	ctx := context.Background()
	log, _, _ := newLogOn(b, db)
	now := time.Now()
	i := 0
	for b.Loop() {
		if _, err := log.Append(ctx, audit.StatusChange(now, "https://id.example/status/a", i, "invalid")); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkProofs: inclusion and consistency proofs in a log of 20 000
// leaves (read from SQLite).
func BenchmarkProofs(b *testing.B) {
	ctx := context.Background()
	log, _, _ := newLog(b)
	now := time.Now()
	const n = 20000
	for i := 0; i < n; i++ {
		if _, err := log.Append(ctx, audit.StatusChange(now, "https://id.example/status/a", i, "invalid")); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("inclusion", func(b *testing.B) {
		i := uint64(0)
		for b.Loop() {
			if _, err := log.InclusionProof(ctx, (i*7919)%n, n); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("consistency", func(b *testing.B) {
		i := uint64(1)
		for b.Loop() {
			if _, err := log.ConsistencyProof(ctx, 1+(i*7919)%(n-1), n); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkRecordAccess: one operator access recorded (keyed digest, sealed
// record and log leaf in one durable transaction), beside a bare event
// append in the same run for the ratio.
func BenchmarkRecordAccess(b *testing.B) {
	ctx := context.Background()
	for _, kind := range []string{"append", "access"} {
		b.Run(kind, func(b *testing.B) {
			log, _, _ := newLogOn(b, storetest.SQLite(b))
			now := time.Now()
			for i := 0; i < b.N; i++ {
				var err error
				if kind == "append" {
					_, err = log.Append(ctx, audit.StatusChange(now, "https://id.example/status/a", i, "invalid"))
				} else {
					_, err = log.RecordAccess(ctx, someAccess("s1", i%60))
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckpoint: one /audit/checkpoint answer for an unchanged tree
// of 1 000 leaves (the stored JWS head read, the Ed25519 note signature)
// beside the JWS head alone.
func BenchmarkCheckpoint(b *testing.B) {
	ctx := context.Background()
	log, _, _ := newLog(b)
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	signer, _, err := audit.NoteKey("id.example/audit", k)
	if err != nil {
		b.Fatal(err)
	}
	log.SetCheckpointKey(signer)
	now := time.Now()
	for i := 0; i < 1000; i++ {
		if _, err := log.Append(ctx, audit.StatusChange(now, "https://id.example/status/a", i, "invalid")); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("sth", func(b *testing.B) {
		for b.Loop() {
			if _, err := log.STH(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checkpoint", func(b *testing.B) {
		for b.Loop() {
			if _, err := log.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
