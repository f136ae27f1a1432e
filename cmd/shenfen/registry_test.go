package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/config"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/registry"
)

// TestRegistryCommands runs demo, import (with a bad line), status and show
// end to end on SQLite.
func TestRegistryCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	csv := filepath.Join(dir, "demo.csv")
	if err := runRegistry(ctx, []string{"demo", "--faces", "", "--count", "30", "--seed", "4", "--out", csv}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(csv, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("440115199003071232,王,male,,,广州,局,2015-01-01,,,\n")
	f.Close()
	// The second import, sorted, finds everything unchanged and leaves
	// no runs behind.
	for _, sort := range []string{"auto", "on"} {
		if err := runRegistry(ctx, []string{"import", "--data", data, "--quiet", "--sort", sort, csv}); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(data, "tmp")); len(left) != 0 {
		t.Fatalf("sorted import left %d files in DATA/tmp", len(left))
	}
	id := registry.DemoRecord(4, 3).IDNumber
	if err := runRegistry(ctx, []string{"status", "--data", data, "--reason", "purpose=civil-status", string(id), "deceased"}); err != nil {
		t.Fatal(err)
	}
	if err := runRegistry(ctx, []string{"show", "--data", data, "--reason", "case=T-1", string(id)}); err != nil {
		t.Fatal(err)
	}
	a := openTestApp(t, data)
	defer a.Close()
	if n, _ := a.registry.Count(ctx); n != 30 {
		t.Fatalf("%d records, want 30", n)
	}
	if r, err := a.registry.Lookup(ctx, id); err != nil || r.Status != registry.StatusDeceased {
		t.Fatalf("record %+v, %v", r, err)
	}
	for _, args := range [][]string{
		{"show", "--data", data, "--reason", "case=T-1", "440115199003071232"},
		{"show", "--data", data, "--reason", "case=T-1", "11010519491231002X"},
		{"show", "--data", data, string(id)},
		{"status", "--data", data, "--reason", "purpose=civil-status", string(id), "dead"},
		{"status", "--data", data, string(id), "valid"},
		{"import", "--data", data, filepath.Join(dir, "missing.csv")},
		{"import", "--data", data, "--sort", "maybe", csv},
		{"nope"},
	} {
		if err := runRegistry(ctx, args); err == nil {
			t.Errorf("%s: no error", strings.Join(args, " "))
		}
	}
}

// TestLimitsSurviveRestart: the enrollment limits live in the database, so
// a restarted server (or a second one on the same database) keeps counting.
func TestLimitsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	now := time.Now()
	a := openTestApp(t, data)
	l := a.enrollmentLimits().IDNumber
	for i := range proofing.IDNumberBurst {
		if ok, _, err := l.Take(ctx, "id_number\x00x", now); !ok || err != nil {
			t.Fatalf("event %d refused: %v", i, err)
		}
	}
	a.Close()
	b := openTestApp(t, data)
	defer b.Close()
	ok, after, err := b.enrollmentLimits().IDNumber.Take(ctx, "id_number\x00x", now)
	if ok || err != nil || after <= 0 {
		t.Fatalf("after a restart: %v, %v, %v; want refused with a retry-after", ok, after, err)
	}
}

// openTestApp opens the app on the data directory data, as the commands do.
func openTestApp(t *testing.T, data string) *app {
	t.Helper()
	cfg, _, err := config.Load("test", []string{"--data", data}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
