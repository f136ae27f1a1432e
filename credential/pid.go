package credential

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Sex is a sex code of ISO/IEC 5218, the encoding both the EU PID rulebook
// and ISO/IEC 18013-5 use.
type Sex uint8

// ISO/IEC 5218 codes.
const (
	SexUnknown       Sex = 0
	SexMale          Sex = 1
	SexFemale        Sex = 2
	SexNotApplicable Sex = 9
)

// Date is a calendar date ("YYYY-MM-DD", RFC 3339 full-date). It is a string
// so encodings carry it unchanged (SD-JWT: JSON string, mdoc: tag 1004).
type Date string

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date { return Date(t.Format(time.DateOnly)) }

// Time returns the date as midnight UTC; ok is false if d is not a valid date.
func (d Date) Time() (t time.Time, ok bool) {
	t, err := time.Parse(time.DateOnly, string(d))
	return t, err == nil
}

// AgeThresholds are the ages for which a card carries an age_over_NN predicate.
var AgeThresholds = []int{14, 16, 18, 21, 60}

// PID is the person identification data a card carries: the registry
// attributes plus the document's own. The wiring code fills it from a
// registry record; [NewPID] checks and normalises it.
type PID struct {
	// FamilyName and GivenName, in the script of the registry.
	FamilyName, GivenName string
	// NameOriginal is the full name as written on the physical card in its
	// original script (e.g. "张三"); empty when the same as family+given.
	NameOriginal string
	Sex          Sex
	BirthDate    Date
	// Nationality is a list of ISO 3166-1 alpha-2 codes.
	Nationality []string
	// Ethnicity is the registry's ethnic group (China resident ID only).
	Ethnicity string
	// Address is the resident address as one formatted string.
	Address string
	// IDNumber is the personal administrative number (the 18-character
	// resident ID number in the China profile).
	IDNumber string
	// Authority is the issuing authority; Country its ISO 3166-1 alpha-2 code.
	Authority, Country string
	// IssuedOn and ExpiresOn are the document's administrative validity.
	IssuedOn, ExpiresOn Date
	// Portrait is the registry portrait (JPEG).
	Portrait []byte
	// Thumbnail is a small grayscale JPEG of the portrait for the offline QR
	// presentation (see [Thumbnail]); made by the issuer, so it is issuer-signed.
	Thumbnail []byte
}

// ErrInvalidPID is returned by [NewPID] for incomplete or inconsistent data.
var ErrInvalidPID = errors.New("credential: invalid PID")

// NewPID checks p (required fields, dates, JPEG magic) and returns it with
// whitespace trimmed and a default nationality/country of the issuing
// country.
func NewPID(p PID) (PID, error) {
	p.FamilyName = strings.TrimSpace(p.FamilyName)
	p.GivenName = strings.TrimSpace(p.GivenName)
	p.NameOriginal = strings.TrimSpace(p.NameOriginal)
	p.Address = strings.TrimSpace(p.Address)
	bad := func(f string, a ...any) (PID, error) {
		return PID{}, fmt.Errorf("%w: %s", ErrInvalidPID, fmt.Sprintf(f, a...))
	}
	if p.FamilyName == "" && p.GivenName == "" && p.NameOriginal == "" {
		return bad("no name")
	}
	for _, s := range []string{p.FamilyName, p.GivenName, p.NameOriginal, p.Address, p.Authority, p.IDNumber, p.Ethnicity} {
		if !utf8.ValidString(s) || len(s) > 512 {
			return bad("text field not valid UTF-8 or too long")
		}
	}
	if p.IDNumber == "" {
		return bad("no ID number")
	}
	if _, ok := p.BirthDate.Time(); !ok {
		return bad("birth date %q", p.BirthDate)
	}
	for _, d := range []Date{p.IssuedOn, p.ExpiresOn} {
		if _, ok := d.Time(); d != "" && !ok {
			return bad("date %q", d)
		}
	}
	if p.Country == "" {
		p.Country = "CN"
	}
	if len(p.Nationality) == 0 {
		p.Nationality = []string{p.Country}
	}
	for _, img := range [][]byte{p.Portrait, p.Thumbnail} {
		if len(img) > 0 && (len(img) < 3 || img[0] != 0xFF || img[1] != 0xD8 || img[2] != 0xFF) {
			return bad("portrait is not a JPEG")
		}
	}
	return p, nil
}

// AgeAt returns the holder's age in whole years on day at.
func (p PID) AgeAt(at time.Time) int {
	b, ok := p.BirthDate.Time()
	if !ok {
		return -1
	}
	y := at.Year() - b.Year()
	if at.Month() < b.Month() || (at.Month() == b.Month() && at.Day() < b.Day()) {
		y--
	}
	return y
}
