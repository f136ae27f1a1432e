//go:build !cgo

package speech

import (
	"context"
	"errors"
)

// ModelVersion names the recogniser; without cgo there is none.
const ModelVersion = "none (built without cgo)"

// ErrUnavailable is returned when the binary was built without cgo and so
// without PocketSphinx.
var ErrUnavailable = errors.New("speech: built without cgo: no recogniser")

// SphinxConfig configures NewSphinx.
type SphinxConfig struct {
	ModelDir  string
	Threshold float64
	Decoders  int
}

// Sphinx is unavailable without cgo.
type Sphinx struct{}

// NewSphinx always fails without cgo.
func NewSphinx(SphinxConfig) (*Sphinx, error) { return nil, ErrUnavailable }

// Digits always fails without cgo.
func (*Sphinx) Digits(context.Context, []int16, int) (Result, error) { return Result{}, ErrUnavailable }

// Close does nothing.
func (*Sphinx) Close() error { return nil }

// VerifyModelVersion names the verifier; without cgo there is none.
const VerifyModelVersion = ModelVersion

// Verify always fails without cgo.
func (*Sphinx) Verify(context.Context, []int16, int, string, Lang) (Verification, error) {
	return Verification{}, ErrUnavailable
}
