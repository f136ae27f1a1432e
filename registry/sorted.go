package registry

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shenfen/shenfen/atomicfile"
)

// A sorted import (ImportOptions.Sort) exists because the blind index is a
// keyed hash: records in input order land on random pages of the index, so
// a transaction of n records dirties about n index pages, and on a large
// registry every page is a cache miss and a full page written to the WAL.
// Written in index order, consecutive records share pages and the index
// grows at its right edge. The first pass spills sealed records into runs
// sorted by index (an external merge sort: the input may not fit in
// memory); the second merges the runs and writes batches in index order.
// Nothing here holds plaintext: the runs hold the same sealed rows the
// database does.

// entry is a sealed row in a run, with its position in the input: of two
// rows with one index, the later one wins, as in a plain import.
type entry struct {
	seq uint64
	row Row
}

func (e *entry) size() int {
	n := len(e.row.Index) + len(e.row.Digest) + len(e.row.Data) + len(e.row.Status) + 96
	if p := e.row.Portrait; p != nil {
		n += len(p.Digest) + len(p.Data) + len(p.Template) + 72
	}
	return n
}

func compareEntries(a, b *entry) int {
	if c := bytes.Compare(a.row.Index, b.row.Index); c != 0 {
		return c
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// spiller collects entries and writes them as sorted runs of at most
// limit bytes (in memory) each.
type spiller struct {
	dir     string
	limit   int
	pending []*entry
	bytes   int
	runs    []string
	made    int   // run files made, for their names
	entries int64 // entries written to runs (by flush)
}

// maxFanIn bounds how many runs are merged at once: each is an open file
// with a 256 KiB read buffer. A larger import first merges its runs in
// groups into longer runs (spiller.reduce).
const maxFanIn = 128

// create makes the next run file.
func (s *spiller) create() (*os.File, string, error) {
	name := filepath.Join(s.dir, fmt.Sprintf("run-%06d", s.made))
	s.made++
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("registry: sorted import: %w", err)
	}
	return f, name, nil
}

// reduce merges the runs in groups of fanIn into longer runs, level by
// level, until at most fanIn remain. Every entry is kept (the final merge
// picks the winner of each index).
func (s *spiller) reduce(fanIn int) error {
	for len(s.runs) > fanIn {
		var next []string
		for i := 0; i < len(s.runs); i += fanIn {
			group := s.runs[i:min(i+fanIn, len(s.runs))]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			name, err := s.mergeRuns(group)
			if err != nil {
				return err
			}
			for _, g := range group {
				os.Remove(g)
			}
			next = append(next, name)
		}
		s.runs = next
	}
	return nil
}

// mergeRuns writes the entries of runs, in order, into one new run.
func (s *spiller) mergeRuns(runs []string) (string, error) {
	m, err := newMerger(runs)
	if err != nil {
		return "", err
	}
	defer m.close()
	f, name, err := s.create()
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var buf []byte
	for len(m.h) > 0 {
		e, err := m.pop()
		if err == nil {
			buf = appendEntry(buf[:0], e)
			_, err = w.Write(buf)
		}
		if err != nil {
			f.Close()
			return "", fmt.Errorf("registry: sorted import: merge runs: %w", err)
		}
	}
	if err := finish(f, w); err != nil {
		return "", fmt.Errorf("registry: sorted import: merge runs: %w", err)
	}
	return name, nil
}

// add keeps e for the next run; the caller flushes when full.
func (s *spiller) add(e *entry) {
	s.pending = append(s.pending, e)
	s.bytes += e.size()
}

// full reports whether the pending entries fill a run.
func (s *spiller) full() bool { return s.bytes >= s.limit }

// flush sorts the pending entries and writes them as a run.
func (s *spiller) flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	slices.SortFunc(s.pending, compareEntries)
	f, name, err := s.create()
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var buf []byte
	for _, e := range s.pending {
		buf = appendEntry(buf[:0], e)
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return fmt.Errorf("registry: sorted import: write run: %w", err)
		}
	}
	if err := finish(f, w); err != nil {
		return fmt.Errorf("registry: sorted import: write run: %w", err)
	}
	s.runs = append(s.runs, name)
	s.entries += int64(len(s.pending))
	clear(s.pending)
	s.pending, s.bytes = s.pending[:0], 0
	return nil
}

// finish flushes w to f, syncs f to disk (the manifest counts on every run
// it names being there after a crash) and closes it.
func finish(f *os.File, w *bufio.Writer) error {
	err := w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// The run format: per entry, uvarint seq, then the index, digest, data and
// status as uvarint-length-prefixed bytes, then a portrait tag (0 none, 1
// without a template, 2 with one) and the portrait's fields likewise.
func appendEntry(b []byte, e *entry) []byte {
	put := func(p []byte) {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	b = binary.AppendUvarint(b, e.seq)
	put(e.row.Index)
	put(e.row.Digest)
	put(e.row.Data)
	put([]byte(e.row.Status))
	switch p := e.row.Portrait; {
	case p == nil:
		b = append(b, 0)
	case p.Template == nil:
		b = append(b, 1)
		put(p.Digest)
		put(p.Data)
	default:
		b = append(b, 2)
		put(p.Digest)
		put(p.Data)
		put(p.Template)
	}
	return b
}

// maxField bounds one field of a run entry (a sealed portrait is the
// largest), so that a corrupt run cannot make the reader allocate without
// limit.
const maxField = 64 << 20

// runReader reads a run's entries in order.
type runReader struct {
	f   *os.File
	r   *bufio.Reader
	cur *entry
}

func openRun(name string) (*runReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("registry: sorted import: %w", err)
	}
	return &runReader{f: f, r: bufio.NewReaderSize(f, 256<<10)}, nil
}

// next reads the next entry into rr.cur; io.EOF after the last.
func (rr *runReader) next() error {
	seq, err := binary.ReadUvarint(rr.r)
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("registry: sorted import: read run: %w", err)
	}
	get := func() ([]byte, error) {
		n, err := binary.ReadUvarint(rr.r)
		if err != nil {
			return nil, err
		}
		if n > maxField {
			return nil, fmt.Errorf("field of %d bytes", n)
		}
		p := make([]byte, n)
		_, err = io.ReadFull(rr.r, p)
		return p, err
	}
	e := &entry{seq: seq}
	var status []byte
	for _, dst := range []*[]byte{&e.row.Index, &e.row.Digest, &e.row.Data, &status} {
		if *dst, err = get(); err != nil {
			return fmt.Errorf("registry: sorted import: read run: %w", noEOF(err))
		}
	}
	e.row.Status = Status(status)
	tag, err := rr.r.ReadByte()
	if err != nil {
		return fmt.Errorf("registry: sorted import: read run: %w", noEOF(err))
	}
	if tag > 2 {
		return fmt.Errorf("registry: sorted import: read run: bad portrait tag %d", tag)
	}
	if tag > 0 {
		p := &PortraitRow{}
		fields := []*[]byte{&p.Digest, &p.Data}
		if tag == 2 {
			fields = append(fields, &p.Template)
		}
		for _, dst := range fields {
			if *dst, err = get(); err != nil {
				return fmt.Errorf("registry: sorted import: read run: %w", noEOF(err))
			}
		}
		e.row.Portrait = p
	}
	rr.cur = e
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// runHeap orders the runs by their current entries.
type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return compareEntries(h[i].cur, h[j].cur) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merger yields the runs' rows in index order, one per index: the last of
// the input wins, keeping an earlier portrait when it has none.
type merger struct {
	h        runHeap
	all      []*runReader
	consumed int64 // entries taken from the runs
}

func newMerger(runs []string) (*merger, error) {
	m := &merger{}
	for _, name := range runs {
		rr, err := openRun(name)
		if err != nil {
			m.close()
			return nil, err
		}
		m.all = append(m.all, rr)
		switch err := rr.next(); {
		case err == io.EOF:
		case err != nil:
			m.close()
			return nil, err
		default:
			m.h = append(m.h, rr)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

// pop takes the smallest entry and advances its run.
func (m *merger) pop() (*entry, error) {
	rr := m.h[0]
	e := rr.cur
	m.consumed++
	switch err := rr.next(); {
	case err == io.EOF:
		heap.Pop(&m.h)
	case err != nil:
		return nil, err
	default:
		heap.Fix(&m.h, 0)
	}
	return e, nil
}

// next returns the next index's winning row and how many earlier rows with
// the same index it replaced; io.EOF at the end.
func (m *merger) next() (Row, int, error) {
	if len(m.h) == 0 {
		return Row{}, 0, io.EOF
	}
	e, err := m.pop()
	if err != nil {
		return Row{}, 0, err
	}
	row, dups := e.row, 0
	for len(m.h) > 0 && bytes.Equal(m.h[0].cur.row.Index, row.Index) {
		later, err := m.pop()
		if err != nil {
			return Row{}, 0, err
		}
		if later.row.Portrait == nil {
			later.row.Portrait = row.Portrait
		}
		row = later.row
		dups++
	}
	return row, dups, nil
}

func (m *merger) close() {
	for _, rr := range m.all {
		rr.f.Close()
	}
}

// manifest is how far a sorted import's first pass got, kept next to its
// runs so that an interrupted import resumes it: every record before
// Offset is in Runs. Done is set when the first pass finished.
type manifest struct {
	Source  string   `json:"source"`
	Offset  int64    `json:"offset"`
	Line    int64    `json:"line"`
	Seq     uint64   `json:"seq"`
	Read    Totals   `json:"read"` // Read, Rejected, duplicates within batches as Updated
	Runs    []string `json:"runs"` // file names in the directory
	Made    int      `json:"made"`
	Entries int64    `json:"entries"`
	Done    bool     `json:"done"`
}

const manifestName = "manifest.json"

func loadManifest(dir string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	return m, err
}

// save writes the manifest atomically (a new file renamed over the old).
func (m *manifest) save(dir string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	// Written durably: the directory sync also makes the runs it names
	// (same directory) durable under their names.
	if err := atomicfile.Write(filepath.Join(dir, manifestName), b, 0o600); err != nil {
		return fmt.Errorf("registry: sorted import: manifest: %w", err)
	}
	return nil
}

// maxPendingRejects bounds the rejections a first pass holds before it
// writes a run and reports them (they are reported once their lines are
// behind the manifest's offset, so a resumed import does not repeat them).
const maxPendingRejects = 10_000

// importSorted is Import with opt.Sort.
func (s *Service) importSorted(ctx context.Context, src Source, opt ImportOptions) (Summary, error) {
	start := time.Now()
	var sum Summary
	var after []byte // resuming: the last index an earlier run committed
	var prior Totals
	cpDone := false // the source's last import finished: start over
	if src.ID != "" && opt.Resume {
		cp, err := s.store.Checkpoint(ctx, src.ID)
		cpDone = err == nil && cp.Done
		switch {
		case err == nil && !cp.Done && cp.Key != nil:
			after, prior = cp.Key, cp.Totals
		case err == nil, errors.Is(err, ErrNotFound):
			// Done, or left by a plain import: start over (re-importing
			// is idempotent).
		default:
			return sum, fmt.Errorf("registry: import checkpoint: %w", err)
		}
	}
	if opt.RunBytes <= 0 {
		opt.RunBytes = 64 << 20
	}
	// The runs of an import that can resume (one with a source ID) live
	// in a directory named for the source, kept when the import stops
	// early; the others in a fresh one.
	var dir string
	var mf manifest
	var err error
	resumable := src.ID != ""
	if resumable {
		dir = filepath.Join(cmp.Or(opt.TempDir, os.TempDir()), "shenfen-import-"+src.ID)
		if m, lerr := loadManifest(dir); opt.Resume && !cpDone && lerr == nil && m.Source == src.ID {
			mf = m
		} else {
			os.RemoveAll(dir)
		}
		err = os.MkdirAll(dir, 0o700)
	} else {
		dir, err = os.MkdirTemp(opt.TempDir, "shenfen-import-")
	}
	if err != nil {
		return sum, fmt.Errorf("registry: sorted import: %w", err)
	}
	finished := false
	defer func() {
		if finished || !resumable {
			os.RemoveAll(dir)
		}
	}()
	mf.Source = src.ID
	before := mf.Read // what an earlier run read and reported
	if mf.Offset > 0 {
		sum.ResumedAt = mf.Line
	}
	sp := &spiller{dir: dir, limit: opt.RunBytes, made: mf.Made, entries: mf.Entries}
	for _, r := range mf.Runs {
		sp.runs = append(sp.runs, filepath.Join(dir, r))
	}
	// checkpoint writes the pending entries as a run and records how far
	// the first pass got; then the rejections before that point are told.
	var rejects []rejection
	checkpoint := func(offset, line int64, done bool) error {
		if err := sp.flush(); err != nil {
			return err
		}
		if done {
			if err := sp.reduce(maxFanIn); err != nil {
				return err
			}
		}
		mf.Offset, mf.Line, mf.Made, mf.Entries, mf.Done = offset, line, sp.made, sp.entries, done
		mf.Runs = mf.Runs[:0]
		for _, r := range sp.runs {
			mf.Runs = append(mf.Runs, filepath.Base(r))
		}
		if err := mf.save(dir); err != nil {
			return err
		}
		if opt.Reject != nil {
			for _, r := range rejects {
				opt.Reject(r.line, r.err)
			}
		}
		rejects = rejects[:0]
		return nil
	}

	// Pass 1: read, validate, seal, spill sorted runs.
	if !mf.Done {
		err = s.pipeline(ctx, src, mf.Offset, mf.Line, opt, func(b *batch) error {
			mf.Read.Read += int64(len(b.lines))
			mf.Read.Rejected += int64(len(b.rejects))
			mf.Read.Updated += int64(b.dups)
			for i := range b.rows {
				mf.Seq++
				sp.add(&entry{seq: mf.Seq, row: b.rows[i]})
			}
			b.rows = nil
			rejects = append(rejects, b.rejects...)
			if opt.Progress != nil {
				opt.Progress(Progress{Phase: PhaseRead, Offset: b.end, Size: src.Size, Totals: mf.Read})
			}
			if final := len(b.lines) == 0; final || sp.full() || len(rejects) >= maxPendingRejects {
				return checkpoint(b.end, b.last, final)
			}
			return nil
		})
		if err != nil {
			sum.Elapsed = time.Since(start)
			return sum, err
		}
	}
	read, end, last := mf.Read, mf.Offset, mf.Line
	s.metrics.Imported("rejected", int(read.Rejected-before.Rejected))

	// Pass 2: merge the runs and write them in index order.
	m, err := newMerger(sp.runs)
	if err != nil {
		return sum, err
	}
	defer m.close()
	sum.Totals = Totals{Read: read.Read, Rejected: read.Rejected}
	sum.ThisRun = Totals{Read: read.Read - before.Read, Rejected: read.Rejected - before.Rejected}
	if after != nil {
		sum.Totals.Inserted, sum.Totals.Updated, sum.Totals.Unchanged = prior.Inserted, prior.Updated, prior.Unchanged
	} else {
		// The duplicates within batches are counted once, with the first
		// run's first batch.
		sum.Totals.Updated += read.Updated
		sum.ThisRun.Updated += read.Updated - before.Updated
	}
	rows := make([]Row, 0, opt.BatchSize)
	dups := 0
	commit := func(final bool) error {
		at := s.stamp()
		for i := range rows {
			rows[i].CreatedAt, rows[i].UpdatedAt = at, at
		}
		var cp *Checkpoint
		if src.ID != "" {
			cp = &Checkpoint{Source: src.ID, Offset: end, Line: last, Done: final, Totals: sum.Totals, Key: after}
			cp.Totals.Updated += int64(dups)
			if len(rows) > 0 {
				cp.Key = rows[len(rows)-1].Index
			}
		}
		res, err := s.store.PutRows(ctx, rows, cp)
		if err != nil {
			return fmt.Errorf("registry: sorted import: write batch: %w", err)
		}
		run := Totals{Inserted: int64(res.Inserted), Updated: int64(res.Updated + dups), Unchanged: int64(res.Unchanged)}
		addTotals(&sum.Totals, run)
		addTotals(&sum.ThisRun, run)
		s.countImported(res, dups, 0)
		rows, dups = rows[:0], 0
		if opt.Progress != nil {
			opt.Progress(Progress{Phase: PhaseWrite, Offset: m.consumed, Size: sp.entries, Totals: sum.Totals})
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			sum.Elapsed = time.Since(start)
			return sum, err
		}
		row, d, err := m.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			sum.Elapsed = time.Since(start)
			return sum, err
		}
		if after != nil && bytes.Compare(row.Index, after) <= 0 {
			sum.ResumedSkipped++
			continue
		}
		rows = append(rows, row)
		dups += d
		if len(rows) == opt.BatchSize {
			if err := commit(false); err != nil {
				sum.Elapsed = time.Since(start)
				return sum, err
			}
		}
	}
	err = commit(true)
	finished = err == nil
	sum.Elapsed = time.Since(start)
	return sum, err
}
