package qr

import (
	"errors"
	"strings"
)

// Base45 (RFC 9285) is written here: it is 40 lines and no Go module in the
// project's dependency set provides it.

const b45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var b45index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(b45); i++ {
		t[b45[i]] = int8(i)
	}
	return
}()

// errBase45 reports a string that is not Base45.
var errBase45 = errors.New("invalid base45")

// EncodeBase45 encodes b as RFC 9285 Base45.
func EncodeBase45(b []byte) string {
	var s strings.Builder
	s.Grow(len(b)/2*3 + 2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])*256 + int(b[i+1])
		s.WriteByte(b45[n%45])
		s.WriteByte(b45[n/45%45])
		s.WriteByte(b45[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		s.WriteByte(b45[n%45])
		s.WriteByte(b45[n/45])
	}
	return s.String()
}

// DecodeBase45 decodes RFC 9285 Base45, refusing non-canonical input.
func DecodeBase45(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, errBase45
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		c, d := b45index[s[i]], b45index[s[i+1]]
		if c < 0 || d < 0 {
			return nil, errBase45
		}
		if i+2 == len(s) {
			n := int(c) + int(d)*45
			if n > 0xFF {
				return nil, errBase45
			}
			out = append(out, byte(n))
			break
		}
		e := b45index[s[i+2]]
		if e < 0 {
			return nil, errBase45
		}
		n := int(c) + int(d)*45 + int(e)*2025
		if n > 0xFFFF {
			return nil, errBase45
		}
		out = append(out, byte(n>>8), byte(n))
	}
	return out, nil
}
