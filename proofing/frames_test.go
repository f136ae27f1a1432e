package proofing

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestCheckFrameTimes(t *testing.T) {
	every := func(n int, first, step int64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = first + int64(i)*step
		}
		return out
	}
	tests := []struct {
		name  string
		times []int64
		n     int
		ok    bool
	}{
		{"12 fps from 20 ms", every(60, 20, 83), 60, true},
		{"from 0", every(40, 0, 100), 40, true},
		{"missing", nil, 40, false},
		{"one short", every(39, 20, 83), 40, false},
		{"first at 301 ms", every(40, 301, 83), 40, false},
		{"negative first", every(40, -1, 83), 40, false},
		{"repeated time", append(every(20, 0, 83), every(20, 83*19, 83)...), 40, false},
		{"gap of 251 ms", append(every(20, 0, 83), every(20, 83*19+251, 83)...), 40, false},
		{"gap of 250 ms", append(every(20, 0, 83), every(20, 83*19+250, 83)...), 40, true},
		{"5 fps on average", every(40, 0, 200), 40, false},
		{"past 16 s", every(160, 0, 101), 160, false},
	}
	for _, tc := range tests {
		err := CheckFrameTimes(tc.times, tc.n)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadRequest)) {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// FuzzSignedFrameTimes feeds any JSON as the signed request's
// frame_times_ms: the request verifies or fails with ErrSignature, and
// times that CheckFrameTimes accepts keep every bound.
func FuzzSignedFrameTimes(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType(RequestType))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`[0,100,200]`, `[]`, `null`, `[1e300]`, `[-5, 3]`, `["1"]`, `[1.5]`, `{}`, `[9223372036854775807]`,
		`[0,250,500,750,1000,1250,1500,1750,2000,2250]`} {
		f.Add(s, uint8(3))
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, times string, n uint8) {
		sub := Submission{Selfie: []byte("s"), Audio: []byte("a")}
		var digests string
		for i := range int(n % 200) {
			fr := []byte(fmt.Sprint(i))
			sub.Frames = append(sub.Frames, fr)
			if i > 0 {
				digests += ","
			}
			digests += `"` + Digest(fr) + `"`
		}
		payload := fmt.Sprintf(`{"enrollment_id":"e1","id_number":"x","name":"y","iat":%d,"selfie":%q,"audio":%q,"frames":[%s],"frame_times_ms":%s}`,
			now.Unix(), Digest(sub.Selfie), Digest(sub.Audio), digests, times)
		obj, err := signer.Sign([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		compact, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		if len(compact) > MaxRequestBytes {
			return
		}
		c, err := verifyRequest(compact, &key.PublicKey, "e1", &sub, now, time.Minute)
		if err != nil {
			if !errors.Is(err, ErrSignature) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		if err := CheckFrameTimes(c.FrameTimesMS, len(sub.Frames)); err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		ts := c.FrameTimesMS
		if len(ts) != len(sub.Frames) || ts[0] < 0 || ts[0] > FirstFrameMS || ts[len(ts)-1] > MaxRecordingMS {
			t.Fatalf("accepted %v for %d frames", ts, len(sub.Frames))
		}
		for i := 1; i < len(ts); i++ {
			if ts[i] <= ts[i-1] || ts[i]-ts[i-1] > MaxFrameGapMS {
				t.Fatalf("accepted %v", ts)
			}
		}
	})
}
