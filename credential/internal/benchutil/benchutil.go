// Package benchutil measures a full verification against its raw
// signature-verification limit in the same loop, so that the load of a
// shared machine affects both alike.
package benchutil

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

// Ratio runs full and raw alternately in b.Loop and reports the ratio of
// their mean wall times ("x-raw"), of their median wall times
// ("x-raw-median", less sensitive to preemption on a loaded machine), and,
// on Linux, of the CPU time the benchmark's OS thread spent in each
// ("x-raw-cpu": insensitive to other processes; measured over batches of
// 32 operations since the kernel's thread clock is coarse). Garbage
// collection done by background workers on other threads is not in
// x-raw-cpu; run with -cpu 1 to keep most of it on the measured thread.
func Ratio(b *testing.B, full, raw func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var fs, rs []time.Duration
	var ft, rt, fc, rc time.Duration
	cpuOK := true
	i := 0
	var c0, c1 time.Duration
	for b.Loop() {
		if i%32 == 0 {
			c0, _ = threadCPU()
		}
		t1 := time.Now()
		full()
		t2 := time.Now()
		fs = append(fs, t2.Sub(t1))
		ft += t2.Sub(t1)
		i++
		if i%32 == 0 {
			var ok bool
			c1, ok = threadCPU()
			cpuOK = cpuOK && ok
			fc += c1 - c0
			// The same number of raw operations, timed as one batch.
			for range 32 {
				t3 := time.Now()
				raw()
				d := time.Since(t3)
				rs = append(rs, d)
				rt += d
			}
			c2, _ := threadCPU()
			rc += c2 - c1
		}
	}
	if len(rs) == 0 {
		b.Skip("too few iterations for a ratio (run with a longer -benchtime)")
	}
	fs = fs[:len(rs)] // the tail after the last batch has no raw partner
	ft = 0
	for _, d := range fs {
		ft += d
	}
	n := float64(len(rs))
	b.ReportMetric(float64(ft)/float64(rt), "x-raw")
	if cpuOK && rc > 0 {
		b.ReportMetric(float64(fc)/float64(rc), "x-raw-cpu")
	}
	slices.Sort(fs)
	slices.Sort(rs)
	b.ReportMetric(float64(fs[len(fs)/2])/float64(rs[len(rs)/2]), "x-raw-median")
	b.ReportMetric(float64(ft.Nanoseconds())/n, "full-ns/op")
	b.ReportMetric(float64(rt.Nanoseconds())/n, "raw-ns/op")
}
