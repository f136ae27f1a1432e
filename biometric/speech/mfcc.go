package speech

import (
	"math"
	"math/cmplx"
	"sync"
)

// The features of the digit models ([digitModel]): mel-frequency cepstra
// of 25 ms frames every 10 ms at 16 kHz, over the telephone band only
// (featLowHz to featHighHz), so that a band-limited recording and a full
// one look alike; c1..c12 and the log energy of the band, their deltas and
// accelerations (39 values), each normalised to mean 0 and variance 1 over
// the utterance, which removes the microphone's and the room's linear
// colouring and the level.
const (
	featFrame  = 400 // samples, 25 ms
	featHop    = 160 // samples, 10 ms
	featFFT    = 512
	featMels   = 24
	featCeps   = 13 // c1..c12 and the band's log energy
	featDim    = 3 * featCeps
	featLowHz  = 250
	featHighHz = 3600
)

var (
	melOnce   sync.Once
	melBank   [featMels][]float64 // weights from bin melStart[i]
	melStart  [featMels]int
	hamming   [featFrame]float64
	dctMatrix [featCeps - 1][featMels]float64
)

func mel(f float64) float64    { return 2595 * math.Log10(1+f/700) }
func melInv(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }

func initMel() {
	lo, hi := mel(featLowHz), mel(featHighHz)
	var edges [featMels + 2]float64
	for i := range edges {
		edges[i] = melInv(lo+(hi-lo)*float64(i)/float64(featMels+1)) * featFFT / SampleRate
	}
	for i := range featMels {
		a, c, b := edges[i], edges[i+1], edges[i+2]
		start := int(math.Ceil(a))
		melStart[i] = start
		for k := start; float64(k) < b; k++ {
			w := 0.0
			if float64(k) <= c {
				w = (float64(k) - a) / (c - a)
			} else {
				w = (b - float64(k)) / (b - c)
			}
			melBank[i] = append(melBank[i], max(w, 0))
		}
	}
	for i := range hamming {
		hamming[i] = 0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/float64(featFrame-1))
	}
	for k := range featCeps - 1 {
		for j := range featMels {
			dctMatrix[k][j] = math.Cos(math.Pi * float64(k+1) * (float64(j) + 0.5) / featMels)
		}
	}
}

// features returns the normalised feature vectors of 16 kHz pcm, one per
// 10 ms frame; nil when pcm is shorter than one frame.
func features(pcm []int16) [][]float32 {
	melOnce.Do(initMel)
	if len(pcm) < featFrame {
		return nil
	}
	n := 1 + (len(pcm)-featFrame)/featHop
	static := make([][featCeps]float64, n)
	buf := make([]complex128, featFFT)
	for t := range n {
		x := pcm[t*featHop : t*featHop+featFrame]
		var mean float64
		for _, s := range x {
			mean += float64(s)
		}
		mean /= featFrame
		prev := float64(x[0]) - mean
		for i := range buf {
			buf[i] = 0
		}
		for i, s := range x {
			v := float64(s) - mean
			buf[i] = complex((v-0.97*prev)*hamming[i], 0)
			prev = v
		}
		fft(buf)
		var logMel [featMels]float64
		var energy float64
		for i := range featMels {
			var e float64
			for k, w := range melBank[i] {
				p := buf[melStart[i]+k]
				e += w * (real(p)*real(p) + imag(p)*imag(p))
			}
			energy += e
			// The floor is far below the conditioning's noise floor.
			logMel[i] = math.Log(e + 1)
		}
		for k := range featCeps - 1 {
			var c float64
			for j := range featMels {
				c += dctMatrix[k][j] * logMel[j]
			}
			static[t][k] = c
		}
		static[t][featCeps-1] = math.Log(energy + 1)
	}
	out := make([][]float32, n)
	flat := make([]float32, n*featDim)
	for t := range n {
		out[t] = flat[t*featDim : (t+1)*featDim]
		at := func(u int) *[featCeps]float64 { return &static[min(max(u, 0), n-1)] }
		for k := range featCeps {
			out[t][k] = float32(static[t][k])
			d := (at(t + 1)[k] - at(t - 1)[k] + 2*(at(t + 2)[k]-at(t - 2)[k])) / 10
			out[t][featCeps+k] = float32(d)
			a := at(t + 1)[k] + at(t - 1)[k] - 2*static[t][k]
			out[t][2*featCeps+k] = float32(a)
		}
	}
	// Mean and variance normalisation over the utterance.
	for k := range featDim {
		var s, s2 float64
		for t := range n {
			v := float64(out[t][k])
			s += v
			s2 += v * v
		}
		m := s / float64(n)
		sd := math.Sqrt(max(s2/float64(n)-m*m, 1e-6))
		for t := range n {
			out[t][k] = float32((float64(out[t][k]) - m) / sd)
		}
	}
	return out
}

// fft is an in-place radix-2 transform; len(x) is a power of two.
func fft(x []complex128) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j |= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := range size / 2 {
				a, b := x[start+k], x[start+k+size/2]*wk
				x[start+k], x[start+k+size/2] = a+b, a-b
				wk *= w
			}
		}
	}
}
