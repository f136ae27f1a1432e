package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRunRoundTrip(t *testing.T) {
	idx := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	in := []*entry{
		{seq: 3, row: Row{Index: idx(2), Digest: []byte("d2"), Data: []byte("x"), Status: StatusValid}},
		{seq: 1, row: Row{Index: idx(2), Digest: []byte("d1"), Data: []byte("y"), Status: StatusCancelled,
			Portrait: &PortraitRow{Digest: []byte("pd"), Data: []byte("jpeg")}}},
		{seq: 2, row: Row{Index: idx(1), Digest: []byte("d3"), Data: []byte{}, Status: StatusDeceased,
			Portrait: &PortraitRow{Digest: []byte("pd"), Data: []byte("png"), Template: []byte("t")}}},
	}
	dir := t.TempDir()
	sp := &spiller{dir: dir, limit: 1 << 20}
	for _, e := range in {
		sp.add(e)
	}
	if err := sp.flush(); err != nil {
		t.Fatal(err)
	}
	rr, err := openRun(sp.runs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rr.f.Close()
	want := []*entry{in[2], in[1], in[0]} // by index, then input order
	for i, w := range want {
		if err := rr.next(); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if !reflect.DeepEqual(rr.cur, w) {
			t.Fatalf("entry %d = %+v, want %+v", i, rr.cur, w)
		}
	}
	if err := rr.next(); err != io.EOF {
		t.Fatalf("after the last entry: %v", err)
	}

	// Merged, the later row of an index wins and keeps the earlier
	// portrait when it has none.
	m, err := newMerger(sp.runs)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	r1, d1, err1 := m.next()
	r2, d2, err2 := m.next()
	_, _, err3 := m.next()
	if err1 != nil || err2 != nil || err3 != io.EOF || d1 != 0 || d2 != 1 ||
		!bytes.Equal(r1.Index, idx(1)) || string(r2.Digest) != "d2" || r2.Portrait == nil || string(r2.Portrait.Data) != "jpeg" {
		t.Fatalf("merged %+v %d %v, %+v %d %v, %v", r1, d1, err1, r2, d2, err2, err3)
	}

	// A truncated or corrupt run is an error, not a panic or a short read.
	raw, _ := os.ReadFile(sp.runs[0])
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"truncated", raw[:len(raw)-3]},
		{"bad tag", append(bytes.Clone(raw[:len(raw)-1]), 9)}, // the last entry's portrait tag
		{"huge field", []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	} {
		name := filepath.Join(dir, c.name)
		os.WriteFile(name, c.data, 0o600)
		rr, err := openRun(name)
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			err = rr.next()
		}
		rr.f.Close()
		if err == io.EOF || errors.Is(err, io.EOF) {
			t.Errorf("%s run: %v, want an error", c.name, err)
		}
	}
}

// TestReduceRuns: merging runs in levels (more runs than the fan-in)
// yields the same rows as merging them all at once.
func TestReduceRuns(t *testing.T) {
	sp := &spiller{dir: t.TempDir(), limit: 600} // a few entries per run
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		idx := make([]byte, 32)
		idx[0], idx[1] = byte(r.IntN(256)), byte(r.IntN(4)) // some indexes repeat
		e := &entry{seq: uint64(i + 1), row: Row{Index: idx, Digest: []byte(fmt.Sprint(i)), Data: []byte("x"), Status: StatusValid}}
		sp.add(e)
		if sp.full() {
			if err := sp.flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sp.flush(); err != nil {
		t.Fatal(err)
	}
	merged := func() []string {
		m, err := newMerger(sp.runs)
		if err != nil {
			t.Fatal(err)
		}
		defer m.close()
		var out []string
		for {
			row, dups, err := m.next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%x/%s/%d", row.Index[:2], row.Digest, dups))
		}
	}
	if len(sp.runs) < 20 {
		t.Fatalf("only %d runs; the test needs more than the fan-in", len(sp.runs))
	}
	want := merged()
	if err := sp.reduce(4); err != nil {
		t.Fatal(err)
	}
	if len(sp.runs) > 4 {
		t.Fatalf("%d runs after reduce(4)", len(sp.runs))
	}
	if left, _ := os.ReadDir(sp.dir); len(left) != len(sp.runs) {
		t.Fatalf("%d files left for %d runs: merged runs were not removed", len(left), len(sp.runs))
	}
	if got := merged(); !reflect.DeepEqual(got, want) {
		t.Fatalf("merged in levels:\n%v\nat once:\n%v", got, want)
	}
}
