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
	"github.com/shenfen/shenfen/biometric/presence"
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

// CopyDistance is the descriptor distance under which a selfie or frame
// counts as a copy of the registry portrait rather than a new capture of
// the same face. On the shared photos (TestCalibration) one picture at
// three sizes (obama.jpg, obama-480p.jpg, obama_small.jpg) lies at 0.060 to
// 0.064 and distinct photos of one person at 0.350 or more; the registry
// portrait turned into a simulated video (warped jaw, tinted, rescaled,
// JPEG) lay at 0.139 (oid4vc TestEnrollmentAcceptance). 0.2 keeps a margin
// from both.
const CopyDistance = 0.2

// VideoDescribed is how many video frames (spread over the video) are
// compared with the selfie.
const VideoDescribed = 3

// Match compares the selfie's descriptor with the registry template:
// the same person when the distance is below face.Threshold, a copy of the
// portrait below CopyDistance.
func (f Face) Match(p proofing.Probe, template []byte) (proofing.Match, error) {
	a, err := descriptor(p.Template)
	if err != nil {
		return proofing.Match{}, fmt.Errorf("engines: probe: %w", err)
	}
	b, err := descriptor(template)
	if err != nil {
		return proofing.Match{}, fmt.Errorf("engines: registry template: %w", err)
	}
	d := face.Distance(a, b)
	return proofing.Match{Distance: d, Same: d < face.Threshold, Copy: d < CopyDistance}, nil
}

// Video tracks the face through the frames (face.Engine.Track) and
// compares VideoDescribed of them with the selfie and the template.
func (f Face) Video(ctx context.Context, frames []image.Image, p proofing.Probe, template []byte) (proofing.Video, error) {
	ref, err := descriptor(p.Template)
	if err != nil {
		return proofing.Video{}, fmt.Errorf("engines: probe: %w", err)
	}
	var tmpl *face.Descriptor
	if template != nil {
		t, err := descriptor(template)
		if err != nil {
			return proofing.Video{}, fmt.Errorf("engines: registry template: %w", err)
		}
		tmpl = &t
	}
	tr, err := f.Engine.Track(ctx, frames, VideoDescribed)
	if err != nil {
		return proofing.Video{}, err
	}
	v := proofing.Video{Frames: make([]presence.Frame, len(frames)), Checked: len(tr.Descriptors),
		Same: len(tr.Descriptors) > 0, TemplateDistance: -1}
	for i, t := range tr.Frames {
		v.Frames[i] = presence.Frame{Found: t.Found, Mouth: t.Mouth, Skin: t.Skin}
	}
	for _, d := range tr.Descriptors {
		dist := face.Distance(d, ref)
		v.ProbeDistance = max(v.ProbeDistance, dist)
		if dist >= face.Threshold {
			v.Same = false
		}
		if tmpl != nil {
			td := face.Distance(d, *tmpl)
			if v.TemplateDistance < 0 || td < v.TemplateDistance {
				v.TemplateDistance = td
			}
			if td < CopyDistance {
				v.TemplateCopy = true
			}
		}
	}
	return v, nil
}

// Version names the face models.
func (f Face) Version() string { return face.ModelVersion }
