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

// vocabularies holds the languages [Sphinx] verifies. English uses the CMU
// dictionary's words. Mandarin has no acoustic model packaged anywhere
// reachable, so its digits are spelt in the US English phones, with the
// variants that espeak-ng's Mandarin voice and a Mandarin speaker's
// English-phone approximations need: 零 líng, 一 yī (and 幺 yāo, as it is
// said in numbers), 二 èr, 三 sān, 四 sì, 五 wǔ, 六 liù, 七 qī, 八 bā, 九 jiǔ.
var vocabularies = map[Lang]vocabulary{
	English: {
		digits: [10][]string{
			{"zero", "oh"}, {"one"}, {"two"}, {"three"}, {"four"},
			{"five"}, {"six"}, {"seven"}, {"eight"}, {"nine"},
		},
	},
	Mandarin: {
		digits: [10][]string{
			{"zh_ling", "zh_ling_b"},
			{"zh_yi", "zh_yi_b", "zh_yao"},
			{"zh_er", "zh_er_b"},
			{"zh_san", "zh_san_b"},
			{"zh_si", "zh_si_b", "zh_si_c"},
			{"zh_wu", "zh_wu_b"},
			{"zh_liu", "zh_liu_b", "zh_liu_c"},
			{"zh_qi", "zh_qi_b"},
			{"zh_ba", "zh_ba_b"},
			{"zh_jiu", "zh_jiu_b", "zh_jiu_c"},
		},
		prons: [][2]string{
			{"zh_ling", "L IH NG"}, {"zh_ling_b", "L IY NG"},
			{"zh_yi", "IY"}, {"zh_yi_b", "Y IY"}, {"zh_yao", "Y AW"},
			{"zh_er", "ER"}, {"zh_er_b", "AA R"},
			{"zh_san", "S AA N"}, {"zh_san_b", "S AE N"},
			{"zh_si", "S IH"}, {"zh_si_b", "S AH"}, {"zh_si_c", "S Z"},
			{"zh_wu", "W UW"}, {"zh_wu_b", "UW"},
			{"zh_liu", "L IY OW"}, {"zh_liu_b", "L Y OW"}, {"zh_liu_c", "L IY UW"},
			{"zh_qi", "CH IY"}, {"zh_qi_b", "CH Y IY"},
			{"zh_ba", "B AA"}, {"zh_ba_b", "P AA"},
			{"zh_jiu", "JH IY OW"}, {"zh_jiu_b", "JH Y OW"}, {"zh_jiu_c", "JH IY UW"},
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
