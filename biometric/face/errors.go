package face

import "errors"

// Errors callers branch on.
var (
	// ErrNoFace: no face was found in the image.
	ErrNoFace = errors.New("face: no face found")
	// ErrManyFaces: more than one face was found where exactly one is needed.
	ErrManyFaces = errors.New("face: more than one face found")
	// ErrLowQuality: the face is too small, too blurry or too dark (see Quality).
	ErrLowQuality = errors.New("face: face quality too low")
)
