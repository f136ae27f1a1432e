package registry

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// IDNumber is a validated 18-character resident identity number (GB
// 11643-1999) in canonical form: 17 digits and a check character 0-9 or X
// (upper case). The zero value is not a valid number.
type IDNumber string

// Errors of ParseIDNumber; each comes wrapped with the specific reason.
var (
	// ErrInvalidID is the sentinel every ID-number error wraps.
	ErrInvalidID = errors.New("invalid ID number")
	// ErrIDChecksum means the 18th character is not the MOD 11-2 check
	// character of the first 17 digits (a typing error, most likely).
	ErrIDChecksum = fmt.Errorf("%w: check character", ErrInvalidID)
	// ErrIDBirthDate means the date of birth (digits 7-14) is not a real
	// past date.
	ErrIDBirthDate = fmt.Errorf("%w: birth date", ErrInvalidID)
	// ErrIDAddress means the address code (digits 1-6) names no province.
	ErrIDAddress = fmt.Errorf("%w: address code", ErrInvalidID)
	// ErrIDFormat means the number does not have 18 characters of the right
	// kinds.
	ErrIDFormat = fmt.Errorf("%w: format", ErrInvalidID)
)

// provinces are the first two digits of GB/T 2260 address codes in use
// (including 71 Taiwan, 81 Hong Kong, 82 Macao and 83 for residence permits
// of Taiwan residents).
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// earliestBirth bounds birth dates from below; nobody registered was born
// before it.
var earliestBirth = time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC)

// weights are the ISO 7064 MOD 11-2 weights 2^(18-i) mod 11 for positions 1..17.
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// checkChars maps the weighted sum mod 11 to the check character.
const checkChars = "10X98765432"

// CheckChar returns the ISO 7064 MOD 11-2 check character of 17 digits.
// It panics if first17 is not 17 ASCII digits (callers validate first).
func CheckChar(first17 string) byte {
	if len(first17) != 17 {
		panic("registry: CheckChar needs 17 digits")
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			panic("registry: CheckChar needs 17 digits")
		}
		sum += int(c-'0') * weights[i]
	}
	return checkChars[sum%11]
}

// ParseIDNumber validates s as an 18-character resident identity number and
// returns it in canonical form. Surrounding spaces are trimmed and a lower
// case x is accepted. now bounds birth dates from above (pass time.Now()).
// Errors wrap ErrIDFormat, ErrIDAddress, ErrIDBirthDate or ErrIDChecksum and
// say exactly what is wrong.
func ParseIDNumber(s string, now time.Time) (IDNumber, error) {
	s = strings.TrimSpace(s)
	if n := len(s); n != 18 {
		if n == 15 && allDigits(s) {
			return "", fmt.Errorf("%w: 15-digit numbers (issued before 1999) must be converted to 18 digits", ErrIDFormat)
		}
		return "", fmt.Errorf("%w: %d characters, want 18", ErrIDFormat, n)
	}
	for i := 0; i < 17; i++ {
		if c := s[i]; c < '0' || c > '9' {
			return "", fmt.Errorf("%w: character %d is not a digit", ErrIDFormat, i+1)
		}
	}
	last := s[17]
	if last == 'x' {
		last = 'X'
	}
	if (last < '0' || last > '9') && last != 'X' {
		return "", fmt.Errorf("%w: character 18 must be a digit or X", ErrIDFormat)
	}
	if !provinces[s[:2]] {
		return "", fmt.Errorf("%w: %s is not a province code", ErrIDAddress, s[:2])
	}
	if s[2:6] == "0000" {
		return "", fmt.Errorf("%w: %s names a province, not a county", ErrIDAddress, s[:6])
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil {
		return "", fmt.Errorf("%w: %s is not a calendar date", ErrIDBirthDate, s[6:14])
	}
	if birth.Before(earliestBirth) {
		return "", fmt.Errorf("%w: %s is before %d", ErrIDBirthDate, s[6:14], earliestBirth.Year())
	}
	if birth.After(now) {
		return "", fmt.Errorf("%w: %s is in the future", ErrIDBirthDate, s[6:14])
	}
	if s[14:17] == "000" {
		return "", fmt.Errorf("%w: sequence number 000 is never issued", ErrIDFormat)
	}
	if want := CheckChar(s[:17]); last != want {
		return "", fmt.Errorf("%w: is %c, the digits give %c", ErrIDChecksum, last, want)
	}
	return IDNumber(s[:17] + string(last)), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String returns the number.
func (n IDNumber) String() string { return string(n) }

// Masked returns the number with everything but the address code and the
// check character hidden ("440115***********X"), for screens where the full
// number is not needed. Logs carry no ID number, masked or not.
func (n IDNumber) Masked() string {
	if len(n) != 18 {
		return ""
	}
	return string(n[:6]) + "***********" + string(n[17:])
}

// AddressCode returns the 6-digit GB/T 2260 address code of the place of
// first registration.
func (n IDNumber) AddressCode() string { return string(n[:6]) }

// BirthDate returns the date of birth encoded in the number (UTC midnight).
func (n IDNumber) BirthDate() time.Time {
	t, _ := time.Parse("20060102", string(n[6:14]))
	return t
}

// Sex returns the sex encoded in the number: an odd sequence number is male,
// an even one female.
func (n IDNumber) Sex() Sex {
	if (n[16]-'0')%2 == 1 {
		return Male
	}
	return Female
}

// MakeIDNumber builds a valid number from an address code, a birth date and a
// sequence number 1..999 (odd for men, even for women), computing the check
// character. It is for generators and tests.
func MakeIDNumber(address string, birth time.Time, seq int) (IDNumber, error) {
	if len(address) != 6 || !allDigits(address) || seq < 1 || seq > 999 {
		return "", fmt.Errorf("%w: bad parts %q/%d", ErrIDFormat, address, seq)
	}
	first := fmt.Sprintf("%s%s%03d", address, birth.Format("20060102"), seq)
	if len(first) != 17 {
		return "", fmt.Errorf("%w: birth year out of range", ErrIDBirthDate)
	}
	return IDNumber(first + string(CheckChar(first))), nil
}
