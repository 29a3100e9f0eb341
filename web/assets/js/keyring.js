// A receiver's sender keys and the decryption of media frames with them (docs/e2ee.md): what
// the page (e2ee.js `E2eeKeys`) and the frame worker (sframe-worker.js) share. WebCrypto only,
// tested in Node. Split from e2ee.js, which keeps the key exchange, chat and verification.

import { deriveFrameKey, ratchet, decryptFrame, frameHeader, clearBytes } from './sframe.js';

/** @typedef {import('./sframe.js').FrameKey} FrameKey */

/** KID = generation × GEN + ratchet step. */
export const GEN = 65536;
/** Steps a receiver derives forward at most to catch up with a sender's ratchet. */
const MAX_CATCH_UP = 64;
/** How long a receiver keeps a sender's previous generation for frames still in flight. */
export const OLD_KEY_MS = 2000;

/**
 * One sender key generation as a receiver knows it.
 * @typedef {{gen: number, step: number, base: Uint8Array<ArrayBuffer>, older: Map<number, Uint8Array<ArrayBuffer>>, keys: Map<number, FrameKey>, retireAt: number | null}} Generation
 */

/**
 * What a receiver knows of one sender's keys: its generations, and the newest one. A Peer is
 * one; so is the copy the frame worker keeps (sframe-worker.js).
 * @typedef {{gens: Map<number, Generation>, latestGen: number}} KeyRing
 */

/**
 * Learns a sender key (generation, ratchet step, base). Earlier steps of the generation stay
 * usable briefly for frames and messages still in flight; a newer generation retires the older
 * ones after OLD_KEY_MS.
 * @param {KeyRing} ring
 * @param {number} gen
 * @param {number} step
 * @param {Uint8Array<ArrayBuffer>} base
 */
export function learnKey(ring, gen, step, base) {
  const known = ring.gens.get(gen);
  if (known && known.step >= step) return;
  // What we already had of this generation stays usable for messages still in flight.
  const older = new Map(known ? [...known.older, [known.step, known.base]] : []);
  while (older.size > 4) older.delete(older.keys().next().value ?? -1);
  ring.gens.set(gen, { gen, step, base, older, keys: new Map(), retireAt: known?.retireAt ?? null });
  if (gen > ring.latestGen) {
    ring.latestGen = gen;
    const now = Date.now();
    for (const g of ring.gens.values()) if (g.gen < gen && g.retireAt === null) g.retireAt = now + OLD_KEY_MS;
  }
}

/**
 * The sender key (base) behind `kid`, deriving forward along the ratchet if needed; the bases
 * of a few earlier steps stay known briefly (frames and chat in flight), nothing older is
 * derivable.
 * @param {KeyRing} ring
 * @param {number} kid
 * @returns {Promise<Uint8Array<ArrayBuffer> | null>}
 */
export async function baseOf(ring, kid) {
  const gen = Math.floor(kid / GEN);
  const step = kid % GEN;
  const g = ring.gens.get(gen);
  if (!g) return null;
  if (g.retireAt !== null && Date.now() > g.retireAt) {
    ring.gens.delete(gen);
    return null;
  }
  if (step === g.step) return g.base;
  const earlier = g.older.get(step);
  if (earlier) return earlier;
  if (step < g.step || step - g.step > MAX_CATCH_UP) return null;
  const from = g.step;
  let base = g.base;
  /** @type {[number, Uint8Array<ArrayBuffer>][]} */
  const passed = [];
  for (let s = from; s < step; s++) {
    passed.push([s, base]);
    base = await ratchet(base);
  }
  if (g.step !== from) return step === g.step ? g.base : (g.older.get(step) ?? null);
  for (const [s, b] of passed) g.older.set(s, b);
  while (g.older.size > 4) g.older.delete(g.older.keys().next().value ?? -1);
  g.base = base;
  g.step = step;
  return base;
}

/**
 * The frame key for `kid` of a sender.
 * @param {KeyRing} ring
 * @param {number} kid
 * @returns {Promise<FrameKey | null>}
 */
export async function frameKeyOf(ring, kid) {
  const g = ring.gens.get(Math.floor(kid / GEN));
  const cached = g?.keys.get(kid);
  if (cached && (g?.retireAt === null || Date.now() <= (g?.retireAt ?? 0))) return cached;
  const base = await baseOf(ring, kid);
  if (!base || !g) return null;
  const fk = await deriveFrameKey(base, kid);
  g.keys.set(kid, fk);
  if (g.keys.size > 5) g.keys.delete(g.keys.keys().next().value ?? -1);
  return fk;
}

/**
 * Decrypts one incoming frame with a sender's keys; null when it cannot (no key for its KID, a
 * wrong key, a tampered frame). `stats` counts what happened.
 * @param {KeyRing | undefined} ring
 * @param {'audio' | 'video'} kind
 * @param {Uint8Array<ArrayBuffer>} data
 * @param {{decrypted: number, failed: number, noKey: number}} stats
 * @returns {Promise<Uint8Array<ArrayBuffer> | null>}
 */
export async function decryptWith(ring, kind, data, stats) {
  const clear = clearBytes(kind, data);
  const header = frameHeader(data, clear);
  const fk = ring && header ? await frameKeyOf(ring, header.kid) : null;
  if (!fk) {
    stats.noKey++;
    return null;
  }
  try {
    const out = await decryptFrame(fk, data, clear);
    stats.decrypted++;
    return out;
  } catch {
    stats.failed++;
    return null;
  }
}

/**
 * The senders whose keys a frame on an audio slot is tried with, in order: the slot's owner (as
 * the last `slot` message said), then whoever's key last opened a frame on this slot (the
 * media of a new owner can arrive before the `slot` message), then everyone else. No one twice.
 * @param {string | undefined} owner
 * @param {string | undefined} last
 * @param {Iterable<string>} senders everyone whose keys we hold
 * @returns {string[]}
 */
export function slotKeyOrder(owner, last, senders) {
  /** @type {string[]} */
  const out = [];
  for (const id of [owner, last, ...senders]) if (id !== undefined && !out.includes(id)) out.push(id);
  return out;
}

/**
 * Records whose key opened the latest frame on an audio slot; true when that is someone else
 * than before (the page, or the frame worker, then tells the UI: only on a change, never per
 * frame).
 * @param {Map<string, string>} openers slot mid → sender id
 * @param {string} mid
 * @param {string} from
 */
export function noteOpener(openers, mid, from) {
  if (openers.get(mid) === from) return false;
  openers.set(mid, from);
  return true;
}

/**
 * Decrypts one frame that came on an audio slot (docs/protocol.md, "Audio slots"): with the
 * keys of each sender in `order` until one opens it. `stats` counts it once: `decrypted` if some
 * key opened it (and `slotFallback` too if that was not the first sender's), else `failed` when
 * some sender had a key for its KID, else `noKey`.
 * @param {ReadonlyMap<string, KeyRing>} rings
 * @param {string[]} order sender ids, from {@link slotKeyOrder}
 * @param {'audio' | 'video'} kind
 * @param {Uint8Array<ArrayBuffer>} data
 * @param {{decrypted: number, failed: number, noKey: number, slotFallback: number}} stats
 * @returns {Promise<{plain: Uint8Array<ArrayBuffer>, from: string} | null>}
 */
export async function decryptSlotFrame(rings, order, kind, data, stats) {
  const clear = clearBytes(kind, data);
  const header = frameHeader(data, clear);
  let tried = false;
  if (header) {
    for (const [i, id] of order.entries()) {
      const ring = rings.get(id);
      const fk = ring ? await frameKeyOf(ring, header.kid) : null;
      if (!fk) continue;
      tried = true;
      try {
        const plain = await decryptFrame(fk, data, clear);
        stats.decrypted++;
        if (i > 0) stats.slotFallback++;
        return { plain, from: id };
      } catch {
        // not this sender's frame (or tampered): the next one
      }
    }
  }
  if (tried) stats.failed++;
  else stats.noKey++;
  return null;
}

