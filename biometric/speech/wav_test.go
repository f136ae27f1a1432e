package speech

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// wavFile builds a WAV file with the given fmt fields and data bytes,
// optionally with extra chunks before the data.
func wavFile(format, channels uint16, rate uint32, bits uint16, data []byte, extra ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(0)) // patched below
	b.WriteString("WAVEfmt ")
	fmtLen := uint32(16)
	if format == formatExtensible {
		fmtLen = 40
	}
	binary.Write(&b, binary.LittleEndian, fmtLen)
	align := channels * bits / 8
	binary.Write(&b, binary.LittleEndian, format)
	binary.Write(&b, binary.LittleEndian, channels)
	binary.Write(&b, binary.LittleEndian, rate)
	binary.Write(&b, binary.LittleEndian, rate*uint32(align))
	binary.Write(&b, binary.LittleEndian, align)
	binary.Write(&b, binary.LittleEndian, bits)
	if format == formatExtensible {
		binary.Write(&b, binary.LittleEndian, uint16(22))
		binary.Write(&b, binary.LittleEndian, bits)
		binary.Write(&b, binary.LittleEndian, uint32(0))
		sub := formatPCM
		if bits == 32 {
			sub = formatFloat
		}
		binary.Write(&b, binary.LittleEndian, uint16(sub))
		b.Write([]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71})
	}
	for _, e := range extra {
		b.Write(e)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

func pcm16(samples ...int16) []byte {
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

// repeat returns data repeated n times.
func repeat(data []byte, n int) []byte { return bytes.Repeat(data, n) }

func TestDecode(t *testing.T) {
	second := 8000 // frames in one second at 8 kHz
	f32 := func(v float32) []byte {
		b := make([]byte, 4)
		binary.LittleEndian.PutUint32(b, math.Float32bits(v))
		return b
	}
	tests := []struct {
		name  string
		file  []byte
		first int16
		n     int
		rate  int
	}{
		{"pcm16 mono", wavFile(formatPCM, 1, 8000, 16, repeat(pcm16(1000), second)), 1000, second, 8000},
		{"pcm16 stereo downmix", wavFile(formatPCM, 2, 8000, 16, repeat(pcm16(1000, 3000), second)), 2000, second, 8000},
		{"pcm8", wavFile(formatPCM, 1, 8000, 8, repeat([]byte{128 + 64}, second)), 64 * 256, second, 8000},
		{"pcm24", wavFile(formatPCM, 1, 8000, 24, repeat([]byte{0, 0x10, 0}, second)), 0x10, second, 8000},
		{"pcm32", wavFile(formatPCM, 1, 8000, 32, repeat([]byte{0, 0, 0x10, 0}, second)), 0x10, second, 8000},
		{"float32", wavFile(formatFloat, 1, 48000, 32, repeat(f32(0.5), 48000)), 16384, 48000, 48000},
		{"float32 clipped", wavFile(formatFloat, 1, 8000, 32, repeat(f32(4), second)), math.MaxInt16, second, 8000},
		{"float32 NaN", wavFile(formatFloat, 1, 8000, 32, repeat(f32(float32(math.NaN())), second)), 0, second, 8000},
		{"extensible pcm16", wavFile(formatExtensible, 1, 16000, 16, repeat(pcm16(-5), 16000)), -5, 16000, 16000},
		{"extensible float", wavFile(formatExtensible, 1, 16000, 32, repeat(f32(-1), 16000)), -32768, 16000, 16000},
		{"odd chunk padded", wavFile(formatPCM, 1, 8000, 16, repeat(pcm16(7), second), []byte("LIST\x03\x00\x00\x00abc\x00")), 7, second, 8000},
		{"data size overruns (streaming writer)", func() []byte {
			b := wavFile(formatPCM, 1, 8000, 16, repeat(pcm16(9), second))
			binary.LittleEndian.PutUint32(b[40:], 0xFFFFFFFF)
			return b
		}(), 9, second, 8000},
		{"trailing half frame ignored", wavFile(formatPCM, 1, 8000, 16, append(repeat(pcm16(3), second), 1)), 3, second, 8000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Decode(tc.file, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Rate != tc.rate || len(a.Samples) != tc.n || a.Samples[0] != tc.first {
				t.Fatalf("got rate %d, %d samples, first %d; want %d, %d, %d", a.Rate, len(a.Samples), a.Samples[0], tc.rate, tc.n, tc.first)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := wavFile(formatPCM, 1, 8000, 16, repeat(pcm16(1), 8000))
	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	tests := []struct {
		name string
		file []byte
		lim  Limits
		want error
	}{
		{"empty", nil, Limits{}, ErrNotWAV},
		{"not riff", mutate(func(b []byte) { copy(b, "RIFX") }), Limits{}, ErrNotWAV},
		{"not wave", mutate(func(b []byte) { copy(b[8:], "AVI ") }), Limits{}, ErrNotWAV},
		{"header only", good[:12], Limits{}, ErrNotWAV},
		{"truncated fmt", good[:30], Limits{}, ErrNotWAV},
		{"short fmt chunk", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 8) }), Limits{}, ErrNotWAV},
		{"huge chunk", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 0xFFFFFFF0) }), Limits{}, ErrNotWAV},
		{"data before fmt", append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x01\x00"), good[12:]...), Limits{}, ErrNotWAV},
		{"adpcm", mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[20:], 2) }), Limits{}, ErrUnsupportedFormat},
		{"12 bits", mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[34:], 12) }), Limits{}, ErrUnsupportedFormat},
		{"float64", wavFile(formatFloat, 1, 8000, 64, make([]byte, 8*8000)), Limits{}, ErrUnsupportedFormat},
		{"three channels", wavFile(formatPCM, 3, 8000, 16, make([]byte, 6*8000)), Limits{}, ErrUnsupportedFormat},
		{"no channels", mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[22:], 0) }), Limits{}, ErrUnsupportedFormat},
		{"96 kHz", wavFile(formatPCM, 1, 96000, 16, make([]byte, 2*96000)), Limits{}, ErrUnsupportedFormat},
		{"4 kHz", wavFile(formatPCM, 1, 4000, 16, make([]byte, 2*4000)), Limits{}, ErrUnsupportedFormat},
		{"block align lies", mutate(func(b []byte) { binary.LittleEndian.PutUint16(b[32:], 4) }), Limits{}, ErrNotWAV},
		{"too short", wavFile(formatPCM, 1, 8000, 16, make([]byte, 2*1000)), Limits{}, ErrTooShort},
		{"too long", wavFile(formatPCM, 1, 8000, 16, make([]byte, 2*8000*16)), Limits{}, ErrTooLong},
		{"too long, own limit", good, Limits{MaxDuration: 0.5}, ErrTooLong},
		{"too large", good, Limits{MaxBytes: 1000}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.file, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEncodeWAVRoundTrip(t *testing.T) {
	a := Audio{Samples: []int16{0, 1, -1, math.MaxInt16, math.MinInt16}, Rate: 16000}
	got, err := Decode(EncodeWAV(a), Limits{MinDuration: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	if got.Rate != a.Rate || !slicesEqual(got.Samples, a.Samples) {
		t.Fatalf("round trip: %+v", got)
	}
}

func slicesEqual(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzDecode(f *testing.F) {
	f.Add(wavFile(formatPCM, 1, 8000, 16, repeat(pcm16(1, -1), 4000)))
	f.Add(wavFile(formatPCM, 2, 8000, 8, repeat([]byte{1, 2}, 4000)))
	f.Add(wavFile(formatExtensible, 1, 16000, 32, make([]byte, 4*8000)))
	f.Add(wavFile(formatPCM, 1, 8000, 24, make([]byte, 3*4000), []byte("LIST\x01\x00\x00\x00a\x00")))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b, Limits{MinDuration: 0.01})
		if err != nil {
			if !errors.Is(err, ErrNotWAV) && !errors.Is(err, ErrUnsupportedFormat) && !errors.Is(err, ErrTooLong) && !errors.Is(err, ErrTooShort) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		if a.Rate < 8000 || a.Rate > 48000 || a.Duration() > DefaultLimits.MaxDuration || len(a.Samples) > len(b) {
			t.Fatalf("out of bounds: rate %d, %d samples from %d bytes", a.Rate, len(a.Samples), len(b))
		}
		r := Resample(a, SampleRate)
		if want := int(float64(len(a.Samples)) * SampleRate / float64(a.Rate)); len(r.Samples) != want {
			t.Fatalf("resampled to %d samples, want %d", len(r.Samples), want)
		}
		MeasureActivity(r)
	})
}
