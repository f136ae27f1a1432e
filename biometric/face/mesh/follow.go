package mesh

import (
	"context"
	"errors"
	"image"
)

// RedetectEvery is how often Follow runs the detector on a frame it could
// track, so that a second face coming in is seen.
const RedetectEvery = 25

// Frame is one video frame as Follow saw it.
type Frame struct {
	// Faces is the number of faces the detector found, when it ran on
	// this frame (Detected), else 1 for a tracked face and 0 for none.
	Faces    int
	Detected bool
	// Found: the frame holds exactly one face, whose landmarks are
	// Landmarks.
	Found     bool
	Landmarks Landmarks
}

// Follow finds the face through the frames of a short video: the detector
// on the first frame, every RedetectEvery-th, and every frame after one
// without exactly one face; Track on the others (a few milliseconds each).
// A frame without exactly one face is reported (Found false), not an
// error.
func (e *Engine) Follow(ctx context.Context, frames []image.Image) ([]Frame, error) {
	out := make([]Frame, len(frames))
	var prev *Landmarks
	for i, img := range frames {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := &out[i]
		if prev != nil && i%RedetectEvery != 0 {
			l, err := e.Track(img, prev)
			switch {
			case err == nil:
				f.Faces, f.Found, f.Landmarks = 1, true, l
				prev = &f.Landmarks
				continue
			case !errors.Is(err, ErrNoFace):
				return nil, err
			}
		}
		faces, err := e.Detect(img)
		if err != nil {
			return nil, err
		}
		f.Detected, f.Faces = true, len(faces)
		prev = nil
		if len(faces) == 1 {
			f.Found, f.Landmarks = true, faces[0].Landmarks
			prev = &f.Landmarks
		}
	}
	return out, nil
}
