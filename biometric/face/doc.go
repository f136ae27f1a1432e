// Package face finds, checks and compares faces on the CPU in pure Go: the
// enrollment selfie against the registry portrait, and the face in every
// frame of the enrollment video.
//
// The descriptor is the face recognition network of @vladmandic/face-api
// (a port of dlib's ResNet face model): a 150x150 RGB face in, 128 numbers
// out; two photos of one person lie closer than Threshold in Euclidean
// distance. The network is re-implemented here (im2col plus a float32 matrix
// product) rather than run through a tensor runtime because the project
// ships one static Go binary without cgo; it reads face-api's own weight
// files (the tfjs manifest plus the uint8-quantised shards) from the npm
// package that scripts/setup.sh installs, and a reference check
// (TestReferenceFaceAPI with interop/face/reference.mjs) proves that it
// computes the same descriptors as face-api running on tfjs, within 1e-5 per
// element.
//
// For the selfie and the portrait (Analyze), faces are found with BlazeFace
// and confirmed by FaceMesh (package mesh: MediaPipe's models run in pure
// Go); the eyes' centres and four mouth points come from the 468 mesh
// landmarks. For the video frames (Track), faces are found
// with pigo's cascades (github.com/esimov/pigo, embedded), which also give
// the pupils and four mouth points (the localiser cascades run by this
// package's own code with fixed perturbations, so that the same image always
// gives the same landmarks and descriptor). The face is then cropped as
// face-api's dlib-style alignment does (a square sized from the
// eye-to-mouth distance, centred on the eyes and mouth), padded to a square
// and resized to 150x150 with tfjs's bilinear rule.
//
// Entry points: Load an Engine once; Analyze an image for exactly one face
// of sufficient quality (ErrNoFace, ErrManyFaces, ErrLowQuality); compare
// descriptors with Distance and Threshold; store them with
// Descriptor.MarshalBinary; follow the face through the enrollment video
// with Engine.Track (mouth opening and skin colour per frame, for the
// presence checks of package presence); decode uploads within bounds with
// DecodeImage.
package face
