package store_test

import (
	"bytes"
	"context"
	"errors"
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
	svc, seed, n := lookupService(b)
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

// BenchmarkRegistryLookupMissing is BenchmarkRegistryLookup with ID numbers
// that are valid (check digit, date, region) but mostly not in the
// registry: residents of another generator seed. It reports p50 and p99 of
// all lookups and the share that were found anyway (the two seeds' residents
// can share an ID number).
func BenchmarkRegistryLookupMissing(b *testing.B) {
	ctx := context.Background()
	svc, seed, n := lookupService(b)
	rng := rand.New(rand.NewPCG(3, 4))
	lat := make([]time.Duration, 0, b.N)
	found := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := registry.DemoRecord(seed+1_000_003, rng.IntN(n)).IDNumber
		t := time.Now()
		_, err := svc.Lookup(ctx, id)
		lat = append(lat, time.Since(t))
		switch {
		case err == nil:
			found++
		case !errors.Is(err, registry.ErrNotFound):
			b.Fatalf("lookup %d: %v", i, err)
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
	b.ReportMetric(100*float64(found)/float64(b.N), "found-%")
}

// lookupService opens the registry the lookup benchmarks read (see
// BenchmarkRegistryLookup) and returns it with its generator seed and size.
func lookupService(b *testing.B) (*registry.Service, uint64, int) {
	b.Helper()
	ctx := context.Background()
	n := benchCount(100_000)
	if dir := os.Getenv("SHENFEN_BENCH_DATA"); dir != "" {
		seed := uint64(1)
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
		b.Cleanup(func() { db.Close() })
		sl, err := seal.LoadKeyFile(filepath.Join(dir, "master.key"))
		if err != nil {
			b.Fatal(err)
		}
		return registry.NewService(store.NewRegistry(db), sl), seed, n
	}
	const seed = 12
	svc := registry.NewService(store.NewRegistry(benchDB(b)), testSealer(b))
	seq, _ := registry.DemoRecords(seed, n)
	if _, err := svc.PutAll(ctx, seq, 2000, nil); err != nil {
		b.Fatal(err)
	}
	return svc, seed, n
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
