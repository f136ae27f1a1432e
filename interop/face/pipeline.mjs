// pipeline.mjs runs @vladmandic/face-api's whole pipeline (SSD MobileNet v1
// detection, 68-point landmarks, dlib alignment, descriptor) on tfjs's cpu
// backend, to compare its genuine/impostor distances with the Go engine's
// (biometric/face TestPipelineFaceAPI).
//
// usage: node interop/face/pipeline.mjs MODEL_DIR IN.json OUT.json
// IN.json: {"crops": [{"width": W, "height": H, "rgb": base64}]} (whole photos)
// OUT.json: {"faces": [[{"box": [x, y, w, h], "descriptor": [128 numbers]}], ...]}
import { register } from 'node:module';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

register('./hooks.mjs', import.meta.url);
const faceapi = await import('@vladmandic/face-api/dist/face-api.esm-nobundle.js');
const { tf } = faceapi;

const [modelDir, inFile, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: pipeline.mjs MODEL_DIR IN.json OUT.json');
  process.exit(2);
}
await tf.setBackend('cpu');
await tf.ready();

const load = tf.io.weightsLoaderFactory(async (paths) => Promise.all(paths.map(async (p) => {
  const b = await readFile(p);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
})));
for (const [net, name] of [[faceapi.nets.ssdMobilenetv1, 'ssd_mobilenetv1_model'], [faceapi.nets.faceLandmark68Net, 'face_landmark_68_model'], [faceapi.nets.faceRecognitionNet, 'face_recognition_model']]) {
  const manifest = JSON.parse(await readFile(path.join(modelDir, `${name}-weights_manifest.json`), 'utf8'));
  net.loadFromWeightMap(await load(manifest, modelDir + '/'));
}

const input = JSON.parse(await readFile(inFile, 'utf8'));
const faces = [];
for (const c of input.crops) {
  const bytes = Buffer.from(c.rgb, 'base64');
  const t = tf.tensor3d(Int32Array.from(bytes), [c.height, c.width, 3], 'int32');
  const res = await faceapi.detectAllFaces(t, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 })).withFaceLandmarks().withFaceDescriptors();
  t.dispose();
  faces.push(res.map((r) => ({ box: [r.detection.box.x, r.detection.box.y, r.detection.box.width, r.detection.box.height], descriptor: Array.from(r.descriptor) })));
}
await writeFile(outFile, JSON.stringify({ faces }));
