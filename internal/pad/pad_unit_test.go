package pad

import (
	"math"
	"strings"
	"testing"
)

func TestUpperBound95(t *testing.T) {
	for _, tc := range []struct {
		k, n int
		want float64
	}{
		{0, 20, 0.1391},  // 1 - 0.05^(1/20)
		{0, 100, 0.0295}, // the "rule of three" gives 0.03
		{1, 20, 0.2161},
		{5, 20, 0.4556},
		{20, 20, 1},
		{0, 0, 1},
	} {
		if got := UpperBound95(tc.k, tc.n); math.Abs(got-tc.want) > 5e-4 {
			t.Errorf("UpperBound95(%d, %d) = %.4f, want %.4f", tc.k, tc.n, got, tc.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var a, b, g Tally
	a.Species, b.Species, g.Species = "still-photo", "replay", "genuine"
	for i := 0; i < 20; i++ {
		a.Add(false, "av-sync")
		b.Add(i == 0, map[bool]string{true: "approved", false: "light"}[i == 0])
		g.Add(i != 3, map[bool]string{true: "approved", false: "speech-mismatch"}[i != 3])
	}
	var sb strings.Builder
	if err := WriteTable(&sb, []Tally{a, b}, g); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{
		"| attack: still-photo | 0 / 20 accepted | APCER 0.0% | 13.9% | av-sync 20 |",
		"| attack: replay | 1 / 20 accepted | APCER 5.0% | 21.6% | light 19, approved 1 |",
		"| bona fide (genuine) | 1 / 20 refused | BPCER 5.0% | 21.6% | approved 19, speech-mismatch 1 |",
		"Worst species (the system's APCER, the maximum over species): replay, 5.0% (1 / 20).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	sb.Reset()
	WriteTable(&sb, []Tally{a}, g)
	if !strings.Contains(sb.String(), "APCER (the maximum over species): 0.0%, no attack of any species accepted.") {
		t.Errorf("no attack accepted, but:\n%s", sb.String())
	}
}
