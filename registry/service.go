package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"
)

// ErrNotFound is returned when no record has the ID number.
var ErrNotFound = errors.New("registry: no such record")

// Row is a record as the database holds it: a blind index as the key,
// everything personal sealed, only the status and timestamps in clear.
type Row struct {
	// Index is the blind index of the ID number (HMAC-SHA256, 32 bytes).
	Index []byte
	// Digest is a keyed MAC of the sealed fields, so that re-importing an
	// unchanged record writes nothing.
	Digest []byte
	// Data is the sealed personal data (ID number, name, sex, dates,
	// ethnicity, address, authority), bound to Index.
	Data      []byte
	Status    Status
	CreatedAt time.Time
	UpdatedAt time.Time
	// Portrait, when not nil, replaces the stored portrait; nil leaves it.
	Portrait *PortraitRow
}

// PortraitRow is a sealed portrait with its sealed face template.
type PortraitRow struct {
	// Digest is a keyed MAC of the image, to skip rewriting (and
	// recomputing the template of) an unchanged portrait.
	Digest []byte
	// Data is the sealed image (media type and bytes), bound to the row.
	Data []byte
	// Template is the sealed face template, or nil.
	Template []byte
}

// Checkpoint is how far an import of one source got, committed with the
// batch it follows.
type Checkpoint struct {
	// Source identifies the input (a digest of its start and its size).
	Source string
	// Offset is the byte offset just after the last committed line.
	Offset int64
	// Line is the number of the last committed line.
	Line int64
	// Done is set when the whole source was imported.
	Done bool
	// Key, in a sorted import's second pass, is the blind index of the
	// last committed record (records are written in index order); nil in
	// a plain import.
	Key []byte
	// Totals so far, across resumptions.
	Totals Totals
}

// Totals counts what an import did.
type Totals struct {
	Read      int64 `json:"read"`
	Inserted  int64 `json:"inserted"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	Rejected  int64 `json:"rejected"`
}

// BatchResult counts what one batch write did.
type BatchResult struct {
	Inserted, Updated, Unchanged int
}

// Store is what the registry needs from persistence. The store package
// implements it for SQLite and PostgreSQL.
type Store interface {
	// PutRows inserts or updates rows (unchanged ones are left alone) and,
	// when cp is not nil, records the checkpoint after adding the result's
	// counts to cp.Totals, all in one transaction. Rows have distinct
	// indexes.
	PutRows(ctx context.Context, rows []Row, cp *Checkpoint) (BatchResult, error)
	// Row returns the row without its portrait, or ErrNotFound.
	Row(ctx context.Context, index []byte) (Row, error)
	// Portrait returns the row's portrait, or ErrNotFound.
	Portrait(ctx context.Context, index []byte) (PortraitRow, error)
	// SetStatus changes a row's status, or returns ErrNotFound.
	SetStatus(ctx context.Context, index []byte, s Status, at time.Time) error
	// Checkpoint returns the checkpoint of a source, or ErrNotFound.
	Checkpoint(ctx context.Context, source string) (Checkpoint, error)
	// Count returns the number of rows.
	Count(ctx context.Context) (int64, error)
}

// Sealer encrypts at rest and computes blind indexes; *seal.Sealer is one.
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
	Index(purpose string, data []byte) []byte
}

// Templater computes a face template (descriptor) from a portrait image; the
// service calls it once per new portrait. The biometric engine provides it.
// An error (no usable face) rejects the record; a nil template with no error
// stores the portrait without one.
type Templater interface {
	Template(ctx context.Context, portrait []byte) ([]byte, error)
}

// Metrics receives the registry's counters (Prometheus in the server).
type Metrics interface {
	// Lookup counts one lookup by outcome: found, not_found or error.
	Lookup(outcome string)
	// Imported counts records by outcome: inserted, updated, unchanged,
	// rejected.
	Imported(outcome string, n int)
}

// Blind-index purposes.
const (
	purposeID       = "registry/id-number"
	purposeDigest   = "registry/record-digest"
	purposePortrait = "registry/portrait-digest"
)

// Service is the population registry.
type Service struct {
	store     Store
	sealer    Sealer
	templater Templater
	metrics   Metrics
	now       func() time.Time
	lastStamp atomic.Int64
}

// Option configures a Service.
type Option func(*Service)

// WithTemplater makes the service compute a face template for every new
// portrait.
func WithTemplater(t Templater) Option { return func(s *Service) { s.templater = t } }

// WithMetrics reports lookups and imports to m.
func WithMetrics(m Metrics) Option { return func(s *Service) { s.metrics = m } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// NewService makes the registry over a store and a sealer.
func NewService(st Store, sealer Sealer, opts ...Option) *Service {
	s := &Service{store: st, sealer: sealer, now: time.Now, metrics: nopMetrics{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

type nopMetrics struct{}

func (nopMetrics) Lookup(string)        {}
func (nopMetrics) Imported(string, int) {}

// Index returns the blind index of an ID number: the key of its row.
func (s *Service) Index(id IDNumber) []byte { return s.sealer.Index(purposeID, []byte(id)) }

// sealedFields is the plaintext of Row.Data. JSON keeps it self-describing
// and lets fields be added; the short keys keep it small.
type sealedFields struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	Name       string `json:"n"`
	Sex        Sex    `json:"s"`
	Birth      string `json:"b"`
	Ethnicity  string `json:"e,omitempty"`
	Address    string `json:"a"`
	Authority  string `json:"au"`
	ValidFrom  string `json:"vf"`
	ValidUntil string `json:"vu,omitempty"`
}

func ad(index []byte, column string) []byte {
	b := make([]byte, 0, len(index)+1+len(column))
	b = append(b, index...)
	b = append(b, '/')
	return append(b, column...)
}

func dateString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// stamp returns a timestamp (microseconds) strictly after the previous one
// this service handed out, so a batch's rows are told apart from older ones.
func (s *Service) stamp() time.Time {
	now := s.now().UnixMicro()
	for {
		last := s.lastStamp.Load()
		if now <= last {
			now = last + 1
		}
		if s.lastStamp.CompareAndSwap(last, now) {
			return time.UnixMicro(now).UTC()
		}
	}
}

// seal turns a normalized record into its row. A portrait gets a template
// when a Templater is set and the stored portrait differs.
func (s *Service) seal(ctx context.Context, r *Record, at time.Time) (Row, error) {
	idx := s.Index(r.IDNumber)
	pt, err := json.Marshal(sealedFields{
		V: 1, ID: string(r.IDNumber), Name: r.Name, Sex: r.Sex, Birth: dateString(r.BirthDate),
		Ethnicity: r.Ethnicity, Address: r.Address, Authority: r.Authority,
		ValidFrom: dateString(r.ValidFrom), ValidUntil: dateString(r.ValidUntil),
	})
	if err != nil {
		return Row{}, fmt.Errorf("registry: encode record: %w", err)
	}
	row := Row{
		Index:     idx,
		Digest:    s.sealer.Index(purposeDigest, pt),
		Data:      s.sealer.Seal(pt, ad(idx, "data")),
		Status:    r.Status,
		CreatedAt: at,
		UpdatedAt: at,
	}
	if r.Portrait != nil {
		img := make([]byte, 0, len(r.PortraitType)+1+len(r.Portrait))
		img = append(append(append(img, r.PortraitType...), 0), r.Portrait...)
		p := &PortraitRow{Digest: s.sealer.Index(purposePortrait, img)}
		if s.templater != nil {
			old, err := s.store.Portrait(ctx, idx)
			switch {
			case err == nil && string(old.Digest) == string(p.Digest) && old.Template != nil:
				p.Template = old.Template // unchanged portrait: keep its template
			case err == nil || errors.Is(err, ErrNotFound):
				tpl, err := s.templater.Template(ctx, r.Portrait)
				if err != nil {
					if ctx.Err() != nil {
						return Row{}, ctx.Err()
					}
					return Row{}, &InvalidError{Fields: []FieldError{{"portrait", "no face template: " + err.Error()}}}
				}
				if tpl != nil {
					p.Template = s.sealer.Seal(tpl, ad(idx, "template"))
				}
			default:
				return Row{}, fmt.Errorf("registry: read portrait: %w", err)
			}
		}
		p.Data = s.sealer.Seal(img, ad(idx, "portrait"))
		row.Portrait = p
	}
	return row, nil
}

// Outcome says what Put did.
type Outcome string

// Put outcomes.
const (
	Inserted  Outcome = "inserted"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
)

// Put validates and stores one record (inserting it or updating the record
// with the same ID number). A validation failure is an *InvalidError.
func (s *Service) Put(ctx context.Context, r Record) (Outcome, error) {
	if err := r.Normalize(s.now()); err != nil {
		return "", err
	}
	row, err := s.seal(ctx, &r, s.stamp())
	if err != nil {
		return "", err
	}
	res, err := s.store.PutRows(ctx, []Row{row}, nil)
	if err != nil {
		return "", fmt.Errorf("registry: put: %w", err)
	}
	switch {
	case res.Inserted == 1:
		s.metrics.Imported(string(Inserted), 1)
		return Inserted, nil
	case res.Updated == 1:
		s.metrics.Imported(string(Updated), 1)
		return Updated, nil
	}
	s.metrics.Imported(string(Unchanged), 1)
	return Unchanged, nil
}

// Lookup returns the record of an ID number without its portrait and face
// template (the cheap lookup), or ErrNotFound.
func (s *Service) Lookup(ctx context.Context, id IDNumber) (Record, error) {
	r, _, err := s.lookup(ctx, id)
	return r, err
}

func (s *Service) lookup(ctx context.Context, id IDNumber) (Record, []byte, error) {
	idx := s.Index(id)
	row, err := s.store.Row(ctx, idx)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.metrics.Lookup("not_found")
			return Record{}, nil, ErrNotFound
		}
		s.metrics.Lookup("error")
		return Record{}, nil, fmt.Errorf("registry: lookup: %w", err)
	}
	r, err := s.open(row)
	if err != nil {
		s.metrics.Lookup("error")
		return Record{}, nil, err
	}
	if r.IDNumber != id { // the sealed number must be the one the index was made of
		s.metrics.Lookup("error")
		return Record{}, nil, errors.New("registry: row does not match its index")
	}
	s.metrics.Lookup("found")
	return r, idx, nil
}

// Get returns the whole record of an ID number, with its portrait and face
// template when it has them, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id IDNumber) (Record, error) {
	r, idx, err := s.lookup(ctx, id)
	if err != nil {
		return Record{}, err
	}
	p, err := s.store.Portrait(ctx, idx)
	if errors.Is(err, ErrNotFound) {
		return r, nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("registry: portrait: %w", err)
	}
	img, err := s.sealer.Open(p.Data, ad(idx, "portrait"))
	if err != nil {
		return Record{}, fmt.Errorf("registry: open portrait: %w", err)
	}
	for i, c := range img {
		if c == 0 {
			r.PortraitType, r.Portrait = string(img[:i]), img[i+1:]
			break
		}
	}
	if p.Template != nil {
		if r.FaceTemplate, err = s.sealer.Open(p.Template, ad(idx, "template")); err != nil {
			return Record{}, fmt.Errorf("registry: open face template: %w", err)
		}
	}
	return r, nil
}

// Opens reports whether the service's sealer opens a stored row: an error
// means the master key is not the one that sealed the registry (or the row
// was altered).
func (s *Service) Opens(row Row) error {
	_, err := s.open(row)
	return err
}

func (s *Service) open(row Row) (Record, error) {
	pt, err := s.sealer.Open(row.Data, ad(row.Index, "data"))
	if err != nil {
		return Record{}, fmt.Errorf("registry: open record: %w", err)
	}
	var f sealedFields
	if err := json.Unmarshal(pt, &f); err != nil || f.V != 1 {
		return Record{}, fmt.Errorf("registry: decode record (version %d): %v", f.V, err)
	}
	r := Record{
		IDNumber: IDNumber(f.ID), Name: f.Name, Sex: f.Sex, Ethnicity: f.Ethnicity,
		Address: f.Address, Authority: f.Authority, Status: row.Status,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt,
	}
	r.BirthDate, _ = time.Parse(time.DateOnly, f.Birth)
	r.ValidFrom, _ = time.Parse(time.DateOnly, f.ValidFrom)
	if f.ValidUntil != "" {
		r.ValidUntil, _ = time.Parse(time.DateOnly, f.ValidUntil)
	}
	return r, nil
}

// SetStatus changes the status of a record, or returns ErrNotFound.
func (s *Service) SetStatus(ctx context.Context, id IDNumber, st Status) error {
	if _, err := ParseStatus(string(st)); err != nil || st == "" {
		return fmt.Errorf("%w: status %q", ErrInvalidRecord, st)
	}
	if err := s.store.SetStatus(ctx, s.Index(id), st, s.stamp()); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrNotFound
		}
		return fmt.Errorf("registry: set status: %w", err)
	}
	return nil
}

// Count returns the number of records.
func (s *Service) Count(ctx context.Context) (int64, error) { return s.store.Count(ctx) }

// PutAll validates and stores records in batches of batchSize (each batch
// in one transaction), telling reject about every invalid record. It is the
// bulk path for records made in the process (the demo registry); files go
// through Import.
func (s *Service) PutAll(ctx context.Context, records iter.Seq[Record], batchSize int, reject func(Record, error)) (Totals, error) {
	if batchSize <= 0 {
		batchSize = 2000
	}
	var t Totals
	var rows []Row
	pos := map[string]int{}
	at := s.stamp()
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		res, err := s.store.PutRows(ctx, rows, nil)
		if err != nil {
			return fmt.Errorf("registry: put batch: %w", err)
		}
		t.Inserted += int64(res.Inserted)
		t.Updated += int64(res.Updated)
		t.Unchanged += int64(res.Unchanged)
		s.metrics.Imported(string(Inserted), res.Inserted)
		s.metrics.Imported(string(Updated), res.Updated)
		s.metrics.Imported(string(Unchanged), res.Unchanged)
		rows, at = rows[:0], s.stamp()
		clear(pos)
		return nil
	}
	now := s.now()
	for r := range records {
		t.Read++
		err := r.Normalize(now)
		var row Row
		if err == nil {
			row, err = s.seal(ctx, &r, at)
		}
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) {
				return t, err
			}
			t.Rejected++
			s.metrics.Imported("rejected", 1)
			if reject != nil {
				reject(r, err)
			}
			continue
		}
		if i, dup := pos[string(row.Index)]; dup {
			rows[i] = row
			t.Updated++
			continue
		}
		pos[string(row.Index)] = len(rows)
		rows = append(rows, row)
		if len(rows) >= batchSize {
			if err := flush(); err != nil {
				return t, err
			}
		}
	}
	return t, flush()
}
