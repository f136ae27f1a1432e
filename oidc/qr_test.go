package oidc

import (
	"image"
	"image/color"
	"regexp"
	"strconv"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
	qrdecoder "github.com/makiuchi-d/gozxing/qrcode/decoder"
	qrencoder "github.com/makiuchi-d/gozxing/qrcode/encoder"
)

// TestQRSVGDecodes rasterises the login page's SVG QR code (its path is
// horizontal runs of dark modules) and reads it back with an independent
// decoder (gozxing).
func TestQRSVGDecodes(t *testing.T) {
	// Fixed-mask symbols must stay readable whatever the data: random
	// transaction ids, and both issuer lengths.
	for i := 0; i < 24; i++ {
		issuer := "https%3A%2F%2Fid.example%2Foidc"
		if i%2 == 1 {
			issuer = "http%3A%2F%2F127.0.0.1%3A40497%2Foidc"
		}
		checkQR(t, "openid4vp://?client_id="+issuer+"&request_uri="+issuer+"%2Fwallet%2Frequest%2F"+randomID(16))
	}
}

func checkQR(t *testing.T, want string) {
	t.Helper()
	svg, err := qrSVG(want)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`viewBox="0 0 (\d+) \d+"`).FindSubmatch(svg)
	n, _ := strconv.Atoi(string(m[1]))
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	runs := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllSubmatch(svg, -1)
	if len(runs) == 0 {
		t.Fatal("no modules drawn")
	}
	for _, r := range runs {
		x, _ := strconv.Atoi(string(r[1]))
		y, _ := strconv.Atoi(string(r[2]))
		w, _ := strconv.Atoi(string(r[3]))
		for px := x * scale; px < (x+w)*scale; px++ {
			for py := y * scale; py < (y+1)*scale; py++ {
				img.SetGray(px, py, color.Gray{})
			}
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gzqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if res.GetText() != want {
		t.Fatalf("decoded %q", res.GetText())
	}
}

// TestQRSameAsGozxing compares encodeQR's symbol with the general-purpose
// encoder's (gozxing, byte mode, level M, mask 2) module by module, for
// contents of every length that changes the version, 1 to 40.
func TestQRSameAsGozxing(t *testing.T) {
	lengths := []int{0, 1, 13, 14, 15}
	for v := 1; v <= 40; v++ {
		c := qrDataCodewords(v) - 2 // byte mode header: 4 + 8 bits
		if v >= 10 {
			c--
		}
		lengths = append(lengths, c-1, c, c+1)
	}
	for _, n := range lengths {
		if n < 0 || n > 2331 {
			continue
		}
		content := make([]byte, n)
		for i := range content {
			content[i] = "abcdefghijklmnopqrstuvwxyz%=&?:/._-0123456789"[(i*7+n)%45]
		}
		want, err := qrencoder.Encoder_encode(string(content), qrdecoder.ErrorCorrectionLevel_M,
			map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_QR_MASK_PATTERN: qrMask})
		if err != nil {
			t.Fatalf("gozxing, %d bytes: %v", n, err)
		}
		got, gerr := encodeQR(string(content))
		if gerr != nil {
			t.Fatalf("%d bytes: %v", n, gerr)
		}
		m := want.GetMatrix()
		if m.GetWidth() != got.size {
			t.Fatalf("%d bytes: size %d, gozxing %d", n, got.size, m.GetWidth())
		}
		for y := range got.size {
			for x := range got.size {
				if (m.Get(x, y) == 1) != got.dark[y*got.size+x] {
					t.Fatalf("%d bytes (version %d): module (%d, %d) differs", n, (got.size-17)/4, x, y)
				}
			}
		}
	}
	if _, err := encodeQR(string(make([]byte, 2332))); err == nil {
		t.Fatal("2332 bytes: no error")
	}
}

func BenchmarkQRSVG(b *testing.B) {
	s := "openid4vp://?client_id=x509_san_dns%3A127.0.0.1&request_uri=http%3A%2F%2F127.0.0.1%3A40497%2Foidc%2Fwallet%2Frequest%2F" + randomID(16)
	for b.Loop() {
		if _, err := qrSVG(s); err != nil {
			b.Fatal(err)
		}
	}
}
