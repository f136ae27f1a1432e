// Package engines adapts shenfen's biometric engines (biometric/face and
// biometric/speech) to the interfaces package proofing declares, so that
// proofing's decision rules stay independent of how faces and speech are
// analysed.
package engines

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/shenfen/shenfen/biometric/face"
	"github.com/shenfen/shenfen/proofing"
)

// Face is the face engine as a proofing.FaceChecker.
type Face struct {
	Engine *face.Engine
}

var _ proofing.FaceChecker = Face{}

// unusable reports the engine's "not one usable face" errors.
func unusable(err error) bool {
	return errors.Is(err, face.ErrNoFace) || errors.Is(err, face.ErrManyFaces) || errors.Is(err, face.ErrLowQuality)
}

// Probe finds the one face of the selfie and serialises its descriptor.
func (f Face) Probe(ctx context.Context, img image.Image) (proofing.Probe, error) {
	fc, err := f.Engine.Analyze(ctx, img)
	if unusable(err) {
		return proofing.Probe{}, fmt.Errorf("%w: %v", proofing.ErrFaceUnusable, err)
	}
	if err != nil {
		return proofing.Probe{}, err
	}
	t, err := fc.Descriptor.MarshalBinary()
	if err != nil {
		return proofing.Probe{}, err
	}
	return proofing.Probe{Template: t, Quality: fc.Quality.Score}, nil
}

func descriptor(b []byte) (face.Descriptor, error) {
	var d face.Descriptor
	err := d.UnmarshalBinary(b)
	return d, err
}

// Match compares the selfie's descriptor with the registry template:
// the same person when the distance is below face.Threshold.
func (f Face) Match(p proofing.Probe, template []byte) (float64, bool, error) {
	a, err := descriptor(p.Template)
	if err != nil {
		return 0, false, fmt.Errorf("engines: probe: %w", err)
	}
	b, err := descriptor(template)
	if err != nil {
		return 0, false, fmt.Errorf("engines: registry template: %w", err)
	}
	d := face.Distance(a, b)
	return d, d < face.Threshold, nil
}

// Liveness runs the engine's frames check against the selfie's face. A
// frame without one usable face is a failed check, not an error.
func (f Face) Liveness(ctx context.Context, frames []image.Image, p proofing.Probe) (proofing.LivenessResult, error) {
	ref, err := descriptor(p.Template)
	if err != nil {
		return proofing.LivenessResult{}, fmt.Errorf("engines: probe: %w", err)
	}
	res, err := f.Engine.Liveness(ctx, frames, ref)
	switch {
	case err == nil:
		return proofing.LivenessResult{Live: res.Live, Score: res.Ratio}, nil
	case errors.Is(err, face.ErrNotLive), unusable(err):
		return proofing.LivenessResult{Score: res.Ratio}, nil
	}
	return proofing.LivenessResult{}, err
}

// Version names the face models.
func (f Face) Version() string { return face.ModelVersion }
