// Who is speaking, measured locally with WebAudio AnalyserNodes (nothing is sent anywhere).

const POLL_MS = 100;
/** RMS level above which someone counts as speaking, and below which they stop (hysteresis). */
const START_LEVEL = 0.006;
const STOP_LEVEL = 0.003;
/** Keeps the ring on through the short pauses between words. */
const HOLD_MS = 600;

/**
 * @typedef {{
 *   source: MediaStreamAudioSourceNode,
 *   analyser: AnalyserNode,
 *   buffer: Float32Array<ArrayBuffer>,
 *   track: MediaStreamTrack,
 *   speaking: boolean,
 *   lastLoud: number,
 *   onchange: (speaking: boolean) => void,
 * }} Watched
 */

export class SpeakingDetector {
  constructor() {
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {Map<string, Watched>} */
    this.watched = new Map();
    this.timer = 0;
  }

  /** @returns {AudioContext | null} */
  #context() {
    if (!this.ctx) {
      try {
        this.ctx = new AudioContext();
      } catch {
        return null; // no WebAudio: no speaking indicator, nothing else breaks
      }
    }
    if (this.ctx.state === 'suspended') void this.ctx.resume().catch(() => {});
    return this.ctx;
  }

  /** Resumes the audio context (call from a user gesture if autoplay rules suspended it). */
  resume() {
    if (this.ctx && this.ctx.state === 'suspended') void this.ctx.resume().catch(() => {});
  }

  /**
   * Starts (or restarts, for a new track) watching the audio level under `key`.
   * @param {string} key
   * @param {MediaStreamTrack | null} track
   * @param {(speaking: boolean) => void} onchange
   */
  watch(key, track, onchange) {
    const current = this.watched.get(key);
    if (current && current.track === track) {
      current.onchange = onchange;
      return;
    }
    this.unwatch(key);
    if (!track) return;
    const ctx = this.#context();
    if (!ctx) return;
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    this.watched.set(key, {
      source,
      analyser,
      buffer: new Float32Array(analyser.fftSize),
      track,
      speaking: false,
      lastLoud: 0,
      onchange,
    });
    if (!this.timer) this.timer = window.setInterval(() => this.#poll(), POLL_MS);
  }

  /** @param {string} key */
  unwatch(key) {
    const w = this.watched.get(key);
    if (!w) return;
    w.source.disconnect();
    w.analyser.disconnect();
    this.watched.delete(key);
    if (w.speaking) w.onchange(false);
    if (this.watched.size === 0 && this.timer) {
      window.clearInterval(this.timer);
      this.timer = 0;
    }
  }

  #poll() {
    const now = performance.now();
    for (const w of this.watched.values()) {
      w.analyser.getFloatTimeDomainData(w.buffer);
      let sum = 0;
      for (const v of w.buffer) sum += v * v;
      const rms = Math.sqrt(sum / w.buffer.length);
      const live = w.track.readyState === 'live' && w.track.enabled;
      if (live && rms >= (w.speaking ? STOP_LEVEL : START_LEVEL)) w.lastLoud = now;
      const speaking = live && now - w.lastLoud < HOLD_MS && w.lastLoud > 0;
      if (speaking !== w.speaking) {
        w.speaking = speaking;
        w.onchange(speaking);
      }
    }
  }

  close() {
    for (const key of [...this.watched.keys()]) this.unwatch(key);
    void this.ctx?.close().catch(() => {});
    this.ctx = null;
  }
}
