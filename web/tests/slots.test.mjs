// Audio slots (docs/protocol.md, "Large rooms" → "Audio slots") without a browser (their
// messages are in protocol.test.mjs): the slot → owner map across offers, the decryption of a slot's frames with the
// owner's key first and the other senders' keys when the media outran the `slot` message, and,
// with end-to-end encryption, a slot's owner for the UI being the sender whose key opened its
// frames: told only when it changes (page and frame worker), winning over the server's claim,
// with a console warning when the two differ too long while the slot sounds.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { keptSlots } from '../assets/js/media-session.js';
import { E2eeKeys, noteOpener, slotKeyOrder, toBase64 } from '../assets/js/e2ee.js';
import { MISMATCH_WARN_MS, SlotAudio, SlotOwner } from '../assets/js/slots.js';

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
  // Whose key opened slot 4's frames, told to the page on each change only: C, then B.
  const openers = () => posted.filter((m) => m.t === 'opener');
  assert.deepEqual(openers(), [{ t: 'opener', mid: '4', from: 'p3' }, { t: 'opener', mid: '4', from: 'p2' }]);
  await receive('4', [await b.encrypt('audio', opus(3)), await b.encrypt('audio', opus(4))]);
  assert.equal(openers().length, 2, 'more of B’s frames: no new report');
  await receive('2', [await c.encrypt('audio', opus(5))]);
  assert.equal(openers().length, 2, 'an ordinary mid reports no opener');
  // An offer without slot 4: its opener is forgotten, so a later slot 4 reports afresh.
  tell({ t: 'owners', owners: [['4', 'p2']], slots: [] });
  tell({ t: 'owners', owners: [['4', 'p2']], slots: ['4'] });
  await receive('4', [await b.encrypt('audio', opus(6))]);
  assert.deepEqual(openers().at(-1), { t: 'opener', mid: '4', from: 'p2' });
  assert.equal(openers().length, 3);
});

test('noteOpener: true only when a slot’s opener changes', () => {
  /** @type {Map<string, string>} */
  const m = new Map();
  assert.equal(noteOpener(m, '4', 'p2'), true);
  assert.equal(noteOpener(m, '4', 'p2'), false);
  assert.equal(noteOpener(m, '5', 'p2'), true, 'another slot');
  assert.equal(noteOpener(m, '4', 'p3'), true);
  assert.deepEqual([...m], [['4', 'p3'], ['5', 'p2']]);
});

test('E2eeKeys tells a slot’s opener on change only; keepSlots forgets gone slots', async () => {
  const { me, b, c } = await listener();
  /** @type {{mid: string, from: string}[]} */
  const told = [];
  me.addEventListener('slotopener', (ev) => told.push(/** @type {CustomEvent} */ (ev).detail));
  for (let i = 0; i < 3; i++) assert.ok(await me.decrypt('audio', 'p2', await b.encrypt('audio', opus(i)), '4'));
  assert.deepEqual(told, [{ mid: '4', from: 'p2' }], 'three frames of B: one event');
  // The server still says B, but C's frames come (a stale claim, or a lying server).
  for (let i = 0; i < 3; i++) assert.ok(await me.decrypt('audio', 'p2', await c.encrypt('audio', opus(i)), '4'));
  assert.deepEqual(told.at(-1), { mid: '4', from: 'p3' });
  assert.equal(told.length, 2);
  // An ordinary mid and a frame no key opens tell nothing.
  await me.decrypt('audio', 'p2', await b.encrypt('audio', opus(9)));
  const bad = (await b.encrypt('audio', opus(4))).slice();
  bad[bad.length - 1] ^= 1;
  assert.equal(await me.decrypt('audio', 'p2', bad, '4'), null);
  assert.equal(told.length, 2);
  // The frame worker's reports go the same way.
  me.slotOpened('5', 'p2');
  me.slotOpened('5', 'p2');
  assert.deepEqual(told.slice(2), [{ mid: '5', from: 'p2' }]);
  me.keepSlots(['5']);
  assert.deepEqual([...me.slotOpeners], [['5', 'p2']], 'slot 4 is gone: forgotten, without an event');
  assert.equal(told.length, 3);
  me.keepSlots([]);
  assert.equal(me.slotOpeners.size, 0);
});

test('SlotOwner: the opener wins over the claim; a lasting mismatch while sounding warns once', () => {
  const o = new SlotOwner();
  assert.equal(o.owner, null);
  o.claim('p2', 0);
  assert.equal(o.owner, 'p2', 'without E2EE the claim is all there is');
  o.open('p2', 10);
  assert.equal(o.warnAt, null, 'they agree');
  // A change of hands: the media outruns the `slot` message by a few frames.
  o.open('p3', 100);
  assert.equal(o.owner, 'p3', 'the ring follows the key, at once');
  assert.equal(o.warnAt, 100 + MISMATCH_WARN_MS);
  assert.equal(o.shouldWarn(150, true), false);
  o.claim('p3', 180);
  assert.equal(o.warnAt, null, 'the message arrived: agreed, no warning');
  assert.equal(o.shouldWarn(5000, true), false);
  // The server claims p4 while p3's frames keep coming.
  o.claim('p4', 1000);
  assert.equal(o.owner, 'p3');
  assert.equal(o.shouldWarn(1000 + MISMATCH_WARN_MS - 1, true), false, 'not yet');
  assert.equal(o.shouldWarn(1000 + MISMATCH_WARN_MS, false), false, 'silent: maybe p4 just has not spoken yet');
  assert.equal(o.shouldWarn(1000 + MISMATCH_WARN_MS + 500, true), true, 'still p3 heard: warn');
  assert.equal(o.shouldWarn(1000 + MISMATCH_WARN_MS + 900, true), false, 'once');
  assert.equal(o.warnAt, null);
  // Agreement, then a new mismatch: a new occurrence.
  o.claim('p3', 3000);
  o.claim('p2', 4000);
  assert.equal(o.shouldWarn(4000 + MISMATCH_WARN_MS, true), true);
});

/** A fake DOM element, enough for SlotAudio (h() in dom.js). */
function fakeElement() {
  return {
    dataset: /** @type {Record<string, string>} */ ({}),
    attributes: /** @type {Record<string, string>} */ ({}),
    children: /** @type {any[]} */ ([]),
    className: '',
    srcObject: null,
    setAttribute(/** @type {string} */ k, /** @type {string} */ v) {
      this.attributes[k] = v;
    },
    append(/** @type {any[]} */ ...c) {
      this.children.push(...c);
    },
    remove() {},
    play: async () => {},
    querySelectorAll: () => [],
  };
}

/** SlotAudio with a fake DOM and speaking detector; the rings it sets. */
function slotAudio() {
  const g = /** @type {any} */ (globalThis);
  g.document ??= { createElement: fakeElement };
  g.MediaStream ??= class {};
  /** @type {Map<string, (speaking: boolean) => void>} */
  const watched = new Map();
  const speaking = {
    watch: (/** @type {string} */ k, /** @type {any} */ _t, /** @type {(s: boolean) => void} */ f) => void watched.set(k, f),
    unwatch: (/** @type {string} */ k) => void watched.delete(k),
  };
  /** @type {Map<string, boolean>} */
  const rings = new Map();
  const audio = new SlotAudio({ speaking: /** @type {any} */ (speaking), ring: (id, on) => void rings.set(id, on), sinkId: () => '' });
  const session = { slotTracks: () => [{ mid: '4', owner: 'p2', track: /** @type {any} */ ({ id: 't4' }) }, { mid: '5', owner: null, track: /** @type {any} */ ({ id: 't5' }) }] };
  audio.update(session);
  const participantOf = (/** @type {string} */ mid) => /** @type {any} */ (audio.played.get(mid)?.audio).dataset.participantId;
  /** The slot's level says sound (or not). @param {string} mid @param {boolean} on */
  const sound = (mid, on) => watched.get(`slot:${mid}`)?.(on);
  return { audio, rings, participantOf, sound };
}

test('SlotAudio without E2EE: the ring and data-participant-id follow the server’s claim', () => {
  const { audio, rings, participantOf, sound } = slotAudio();
  assert.equal(participantOf('4'), 'p2');
  sound('4', true);
  assert.equal(rings.get('p2'), true);
  audio.setOwner('4', 'p3'); // a stale or lying claim: nothing else is known
  assert.equal(participantOf('4'), 'p3');
  assert.equal(rings.get('p2'), false);
  audio.close();
});

test('SlotAudio with E2EE: the slot rings whoever’s key opens its frames, and warns on a lasting mismatch', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const warn = mock.method(console, 'warn', () => {});
  try {
    const { audio, rings, participantOf, sound } = slotAudio();
    const keys = new E2eeKeys(/** @type {any} */ ({}), new Uint8Array(65));
    keys.slotOpened('5', 'p3'); // a frame opened before the page followed the keys
    audio.follow(keys);
    assert.equal(participantOf('5'), 'p3', 'the opener known so far');
    keys.slotOpened('4', 'p2');
    sound('4', true);
    assert.equal(rings.get('p2'), true);
    // The server claims slot 4 is p4's while p2's frames keep opening: p2 stays ringed.
    audio.setOwner('4', 'p4');
    assert.equal(participantOf('4'), 'p2');
    assert.equal(rings.get('p2'), true);
    assert.equal(rings.get('p4'), undefined, 'p4 never rung');
    mock.timers.tick(MISMATCH_WARN_MS - 1);
    assert.equal(warn.mock.callCount(), 0);
    mock.timers.tick(1);
    assert.equal(warn.mock.callCount(), 1, 'a lasting mismatch while the slot sounds');
    assert.match(String(warn.mock.calls[0].arguments[0]), /audio slot 4: the server says it carries p4's microphone, but p2's key opens its frames/);
    mock.timers.tick(10 * MISMATCH_WARN_MS);
    assert.equal(warn.mock.callCount(), 1, 'once');
    // A real change of hands: p4's frames arrive, the ring moves at once; the claim agrees.
    keys.slotOpened('4', 'p4');
    assert.equal(participantOf('4'), 'p4');
    assert.equal(rings.get('p2'), false);
    sound('4', true);
    assert.equal(rings.get('p4'), true);
    // The next change: the media outruns the `slot` message by a moment; no warning.
    keys.slotOpened('4', 'p3');
    assert.equal(participantOf('4'), 'p3');
    assert.equal(rings.get('p4'), false);
    sound('4', true);
    mock.timers.tick(50);
    audio.setOwner('4', 'p3');
    mock.timers.tick(10 * MISMATCH_WARN_MS);
    assert.equal(warn.mock.callCount(), 1);
    // Slot 5 (opened by p3) is claimed for p4 while silent: maybe p4 has not spoken yet, no
    // warning; then it sounds, and p3's key still opens it: a warning.
    audio.setOwner('5', 'p4');
    mock.timers.tick(3 * MISMATCH_WARN_MS);
    assert.equal(warn.mock.callCount(), 1);
    sound('5', true);
    assert.equal(warn.mock.callCount(), 2);
    assert.equal(rings.get('p3'), true, 'and the ring is p3’s');
    audio.close();
    keys.slotOpened('4', 'p2');
    assert.equal(rings.get('p2'), false, 'closed: no longer follows the keys');
  } finally {
    warn.mock.restore();
    mock.timers.reset();
  }
});
