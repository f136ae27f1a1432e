package store_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// benchDB opens the benchmark database: SQLite by default, PostgreSQL with
// SHENFEN_BENCH_DRIVER=postgres.
func benchDB(b *testing.B) *store.DB {
	if os.Getenv("SHENFEN_BENCH_DRIVER") == "postgres" {
		return storetest.Postgres(b)
	}
	return storetest.SQLite(b)
}

func benchCount(def int) int {
	if n, err := strconv.Atoi(os.Getenv("SHENFEN_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkRegistryImport streams generated demo residents (CSV, no
// portraits) through the whole import pipeline: parse, validate, seal,
// batched upserts with checkpoints. b.N is ignored beyond 1: one import of
// SHENFEN_BENCH_RECORDS records (default 100000) per run; the metric is
// records/s.
func BenchmarkRegistryImport(b *testing.B) {
	n := benchCount(100_000)
	seq, err := registry.DemoRecords(11, n)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := registry.WriteCSV(&buf, true, seq); err != nil {
		b.Fatal(err)
	}
	in := buf.Bytes()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := benchDB(b)
		svc := registry.NewService(store.NewRegistry(db), testSealer(b))
		b.StartTimer()
		start := time.Now()
		sum, err := svc.Import(context.Background(), registry.Source{R: bytes.NewReader(in), Size: int64(len(in)), Format: registry.CSV, ID: "bench"},
			registry.ImportOptions{Resume: true})
		if err != nil {
			b.Fatal(err)
		}
		if sum.Totals.Inserted != int64(n) {
			b.Fatalf("inserted %d of %d", sum.Totals.Inserted, n)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
	}
}

// BenchmarkRegistryLookup measures Lookup (blind index, one row read,
// open) and reports p50 and p99 latency. By default it fills a fresh
// database with SHENFEN_BENCH_RECORDS demo residents (default 100000).
// With SHENFEN_BENCH_DATA set to the data directory of an imported demo
// registry ("shenfen registry demo --count N" then "registry import"), it
// looks up residents of that registry instead: the master key is read from
// DATA/master.key, the database is DATA/shenfen.db or SHENFEN_BENCH_DB, and
// SHENFEN_BENCH_RECORDS and SHENFEN_BENCH_SEED (default 1) must match the
// demo command.
func BenchmarkRegistryLookup(b *testing.B) {
	ctx := context.Background()
	n := benchCount(100_000)
	seed := uint64(12)
	var svc *registry.Service
	if dir := os.Getenv("SHENFEN_BENCH_DATA"); dir != "" {
		seed = 1
		if s, err := strconv.ParseUint(os.Getenv("SHENFEN_BENCH_SEED"), 10, 64); err == nil {
			seed = s
		}
		url := os.Getenv("SHENFEN_BENCH_DB")
		if url == "" {
			url = filepath.Join(dir, "shenfen.db")
		}
		db, err := store.Open(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		sl, err := seal.LoadKeyFile(filepath.Join(dir, "master.key"))
		if err != nil {
			b.Fatal(err)
		}
		svc = registry.NewService(store.NewRegistry(db), sl)
	} else {
		svc = registry.NewService(store.NewRegistry(benchDB(b)), testSealer(b))
		seq, _ := registry.DemoRecords(seed, n)
		if _, err := svc.PutAll(ctx, seq, 2000, nil); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := registry.DemoRecord(seed, rng.IntN(n)).IDNumber
		t := time.Now()
		if _, err := svc.Lookup(ctx, id); err != nil {
			b.Fatalf("lookup %d: %v", i, err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
