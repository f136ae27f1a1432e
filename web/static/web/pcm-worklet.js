// AudioWorklet processor: hands every block of microphone samples (channel
// 0, Float32) to the page, which resamples and encodes it, with the
// context's sample frame of the block's first sample (the clock the video
// frames are timed on). A separate file because worklets load by URL (no
// inline code under the CSP).
class PCMTap extends AudioWorkletProcessor {
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.port.postMessage({ frame: currentFrame, samples: ch.slice(0) });
    return true;
  }
}
registerProcessor("pcm-tap", PCMTap);
