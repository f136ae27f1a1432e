//go:build unix

package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
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
	svc, seed, n, db := lookupService(b)
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	m := startCPU(b, db)
	for i := 0; i < b.N; i++ {
		id := registry.DemoRecord(seed, rng.IntN(n)).IDNumber
		t := time.Now()
		if _, err := svc.Lookup(ctx, id); err != nil {
			b.Fatalf("lookup %d: %v", i, err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	m.report(b)
	reportPercentiles(b, lat)
}

// BenchmarkRegistryLookupMissing is BenchmarkRegistryLookup with ID numbers
// that are valid (check digit, date, region) but mostly not in the
// registry: residents of another generator seed. It reports p50 and p99 of
// all lookups and the share that were found anyway (the two seeds' residents
// can share an ID number).
func BenchmarkRegistryLookupMissing(b *testing.B) {
	ctx := context.Background()
	svc, seed, n, db := lookupService(b)
	rng := rand.New(rand.NewPCG(3, 4))
	lat := make([]time.Duration, 0, b.N)
	found := 0
	m := startCPU(b, db)
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
	m.report(b)
	reportPercentiles(b, lat)
	b.ReportMetric(100*float64(found)/float64(b.N), "found-%")
}

// lookupService opens the registry the lookup benchmarks read (see
// BenchmarkRegistryLookup) and returns it with its generator seed and size,
// and its database.
func lookupService(b *testing.B) (*registry.Service, uint64, int, *store.DB) {
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
		return registry.NewService(store.NewRegistry(db), sl), seed, n, db
	}
	const seed = 12
	db := benchDB(b)
	svc := registry.NewService(store.NewRegistry(db), testSealer(b))
	seq, _ := registry.DemoRecords(seed, n)
	if _, err := svc.PutAll(ctx, seq, 2000, nil); err != nil {
		b.Fatal(err)
	}
	return svc, seed, n, db
}

// cpuMeter reads this process's CPU time (getrusage) and, on PostgreSQL,
// the CPU time of the backends serving the database (/proc/PID/stat, Linux
// only; the metric is left out where /proc cannot be read).
type cpuMeter struct {
	db   *store.DB
	self time.Duration
	pg   map[int]time.Duration
}

// startCPU reads the clocks and starts the benchmark timer.
func startCPU(b *testing.B, db *store.DB) *cpuMeter {
	m := &cpuMeter{db: db, self: processCPU(), pg: backendCPU(b, db)}
	b.ResetTimer()
	return m
}

// report adds cpu-µs/op (this process: blind index, decryption, and the
// generation of the demo ID numbers looked up) and, on PostgreSQL,
// pg-cpu-µs/op.
func (m *cpuMeter) report(b *testing.B) {
	n := float64(b.N)
	b.ReportMetric(float64((processCPU()-m.self).Microseconds())/n, "cpu-µs/op")
	if m.db.Dialect() != store.Postgres {
		return
	}
	var pg time.Duration
	after := backendCPU(b, m.db)
	for pid, t := range after {
		pg += t - m.pg[pid]
	}
	if len(after) > 0 {
		b.ReportMetric(float64(pg.Microseconds())/n, "pg-cpu-µs/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU maps each PostgreSQL backend serving db's database to its CPU
// time so far (none on SQLite, or where /proc cannot be read).
func backendCPU(b *testing.B, db *store.DB) map[int]time.Duration {
	out := map[int]time.Duration{}
	if db.Dialect() != store.Postgres {
		return out
	}
	rows, err := db.SQL().Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(ut+st) * 10 * time.Millisecond // CLK_TCK 100
	}
	return out
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
