package speech

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Errors returned by [Decode] for audio that cannot be used. Callers branch
// on them with errors.Is to tell the citizen what went wrong.
var (
	// ErrNotWAV means the bytes are not a RIFF/WAVE file or its chunk
	// structure is broken.
	ErrNotWAV = errors.New("speech: not a WAV file")
	// ErrUnsupportedFormat means a well-formed WAV file whose encoding,
	// channel count or sample rate is outside what is accepted.
	ErrUnsupportedFormat = errors.New("speech: unsupported audio format")
	// ErrTooLarge means the upload exceeds Limits.MaxBytes.
	ErrTooLarge = errors.New("speech: audio file too large")
	// ErrTooLong means the recording exceeds Limits.MaxDuration.
	ErrTooLong = errors.New("speech: recording too long")
	// ErrTooShort means the recording is shorter than Limits.MinDuration.
	ErrTooShort = errors.New("speech: recording too short")
	// ErrSilent means the recording holds no speech (silence or steady noise).
	ErrSilent = errors.New("speech: no speech in recording")
)

// Limits bound what [Decode] accepts. The zero value of a field means its
// default in [DefaultLimits].
type Limits struct {
	MaxBytes    int     // whole file size
	MaxDuration float64 // seconds
	MinDuration float64 // seconds
	MinRate     int     // Hz
	MaxRate     int     // Hz
}

// DefaultLimits fit a four-digit reading: at most 15 s, at least 0.5 s,
// sample rates 8 to 48 kHz, and at most 6 MiB (15 s of 48 kHz stereo
// 32-bit float is 5.5 MiB).
var DefaultLimits = Limits{
	MaxBytes:    6 << 20,
	MaxDuration: 15,
	MinDuration: 0.5,
	MinRate:     8000,
	MaxRate:     48000,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxDuration > 0 {
		d.MaxDuration = l.MaxDuration
	}
	if l.MinDuration > 0 {
		d.MinDuration = l.MinDuration
	}
	if l.MinRate > 0 {
		d.MinRate = l.MinRate
	}
	if l.MaxRate > 0 {
		d.MaxRate = l.MaxRate
	}
	return d
}

// Audio is mono 16-bit PCM at Rate samples per second.
type Audio struct {
	Samples []int16
	Rate    int
}

// Duration is the length of the audio in seconds.
func (a Audio) Duration() float64 {
	if a.Rate <= 0 {
		return 0
	}
	return float64(len(a.Samples)) / float64(a.Rate)
}

const (
	formatPCM        = 1
	formatFloat      = 3
	formatExtensible = 0xFFFE
)

// Decode parses a RIFF/WAVE file held in b and returns its samples mixed
// down to mono 16-bit at the file's own rate. It accepts integer PCM of 8,
// 16, 24 and 32 bits and IEEE float of 32 bits (plain or
// WAVE_FORMAT_EXTENSIBLE), one or two channels. Every size is checked
// against lim before anything is allocated; a data chunk whose declared
// size overruns the file (as streaming writers leave it) is read up to the
// end of the file.
func Decode(b []byte, lim Limits) (Audio, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxBytes {
		return Audio{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxBytes)
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return Audio{}, fmt.Errorf("%w: missing RIFF/WAVE header", ErrNotWAV)
	}
	var (
		fmtFound               bool
		format, channels, bits uint16
		blockAlign             uint16
		rate                   uint32
	)
	p := 12
	for {
		if len(b)-p < 8 {
			return Audio{}, fmt.Errorf("%w: no data chunk", ErrNotWAV)
		}
		id := string(b[p : p+4])
		size := int64(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		p += 8
		rest := int64(len(b) - p)
		switch id {
		case "fmt ":
			if size < 16 || size > rest {
				return Audio{}, fmt.Errorf("%w: fmt chunk of %d bytes", ErrNotWAV, size)
			}
			c := b[p : p+int(size)]
			format = binary.LittleEndian.Uint16(c[0:2])
			channels = binary.LittleEndian.Uint16(c[2:4])
			rate = binary.LittleEndian.Uint32(c[4:8])
			blockAlign = binary.LittleEndian.Uint16(c[12:14])
			bits = binary.LittleEndian.Uint16(c[14:16])
			if format == formatExtensible {
				// cbSize(2) validBits(2) channelMask(4) subFormat GUID(16):
				// the first two bytes of the GUID are the format code.
				if size < 40 {
					return Audio{}, fmt.Errorf("%w: extensible fmt chunk of %d bytes", ErrNotWAV, size)
				}
				format = binary.LittleEndian.Uint16(c[24:26])
			}
			fmtFound = true
		case "data":
			if !fmtFound {
				return Audio{}, fmt.Errorf("%w: data chunk before fmt chunk", ErrNotWAV)
			}
			if size > rest {
				size = rest
			}
			return decodeData(b[p:p+int(size)], format, channels, bits, blockAlign, rate, lim)
		}
		if size > rest {
			return Audio{}, fmt.Errorf("%w: chunk %q of %d bytes overruns the file", ErrNotWAV, printable(id), size)
		}
		p += int(size + size&1) // chunks are padded to an even size
		if p > len(b) {
			p = len(b)
		}
	}
}

func printable(id string) string {
	r := []byte(id)
	for i, c := range r {
		if c < 0x20 || c > 0x7e {
			r[i] = '?'
		}
	}
	return string(r)
}

func decodeData(d []byte, format, channels, bits, blockAlign uint16, rate uint32, lim Limits) (Audio, error) {
	switch {
	case format == formatPCM && (bits == 8 || bits == 16 || bits == 24 || bits == 32):
	case format == formatFloat && bits == 32:
	default:
		return Audio{}, fmt.Errorf("%w: format %#x with %d bits per sample", ErrUnsupportedFormat, format, bits)
	}
	if channels < 1 || channels > 2 {
		return Audio{}, fmt.Errorf("%w: %d channels", ErrUnsupportedFormat, channels)
	}
	if int64(rate) < int64(lim.MinRate) || int64(rate) > int64(lim.MaxRate) {
		return Audio{}, fmt.Errorf("%w: sample rate %d Hz, accepted %d to %d", ErrUnsupportedFormat, rate, lim.MinRate, lim.MaxRate)
	}
	width := int(bits / 8)
	frame := width * int(channels)
	if int(blockAlign) != frame {
		return Audio{}, fmt.Errorf("%w: block align %d for %d channels of %d bits", ErrNotWAV, blockAlign, channels, bits)
	}
	n := len(d) / frame
	dur := float64(n) / float64(rate)
	if dur > lim.MaxDuration {
		return Audio{}, fmt.Errorf("%w: %.1f s, limit %.1f s", ErrTooLong, dur, lim.MaxDuration)
	}
	if dur < lim.MinDuration {
		return Audio{}, fmt.Errorf("%w: %.2f s, minimum %.2f s", ErrTooShort, dur, lim.MinDuration)
	}
	out := make([]int16, n)
	for i := range out {
		var sum float64
		for c := 0; c < int(channels); c++ {
			s := d[i*frame+c*width : i*frame+(c+1)*width]
			sum += sampleValue(s, format, bits)
		}
		out[i] = toInt16(sum / float64(channels))
	}
	return Audio{Samples: out, Rate: int(rate)}, nil
}

// sampleValue returns one sample scaled to the int16 range.
func sampleValue(s []byte, format, bits uint16) float64 {
	switch {
	case format == formatFloat:
		f := float64(math.Float32frombits(binary.LittleEndian.Uint32(s)))
		if math.IsNaN(f) {
			return 0
		}
		return f * 32768
	case bits == 8:
		return float64(int(s[0])-128) * 256
	case bits == 16:
		return float64(int16(binary.LittleEndian.Uint16(s)))
	case bits == 24:
		v := int32(uint32(s[0])<<8|uint32(s[1])<<16|uint32(s[2])<<24) >> 8
		return float64(v) / 256
	default: // 32-bit integer
		return float64(int32(binary.LittleEndian.Uint32(s))) / 65536
	}
}

func toInt16(v float64) int16 {
	v = math.Round(v)
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

// EncodeWAV returns a 16-bit mono PCM WAV file holding a. Tests and the
// command line use it; it is the format the wallet page sends.
func EncodeWAV(a Audio) []byte {
	data := len(a.Samples) * 2
	b := make([]byte, 44+data)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], formatPCM)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(a.Rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(a.Rate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for i, s := range a.Samples {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	return b
}
