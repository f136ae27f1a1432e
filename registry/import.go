package registry

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Source is an input to import.
type Source struct {
	// R reads the input from its start; it seeks to resume.
	R io.ReadSeeker
	// Size is the input's size in bytes (for progress), or 0 if unknown.
	Size   int64
	Format Format
	// Portraits resolves portrait paths (relative to the input's
	// directory); nil refuses portrait paths (base64 portraits still work).
	Portraits fs.FS
	// ID identifies the input for checkpoints (see SourceID); empty
	// disables checkpoints and resumption.
	ID string
}

// SourceID identifies an input by its size and a SHA-256 of its first MiB:
// the same file gets the same ID wherever it lies; an edited one (almost
// always) gets another, so its checkpoint is not reused.
func SourceID(r io.ReadSeeker, size int64) (string, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.CopyN(h, r, 1<<20); err != nil && err != io.EOF {
		return "", err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-%s", size, hex.EncodeToString(h.Sum(nil))[:32]), nil
}

// ImportOptions tune an import.
type ImportOptions struct {
	// BatchSize is the number of input records per transaction (default 2000).
	BatchSize int
	// Workers is the number of goroutines validating and sealing
	// (default GOMAXPROCS).
	Workers int
	// Resume continues an interrupted import of the same source from its
	// checkpoint; otherwise the import starts at the beginning.
	Resume bool
	// Reject is told about every rejected record, in input order, after the
	// batch around it is committed (in a sorted import, as the first pass
	// reads it).
	Reject func(line int64, err error)
	// Progress is told the position after every committed batch (and,
	// in a sorted import, after every batch read).
	Progress func(Progress)
	// Sort imports in two passes, for large inputs: the first reads,
	// validates and seals every record into sorted runs in TempDir (rejects
	// are reported during it); the second merges the runs and writes the
	// records in blind-index order, so that each transaction appends to
	// the index instead of touching a random page per record. It writes
	// nothing until the first pass has read the whole input. With a
	// source ID and Resume, an interrupted import resumes: the first pass
	// from the manifest kept with its runs (TempDir/shenfen-import-ID),
	// the second after its last committed key. It needs free space in
	// TempDir of about the sealed size of the input (about 400 bytes per
	// record without portraits).
	Sort bool
	// TempDir holds the runs of a sorted import (default os.TempDir()).
	TempDir string
	// RunBytes is the memory a sorted import fills before it sorts and
	// writes a run (default 64 MiB); it bounds the import's memory.
	RunBytes int
}

// The phases of an import's progress.
const (
	// PhaseImport: records are read and written batch by batch;
	// Offset/Size is the position in the input.
	PhaseImport = "import"
	// PhaseRead: a sorted import's first pass; Offset/Size is the
	// position in the input.
	PhaseRead = "read"
	// PhaseWrite: a sorted import's second pass; Offset/Size counts
	// records written of the records to write.
	PhaseWrite = "write"
)

// Progress is the position of an import in progress.
type Progress struct {
	// Phase is PhaseImport, PhaseRead or PhaseWrite.
	Phase        string
	Offset, Size int64
	Totals       Totals
}

// Summary is the result of an import.
type Summary struct {
	// Totals include earlier runs that this one resumed.
	Totals Totals
	// ResumedAt is the line the import resumed after (0: from the start).
	ResumedAt int64
	// ResumedSkipped, in a sorted import that resumed an interrupted one,
	// counts the records the earlier run had written and this one skipped.
	ResumedSkipped int64
	// Elapsed is this run's duration.
	Elapsed time.Duration
	// ThisRun counts this run alone.
	ThisRun Totals
}

// Rate is this run's records read per second.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.ThisRun.Read) / s.Elapsed.Seconds()
}

// batch is one transaction's worth of input, parsed in order by the reader
// and sealed by a worker; the writer commits batches in input order.
type batch struct {
	lines   []*rawLine
	rows    []Row
	rejects []rejection
	dups    int // records superseded by a later line of the same batch
	end     int64
	last    int64
	err     error // fatal
	ready   chan struct{}
}

type rejection struct {
	line int64
	err  error
}

// Import streams records from src into the registry in batches, each
// committed in one transaction with its checkpoint. Bad records are reported
// to opt.Reject and skipped. It returns when the input is exhausted, on a
// storage error, or when ctx is cancelled (the committed batches stay, and a
// later Import with Resume continues after them). With opt.Sort it imports
// in two passes instead (see ImportOptions.Sort).
func (s *Service) Import(ctx context.Context, src Source, opt ImportOptions) (Summary, error) {
	opt = opt.withDefaults()
	if opt.Sort {
		return s.importSorted(ctx, src, opt)
	}
	start := time.Now()
	var sum Summary
	var offset, line int64
	if src.ID != "" && opt.Resume {
		cp, err := s.store.Checkpoint(ctx, src.ID)
		switch {
		case err == nil && !cp.Done && cp.Key == nil:
			offset, line, sum.Totals, sum.ResumedAt = cp.Offset, cp.Line, cp.Totals, cp.Line
		case err == nil, errors.Is(err, ErrNotFound):
			// Done, or left by a sorted import: start over (re-importing
			// is idempotent).
		default:
			return sum, fmt.Errorf("registry: import checkpoint: %w", err)
		}
	}
	err := s.pipeline(ctx, src, offset, line, opt, func(b *batch) error {
		run := Totals{Read: int64(len(b.lines)), Rejected: int64(len(b.rejects)), Updated: int64(b.dups)}
		final := len(b.lines) == 0
		var cp *Checkpoint
		if src.ID != "" {
			cp = &Checkpoint{Source: src.ID, Offset: b.end, Line: b.last, Done: final, Totals: sum.Totals}
			addTotals(&cp.Totals, run)
		}
		res, err := s.store.PutRows(ctx, b.rows, cp)
		if err != nil {
			return fmt.Errorf("registry: import batch ending at line %d: %w", b.last, err)
		}
		run.Inserted, run.Updated, run.Unchanged = int64(res.Inserted), int64(res.Updated+b.dups), int64(res.Unchanged)
		addTotals(&sum.Totals, run)
		addTotals(&sum.ThisRun, run)
		s.countImported(res, b.dups, len(b.rejects))
		if opt.Reject != nil {
			for _, r := range b.rejects {
				opt.Reject(r.line, r.err)
			}
		}
		if opt.Progress != nil {
			opt.Progress(Progress{Phase: PhaseImport, Offset: b.end, Size: src.Size, Totals: sum.Totals})
		}
		return nil
	})
	sum.Elapsed = time.Since(start)
	return sum, err
}

// withDefaults fills in the zero fields of opt.
func (opt ImportOptions) withDefaults() ImportOptions {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 2000
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	return opt
}

// countImported adds a committed batch to the import metrics.
func (s *Service) countImported(res BatchResult, dups, rejected int) {
	s.metrics.Imported(string(Inserted), res.Inserted)
	s.metrics.Imported(string(Updated), res.Updated+dups)
	s.metrics.Imported(string(Unchanged), res.Unchanged)
	s.metrics.Imported("rejected", rejected)
}

// decoderAt positions src at offset (line being the last line before it),
// or just after the CSV header when offset is 0, and returns its decoder
// and where it starts.
func decoderAt(src Source, offset, line int64) (decoder, int64, int64, error) {
	if _, err := src.R.Seek(0, io.SeekStart); err != nil {
		return nil, 0, 0, fmt.Errorf("registry: import: %w", err)
	}
	switch src.Format {
	case CSV:
		cols, headerEnd, err := readCSVHeader(src.R)
		if err != nil {
			return nil, 0, 0, err
		}
		if offset == 0 {
			offset, line = headerEnd, 1
		}
		if _, err := src.R.Seek(offset, io.SeekStart); err != nil {
			return nil, 0, 0, fmt.Errorf("registry: import: %w", err)
		}
		return newCSVDecoder(src.R, cols, offset, line), offset, line, nil
	case JSONL:
		if _, err := src.R.Seek(offset, io.SeekStart); err != nil {
			return nil, 0, 0, fmt.Errorf("registry: import: %w", err)
		}
		return newJSONLDecoder(src.R, offset, line), offset, line, nil
	default:
		return nil, 0, 0, fmt.Errorf("registry: import: unknown format %d", src.Format)
	}
}

// pipeline reads src from offset in batches of opt.BatchSize records (a
// reader goroutine), validates and seals them (opt.Workers goroutines), and
// hands them to each in input order on the calling goroutine. The last
// batch handed to each has no lines: the end of the input. pipeline stops
// at the first error from the input, from each, or of ctx.
func (s *Service) pipeline(ctx context.Context, src Source, offset, line int64, opt ImportOptions, each func(*batch) error) error {
	dec, offset, line, err := decoderAt(src, offset, line)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *batch, opt.Workers)
	order := make(chan *batch, 2*opt.Workers)
	var wg sync.WaitGroup
	wg.Add(1 + opt.Workers)
	go func() { // reader: parse lines into batches, in order
		defer wg.Done()
		defer close(jobs)
		defer close(order)
		for {
			b := &batch{ready: make(chan struct{}), end: offset, last: line}
			for len(b.lines) < opt.BatchSize {
				raw, err := dec.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.err = fmt.Errorf("registry: import: read: %w", err)
					break
				}
				b.lines = append(b.lines, raw)
				b.end, b.last = raw.end, raw.last
			}
			offset, line = b.end, b.last
			select {
			case order <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil || len(b.lines) == 0 {
				close(b.ready)
				return
			}
			select {
			case jobs <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	for i := 0; i < opt.Workers; i++ {
		go func() { // workers: validate and seal
			defer wg.Done()
			for b := range jobs {
				s.prepare(ctx, b, src.Portraits)
				close(b.ready)
			}
		}()
	}

	for b := range order { // in input order
		select {
		case <-b.ready:
		case <-ctx.Done():
		}
		if err = ctx.Err(); err != nil {
			break
		}
		if b.err != nil {
			err = b.err
			break
		}
		if err = each(b); err != nil || len(b.lines) == 0 {
			break
		}
	}
	cancel()
	for range order { // let the reader finish
	}
	wg.Wait()
	return err
}

func addTotals(t *Totals, r Totals) {
	t.Read += r.Read
	t.Inserted += r.Inserted
	t.Updated += r.Updated
	t.Unchanged += r.Unchanged
	t.Rejected += r.Rejected
}

// prepare validates and seals a batch's lines into rows.
func (s *Service) prepare(ctx context.Context, b *batch, portraits fs.FS) {
	now := s.now()
	at := s.stamp()
	pos := make(map[string]int, len(b.lines))
	b.rows = make([]Row, 0, len(b.lines))
	for _, raw := range b.lines {
		if ctx.Err() != nil {
			b.err = ctx.Err()
			return
		}
		if raw.err != nil {
			b.rejects = append(b.rejects, rejection{raw.line, raw.err})
			continue
		}
		r, err := recordFromFields(&raw.fields, portraits)
		if err == nil {
			err = r.Normalize(now)
		}
		var row Row
		if err == nil {
			row, err = s.seal(ctx, &r, at)
		}
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) {
				b.err = fmt.Errorf("registry: import line %d: %w", raw.line, err)
				return
			}
			b.rejects = append(b.rejects, rejection{raw.line, err})
			continue
		}
		// A later line with the same ID number wins within the batch (the
		// database cannot upsert one key twice in a statement).
		if i, dup := pos[string(row.Index)]; dup {
			if row.Portrait == nil {
				row.Portrait = b.rows[i].Portrait
			}
			b.rows[i] = row
			b.dups++
			continue
		}
		pos[string(row.Index)] = len(b.rows)
		b.rows = append(b.rows, row)
	}
}

// recordFromFields converts an input record's strings, collecting every
// field problem.
func recordFromFields(f *[numCols]string, portraits fs.FS) (Record, error) {
	e := &InvalidError{}
	r := Record{
		IDNumber: IDNumber(f[colID]), Name: f[colName], Ethnicity: f[colEthnicity],
		Address: f[colAddress], Authority: f[colAuthority],
	}
	var err error
	if strings.TrimSpace(f[colSex]) != "" {
		if r.Sex, err = ParseSex(f[colSex]); err != nil {
			e.add("sex", "%v", err)
		}
	}
	if strings.TrimSpace(f[colBirth]) != "" {
		if r.BirthDate, err = ParseDate(f[colBirth]); err != nil {
			e.add("birth_date", "%v", err)
		}
	}
	if strings.TrimSpace(f[colValidFrom]) != "" {
		if r.ValidFrom, err = ParseDate(f[colValidFrom]); err != nil {
			e.add("valid_from", "%v", err)
		}
	}
	if r.ValidUntil, err = ParseValidUntil(f[colValidUntil]); err != nil {
		e.add("valid_until", "%v", err)
	}
	if r.Status, err = ParseStatus(f[colStatus]); err != nil {
		e.add("status", "%v", err)
	}
	if p := strings.TrimSpace(f[colPortrait]); p != "" {
		if r.Portrait, err = loadPortrait(p, portraits); err != nil {
			e.add("portrait", "%v", err)
		}
	}
	if len(e.Fields) > 0 {
		// Report the ID number's and other fields' own problems too.
		if nerr := r.Normalize(time.Now()); nerr != nil {
			var inv *InvalidError
			if errors.As(nerr, &inv) {
				for _, fe := range inv.Fields {
					if !hasField(e, fe.Field) {
						e.Fields = append(e.Fields, fe)
					}
				}
				e.id = inv.id
			}
		}
		return r, e
	}
	return r, nil
}

func hasField(e *InvalidError, field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// loadPortrait decodes base64:DATA or reads a path relative to the input.
func loadPortrait(p string, portraits fs.FS) ([]byte, error) {
	if data, ok := strings.CutPrefix(p, "base64:"); ok {
		if base64.StdEncoding.DecodedLen(len(data)) > MaxPortraitBytes+3 {
			return nil, fmt.Errorf("larger than %d bytes", MaxPortraitBytes)
		}
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, errors.New("invalid base64")
		}
		return b, nil
	}
	if portraits == nil {
		return nil, errors.New("portrait paths are not available for this input; give the portrait inline as base64:DATA")
	}
	name := strings.TrimPrefix(strings.ReplaceAll(p, "\\", "/"), "./")
	if !fs.ValidPath(name) {
		return nil, fmt.Errorf("%q must be a relative path inside the input's directory", p)
	}
	f, err := portraits.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot open %q", p)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPortraitBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %q", p)
	}
	if len(b) > MaxPortraitBytes {
		return nil, fmt.Errorf("%q is larger than %d bytes", p, MaxPortraitBytes)
	}
	return b, nil
}
