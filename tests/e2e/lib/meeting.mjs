// What a person does in Moot's web client, and what the tests check on a page. Controls are
// found only by role + accessible name (docs/ui-names.md); media is checked by looking at the
// pixels and listening to the samples that arrive.

import { randomInt } from 'node:crypto';
import { QUADRANTS, TONE_HZ } from './media.mjs';

export const WAIT_MS = 20_000;
/** Per-channel tolerance for the quadrant colours after a lossy codec. */
export const COLOUR_TOLERANCE = 60;
/** How far from 440 Hz the loudest frequency bin may be. */
export const TONE_TOLERANCE_HZ = 50;
/** RMS (full scale = 1) under which we call it silence. The sine is made at 1/8 of full scale
 * (RMS ≈ 0.088); Chromium's capture processing (noise suppression treats a steady tone as
 * noise) brings it down to ≈ 0.0095 after ~4 s, measured here on a loopback peer connection;
 * silence, comfort noise or an empty track is far below 0.001. */
export const MIN_TONE_RMS = 0.003;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * An unguessable room name in the home page's own style: four groups of five letters.
 * @param {string} [prefix]
 */
export function randomRoom(prefix = '') {
  const cons = 'bdfghjklmnprstvz';
  const vow = 'aeiou';
  const group = () =>
    [cons, vow, cons, vow, cons].map((set) => set[randomInt(set.length)]).join('');
  return prefix + [group(), group(), group(), group()].join('-');
}

/**
 * Polls `probe` until `ok(value)` holds; throws with the last value seen otherwise.
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} probe
 * @param {(v: T) => boolean} ok
 * @param {{timeout?: number, interval?: number}} [opts]
 * @returns {Promise<T>}
 */
export async function waitFor(what, probe, ok, opts = {}) {
  const deadline = Date.now() + (opts.timeout ?? WAIT_MS);
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await probe();
      lastErr = undefined;
      if (ok(last)) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const seen = lastErr ? `error: ${lastErr.message}` : JSON.stringify(last);
      throw new Error(`timed out after ${opts.timeout ?? WAIT_MS} ms waiting for ${what}; last seen: ${seen}`);
    }
    await sleep(opts.interval ?? 250);
  }
}

/** The tile of a participant, by its accessible name (exactly). */
export function tile(page, name) {
  return page.getByRole('group', { name, exact: true });
}

/**
 * Opens the room, types the name, optionally turns devices off, joins, and waits for the
 * meeting toolbar.
 * @param {import('playwright-core').Page} page
 * @param {string} baseUrl ends with "/"
 * @param {string} room
 * @param {string} name
 * @param {{camera?: boolean, microphone?: boolean}} [opts]
 */
export async function joinMeeting(page, baseUrl, room, name, opts = {}) {
  await askToJoin(page, baseUrl, room, name, opts);
  await page.getByRole('toolbar', { name: 'Meeting controls' }).waitFor({ state: 'visible' });
}

/**
 * Like {@link joinMeeting} but only up to the click on **Join meeting**: the server may make
 * the person wait in a lobby, ask for a password, or refuse.
 * @param {import('playwright-core').Page} page
 * @param {string} baseUrl ends with "/"
 * @param {string} room
 * @param {string} name
 * @param {{camera?: boolean, microphone?: boolean, password?: string, knock?: string}} [opts]
 */
export async function askToJoin(page, baseUrl, room, name, opts = {}) {
  await page.goto(baseUrl + room);
  await page.getByRole('textbox', { name: 'Your name' }).fill(name);
  for (const [label, wanted] of [
    ['Camera', opts.camera ?? true],
    ['Microphone', opts.microphone ?? true],
  ]) {
    if (wanted) continue;
    const toggle = page.getByRole('button', { name: label, exact: true });
    await toggle.waitFor({ state: 'visible' });
    // The device may still be starting; it must end up off either way.
    await waitFor(`${label} toggle to expose aria-pressed`, () => toggle.getAttribute('aria-pressed'), (v) => v === 'true' || v === 'false');
    if ((await toggle.getAttribute('aria-pressed')) === 'true') await toggle.click();
    await waitFor(`${label} toggle to be off`, () => toggle.getAttribute('aria-pressed'), (v) => v === 'false');
  }
  if (opts.knock) await page.getByRole('textbox', { name: 'Message to the moderator' }).fill(opts.knock);
  await page.getByRole('button', { name: 'Join meeting' }).click();
}

/**
 * Frame statistics of the first <video> in a tile. `frames` counts decoded frames.
 * @param {import('playwright-core').Locator} t
 */
export async function videoStats(t) {
  return videoElementStats(t.locator('video').first());
}

/**
 * Frame statistics of one <video> element.
 * @param {import('playwright-core').Locator} video
 */
export async function videoElementStats(video) {
  return video.evaluate((v) => {
    const q = typeof v.getVideoPlaybackQuality === 'function' ? v.getVideoPlaybackQuality() : null;
    return {
      width: v.videoWidth,
      height: v.videoHeight,
      frames: q ? q.totalVideoFrames : -1,
      time: v.currentTime,
      paused: v.paused,
      readyState: v.readyState,
      hasStream: !!v.srcObject,
    };
  }, undefined, { timeout: 2_000 });
}

/**
 * Waits until the tile's video has a size and its decoded-frame count (and clock) advance.
 * @param {import('playwright-core').Locator} t
 * @param {string} what for messages
 */
export async function waitForVideoFrames(t, what, timeout = WAIT_MS) {
  let prev = null;
  return waitFor(
    `${what}: video frames decoded and advancing`,
    async () => {
      const now = await videoStats(t);
      const before = prev;
      prev = now;
      return { now, before };
    },
    ({ now, before }) =>
      !!before &&
      now.width > 0 &&
      now.height > 0 &&
      now.frames > before.frames &&
      before.frames > 0 &&
      now.time > before.time,
    { timeout, interval: 500 },
  ).then((r) => r.now);
}

/**
 * Draws the tile's video into a canvas and reads the average colour around the centre of each
 * quadrant.
 * @param {import('playwright-core').Locator} t
 */
export async function sampleQuadrants(t) {
  const points = Object.fromEntries(Object.entries(QUADRANTS).map(([k, q]) => [k, q.at]));
  return t.locator('video').first().evaluate(
    (v, pts) => {
      const w = v.videoWidth;
      const h = v.videoHeight;
      if (!w || !h) return { w, h, colours: null };
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(v, 0, 0, w, h);
      const colours = {};
      for (const [k, [fx, fy]] of Object.entries(pts)) {
        const r = Math.max(1, Math.floor(Math.min(w, h) / 40));
        const x0 = Math.round(fx * w) - r;
        const y0 = Math.round(fy * h) - r;
        const d = g.getImageData(x0, y0, 2 * r + 1, 2 * r + 1).data;
        const sum = [0, 0, 0];
        for (let i = 0; i < d.length; i += 4) {
          sum[0] += d[i];
          sum[1] += d[i + 1];
          sum[2] += d[i + 2];
        }
        const n = d.length / 4;
        colours[k] = sum.map((s) => Math.round(s / n));
      }
      return { w, h, colours };
    },
    points,
    { timeout: 2_000 },
  );
}

function quadrantsMatch(sample) {
  if (!sample.colours) return false;
  return Object.entries(QUADRANTS).every(([k, q]) =>
    q.rgb.every((want, i) => Math.abs(sample.colours[k][i] - want) <= COLOUR_TOLERANCE),
  );
}

/** Waits until the tile shows the four known quadrant colours. */
export async function waitForQuadrants(t, what, timeout = WAIT_MS) {
  return waitFor(`${what}: the four quadrant colours (red, lime / blue, white)`, () => sampleQuadrants(t), quadrantsMatch, {
    timeout,
    interval: 500,
  });
}

/**
 * Listens to the audio a tile plays: its <audio> element's stream (or, failing that, another
 * media element of the tile that carries an audio track) through a WebAudio AnalyserNode.
 * `t` may also be an <audio> element itself (an audio slot's). Returns a few samples of
 * {peakHz, rms}.
 * @param {import('playwright-core').Locator} t
 */
export async function listen(t, ms = 1_600) {
  const handle = await t.evaluateHandle((el) => {
    const withAudio = (m) =>
      m && m.srcObject instanceof MediaStream && m.srcObject.getAudioTracks().length > 0;
    const audios = el.matches('audio') ? [el] : [...el.querySelectorAll('audio')];
    return audios.find(withAudio) ?? [...el.querySelectorAll('video')].find(withAudio) ?? audios[0] ?? null;
  });
  const found = await handle.evaluate((m) => (m ? m.tagName.toLowerCase() : null));
  if (!found) throw new Error('the tile holds no <audio> element (nor a media element with an audio track)');
  return handle.evaluate(
    async (m, ms) => {
      if (!(m.srcObject instanceof MediaStream)) return { element: m.tagName, error: 'srcObject is not a MediaStream' };
      const tracks = m.srcObject.getAudioTracks();
      if (!tracks.length) return { element: m.tagName, error: 'no audio track in srcObject' };
      const info = tracks.map((tr) => ({ readyState: tr.readyState, muted: tr.muted, enabled: tr.enabled }));
      const ctx = new AudioContext();
      try {
        await ctx.resume();
        const src = ctx.createMediaStreamSource(new MediaStream(tracks));
        const an = ctx.createAnalyser();
        an.fftSize = 8192;
        an.smoothingTimeConstant = 0;
        src.connect(an);
        const freq = new Float32Array(an.frequencyBinCount);
        const time = new Float32Array(an.fftSize);
        const binHz = ctx.sampleRate / an.fftSize;
        const samples = [];
        const steps = Math.max(2, Math.round(ms / 200));
        for (let i = 0; i < steps; i++) {
          await new Promise((r) => setTimeout(r, 200));
          an.getFloatFrequencyData(freq);
          an.getFloatTimeDomainData(time);
          let sq = 0;
          for (const x of time) sq += x * x;
          let best = -1;
          let bestDb = -Infinity;
          // Ignore DC and the lowest bins (under 50 Hz).
          for (let b = Math.ceil(50 / binHz); b < freq.length; b++) {
            if (freq[b] > bestDb) {
              bestDb = freq[b];
              best = b;
            }
          }
          samples.push({
            peakHz: Math.round(best * binHz),
            peakDb: Math.round(bestDb),
            rms: Number(Math.sqrt(sq / time.length).toFixed(4)),
          });
        }
        return { element: m.tagName.toLowerCase(), tracks: info, state: ctx.state, samples };
      } finally {
        await ctx.close();
      }
    },
    ms,
  );
}

function toneHeard(r, minRms = MIN_TONE_RMS) {
  if (!r.samples) return false;
  const good = r.samples.filter(
    (s) => Math.abs(s.peakHz - TONE_HZ) <= TONE_TOLERANCE_HZ && s.rms >= minRms,
  );
  return good.length * 2 > r.samples.length; // most of the samples
}

/** Waits until the tile's audio carries the 440 Hz tone with real energy. */
export async function waitForTone(t, what, timeout = WAIT_MS) {
  return waitFor(`${what}: a ${TONE_HZ} Hz tone (±${TONE_TOLERANCE_HZ} Hz, RMS ≥ ${MIN_TONE_RMS})`, () => listen(t), (r) => toneHeard(r), {
    timeout,
    interval: 100,
  });
}

/**
 * Checks everything a participant should get from one other participant who sends camera and
 * microphone: a tile, moving video with the right picture, the tone.
 */
export async function expectFullMedia(page, fromName, viewer) {
  const what = `${viewer} sees ${fromName}`;
  const t = tile(page, fromName);
  await t.waitFor({ state: 'visible' }).catch((e) => {
    throw new Error(`${what}: no visible role=group tile named "${fromName}": ${e.message.split('\n')[0]}`);
  });
  const frames = await waitForVideoFrames(t, what);
  const colours = await waitForQuadrants(t, what);
  const tone = await waitForTone(t, `${viewer} hears ${fromName}`);
  return { frames, colours, tone };
}

/** RMS under which a tile's audio counts as silent. */
export const SILENCE_RMS = 0.001;

/**
 * Waits until a tile plays no sound: no audio bound to it, or only silence.
 */
export async function waitForSilence(t, what, timeout = WAIT_MS) {
  return waitFor(
    `${what}: silence (RMS < ${SILENCE_RMS}) or no audio`,
    async () => {
      try {
        return await listen(t, 1_000);
      } catch (e) {
        if (/holds no <audio>/.test(e.message)) return { none: e.message };
        throw e;
      }
    },
    (r) => !!r.none || !!r.error || (!!r.samples && r.samples.every((x) => x.rms < SILENCE_RMS)),
    { timeout, interval: 100 },
  );
}
