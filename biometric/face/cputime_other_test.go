//go:build !unix

package face

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
