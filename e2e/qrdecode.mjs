// Reads the QR code in each PNG of a directory with zxing-cpp (the npm
// package zxing-wasm, its reader build, loaded from node_modules: no
// network) and prints {file: text} as JSON; "" where nothing was read.
// Used by e2e/qrscan_test.go as the decoder independent of the pages'.
import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { prepareZXingModule, readBarcodes } from "zxing-wasm/reader";

const require = createRequire(import.meta.url);
const wasm = await readFile(require.resolve("zxing-wasm/reader/zxing_reader.wasm"));
prepareZXingModule({ overrides: { wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) }, fireImmediately: true });

const dir = process.argv[2];
const out = {};
for (const f of (await readdir(dir)).filter((n) => n.endsWith(".png")).sort()) {
  const r = await readBarcodes(new Uint8Array(await readFile(join(dir, f))), { formats: ["QRCode"], maxNumberOfSymbols: 1 });
  out[f] = r.length && r[0].isValid ? r[0].text : "";
}
process.stdout.write(JSON.stringify(out));
