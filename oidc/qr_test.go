package oidc

import (
	"image"
	"image/color"
	"regexp"
	"strconv"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
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
