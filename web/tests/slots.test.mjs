// Audio slots (docs/protocol.md, "Large rooms" → "Audio slots") without a browser: the
// messages, the slot → owner map across offers, and the decryption of a slot's frames with the
// owner's key first and the other senders' keys when the media outran the `slot` message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeServerMessage, ProtocolError, SignalingClient } from '../assets/js/protocol.js';
import { keptSlots } from '../assets/js/session.js';
import { E2eeKeys, slotKeyOrder, toBase64 } from '../assets/js/e2ee.js';

test('offer.slots and slot messages are decoded and checked', () => {
  const o = decodeServerMessage(JSON.stringify({ type: 'offer', sdp: 'v=0', tracks: [], slots: ['4', '5'] }));
  assert.deepEqual(o, { type: 'offer', sdp: 'v=0', tracks: [], slots: ['4', '5'] });
  const none = decodeServerMessage(JSON.stringify({ type: 'offer', sdp: 'v=0', tracks: [], slots: null }));
  assert.deepEqual(none?.type === 'offer' ? none.slots : 'not an offer', []);
  assert.throws(() => decodeServerMessage('{"type":"offer","sdp":"v=0","tracks":[],"slots":"4"}'), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"offer","sdp":"v=0","tracks":[],"slots":[4]}'), ProtocolError);
  assert.deepEqual(decodeServerMessage('{"type":"slot","mid":"4","participant":"p2"}'), { type: 'slot', mid: '4', participant: 'p2' });
  assert.throws(() => decodeServerMessage('{"type":"slot","mid":4,"participant":"p2"}'), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"slot","mid":"4"}'), ProtocolError);
});

test('the one client offer says audio_slots', () => {
  /** @type {string[]} */
  const sent = [];
  class FakeSocket extends EventTarget {
    readyState = 1;
    /** @param {string} t */
    send(t) {
      sent.push(t);
    }
    close() {}
  }
  const c = new SignalingClient({ url: 'ws://x/api/ws', room: 'r', name: 'N', WebSocketImpl: /** @type {any} */ (FakeSocket) });
  c.connect();
  c.socket?.dispatchEvent(new Event('open'));
  c.sendOffer('v=0', { 0: 'microphone' }, true);
  c.sendOffer('v=0', undefined, true);
  assert.deepEqual(sent.slice(1).map((t) => JSON.parse(t)), [
    { type: 'offer', sdp: 'v=0', sources: { 0: 'microphone' }, audio_slots: true },
    { type: 'offer', sdp: 'v=0', audio_slots: true },
  ]);
});

test('an offer keeps the owners of the slots it lists and drops the others', () => {
  let slots = keptSlots(new Map(), ['4', '5', '6']);
  assert.deepEqual([...slots], [['4', null], ['5', null], ['6', null]]);
  slots.set('4', 'p2');
  slots.set('6', 'p3');
  slots = keptSlots(slots, ['4', '5', '7']);
  assert.deepEqual([...slots], [['4', 'p2'], ['5', null], ['7', null]], '6 is gone, 7 is new');
  assert.deepEqual([...keptSlots(slots, [])], [], 'a small room again: no slots');
});

test('a slot frame is tried with the owner first, then the last opener, then everyone', () => {
  assert.deepEqual(slotKeyOrder('p2', undefined, ['p2', 'p3', 'p4']), ['p2', 'p3', 'p4']);
  assert.deepEqual(slotKeyOrder('p2', 'p4', ['p2', 'p3', 'p4']), ['p2', 'p4', 'p3']);
  assert.deepEqual(slotKeyOrder(undefined, undefined, ['p3', 'p4']), ['p3', 'p4'], 'no owner known yet');
  assert.deepEqual(slotKeyOrder('p9', 'p9', []), ['p9']);
});

/** Three people; p1 listens, p2 and p3 have given p1 their keys. */
async function listener() {
  const all = [];
  for (let i = 0; i < 3; i++) {
    const k = await E2eeKeys.create();
    k.me = `p${i + 1}`;
    all.push(k);
  }
  const [me, b, c] = all;
  for (const k of all) for (const o of all) if (o !== k) k.addPeer(o.me, o.publicKey);
  for (const sender of [b, c]) {
    sender.send = (to, payload) => void me.receive(sender.me, payload);
    await sender.sendKey('p1');
  }
  await new Promise((r) => setTimeout(r, 50));
  return { me, b, c };
}

const opus = (n) => Uint8Array.from([0xfc, n, n + 1, n + 2, n + 3, n + 4, n + 5]);

test('slot frames: the owner key, the fallback when the slot message is late, the counters', async () => {
  const { me, b, c } = await listener();
  const fromB = await b.encrypt('audio', opus(1));
  const fromC = await c.encrypt('audio', opus(2));
  // An ordinary mid keeps one key: C's frame on B's track does not open.
  assert.equal(await me.decrypt('audio', 'p2', fromC), null);
  assert.deepEqual([me.stats.decrypted, me.stats.failed, me.stats.noKey, me.stats.slotFallback], [0, 1, 0, 0]);
  // On slot '4', owned by B: B's frame opens with B's key.
  assert.deepEqual([...((await me.decrypt('audio', 'p2', fromB, '4')) ?? [])], [...opus(1)]);
  assert.equal(me.stats.decrypted, 1);
  assert.equal(me.stats.slotFallback, 0);
  // C took the slot, the message has not arrived: C's frame still opens, counted decrypted.
  assert.deepEqual([...((await me.decrypt('audio', 'p2', fromC, '4')) ?? [])], [...opus(2)]);
  assert.equal(me.stats.decrypted, 2);
  assert.equal(me.stats.slotFallback, 1);
  assert.equal(me.stats.failed, 1, 'the fallback that opened it is no failure');
  assert.equal(me.slotOpeners.get('4'), 'p3');
  // No owner known yet: everyone's keys are tried.
  assert.ok(await me.decrypt('audio', undefined, await c.encrypt('audio', opus(3)), '5'));
  // A frame nobody's key opens (tampered) fails once and is dropped.
  const bad = (await b.encrypt('audio', opus(4))).slice();
  bad[bad.length - 1] ^= 1;
  const failed = me.stats.failed;
  assert.equal(await me.decrypt('audio', 'p2', bad, '4'), null);
  assert.equal(me.stats.failed, failed + 1);
  // A frame under a key nobody gave us: noKey.
  const stranger = await E2eeKeys.create();
  for (let i = 0; i < 3; i++) await stranger.left(); // generation 3: a KID nobody here knows
  const noKey = me.stats.noKey;
  assert.equal(await me.decrypt('audio', 'p2', await stranger.encrypt('audio', opus(5)), '4'), null);
  assert.equal(me.stats.noKey, noKey + 1);
});

test('the frame worker (RTCRtpScriptTransform) decrypts slot frames the same way', async () => {
  const { b, c } = await listener();
  // The worker's global scope, and its counters' timer, caught instead of left running.
  /** @type {any[]} */
  const posted = [];
  /** @type {(() => void) | null} */
  let report = null;
  const scope = /** @type {any} */ (globalThis);
  const realSetInterval = scope.setInterval;
  scope.self = { postMessage: (/** @type {any} */ m) => posted.push(m) };
  scope.setInterval = (/** @type {() => void} */ f) => {
    report = f;
    return 0;
  };
  try {
    await import('../assets/js/sframe-worker.js');
  } finally {
    scope.setInterval = realSetInterval;
  }
  const worker = scope.self;
  const tell = (/** @type {any} */ m) => worker.onmessage({ data: m });
  tell({ t: 'active', on: true });
  for (const k of [b, c]) tell({ t: 'peer', id: k.me, gen: k.gen, step: k.step, key: toBase64(k.base) });
  tell({ t: 'owners', owners: [['2', 'p2'], ['4', 'p2']], slots: ['4'] });
  /** Runs frames through a receiving transform of `mid`; what comes out. @param {string} mid @param {Uint8Array[]} frames */
  const receive = async (mid, frames) => {
    /** @type {Uint8Array[]} */
    const out = [];
    const readable = new ReadableStream({
      start(ctl) {
        for (const f of frames) ctl.enqueue({ data: f.slice().buffer });
        ctl.close();
      },
    });
    const writable = new WritableStream({ write: (/** @type {any} */ f) => void out.push(new Uint8Array(f.data)) });
    worker.onrtctransform({ transformer: { options: { side: 'receive', kind: 'audio', mid }, readable, writable } });
    await new Promise((r) => setTimeout(r, 100));
    return out.map((f) => [...f]);
  };
  const fromC = await c.encrypt('audio', opus(2));
  const fromB = await b.encrypt('audio', opus(1));
  assert.deepEqual(await receive('2', [fromC, fromB]), [[...opus(1)]], "an ordinary mid: only its owner's frames");
  assert.deepEqual(await receive('4', [fromC, fromB]), [[...opus(2)], [...opus(1)]], 'a slot: C (before the slot message) and B');
  report?.();
  assert.deepEqual(posted.at(-1), { t: 'stats', stats: { encrypted: 0, decrypted: 3, failed: 1, noKey: 0, slotFallback: 1 } });
});
