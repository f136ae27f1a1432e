// Camera and microphone capture for enrollment: a live preview, JPEG
// frames drawn from the video, and the microphone recorded as 16 kHz mono
// 16-bit PCM in a WAV file (what the server's speech recogniser reads).
// The reading is recorded as video too: frames at about 12 a second, each
// with its time on the audio's clock (ms since the first recorded sample),
// while the screen shows the server's light sequence (docs/api.md 1.2).

// The front camera: small frames are enough (the face fills the picture).
const CAMERA = { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } };
// The microphone, with the browser's own clean-up of echo, noise and level.
export const MICROPHONE = { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true };

// Frames sent with the reading: at most FRAME_SIDE pixels a side and
// FRAME_BYTES bytes each (the server's bounds: 320 px, 96 KiB), one every
// FRAME_MS (13 a second: the server wants at least 10 a second and no gap
// over 250 ms, with a margin for a busy phone).
const FRAME_SIDE = 320;
const FRAME_BYTES = 90 * 1024;
const FRAME_MS = 1000 / 13;

// askPermission opens the camera and microphone once and closes them: the
// browser asks the citizen now, before the digits' timer starts.
export async function askPermission() {
  closeMedia(await navigator.mediaDevices.getUserMedia({ video: CAMERA, audio: MICROPHONE }));
}

// openMedia starts the front camera preview. The microphone is opened
// only while recording (recordReading), so it is live no longer than
// needed.
export async function openMedia(video) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: CAMERA });
  video.srcObject = stream;
  video.muted = true;
  await video.play();
  return stream;
}

export function closeMedia(stream) {
  if (stream) stream.getTracks().forEach((t) => t.stop());
}

// draw copies the current video picture into a canvas, at most maxSide
// pixels a side (0: the video's size).
function draw(video, maxSide) {
  const c = document.createElement("canvas");
  const w = video.videoWidth || 640, h = video.videoHeight || 480;
  const s = maxSide ? Math.min(1, maxSide / Math.max(w, h)) : 1;
  c.width = Math.round(w * s);
  c.height = Math.round(h * s);
  c.getContext("2d").drawImage(video, 0, 0, c.width, c.height);
  return c;
}

const jpeg = (c, quality) => new Promise((resolve) => c.toBlob(resolve, "image/jpeg", quality));

// frame draws the current video picture into a JPEG blob.
export function frame(video, quality = 0.9) {
  return jpeg(draw(video, 0), quality);
}

// smallFrame is a frame of the reading: the picture of this instant, at
// most FRAME_SIDE pixels a side, re-encoded at a lower quality when it
// would be larger than FRAME_BYTES.
async function smallFrame(video) {
  const c = draw(video, FRAME_SIDE);
  let q = 0.8;
  let b = await jpeg(c, q);
  while (b && b.size > FRAME_BYTES && q > 0.4) {
    q -= 0.15;
    b = await jpeg(c, q);
  }
  return b;
}

// running resolves when video shows pictures (at most 5 s).
function running(video) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const poll = () => {
      if (video.readyState >= 2 && video.videoWidth > 0) return resolve();
      if (performance.now() - t0 > 5000) return reject(new Error("the camera shows no picture"));
      setTimeout(poll, 20);
    };
    poll();
  });
}

// recordReading opens the camera (shown in video), then once it runs the
// microphone, and records for ms milliseconds (at least the light
// sequence's length): the audio, and a frame about every 77 ms with its
// time on the audio's clock. light is the server's sequence
// ({steps: [{color, start_ms, duration_ms}], total_ms}); onLight(color) is
// called whenever the screen must change colour, onProgress(fraction) as
// the recording goes. It resolves to {wav, frames, times} (times in ms
// since the first recorded sample, strictly increasing).
export async function recordReading(video, ms, light, onLight, onProgress) {
  const steps = (light && light.steps) || [];
  const total = Math.max(ms, (light && light.total_ms) || 0);
  // The audio graph is built before the microphone opens: sound that
  // arrives while the worklet module loads would be lost (the first digit).
  const ctx = new AudioContext();
  const chunks = [];
  let firstFrame = -1; // the context's sample frame of the first recorded sample
  let node;
  try {
    await ctx.audioWorklet.addModule(new URL("./pcm-worklet.js", import.meta.url));
    node = new AudioWorkletNode(ctx, "pcm-tap");
    node.port.onmessage = (e) => {
      if (firstFrame < 0) firstFrame = e.data.frame;
      chunks.push(e.data.samples);
    };
  } catch (e) {
    // Fallback where AudioWorklet is missing: the deprecated processor.
    node = ctx.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (e) => {
      if (firstFrame < 0) firstFrame = Math.round(e.playbackTime * ctx.sampleRate);
      chunks.push(e.inputBuffer.getChannelData(0).slice(0));
    };
  }
  const sink = ctx.createGain();
  sink.gain.value = 0; // keep the graph pulling without playing anything
  node.connect(sink);
  sink.connect(ctx.destination);
  if (ctx.state === "suspended") await ctx.resume().catch(() => {});
  // The camera first: the recording starts once it delivers pictures
  // (a camera can take half a second to start), then the microphone, so
  // that the first frames and the first samples are close in time.
  let cam, mic, src;
  try {
    cam = await navigator.mediaDevices.getUserMedia({ video: CAMERA });
    video.srcObject = cam;
    video.muted = true;
    await video.play();
    await running(video);
    mic = await navigator.mediaDevices.getUserMedia({ audio: MICROPHONE });
    src = ctx.createMediaStreamSource(mic);
    src.connect(node);
  } catch (e) {
    if (src) src.disconnect();
    closeMedia(cam);
    closeMedia(mic);
    await ctx.close();
    throw e;
  }
  // now is the audio clock in ms since the first recorded sample, NaN
  // until it arrives. The clock is the context's rendering time: its output
  // timestamp (advanced by the page's clock since) plus the output latency;
  // the first sample was captured the input latency before it was rendered.
  const inLatency = (mic.getAudioTracks()[0].getSettings().latency || 0) * 1000;
  const now = () => {
    if (firstFrame < 0) return NaN;
    const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    const sec = ts && ts.performanceTime
      ? ts.contextTime + (performance.now() - ts.performanceTime) / 1000 + (ctx.outputLatency || 0)
      : ctx.currentTime;
    return sec * 1000 - (firstFrame / ctx.sampleRate) * 1000 + inLatency;
  };
  const colorAt = (t) => {
    if (!steps.length) return "";
    for (const s of steps) if (t < s.start_ms + s.duration_ms) return s.color;
    return steps[steps.length - 1].color;
  };
  const frames = [], times = [];
  let shown = null, lastShot = -Infinity;
  if (steps.length) { shown = steps[0].color; onLight && onLight(shown); }
  try {
    await new Promise((resolve) => {
      let raf = 0;
      // The light follows the audio clock at the screen's refresh.
      const paint = () => {
        const t = now();
        if (!Number.isNaN(t)) {
          const c = colorAt(t);
          if (c && c !== shown) { shown = c; onLight && onLight(c); }
        }
        raf = requestAnimationFrame(paint);
      };
      raf = requestAnimationFrame(paint);
      const timer = setInterval(() => {
        const t = now();
        if (Number.isNaN(t)) return;
        onProgress && onProgress(Math.min(1, t / total));
        if (t - lastShot >= FRAME_MS - 10 && video.readyState >= 2) {
          lastShot = t;
          const ms = Math.round(t);
          if (!times.length || ms > times[times.length - 1]) {
            times.push(ms);
            frames.push(smallFrame(video));
          }
        }
        if (t >= total) {
          clearInterval(timer);
          cancelAnimationFrame(raf);
          resolve();
        }
      }, 20);
    });
  } finally {
    src.disconnect();
    node.disconnect();
    closeMedia(mic);
    closeMedia(cam);
  }
  const rate = ctx.sampleRate;
  await ctx.close();
  const pcm = await resample(concat(chunks), rate, 16000);
  return { wav: wav(pcm, 16000), frames: await Promise.all(frames), times };
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
