// reference.mjs computes face descriptors with @vladmandic/face-api's own
// FaceRecognitionNet on tfjs's pure-JS cpu backend, for the Go port's
// reference check (biometric/face TestReferenceFaceAPI).
//
// usage: node interop/face/reference.mjs MODEL_DIR IN.json OUT.json
// IN.json: {"crops": [{"width": W, "height": H, "rgb": base64 of W*H*3 bytes}]}
// OUT.json: {"descriptors": [[128 numbers], ...], "tfjs": version, "faceapi": version}
// Each crop goes to computeFaceDescriptor as an int32 tensor, so face-api
// itself pads it to a square and resizes it to 150x150.
import { register } from 'node:module';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

register('./hooks.mjs', import.meta.url);
const faceapi = await import('@vladmandic/face-api/dist/face-api.esm-nobundle.js');
const { tf } = faceapi;

const [modelDir, inFile, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: reference.mjs MODEL_DIR IN.json OUT.json');
  process.exit(2);
}
await tf.setBackend('cpu');
await tf.ready();

const net = faceapi.nets.faceRecognitionNet;
const manifest = JSON.parse(await readFile(path.join(modelDir, 'face_recognition_model-weights_manifest.json'), 'utf8'));
const load = tf.io.weightsLoaderFactory(async (paths) => Promise.all(paths.map(async (p) => {
  const b = await readFile(p);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
})));
net.loadFromWeightMap(await load(manifest, modelDir + '/'));

const input = JSON.parse(await readFile(inFile, 'utf8'));
const descriptors = [];
for (const c of input.crops) {
  const bytes = Buffer.from(c.rgb, 'base64');
  if (bytes.length !== c.width * c.height * 3) throw new Error(`crop ${descriptors.length}: ${bytes.length} bytes for ${c.width}x${c.height}`);
  const t = tf.tensor3d(Int32Array.from(bytes), [c.height, c.width, 3], 'int32');
  const d = await net.computeFaceDescriptor(t);
  t.dispose();
  descriptors.push(Array.from(d));
}
await writeFile(outFile, JSON.stringify({ descriptors, tfjs: tf.version_core, faceapi: faceapi.version }));
