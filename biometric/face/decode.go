package face

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Limits bound an uploaded image before and while it is decoded.
type Limits struct {
	MaxBytes  int64 // largest encoded size accepted
	MaxPixels int   // largest width*height accepted (checked from the header, before decoding)
	MaxSide   int   // largest width or height accepted
	MinSide   int   // smallest width or height accepted
}

// DefaultLimits suit phone selfies and registry portraits: up to 10 MiB,
// 24 megapixels, 8192 pixels a side, at least 64 pixels a side.
var DefaultLimits = Limits{MaxBytes: 10 << 20, MaxPixels: 24_000_000, MaxSide: 8192, MinSide: 64}

// Errors of DecodeImage.
var (
	// ErrImageTooLarge: the encoded image or its dimensions exceed the limits.
	ErrImageTooLarge = errors.New("face: image too large")
	// ErrImageTooSmall: a side of the image is below Limits.MinSide.
	ErrImageTooSmall = errors.New("face: image too small")
	// ErrImageFormat: not a JPEG, PNG or WebP image.
	ErrImageFormat = errors.New("face: unsupported image format (want JPEG, PNG or WebP)")
	// ErrImageCorrupt: the image header or data is malformed.
	ErrImageCorrupt = errors.New("face: malformed image")
)

// DecodeImage reads a JPEG, PNG or WebP image within the limits. It reads at
// most MaxBytes+1 bytes, identifies the format by its magic bytes, and
// checks the dimensions in the header before decoding the pixels, so a small
// file declaring a huge image is refused without allocating for it.
func DecodeImage(r io.Reader, lim Limits) (image.Image, error) {
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("face: read image: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrImageTooLarge, lim.MaxBytes)
	}
	var (
		decodeConfig func(io.Reader) (image.Config, error)
		decode       func(io.Reader) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		decodeConfig, decode = webp.DecodeConfig, webp.Decode
	default:
		return nil, ErrImageFormat
	}
	cfg, err := decodeConfig(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrImageCorrupt, err)
	}
	if cfg.Width > lim.MaxSide || cfg.Height > lim.MaxSide || cfg.Width*cfg.Height > lim.MaxPixels {
		return nil, fmt.Errorf("%w: %dx%d pixels (at most %d a side and %d in all)", ErrImageTooLarge, cfg.Width, cfg.Height, lim.MaxSide, lim.MaxPixels)
	}
	if cfg.Width < lim.MinSide || cfg.Height < lim.MinSide {
		return nil, fmt.Errorf("%w: %dx%d pixels (at least %d a side)", ErrImageTooSmall, cfg.Width, cfg.Height, lim.MinSide)
	}
	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImageCorrupt, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%w: header says %dx%d, data %dx%d", ErrImageCorrupt, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	return img, nil
}
