// Package pad holds the enrollment's presentation-attack suite: synthetic
// attack and genuine sessions (package internal/synth) submitted through
// the enrollment HTTP API to a proofing.Service with the real face and
// speech engines, and the report in ISO/IEC 30107-3 terms: the attack
// presentation classification error rate (APCER) per attack species and
// the bona fide presentation classification error rate (BPCER), each with
// its counts and a 95% upper confidence bound.
//
// The suite is in pad_test.go: `go test ./internal/pad` runs a few
// attempts per species; scripts/bench.d/enrollment.sh runs the full suite
// (SHENFEN_PAD_ATTEMPTS, SHENFEN_PAD_REPORT) and writes the table into
// docs/biometrics.md.
package pad

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Tally counts the outcomes of one species' presentations.
type Tally struct {
	Species string
	// Attempts presentations were decided; Accepted of them were approved
	// (an attack approved is an error; a genuine session refused is one).
	Attempts, Accepted int
	// Reasons counts the decisions' reasons (the first failed check, or
	// "approved").
	Reasons map[string]int
}

// Add counts one decision.
func (t *Tally) Add(approved bool, reason string) {
	if t.Reasons == nil {
		t.Reasons = map[string]int{}
	}
	t.Attempts++
	if approved {
		t.Accepted++
	}
	t.Reasons[reason]++
}

// Errors is the number of misclassified presentations: accepted attacks,
// or refused genuine sessions when bonaFide.
func (t Tally) Errors(bonaFide bool) int {
	if bonaFide {
		return t.Attempts - t.Accepted
	}
	return t.Accepted
}

// ReasonList is the reasons and their counts, most frequent first.
func (t Tally) ReasonList() string {
	keys := make([]string, 0, len(t.Reasons))
	for k := range t.Reasons {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if t.Reasons[a] != t.Reasons[b] {
			return t.Reasons[b] - t.Reasons[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, t.Reasons[k]))
	}
	return strings.Join(parts, ", ")
}

// UpperBound95 is the one-sided 95% upper confidence bound of a rate
// observed as k errors in n trials (Clopper-Pearson, exact): the p with
// P(X <= k | n, p) = 0.05; 1 when k = n.
func UpperBound95(k, n int) float64 {
	if n <= 0 || k >= n {
		return 1
	}
	lo, hi := float64(k)/float64(n), 1.0
	for range 100 {
		mid := (lo + hi) / 2
		if binomCDF(k, n, mid) > 0.05 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// binomCDF is P(X <= k) for X ~ Binomial(n, p).
func binomCDF(k, n int, p float64) float64 {
	if p <= 0 {
		return 1
	}
	if p >= 1 {
		if k >= n {
			return 1
		}
		return 0
	}
	var s float64
	for i := 0; i <= k; i++ {
		lg, _ := math.Lgamma(float64(n + 1))
		li, _ := math.Lgamma(float64(i + 1))
		lni, _ := math.Lgamma(float64(n - i + 1))
		s += math.Exp(lg - li - lni + float64(i)*math.Log(p) + float64(n-i)*math.Log1p(-p))
	}
	return s
}

// WriteTable writes the results as a Markdown table: one row per attack
// species (APCER), then the genuine sessions (BPCER), then the worst
// attack species (the APCER of the system in ISO/IEC 30107-3: the maximum
// over species).
func WriteTable(w io.Writer, attacks []Tally, genuine Tally) error {
	pct := func(k, n int) string {
		if n == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(k)/float64(n))
	}
	var b strings.Builder
	b.WriteString("| presentations | errors / attempts | rate | 95% upper bound | decisions |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	worst, worstK, worstN := "", -1, 0
	for _, t := range attacks {
		k := t.Errors(false)
		fmt.Fprintf(&b, "| attack: %s | %d / %d accepted | APCER %s | %.1f%% | %s |\n", t.Species, k, t.Attempts,
			pct(k, t.Attempts), 100*UpperBound95(k, t.Attempts), t.ReasonList())
		if t.Attempts > 0 && (worstK < 0 || float64(k)/float64(t.Attempts) > float64(worstK)/float64(max(1, worstN))) {
			worst, worstK, worstN = t.Species, k, t.Attempts
		}
	}
	k := genuine.Errors(true)
	fmt.Fprintf(&b, "| bona fide (genuine) | %d / %d refused | BPCER %s | %.1f%% | %s |\n", k, genuine.Attempts,
		pct(k, genuine.Attempts), 100*UpperBound95(k, genuine.Attempts), genuine.ReasonList())
	switch {
	case worst != "" && worstK > 0:
		fmt.Fprintf(&b, "\nWorst species (the system's APCER, the maximum over species): %s, %s (%d / %d).\n",
			worst, pct(worstK, worstN), worstK, worstN)
	case worst != "":
		b.WriteString("\nThe system's APCER (the maximum over species): 0.0%, no attack of any species accepted.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
