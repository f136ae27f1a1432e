package face

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

func encodePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a valid PNG header (signature + IHDR with a correct CRC)
// declaring w x h pixels, followed by no image data: a decompression bomb's
// first bytes.
func hugePNG(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestDecodeImage(t *testing.T) {
	webp, err := os.ReadFile("testdata/pattern.webp")
	if err != nil {
		t.Fatal(err)
	}
	lossy, err := os.ReadFile("testdata/pattern-lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	small := Limits{MaxBytes: 1 << 20, MaxPixels: 200 * 200, MaxSide: 300, MinSide: 16}
	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		want error // nil: decodes
		size image.Point
	}{
		{"png", encodePNG(t, 120, 90), small, nil, image.Pt(120, 90)},
		{"jpeg", encodeJPEG(t, 64, 100), small, nil, image.Pt(64, 100)},
		{"webp lossless", webp, small, nil, image.Pt(80, 72)},
		{"webp lossy", lossy, small, nil, image.Pt(80, 72)},
		{"too many bytes", encodePNG(t, 120, 90), Limits{MaxBytes: 100, MaxPixels: 1 << 20, MaxSide: 1000}, ErrImageTooLarge, image.Point{}},
		{"too many pixels", encodePNG(t, 250, 250), small, ErrImageTooLarge, image.Point{}},
		{"side too long", encodePNG(t, 301, 20), small, ErrImageTooLarge, image.Point{}},
		{"side too short", encodePNG(t, 100, 15), small, ErrImageTooSmall, image.Point{}},
		{"bomb header", hugePNG(100000, 100000), DefaultLimits, ErrImageTooLarge, image.Point{}},
		{"overflowing header", hugePNG(1<<31-1, 1<<31-1), DefaultLimits, ErrImageCorrupt, image.Point{}},
		{"empty", nil, small, ErrImageFormat, image.Point{}},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), small, ErrImageFormat, image.Point{}},
		{"text", []byte("hello, this is not an image"), small, ErrImageFormat, image.Point{}},
		{"png header only", encodePNG(t, 120, 90)[:40], small, ErrImageCorrupt, image.Point{}},
		{"truncated png", encodePNG(t, 120, 90)[:200], small, ErrImageCorrupt, image.Point{}},
		{"truncated jpeg", encodeJPEG(t, 64, 100)[:300], small, ErrImageCorrupt, image.Point{}},
		{"jpeg magic only", []byte("\xff\xd8\xff\xe0"), small, ErrImageCorrupt, image.Point{}},
		{"truncated webp", webp[:60], small, ErrImageCorrupt, image.Point{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := DecodeImage(bytes.NewReader(tc.data), tc.lim)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Size() != tc.size {
				t.Fatalf("size %v, want %v", img.Bounds().Size(), tc.size)
			}
		})
	}
}

// FuzzDecodeImage: any input either decodes within the limits or fails with
// one of the package's errors; it never panics.
func FuzzDecodeImage(f *testing.F) {
	for _, name := range []string{"testdata/pattern.webp", "testdata/pattern-lossy.webp"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(encodePNG(f, 70, 70))
	f.Add(encodeJPEG(f, 70, 70))
	f.Add(hugePNG(100000, 100000))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	lim := Limits{MaxBytes: 1 << 16, MaxPixels: 256 * 256, MaxSide: 256, MinSide: 8}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeImage(bytes.NewReader(b), lim)
		if err != nil {
			for _, known := range []error{ErrImageTooLarge, ErrImageTooSmall, ErrImageFormat, ErrImageCorrupt} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("unclassified error: %v", err)
		}
		s := img.Bounds().Size()
		if s.X > lim.MaxSide || s.Y > lim.MaxSide || s.X*s.Y > lim.MaxPixels || s.X < lim.MinSide || s.Y < lim.MinSide {
			t.Fatalf("decoded %v outside the limits", s)
		}
		var _ color.Color = img.At(0, 0) // the decoded image can be read
	})
}
