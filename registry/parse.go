package registry

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Format is the format of an import source.
type Format int

// Import formats.
const (
	CSV Format = iota
	JSONL
)

func (f Format) String() string {
	if f == JSONL {
		return "jsonl"
	}
	return "csv"
}

// FormatOf picks the format from a file name: .csv, or .jsonl/.ndjson.
func FormatOf(name string) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	}
	return 0, fmt.Errorf("registry: cannot tell the format of %q (want .csv, .jsonl or .ndjson)", filepath.Base(name))
}

// Columns are the import columns (CSV header names, JSON keys) in order.
var Columns = [...]string{"id_number", "name", "sex", "birth_date", "ethnicity", "address", "authority",
	"valid_from", "valid_until", "status", "portrait"}

const (
	colID = iota
	colName
	colSex
	colBirth
	colEthnicity
	colAddress
	colAuthority
	colValidFrom
	colValidUntil
	colStatus
	colPortrait
	numCols
)

var required = []int{colID, colName, colAddress, colAuthority, colValidFrom}

// MaxLineBytes bounds one input line (a JSON line with a base64 portrait
// is the largest).
const MaxLineBytes = 4 << 20

// ErrHeader is returned when a CSV header is unusable; nothing is imported.
var ErrHeader = errors.New("registry: bad CSV header")

// rawLine is one input record before validation.
type rawLine struct {
	line   int64 // first line of the record (1-based)
	last   int64 // last line of the record
	end    int64 // byte offset just after the record
	fields [numCols]string
	err    error // the line could not be parsed at all
}

// decoder yields raw records in input order.
type decoder interface {
	// next returns the next record; io.EOF at the end; any other error is
	// fatal (the line's own problems travel in rawLine.err).
	next() (*rawLine, error)
}

// csvDecoder reads CSV after its header.
type csvDecoder struct {
	r        *csv.Reader
	cols     []int // input column -> field
	base     int64 // byte offset the reader started at
	baseLine int64 // lines before the reader's start
}

// readCSVHeader reads the header line and maps its columns.
func readCSVHeader(r io.Reader) (cols []int, headerEnd int64, err error) {
	cr := csv.NewReader(r)
	h, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, 0, fmt.Errorf("%w: empty input", ErrHeader)
		}
		return nil, 0, fmt.Errorf("%w: %v", ErrHeader, err)
	}
	seen := map[int]bool{}
	for i, name := range h {
		name = strings.ToLower(strings.TrimSpace(name))
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff")
		}
		c := -1
		for j, known := range Columns {
			if name == known {
				c = j
			}
		}
		if c < 0 {
			return nil, 0, fmt.Errorf("%w: unknown column %q (known: %s)", ErrHeader, name, strings.Join(Columns[:], ","))
		}
		if seen[c] {
			return nil, 0, fmt.Errorf("%w: column %q twice", ErrHeader, name)
		}
		seen[c] = true
		cols = append(cols, c)
	}
	for _, c := range required {
		if !seen[c] {
			return nil, 0, fmt.Errorf("%w: required column %q missing", ErrHeader, Columns[c])
		}
	}
	return cols, cr.InputOffset(), nil
}

func newCSVDecoder(r io.Reader, cols []int, base, baseLine int64) *csvDecoder {
	cr := csv.NewReader(bufio.NewReaderSize(r, 256<<10))
	cr.FieldsPerRecord = len(cols)
	cr.ReuseRecord = true
	return &csvDecoder{r: cr, cols: cols, base: base, baseLine: baseLine}
}

func (d *csvDecoder) next() (*rawLine, error) {
	rec, err := d.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	raw := &rawLine{end: d.base + d.r.InputOffset()}
	var pe *csv.ParseError
	if err != nil {
		if !errors.As(err, &pe) {
			return nil, err
		}
		raw.line, raw.last = d.baseLine+int64(pe.StartLine), d.baseLine+int64(pe.Line)
		raw.err = pe.Err
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			raw.err = fmt.Errorf("%d fields, the header has %d", len(rec), len(d.cols))
		}
		return raw, nil
	}
	first, _ := d.r.FieldPos(0)
	lastLine, _ := d.r.FieldPos(len(rec) - 1)
	raw.line = d.baseLine + int64(first)
	raw.last = d.baseLine + int64(lastLine) + int64(strings.Count(rec[len(rec)-1], "\n"))
	for i, v := range rec {
		raw.fields[d.cols[i]] = strings.Clone(v)
	}
	return raw, nil
}

// jsonlDecoder reads JSON Lines.
type jsonlDecoder struct {
	r    *bufio.Reader
	off  int64
	line int64
}

func newJSONLDecoder(r io.Reader, base, baseLine int64) *jsonlDecoder {
	return &jsonlDecoder{r: bufio.NewReaderSize(r, 256<<10), off: base, line: baseLine}
}

// jsonRecord is one JSON line; every value is a string.
type jsonRecord struct {
	IDNumber   string `json:"id_number"`
	Name       string `json:"name"`
	Sex        string `json:"sex"`
	BirthDate  string `json:"birth_date"`
	Ethnicity  string `json:"ethnicity"`
	Address    string `json:"address"`
	Authority  string `json:"authority"`
	ValidFrom  string `json:"valid_from"`
	ValidUntil string `json:"valid_until"`
	Status     string `json:"status"`
	Portrait   string `json:"portrait"`
}

func (d *jsonlDecoder) next() (*rawLine, error) {
	for {
		line, tooLong, err := d.readLine()
		if err != nil {
			return nil, err
		}
		d.line++
		raw := &rawLine{line: d.line, last: d.line, end: d.off}
		if tooLong {
			raw.err = fmt.Errorf("longer than %d bytes", MaxLineBytes)
			return raw, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var j jsonRecord
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			raw.err = fmt.Errorf("JSON: %v", strings.TrimPrefix(err.Error(), "json: "))
			return raw, nil
		}
		if dec.More() {
			raw.err = errors.New("JSON: more than one value on the line")
			return raw, nil
		}
		raw.fields = [numCols]string{j.IDNumber, j.Name, j.Sex, j.BirthDate, j.Ethnicity, j.Address,
			j.Authority, j.ValidFrom, j.ValidUntil, j.Status, j.Portrait}
		return raw, nil
	}
}

// readLine returns the next line without its newline, skipping (and
// flagging) a line longer than MaxLineBytes. It returns io.EOF at the end.
func (d *jsonlDecoder) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		d.off += int64(len(chunk))
		if !tooLong {
			if len(buf)+len(chunk) > MaxLineBytes+1 {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(buf, []byte("\n")), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if len(buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			return buf, tooLong, nil
		default:
			return nil, false, err
		}
	}
}

// ParseJSONRecord converts one JSON object with the import keys (all string
// values, portrait only as base64:DATA) into a record, reporting every field
// problem in an *InvalidError. The record is not yet normalized.
func ParseJSONRecord(b []byte) (Record, error) {
	var j jsonRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Record{}, &InvalidError{Fields: []FieldError{{"record", "JSON: " + strings.TrimPrefix(err.Error(), "json: ")}}}
	}
	if dec.More() {
		return Record{}, &InvalidError{Fields: []FieldError{{"record", "JSON: more than one value"}}}
	}
	fields := [numCols]string{j.IDNumber, j.Name, j.Sex, j.BirthDate, j.Ethnicity, j.Address,
		j.Authority, j.ValidFrom, j.ValidUntil, j.Status, j.Portrait}
	return recordFromFields(&fields, nil)
}
