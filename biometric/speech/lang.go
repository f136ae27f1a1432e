package speech

import (
	"fmt"
	"strings"
)

// vocabulary is how the digits are said in one language: for each digit
// the recogniser's dictionary words that say it, and the pronunciations
// (over the acoustic model's phone set) of the words that the model's own
// dictionary lacks.
type vocabulary struct {
	digits [10][]string
	prons  [][2]string // word, phones
}

// vocabularies holds the languages PocketSphinx verifies: English, with
// the CMU dictionary's words. (Mandarin is verified by the digit model,
// mandarin.go: spelling its digits in the US English phones accepted about
// a third of the readings; docs/biometrics.md.)
var vocabularies = map[Lang]vocabulary{
	English: {
		digits: [10][]string{
			{"zero", "oh"}, {"one"}, {"two"}, {"three"}, {"four"},
			{"five"}, {"six"}, {"seven"}, {"eight"}, {"nine"},
		},
	},
}

// wordDigit maps every dictionary word of every vocabulary to its digit.
var wordDigit = func() map[string]byte {
	m := map[string]byte{}
	for _, v := range vocabularies {
		for d, ws := range v.digits {
			for _, w := range ws {
				m[w] = byte('0' + d)
			}
		}
	}
	return m
}()

// digitOf returns the digit a decoded word says ("one(2)" is "one").
func digitOf(word string) (byte, bool) {
	if i := strings.IndexByte(word, '('); i > 0 {
		word = word[:i]
	}
	d, ok := wordDigit[word]
	return d, ok
}

// alternatives is the JSGF rule body for digit d in v.
func (v vocabulary) alternatives(d int) string {
	return strings.Join(v.digits[d], " | ")
}

// forcedGrammar is the JSGF grammar with exactly one path: the challenge
// digits in order (each with its pronunciation variants; silence and
// fillers between them are added by the decoder).
func forcedGrammar(v vocabulary, challenge string) string {
	var b strings.Builder
	b.WriteString("#JSGF V1.0;\ngrammar challenge;\npublic <c> =")
	for i := range len(challenge) {
		fmt.Fprintf(&b, " ( %s )", v.alternatives(int(challenge[i]-'0')))
	}
	b.WriteString(";\n")
	return b.String()
}

// freeGrammar is the JSGF grammar of any non-empty string of digits: the
// competing hypothesis "some other digits" (another challenge, three or
// five digits).
func freeGrammar(v vocabulary) string {
	var alts []string
	for d := range 10 {
		alts = append(alts, v.alternatives(d))
	}
	return "#JSGF V1.0;\ngrammar digitloop;\npublic <s> = <d>+;\n<d> = " + strings.Join(alts, " | ") + ";\n"
}
