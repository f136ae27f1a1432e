package proofing

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// NormalizeName returns the comparison form of a person's name: Unicode
// NFKC (full-width letters and compatibility forms folded), case folded,
// every kind of white space removed, and the middle-dot separators used in
// transcribed names (· ・ • ‧ ･ and the full stop) unified to U+00B7.
//
// White space is removed rather than collapsed because registry names in
// Han script carry none ("张三" and "张 三" are the same name), and a Latin
// name typed with or without a space between parts still names one person.
func NormalizeName(s string) string {
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.IsSpace(r), unicode.Is(unicode.Cf, r):
			continue
		case r == '·' || r == '・' || r == '•' || r == '‧' || r == '･' || r == '.' || r == '\u2027' || r == '\u30FB':
			b.WriteRune('·')
		default:
			b.WriteRune(r)
		}
	}
	return norm.NFKC.String(b.String())
}

// NameMatches reports whether a typed name is the registry's name after
// normalisation. An empty name never matches.
func NameMatches(typed, registry string) bool {
	a, b := NormalizeName(typed), NormalizeName(registry)
	return a != "" && a == b
}
