package registry

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // portrait formats
	_ "image/png"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sex is the sex recorded in the registry (and encoded in the ID number).
type Sex string

// The two sexes of GB 11643-1999.
const (
	Male   Sex = "male"
	Female Sex = "female"
)

// ParseSex accepts male/female, m/f and 男/女 (any case).
func ParseSex(s string) (Sex, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "male", "m", "男":
		return Male, nil
	case "female", "f", "女":
		return Female, nil
	}
	return "", fmt.Errorf("%q is not male, female, m, f, 男 or 女", s)
}

// Status is the state of a registry record.
type Status string

// Record statuses. Only a valid record can be enrolled; cancelling a record
// or recording a death revokes the cards issued on it.
const (
	StatusValid     Status = "valid"
	StatusCancelled Status = "cancelled"
	StatusDeceased  Status = "deceased"
)

// ParseStatus accepts valid, cancelled (or canceled) and deceased; empty means
// valid.
func ParseStatus(s string) (Status, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "valid":
		return StatusValid, nil
	case "cancelled", "canceled":
		return StatusCancelled, nil
	case "deceased":
		return StatusDeceased, nil
	}
	return "", fmt.Errorf("%q is not valid, cancelled or deceased", s)
}

// Record is one resident in the population registry.
type Record struct {
	IDNumber  IDNumber
	Name      string
	Sex       Sex
	BirthDate time.Time // UTC midnight
	// Ethnicity is optional (民族, e.g. 汉).
	Ethnicity string
	Address   string
	// Authority is the issuing authority (签发机关).
	Authority string
	ValidFrom time.Time
	// ValidUntil is zero for a long-term (长期) card.
	ValidUntil time.Time
	Status     Status
	// Portrait is a JPEG or PNG image, or nil.
	Portrait     []byte
	PortraitType string // "image/jpeg" or "image/png"
	// FaceTemplate is the face descriptor computed from Portrait by the
	// Templater, or nil.
	FaceTemplate []byte
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Limits on record fields.
const (
	MaxNameRunes      = 64
	MaxAddressRunes   = 200
	MaxAuthorityRunes = 100
	MaxEthnicityRunes = 32
	// MaxPortraitBytes bounds a portrait image.
	MaxPortraitBytes = 2 << 20
	// MaxPortraitSide bounds a portrait's width and height in pixels.
	MaxPortraitSide = 6000
)

// ErrInvalidRecord is wrapped by every record validation error.
var ErrInvalidRecord = errors.New("invalid record")

// FieldError is one problem with one field of a record.
type FieldError struct {
	Field  string // the import column name, e.g. "birth_date"
	Reason string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

// InvalidError lists every problem of a record. It wraps ErrInvalidRecord
// (and ErrInvalidID when the ID number is the problem).
type InvalidError struct {
	Fields []FieldError
	id     error
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap lets errors.Is find ErrInvalidRecord and the ID-number sentinel.
func (e *InvalidError) Unwrap() []error {
	if e.id != nil {
		return []error{ErrInvalidRecord, e.id}
	}
	return []error{ErrInvalidRecord}
}

func (e *InvalidError) add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{field, fmt.Sprintf(format, args...)})
}

// Normalize fills what the ID number implies (sex and birth date when
// missing, status valid when empty), trims text fields, detects the portrait
// type, and validates the result: every problem is reported together in an
// *InvalidError. now bounds dates from above.
func (r *Record) Normalize(now time.Time) error {
	e := &InvalidError{}
	id, err := ParseIDNumber(string(r.IDNumber), now)
	if err != nil {
		e.add("id_number", "%s", strings.TrimPrefix(err.Error(), ErrInvalidID.Error()+": "))
		e.id = err
	} else {
		r.IDNumber = id
		if r.Sex == "" {
			r.Sex = id.Sex()
		}
		if r.BirthDate.IsZero() {
			r.BirthDate = id.BirthDate()
		}
	}
	r.Name = strings.TrimSpace(r.Name)
	r.Ethnicity = strings.TrimSpace(r.Ethnicity)
	r.Address = strings.TrimSpace(r.Address)
	r.Authority = strings.TrimSpace(r.Authority)
	checkText(e, "name", r.Name, MaxNameRunes, true)
	checkText(e, "ethnicity", r.Ethnicity, MaxEthnicityRunes, false)
	checkText(e, "address", r.Address, MaxAddressRunes, true)
	checkText(e, "authority", r.Authority, MaxAuthorityRunes, true)
	switch r.Sex {
	case "":
		if id != "" {
			e.add("sex", "missing")
		}
	case Male, Female:
		if id != "" && r.Sex != id.Sex() {
			e.add("sex", "%s, but the ID number's sequence digit %c says %s", r.Sex, id[16], id.Sex())
		}
	default:
		e.add("sex", "%q is not male or female", string(r.Sex))
	}
	if id != "" && !r.BirthDate.IsZero() && !sameDay(r.BirthDate, id.BirthDate()) {
		e.add("birth_date", "%s, but the ID number says %s", r.BirthDate.Format(time.DateOnly), id.BirthDate().Format(time.DateOnly))
	}
	switch {
	case r.ValidFrom.IsZero():
		e.add("valid_from", "missing")
	case r.ValidFrom.After(now):
		e.add("valid_from", "%s is in the future", r.ValidFrom.Format(time.DateOnly))
	case !r.BirthDate.IsZero() && r.ValidFrom.Before(r.BirthDate):
		e.add("valid_from", "%s is before the birth date", r.ValidFrom.Format(time.DateOnly))
	}
	if !r.ValidUntil.IsZero() && !r.ValidFrom.IsZero() && !r.ValidUntil.After(r.ValidFrom) {
		e.add("valid_until", "%s is not after valid_from", r.ValidUntil.Format(time.DateOnly))
	}
	if r.Status == "" {
		r.Status = StatusValid
	}
	if _, err := ParseStatus(string(r.Status)); err != nil || strings.ToLower(string(r.Status)) != string(r.Status) {
		e.add("status", "%q is not valid, cancelled or deceased", string(r.Status))
	}
	if r.Portrait != nil {
		typ, err := PortraitType(r.Portrait)
		if err != nil {
			e.add("portrait", "%v", err)
		} else {
			r.PortraitType = typ
		}
	}
	if len(e.Fields) > 0 {
		return e
	}
	return nil
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

func checkText(e *InvalidError, field, s string, max int, required bool) {
	if s == "" {
		if required {
			e.add(field, "missing")
		}
		return
	}
	if !utf8.ValidString(s) {
		e.add(field, "not valid UTF-8")
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		e.add(field, "%d characters, at most %d", n, max)
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == unicode.ReplacementChar || unicode.Is(unicode.Cf, c) {
			e.add(field, "contains control or invisible character U+%04X", c)
			return
		}
	}
}

// PortraitType checks that b is a JPEG or PNG image of sensible size and
// returns its media type.
func PortraitType(b []byte) (string, error) {
	if len(b) > MaxPortraitBytes {
		return "", fmt.Errorf("%d bytes, at most %d", len(b), MaxPortraitBytes)
	}
	var typ string
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		typ = "image/jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		typ = "image/png"
	default:
		return "", errors.New("not a JPEG or PNG image")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("unreadable %s: %v", typ, err)
	}
	if cfg.Width < 16 || cfg.Height < 16 || cfg.Width > MaxPortraitSide || cfg.Height > MaxPortraitSide {
		return "", fmt.Errorf("%dx%d pixels, want 16..%d per side", cfg.Width, cfg.Height, MaxPortraitSide)
	}
	return typ, nil
}

// ParseDate accepts YYYY-MM-DD and YYYYMMDD.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.DateOnly, "20060102"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
}

// ParseValidUntil is ParseDate, with empty, 长期 and long-term meaning a
// long-term card (the zero time).
func ParseValidUntil(s string) (time.Time, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "长期", "long-term", "longterm":
		return time.Time{}, nil
	}
	return ParseDate(s)
}
