package credential

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png" // registry portraits may be PNG

	"golang.org/x/image/draw"
)

// Thumbnail sizes: 48x64 pixels (3:4, the ID photo ratio), 8-bit gray,
// JPEG quality 35: about 700-850 bytes, small enough for the QR presentation and
// enough for a clerk to compare a face at arm's length.
const (
	ThumbWidth   = 48
	ThumbHeight  = 64
	thumbQuality = 35
)

// Card portrait bounds: the portrait a card carries is at most 360x480
// pixels (3:4), colour JPEG quality 85: 20-60 KB, the size of an ICAO
// document photo, whatever the registry holds. A registry scan of several
// hundred KB would otherwise make every presentation that discloses the
// portrait too large for verifiers (and re-encoding drops any metadata the
// source file carried).
const (
	PortraitWidth   = 360
	PortraitHeight  = 480
	portraitQuality = 85
)

// CardPortrait makes the portrait a card carries from a registry portrait
// (JPEG, PNG or any format registered with package image): cropped to 3:4
// around its centre, scaled down to fit PortraitWidth x PortraitHeight
// (never up), re-encoded as JPEG.
func CardPortrait(portrait []byte) ([]byte, error) {
	src, _, err := image.Decode(bytes.NewReader(portrait))
	if err != nil {
		return nil, fmt.Errorf("credential: portrait: %w", err)
	}
	b, err := crop34(src.Bounds())
	if err != nil {
		return nil, fmt.Errorf("credential: portrait: %w", err)
	}
	w, h := b.Dx(), b.Dy()
	if h > PortraitHeight {
		w, h = PortraitWidth, PortraitHeight
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: portraitQuality}); err != nil {
		return nil, fmt.Errorf("credential: portrait: %w", err)
	}
	return out.Bytes(), nil
}

// crop34 is the largest 3:4 rectangle centred in b.
func crop34(b image.Rectangle) (image.Rectangle, error) {
	w, h := b.Dx(), b.Dy()
	if w < 3 || h < 4 {
		return b, fmt.Errorf("image of %dx%d pixels", w, h)
	}
	if w*4 > h*3 {
		nw := h * 3 / 4
		b.Min.X += (w - nw) / 2
		b.Max.X = b.Min.X + nw
	} else {
		nh := w * 4 / 3
		b.Min.Y += (h - nh) / 2
		b.Max.Y = b.Min.Y + nh
	}
	return b, nil
}

// Thumbnail makes the grayscale portrait thumbnail carried (issuer-signed)
// by the compact QR card from a portrait image (JPEG, PNG or any format
// registered with package image). The portrait is cropped to 3:4 around its
// centre before scaling.
func Thumbnail(portrait []byte) ([]byte, error) {
	src, _, err := image.Decode(bytes.NewReader(portrait))
	if err != nil {
		return nil, fmt.Errorf("credential: thumbnail: %w", err)
	}
	b, err := crop34(src.Bounds())
	if err != nil {
		return nil, fmt.Errorf("credential: thumbnail: %w", err)
	}
	dst := image.NewGray(image.Rect(0, 0, ThumbWidth, ThumbHeight))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: thumbQuality}); err != nil {
		return nil, fmt.Errorf("credential: thumbnail: %w", err)
	}
	return out.Bytes(), nil
}
