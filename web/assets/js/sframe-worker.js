// The frame worker of browsers that transform media with RTCRtpScriptTransform (Firefox,
// Safari): the same SFrame encryption and decryption as the page does with Chromium's
// createEncodedStreams (media-session.js), with the same keys. The page tells it every key change
// (e2ee.js `KeyUpdate`: our sender key, each sender key learned, keys forgotten), whether E2EE
// is on, which participant each receiving mid carries and which mids are audio slots; it never
// sees a pairwise key.
//
// Each transform is made with options {side: 'send' | 'receive', kind: 'audio' | 'video',
// mid}. Frames that cannot be decrypted are dropped. A frame on an audio slot is tried with the
// owner's keys, then with the other senders' (docs/protocol.md, "Audio slots": the media of a
// new owner can arrive before the page hears of it); when the sender whose key opens a slot's
// frames changes, the worker tells the page (`opener`, e2ee.js `WorkerReport`), which shows
// that sender as the one speaking on the slot. The counters go back to the page.

import { deriveFrameKey, encryptFrame, clearBytes, frameTransformStream } from './sframe.js';
import { fromBase64 } from './e2ee.js';
import { learnKey, decryptWith, decryptSlotFrame, slotKeyOrder, noteOpener } from './keyring.js';

/** @typedef {import('./keyring.js').KeyRing} KeyRing */
/** @typedef {import('./e2ee.js').KeyUpdate} KeyUpdate */
/** @typedef {import('./e2ee.js').WorkerReport} WorkerReport */
/** @typedef {import('./sframe.js').FrameKey} FrameKey */

const GEN = 65536;

let active = false;
/** Our sender key; the counter is shared by all our tracks and restarts with each key. */
/** @type {{key: Promise<FrameKey>, ctr: number} | null} */
let sending = null;
/** @type {Map<string, KeyRing>} */
const rings = new Map();
/** Receiving mid → participant id. */
/** @type {Map<string, string>} */
let owners = new Map();
/** The receiving mids that are audio slots, and whose key last opened a frame on each. */
/** @type {Set<string>} */
let slots = new Set();
/** @type {Map<string, string>} */
const slotOpeners = new Map();
const stats = { encrypted: 0, decrypted: 0, failed: 0, noKey: 0, slotFallback: 0 };
let reported = '';

/** @type {any} */
const scope = self;

/** @param {WorkerReport} m */
function report(m) {
  scope.postMessage(m);
}

/** @param {string} id */
function ring(id) {
  let r = rings.get(id);
  if (!r) {
    r = { gens: new Map(), latestGen: -1 };
    rings.set(id, r);
  }
  return r;
}

scope.onmessage = (/** @type {MessageEvent<KeyUpdate>} */ ev) => {
  const m = ev.data;
  switch (m.t) {
    case 'send': {
      const key = deriveFrameKey(fromBase64(m.key), m.gen * GEN + m.step);
      key.catch(() => {});
      sending = { key, ctr: 0 };
      break;
    }
    case 'peer':
      learnKey(ring(m.id), m.gen, m.step, fromBase64(m.key));
      break;
    case 'reset': {
      rings.delete(m.id);
      const r = ring(m.id);
      for (const k of m.keys) learnKey(r, k.gen, k.step, fromBase64(k.key));
      break;
    }
    case 'remove':
      rings.delete(m.id);
      break;
    case 'active':
      active = m.on;
      break;
    case 'owners':
      owners = new Map(m.owners);
      slots = new Set(m.slots ?? []);
      for (const mid of [...slotOpeners.keys()]) if (!slots.has(mid)) slotOpeners.delete(mid);
      break;
  }
};

/** @param {'audio' | 'video'} kind @param {Uint8Array<ArrayBuffer>} frame */
async function encrypt(kind, frame) {
  if (!active) return frame;
  const s = sending;
  if (!s) return null; // E2EE on and no key yet: send nothing rather than clear frames
  const ctr = s.ctr++;
  const out = await encryptFrame(await s.key, ctr, frame, clearBytes(kind, frame));
  stats.encrypted++;
  return out;
}

/** @param {'audio' | 'video'} kind @param {string | null} mid @param {Uint8Array<ArrayBuffer>} data */
async function decrypt(kind, mid, data) {
  if (!active) return data;
  const owner = mid === null ? undefined : owners.get(mid);
  if (mid === null || !slots.has(mid)) return decryptWith(owner === undefined ? undefined : rings.get(owner), kind, data, stats);
  const opened = await decryptSlotFrame(rings, slotKeyOrder(owner, slotOpeners.get(mid), rings.keys()), kind, data, stats);
  if (!opened) return null;
  if (noteOpener(slotOpeners, mid, opened.from)) report({ t: 'opener', mid, from: opened.from });
  return opened.plain;
}

scope.onrtctransform = (/** @type {any} */ ev) => {
  const transformer = ev.transformer;
  const { side, kind, mid } = transformer.options;
  const change = side === 'send' ? (/** @type {Uint8Array<ArrayBuffer>} */ d) => encrypt(kind, d) : (/** @type {Uint8Array<ArrayBuffer>} */ d) => decrypt(kind, mid ?? null, d);
  const transform = frameTransformStream(change);
  transformer.readable.pipeThrough(transform).pipeTo(transformer.writable).catch(() => {});
};

// The counters, for the page's diagnostics (the same as E2eeKeys.stats).
setInterval(() => {
  const now = JSON.stringify(stats);
  if (now === reported) return;
  reported = now;
  report({ t: 'stats', stats: { ...stats } });
}, 500);
