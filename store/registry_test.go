package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

func testSealer(t testing.TB) *seal.Sealer {
	s, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{7}, seal.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testPNG(t testing.TB, shade uint8) []byte {
	img := image.NewGray(image.Rect(0, 0, 24, 32))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	img.Set(3, 3, color.Gray{Y: 255 - shade})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testRecord(t testing.TB, seq int) registry.Record {
	id, err := registry.MakeIDNumber("440115", time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC), seq)
	if err != nil {
		t.Fatal(err)
	}
	return registry.Record{
		IDNumber: id, Name: "张伟", Ethnicity: "汉",
		Address:   "广东省广州市南沙区进港大道 1 号",
		Authority: "广州市公安局南沙分局",
		ValidFrom: time.Date(2015, 1, 2, 0, 0, 0, 0, time.UTC), ValidUntil: time.Date(2035, 1, 2, 0, 0, 0, 0, time.UTC),
	}
}

// fakeTemplater derives a "template" from the portrait and counts calls.
type fakeTemplater struct{ calls int }

func (f *fakeTemplater) Template(_ context.Context, p []byte) ([]byte, error) {
	f.calls++
	return []byte(fmt.Sprintf("tpl-%d", len(p))), nil
}

func TestRegistryConformance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tpl := &fakeTemplater{}
		svc := registry.NewService(store.NewRegistry(db), testSealer(t), registry.WithTemplater(tpl))

		r := testRecord(t, 123)
		r.Portrait = testPNG(t, 40)
		if out, err := svc.Put(ctx, r); err != nil || out != registry.Inserted {
			t.Fatalf("Put new = %v, %v", out, err)
		}
		if out, err := svc.Put(ctx, r); err != nil || out != registry.Unchanged {
			t.Fatalf("Put same = %v, %v", out, err)
		}
		if tpl.calls != 1 {
			t.Fatalf("templater called %d times for one portrait", tpl.calls)
		}
		got, err := svc.Get(ctx, r.IDNumber)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != r.Name || got.Address != r.Address || got.Sex != registry.Male || got.Status != registry.StatusValid ||
			!got.BirthDate.Equal(time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC)) || !got.ValidUntil.Equal(r.ValidUntil) {
			t.Fatalf("Get = %+v", got)
		}
		if !bytes.Equal(got.Portrait, r.Portrait) || got.PortraitType != "image/png" || string(got.FaceTemplate) != fmt.Sprintf("tpl-%d", len(r.Portrait)) {
			t.Fatalf("portrait %d bytes %q, template %q", len(got.Portrait), got.PortraitType, got.FaceTemplate)
		}
		if got.CreatedAt.IsZero() || got.UpdatedAt.Before(got.CreatedAt) {
			t.Fatalf("timestamps %v %v", got.CreatedAt, got.UpdatedAt)
		}
		light, err := svc.Lookup(ctx, r.IDNumber)
		if err != nil || light.Portrait != nil || light.Name != r.Name {
			t.Fatalf("Lookup = %+v, %v", light, err)
		}

		// Update: a new address, then a new portrait alone; both count.
		r.Address = "广东省广州市南沙区环市大道 2 号"
		if out, err := svc.Put(ctx, r); err != nil || out != registry.Updated {
			t.Fatalf("Put changed = %v, %v", out, err)
		}
		r.Portrait = testPNG(t, 90)
		if out, err := svc.Put(ctx, r); err != nil || out != registry.Updated {
			t.Fatalf("Put new portrait = %v, %v", out, err)
		}
		if tpl.calls != 2 {
			t.Fatalf("templater calls %d after a new portrait", tpl.calls)
		}
		// A record without a portrait leaves the stored one.
		r.Portrait = nil
		if out, err := svc.Put(ctx, r); err != nil || out != registry.Unchanged {
			t.Fatalf("Put without portrait = %v, %v", out, err)
		}
		if got, _ := svc.Get(ctx, r.IDNumber); !bytes.Equal(got.Portrait, testPNG(t, 90)) {
			t.Fatal("portrait lost")
		}

		// Status changes, and a re-import restores the imported status.
		if err := svc.SetStatus(ctx, r.IDNumber, registry.StatusDeceased); err != nil {
			t.Fatal(err)
		}
		if got, _ := svc.Lookup(ctx, r.IDNumber); got.Status != registry.StatusDeceased {
			t.Fatalf("status %q", got.Status)
		}
		if out, err := svc.Put(ctx, r); err != nil || out != registry.Updated {
			t.Fatalf("re-put after status change = %v, %v", out, err)
		}

		missing := testRecord(t, 125).IDNumber
		if _, err := svc.Get(ctx, missing); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("Get missing = %v", err)
		}
		if err := svc.SetStatus(ctx, missing, registry.StatusCancelled); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("SetStatus missing = %v", err)
		}
		if err := svc.SetStatus(ctx, r.IDNumber, "bogus"); !errors.Is(err, registry.ErrInvalidRecord) {
			t.Fatalf("SetStatus bogus = %v", err)
		}
		if n, err := svc.Count(ctx); err != nil || n != 1 {
			t.Fatalf("Count = %d, %v", n, err)
		}
	})
}

func TestRegistryDumpRevealsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := registry.NewService(store.NewRegistry(db), testSealer(t))
		r := testRecord(t, 124)
		r.Portrait = testPNG(t, 10)
		if _, err := svc.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		secrets := [][]byte{[]byte(r.IDNumber), []byte(r.IDNumber[:14]), []byte(r.Name), []byte("南沙区"), []byte("19900307"), []byte("1990-03-07"), r.Portrait[:16]}
		for _, table := range []string{"registry_records", "registry_portraits", "registry_import_checkpoints"} {
			rows, err := db.Query(ctx, "SELECT * FROM "+table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					b := []byte(fmt.Sprint(v))
					if bb, ok := v.([]byte); ok {
						b = bb
					}
					for _, s := range secrets {
						if bytes.Contains(b, s) {
							t.Errorf("%s.%s holds %q in clear", table, cols[i], s)
						}
					}
				}
			}
			rows.Close()
		}
	})
}

func TestRegistryBatchIsAtomic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := store.NewRegistry(db)
		sl := testSealer(t)
		now := time.Now().UTC()
		mk := func(i int, status registry.Status) registry.Row {
			idx := sl.Index("t", []byte{byte(i >> 8), byte(i)})
			return registry.Row{Index: idx, Digest: idx, Data: []byte("x"), Status: status, CreatedAt: now, UpdatedAt: now}
		}
		// 2500 rows: several statements in one transaction.
		var rows []registry.Row
		for i := 0; i < 2500; i++ {
			rows = append(rows, mk(i, registry.StatusValid))
		}
		cp := &registry.Checkpoint{Source: "src", Offset: 100, Line: 7, Totals: registry.Totals{Read: 7, Inserted: 5}}
		res, err := st.PutRows(ctx, rows, cp)
		if err != nil || res.Inserted != 2500 || res.Updated != 0 {
			t.Fatalf("PutRows = %+v, %v", res, err)
		}
		got, err := st.Checkpoint(ctx, "src")
		if err != nil || got.Offset != 100 || got.Line != 7 || got.Done || got.Totals.Inserted != 2505 {
			t.Fatalf("Checkpoint = %+v, %v", got, err)
		}
		if _, err := st.Checkpoint(ctx, "other"); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("missing checkpoint = %v", err)
		}
		// A batch with one bad row (the CHECK on status) writes nothing:
		// neither its good rows, nor its updates, nor its checkpoint.
		later := now.Add(time.Second)
		bad := []registry.Row{mk(5000, registry.StatusValid), mk(1, registry.StatusCancelled), mk(5001, "bogus")}
		bad[1].CreatedAt, bad[1].UpdatedAt, bad[1].Digest = later, later, []byte("changed")
		if _, err := st.PutRows(ctx, bad, &registry.Checkpoint{Source: "src", Offset: 999, Line: 9}); err == nil {
			t.Fatal("batch with an invalid status was accepted")
		}
		if n, _ := st.Count(ctx); n != 2500 {
			t.Fatalf("failed batch left %d rows, want 2500", n)
		}
		if row, _ := st.Row(ctx, mk(1, "").Index); row.Status != registry.StatusValid {
			t.Fatalf("failed batch updated a row: %q", row.Status)
		}
		if got, _ := st.Checkpoint(ctx, "src"); got.Offset != 100 {
			t.Fatalf("failed batch moved the checkpoint to %d", got.Offset)
		}
		// Mixed batch: one insert, one update, one unchanged.
		mixed := []registry.Row{mk(6000, registry.StatusValid), mk(2, registry.StatusValid), mk(3, registry.StatusValid)}
		for i := range mixed {
			mixed[i].CreatedAt, mixed[i].UpdatedAt = later, later
		}
		mixed[1].Digest = []byte("changed")
		res, err = st.PutRows(ctx, mixed, nil)
		if err != nil || res != (registry.BatchResult{Inserted: 1, Updated: 1, Unchanged: 1}) {
			t.Fatalf("mixed batch = %+v, %v", res, err)
		}
	})
}

func TestRegistryRejectsForeignRow(t *testing.T) {
	// A row whose sealed data was copied from another row does not open.
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := registry.NewService(store.NewRegistry(db), testSealer(t))
		a, b := testRecord(t, 11), testRecord(t, 12)
		for _, r := range []registry.Record{a, b} {
			if _, err := svc.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(ctx, `UPDATE registry_records SET data = (SELECT data FROM registry_records WHERE idx = ?) WHERE idx = ?`,
			svc.Index(a.IDNumber), svc.Index(b.IDNumber)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Lookup(ctx, b.IDNumber); err == nil || !strings.Contains(err.Error(), "open") {
			t.Fatalf("swapped row opened: %v", err)
		}
	})
}

// demoCSV returns n demo residents as CSV with bad lines mixed in: line
// numbers (1-based, header is line 1) of the bad ones are returned.
func demoCSV(t testing.TB, seed uint64, n int, bad map[int]string) (string, []int64) {
	seq, err := registry.DemoRecords(seed, n)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := registry.WriteCSV(&b, true, seq); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(b.String(), "\n")
	var out strings.Builder
	var badLines []int64
	line := int64(0)
	for i, l := range lines {
		if s, ok := bad[i]; ok {
			line++
			out.WriteString(s + "\n")
			badLines = append(badLines, line)
		}
		if l != "" {
			line++
		}
		out.WriteString(l)
	}
	return out.String(), badLines
}

type rejected struct {
	lines []int64
	msgs  []string
}

func (r *rejected) reject(line int64, err error) {
	r.lines = append(r.lines, line)
	r.msgs = append(r.msgs, err.Error())
}

func TestRegistryImport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := registry.NewService(store.NewRegistry(db), testSealer(t))
		in, badLines := demoCSV(t, 9, 2500, map[int]string{
			3:    "440115199003071232,王,广州,局,2015-01-01,,,,,,",        // check character
			1500: "not,enough",                                        // field count
			2000: `11010519491231002X,赵敏,female,,,北京,局,1940-01-01,,,`, // valid_from before birth
		})
		src := registry.Source{R: strings.NewReader(in), Size: int64(len(in)), Format: registry.CSV, ID: "demo-9"}
		var rej rejected
		var progress []registry.Progress
		sum, err := svc.Import(ctx, src, registry.ImportOptions{BatchSize: 300, Workers: 3, Resume: true, Reject: rej.reject,
			Progress: func(p registry.Progress) { progress = append(progress, p) }})
		if err != nil {
			t.Fatal(err)
		}
		want := registry.Totals{Read: 2503, Inserted: 2500, Rejected: 3}
		if sum.Totals != want || sum.ThisRun != want || sum.ResumedAt != 0 {
			t.Fatalf("summary %+v, want totals %+v", sum, want)
		}
		if fmt.Sprint(rej.lines) != fmt.Sprint(badLines) {
			t.Fatalf("rejected lines %v, want %v (%q)", rej.lines, badLines, rej.msgs)
		}
		if !strings.Contains(rej.msgs[0], "id_number: check character") || !strings.Contains(rej.msgs[2], "valid_from") {
			t.Fatalf("rejection messages %q", rej.msgs)
		}
		if last := progress[len(progress)-1]; last.Offset != int64(len(in)) || last.Totals != want {
			t.Fatalf("last progress %+v", last)
		}
		if n, _ := svc.Count(ctx); n != 2500 {
			t.Fatalf("%d rows", n)
		}
		r := registry.DemoRecord(9, 1234)
		got, err := svc.Lookup(ctx, r.IDNumber)
		if err != nil || got.Name != r.Name || got.Address != r.Address || got.Status != r.Status {
			t.Fatalf("Lookup = %+v, %v; want %+v", got, err, r)
		}
		cp, err := store.NewRegistry(db).Checkpoint(ctx, "demo-9")
		if err != nil || !cp.Done || cp.Totals != want {
			t.Fatalf("final checkpoint %+v, %v", cp, err)
		}

		// Re-importing is idempotent: everything unchanged.
		sum, err = svc.Import(ctx, src, registry.ImportOptions{BatchSize: 1000, Resume: true})
		if err != nil || sum.Totals != (registry.Totals{Read: 2503, Unchanged: 2500, Rejected: 3}) {
			t.Fatalf("re-import %+v, %v", sum.Totals, err)
		}

		// JSON Lines, updating one record and adding one.
		upd := registry.DemoRecord(9, 7)
		jl := fmt.Sprintf(`{"id_number":%q,"name":"新名字","address":%q,"authority":%q,"valid_from":%q,"status":"cancelled"}`+"\n"+
			`{"id_number":"11010519491231002X","name":"赵敏","address":"北京","authority":"局","valid_from":"2001-01-01","portrait":"base64:%s"}`+"\n",
			upd.IDNumber, upd.Address, upd.Authority, upd.ValidFrom.Format(time.DateOnly), base64Std(testPNG(t, 3)))
		sum, err = svc.Import(ctx, registry.Source{R: strings.NewReader(jl), Format: registry.JSONL}, registry.ImportOptions{})
		if err != nil || sum.Totals != (registry.Totals{Read: 2, Inserted: 1, Updated: 1}) {
			t.Fatalf("JSONL import %+v, %v", sum.Totals, err)
		}
		if got, _ := svc.Get(ctx, upd.IDNumber); got.Name != "新名字" || got.Status != registry.StatusCancelled {
			t.Fatalf("updated record %+v", got)
		}
		if got, _ := svc.Get(ctx, "11010519491231002X"); got.PortraitType != "image/png" {
			t.Fatalf("JSONL portrait %q", got.PortraitType)
		}
	})
}

// failingStore fails PutRows after a number of successful batches.
type failingStore struct {
	registry.Store
	okBatches int
}

var errInjected = errors.New("injected failure")

func (f *failingStore) PutRows(ctx context.Context, rows []registry.Row, cp *registry.Checkpoint) (registry.BatchResult, error) {
	if f.okBatches == 0 {
		return registry.BatchResult{}, errInjected
	}
	f.okBatches--
	return f.Store.PutRows(ctx, rows, cp)
}

func TestRegistryImportResumes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in, badLines := demoCSV(t, 5, 3000, map[int]string{10: "x,y", 2900: "x,y"})
		src := func() registry.Source {
			return registry.Source{R: strings.NewReader(in), Size: int64(len(in)), Format: registry.CSV, ID: "resume-test"}
		}
		opt := func(rej *rejected) registry.ImportOptions {
			return registry.ImportOptions{BatchSize: 250, Workers: 2, Resume: true, Reject: rej.reject}
		}
		sl := testSealer(t)

		// 1. The database fails on the 5th batch: 4 batches stay, the
		// failed one leaves nothing.
		var rej1 rejected
		fs := &failingStore{Store: store.NewRegistry(db), okBatches: 4}
		sum, err := registry.NewService(fs, sl).Import(ctx, src(), opt(&rej1))
		if !errors.Is(err, errInjected) {
			t.Fatalf("import error %v", err)
		}
		if sum.Totals.Read != 1000 || sum.Totals.Inserted != 999 {
			t.Fatalf("after the failure: %+v", sum.Totals)
		}
		if n, _ := store.NewRegistry(db).Count(ctx); n != 999 {
			t.Fatalf("%d rows after a failed 5th batch, want 999", n)
		}

		// 2. Resume, and cancel after two more batches (like Ctrl-C).
		cctx, cancel := context.WithCancel(ctx)
		batches := 0
		var rej2 rejected
		o := opt(&rej2)
		o.Progress = func(registry.Progress) {
			if batches++; batches == 2 {
				cancel()
			}
		}
		svc := registry.NewService(store.NewRegistry(db), sl)
		sum, err = svc.Import(cctx, src(), o)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled import error %v", err)
		}
		if sum.ResumedAt == 0 || sum.ThisRun.Read != 500 || sum.Totals.Read != 1500 {
			t.Fatalf("resumed at %d, this run %+v, totals %+v", sum.ResumedAt, sum.ThisRun, sum.Totals)
		}

		// 3. Resume to the end: every record exactly once, each bad line
		// reported once over all runs.
		var rej3 rejected
		sum, err = svc.Import(ctx, src(), opt(&rej3))
		if err != nil {
			t.Fatal(err)
		}
		want := registry.Totals{Read: 3002, Inserted: 3000, Rejected: 2}
		if sum.Totals != want || sum.ThisRun.Read != 1502 {
			t.Fatalf("final totals %+v (this run %+v), want %+v", sum.Totals, sum.ThisRun, want)
		}
		all := append(append(rej1.lines, rej2.lines...), rej3.lines...)
		if fmt.Sprint(all) != fmt.Sprint(badLines) {
			t.Fatalf("rejected lines over the runs %v, want %v", all, badLines)
		}
		if n, _ := svc.Count(ctx); n != 3000 {
			t.Fatalf("%d rows, want 3000", n)
		}
		// Without --resume the import starts over (all unchanged).
		sum, err = svc.Import(ctx, src(), registry.ImportOptions{Resume: false})
		if err != nil || sum.ResumedAt != 0 || sum.Totals.Unchanged != 3000 {
			t.Fatalf("fresh re-import %+v, %v", sum, err)
		}
	})
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// orderCheck records whether every batch written reaches the store in
// blind-index order, continuing the previous batch's order.
type orderCheck struct {
	registry.Store
	last    []byte
	batches int
	bad     string
	failAt  int // fail the batch with this number (1-based); 0 never
}

func (o *orderCheck) PutRows(ctx context.Context, rows []registry.Row, cp *registry.Checkpoint) (registry.BatchResult, error) {
	o.batches++
	if o.batches == o.failAt {
		return registry.BatchResult{}, errInjected
	}
	for _, r := range rows {
		if o.last != nil && bytes.Compare(r.Index, o.last) <= 0 && o.bad == "" {
			o.bad = fmt.Sprintf("batch %d: index %x after %x", o.batches, r.Index, o.last)
		}
		o.last = r.Index
	}
	return o.Store.PutRows(ctx, rows, cp)
}

func TestRegistryImportSorted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sl := testSealer(t)
		in, badLines := demoCSV(t, 9, 2500, map[int]string{
			3:    "440115199003071232,王,广州,局,2015-01-01,,,,,,", // check character
			1500: "not,enough",                                 // field count
		})
		// A later line for an earlier resident (another batch, another
		// run): the later one wins, as in a plain import.
		moved := registry.DemoRecord(9, 17)
		in += fmt.Sprintf("%s,%s,,,,新地址,%s,%s,,valid,\n", moved.IDNumber, moved.Name, moved.Authority, moved.ValidFrom.Format(time.DateOnly))
		src := func() registry.Source {
			return registry.Source{R: strings.NewReader(in), Size: int64(len(in)), Format: registry.CSV, ID: "sorted-9"}
		}
		opt := func(rej *rejected, progress *[]registry.Progress) registry.ImportOptions {
			return registry.ImportOptions{Sort: true, TempDir: t.TempDir(), RunBytes: 64 << 10, BatchSize: 300, Workers: 2,
				Resume: true, Reject: rej.reject, Progress: func(p registry.Progress) { *progress = append(*progress, p) }}
		}

		// 1. The third batch of the second pass fails: two stay, in order.
		oc := &orderCheck{Store: store.NewRegistry(db), failAt: 3}
		var rej1 rejected
		var progress []registry.Progress
		sum, err := registry.NewService(oc, sl).Import(ctx, src(), opt(&rej1, &progress))
		if !errors.Is(err, errInjected) {
			t.Fatalf("import error %v", err)
		}
		if oc.bad != "" {
			t.Fatalf("rows out of index order: %s", oc.bad)
		}
		if fmt.Sprint(rej1.lines) != fmt.Sprint(badLines) {
			t.Fatalf("rejected lines %v, want %v (%q)", rej1.lines, badLines, rej1.msgs)
		}
		if n, _ := store.NewRegistry(db).Count(ctx); n != 600 {
			t.Fatalf("%d rows after a failed 3rd batch, want 600", n)
		}
		if progress[0].Phase != registry.PhaseRead || progress[len(progress)-1].Phase != registry.PhaseWrite {
			t.Fatalf("progress phases %+v ... %+v", progress[0], progress[len(progress)-1])
		}
		cp, err := store.NewRegistry(db).Checkpoint(ctx, "sorted-9")
		if err != nil || cp.Done || len(cp.Key) != 32 || cp.Totals.Inserted != 600 {
			t.Fatalf("checkpoint after the failure %+v, %v", cp, err)
		}

		// 2. A plain import does not resume a sorted one's checkpoint.
		// (Not run to the end here: the sorted import resumes next.)

		// 3. Resume: the second pass skips what was written.
		oc = &orderCheck{Store: store.NewRegistry(db)}
		var rej2 rejected
		progress = nil
		sum, err = registry.NewService(oc, sl).Import(ctx, src(), opt(&rej2, &progress))
		if err != nil {
			t.Fatal(err)
		}
		if oc.bad != "" {
			t.Fatalf("rows out of index order: %s", oc.bad)
		}
		want := registry.Totals{Read: 2503, Inserted: 2500, Updated: 1, Rejected: 2}
		if sum.Totals != want || sum.ResumedSkipped != 600 || sum.ThisRun.Inserted != 1900 {
			t.Fatalf("resumed: totals %+v (want %+v), skipped %d, this run %+v", sum.Totals, want, sum.ResumedSkipped, sum.ThisRun)
		}
		if last := progress[len(progress)-1]; last.Phase != registry.PhaseWrite || last.Offset != last.Size || last.Size != 2501 {
			t.Fatalf("last progress %+v", last)
		}
		cp, err = store.NewRegistry(db).Checkpoint(ctx, "sorted-9")
		if err != nil || !cp.Done || cp.Totals != want {
			t.Fatalf("final checkpoint %+v, %v", cp, err)
		}
		svc := registry.NewService(store.NewRegistry(db), sl)
		if n, _ := svc.Count(ctx); n != 2500 {
			t.Fatalf("%d rows, want 2500", n)
		}
		got, err := svc.Lookup(ctx, moved.IDNumber)
		if err != nil || got.Address != "新地址" {
			t.Fatalf("the later line did not win: %+v, %v", got, err)
		}
		r := registry.DemoRecord(9, 1234)
		if got, err := svc.Lookup(ctx, r.IDNumber); err != nil || got.Name != r.Name || got.Address != r.Address {
			t.Fatalf("Lookup = %+v, %v; want %+v", got, err, r)
		}

		// 4. Sorted again: idempotent, everything unchanged.
		sum, err = svc.Import(ctx, src(), registry.ImportOptions{Sort: true, TempDir: t.TempDir(), Resume: true})
		if err != nil || sum.Totals != (registry.Totals{Read: 2503, Unchanged: 2500, Updated: 1, Rejected: 2}) {
			t.Fatalf("sorted re-import %+v, %v", sum.Totals, err)
		}

		// 5. An interrupted sorted import's checkpoint is not resumed by
		// a plain import, which starts over.
		oc = &orderCheck{Store: store.NewRegistry(db), failAt: 2}
		if _, err := registry.NewService(oc, sl).Import(ctx, src(), registry.ImportOptions{Sort: true, TempDir: t.TempDir(),
			BatchSize: 500, Resume: true}); !errors.Is(err, errInjected) {
			t.Fatalf("import error %v", err)
		}
		sum, err = svc.Import(ctx, src(), registry.ImportOptions{Resume: true})
		if err != nil || sum.ResumedAt != 0 || sum.Totals.Read != 2503 {
			t.Fatalf("plain import after a sorted one: %+v, %v", sum, err)
		}
	})
}

// TestRegistryImportSortedResumes: an interrupted first pass resumes from
// its manifest (runs kept on disk, each bad line reported once over the
// runs); an interrupted second pass resumes without reading the input
// again; a finished import leaves nothing in the temporary directory.
func TestRegistryImportSortedResumes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sl := testSealer(t)
		in, badLines := demoCSV(t, 5, 3000, map[int]string{10: "x,y", 2900: "x,y"})
		src := func() registry.Source {
			return registry.Source{R: strings.NewReader(in), Size: int64(len(in)), Format: registry.CSV, ID: "sorted-resume"}
		}
		tmp := t.TempDir()
		opt := func(rej *rejected) registry.ImportOptions {
			return registry.ImportOptions{Sort: true, TempDir: tmp, RunBytes: 32 << 10, BatchSize: 100, Workers: 2,
				Resume: true, Reject: rej.reject}
		}

		// 1. Cancelled in the first pass: nothing written, runs kept.
		cctx, cancel := context.WithCancel(ctx)
		var rej1 rejected
		o := opt(&rej1)
		reads := 0
		o.Progress = func(p registry.Progress) {
			if p.Phase == registry.PhaseRead {
				if reads++; reads == 12 {
					cancel()
				}
			}
		}
		if _, err := registry.NewService(store.NewRegistry(db), sl).Import(cctx, src(), o); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled import: %v", err)
		}
		if n, _ := store.NewRegistry(db).Count(ctx); n != 0 {
			t.Fatalf("the first pass wrote %d rows", n)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 1 {
			t.Fatalf("%d entries in the temporary directory after an interrupted first pass, want its runs directory", len(left))
		}

		// 2. Resumed; the second pass fails on its 3rd batch.
		var rej2 rejected
		oc := &orderCheck{Store: store.NewRegistry(db), failAt: 3}
		sum, err := registry.NewService(oc, sl).Import(ctx, src(), opt(&rej2))
		if !errors.Is(err, errInjected) {
			t.Fatalf("import error %v", err)
		}
		if sum.ResumedAt == 0 || sum.ThisRun.Read == 0 || sum.ThisRun.Read >= 3002 {
			t.Fatalf("the first pass did not resume: resumed at %d, this run read %d", sum.ResumedAt, sum.ThisRun.Read)
		}

		// 3. Resumed again: the first pass is done, only the writes remain.
		var rej3 rejected
		sum, err = registry.NewService(store.NewRegistry(db), sl).Import(ctx, src(), opt(&rej3))
		if err != nil {
			t.Fatal(err)
		}
		want := registry.Totals{Read: 3002, Inserted: 3000, Rejected: 2}
		if sum.Totals != want || sum.ThisRun.Read != 0 || sum.ResumedSkipped != 200 {
			t.Fatalf("final: totals %+v (want %+v), this run read %d, skipped %d", sum.Totals, want, sum.ThisRun.Read, sum.ResumedSkipped)
		}
		all := append(append(rej1.lines, rej2.lines...), rej3.lines...)
		if fmt.Sprint(all) != fmt.Sprint(badLines) {
			t.Fatalf("rejected lines over the runs %v, want %v", all, badLines)
		}
		if n, _ := store.NewRegistry(db).Count(ctx); n != 3000 {
			t.Fatalf("%d rows, want 3000", n)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Fatalf("%d entries left in the temporary directory after the import", len(left))
		}
	})
}
