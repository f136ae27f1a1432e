package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/problem"
)

// Decision is one enrollment decision: "approved" or the refusal reason,
// and how long deciding took.
type Decision struct {
	Outcome string
	Latency time.Duration
}

// Decisions lists recent enrollment decisions, newest first.
type Decisions interface {
	RecentDecisions(ctx context.Context, since time.Time, limit int) ([]Decision, error)
}

// maxStatsDecisions bounds the decisions one statistics answer reads.
const maxStatsDecisions = 100_000

// Stats is the console's enrollment statistics:
//
//	GET /admin/api/enrollments/stats?days=7   (admin bearer token)
//	{"since", "days", "total", "approved", "refused_by_reason": {reason: n},
//	 "latency_ms": {"p50", "p90", "p99"}, "sampled": bool}
//
// Percentiles are nearest-rank over the decisions of the window (at most
// the latest 100,000: "sampled" says when the window held more).
type Stats struct {
	Decisions Decisions
	Now       func() time.Time
}

// Mount attaches the endpoint behind the admin token.
func (s *Stats) Mount(m Mux, token string) { s.MountGate(m, admin.TokenGate(token)) }

// MountGate attaches the endpoint to m behind g.
func (s *Stats) MountGate(m Mux, g admin.Gate) {
	const p = "GET /admin/api/enrollments/stats"
	m.Handle(p, g.Wrap(p, http.HandlerFunc(s.serve)))
}

func (s *Stats) serve(w http.ResponseWriter, r *http.Request) {
	days := 7
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 366 {
			problem.Write(w, r, problem.BadRequest("days must be 1..366"))
			return
		}
		days = n
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	since := now().Add(-time.Duration(days) * 24 * time.Hour)
	ds, err := s.Decisions.RecentDecisions(r.Context(), since, maxStatsDecisions+1)
	if err != nil {
		problem.Write(w, r, problem.Internal())
		return
	}
	sampled := len(ds) > maxStatsDecisions
	if sampled {
		ds = ds[:maxStatsDecisions]
	}
	writeJSON(w, summarize(ds, since, days, sampled))
}

func summarize(ds []Decision, since time.Time, days int, sampled bool) map[string]any {
	refused := map[string]int{}
	approved := 0
	lat := make([]float64, 0, len(ds))
	for _, d := range ds {
		if d.Outcome == "approved" {
			approved++
		} else {
			refused[d.Outcome]++
		}
		lat = append(lat, float64(d.Latency)/float64(time.Millisecond))
	}
	slices.Sort(lat)
	out := map[string]any{
		"since": since.UTC().Format(time.RFC3339), "days": days, "total": len(ds), "approved": approved,
		"refused_by_reason": refused, "sampled": sampled,
	}
	if len(lat) > 0 {
		out["latency_ms"] = map[string]float64{"p50": rank(lat, 0.50), "p90": rank(lat, 0.90), "p99": rank(lat, 0.99)}
	}
	return out
}

// rank is the nearest-rank percentile of sorted values.
func rank(sorted []float64, p float64) float64 {
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
