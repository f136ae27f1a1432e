// Camera and microphone capture for enrollment: a live preview, JPEG
// frames drawn from the video, and the microphone recorded as 16 kHz mono
// 16-bit PCM in a WAV file (what the server's speech recogniser reads).

// openMedia starts the front camera preview. The microphone is opened
// only while recording (record), so it is live no longer than needed.
export async function openMedia(video) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
  });
  video.srcObject = stream;
  video.muted = true;
  await video.play();
  return stream;
}

export function closeMedia(stream) {
  if (stream) stream.getTracks().forEach((t) => t.stop());
}

// frame draws the current video picture into a JPEG blob.
export function frame(video, quality = 0.9) {
  const c = document.createElement("canvas");
  c.width = video.videoWidth || 640;
  c.height = video.videoHeight || 480;
  c.getContext("2d").drawImage(video, 0, 0, c.width, c.height);
  return new Promise((resolve) => c.toBlob(resolve, "image/jpeg", quality));
}

// record opens the microphone and captures ms milliseconds of it, calling
// onProgress(fraction) as it goes and grabbing a video frame at each of
// frameAt (fractions of the recording). It resolves to {wav, frames}.
export async function record(video, ms, frameAt, onProgress) {
  // The audio graph is built before the microphone opens: the citizen
  // starts reading when the button is pressed, and sound that arrives
  // while the worklet module loads would be lost (the first digit).
  const ctx = new AudioContext();
  const chunks = [];
  let node;
  try {
    await ctx.audioWorklet.addModule(new URL("./pcm-worklet.js", import.meta.url));
    node = new AudioWorkletNode(ctx, "pcm-tap");
    node.port.onmessage = (e) => chunks.push(e.data);
  } catch (e) {
    // Fallback where AudioWorklet is missing: the deprecated processor.
    node = ctx.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (e) => chunks.push(e.inputBuffer.getChannelData(0).slice(0));
  }
  const sink = ctx.createGain();
  sink.gain.value = 0; // keep the graph pulling without playing anything
  node.connect(sink);
  sink.connect(ctx.destination);
  if (ctx.state === "suspended") await ctx.resume().catch(() => {});
  let mic;
  try {
    mic = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    await ctx.close();
    throw e;
  }
  const src = ctx.createMediaStreamSource(mic);
  src.connect(node);
  const frames = [];
  const start = performance.now();
  const pending = frameAt.slice().sort();
  await new Promise((resolve) => {
    const tick = async () => {
      const f = Math.min(1, (performance.now() - start) / ms);
      onProgress && onProgress(f);
      while (pending.length && f >= pending[0]) {
        pending.shift();
        frames.push(frame(video));
      }
      if (f >= 1) resolve();
      else setTimeout(tick, 100);
    };
    tick();
  });
  src.disconnect();
  node.disconnect();
  closeMedia(mic);
  const rate = ctx.sampleRate;
  await ctx.close();
  const pcm = await resample(concat(chunks), rate, 16000);
  return { wav: wav(pcm, 16000), frames: await Promise.all(frames) };
}

function concat(chunks) {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Float32Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

// resample converts x from one sample rate to another with the browser's
// own resampler (an OfflineAudioContext renders at the target rate, with a
// proper low-pass filter against aliasing), and falls back to downsample.
export async function resample(x, from, to) {
  if (from === to || x.length === 0) return x;
  try {
    const n = Math.max(1, Math.floor((x.length * to) / from));
    const off = new OfflineAudioContext(1, n, to);
    const buf = off.createBuffer(1, x.length, from);
    buf.copyToChannel(x, 0);
    const src = off.createBufferSource();
    src.buffer = buf;
    src.connect(off.destination);
    src.start();
    return (await off.startRendering()).getChannelData(0);
  } catch (e) {
    return downsample(x, from, to);
  }
}

// downsample averages the input over each output sample's span (a box
// filter: enough against aliasing for speech at 16 kHz).
export function downsample(x, from, to) {
  if (from === to) return x;
  const ratio = from / to;
  const n = Math.floor(x.length / ratio);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.floor(i * ratio);
    const b = Math.min(x.length, Math.floor((i + 1) * ratio));
    let s = 0;
    for (let j = a; j < b; j++) s += x[j];
    out[i] = b > a ? s / (b - a) : 0;
  }
  return out;
}

// wav encodes float samples in [-1, 1] as a 16-bit PCM mono WAV blob.
export function wav(samples, rate) {
  const buf = new ArrayBuffer(44 + samples.length * 2);
  const v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF");
  v.setUint32(4, 36 + samples.length * 2, true);
  str(8, "WAVE");
  str(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  str(36, "data");
  v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    v.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([buf], { type: "audio/wav" });
}
