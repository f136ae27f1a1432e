//go:build unix

package face

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used so far.
// Benchmarks report it per op beside the wall time, because the shared
// machines they run on give a process a varying share of a core.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
