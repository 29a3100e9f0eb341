// Unit tests of the DOM-free modules: `node --test web/tests/`.
// The guessable-name rule is checked against tests/vectors/guessable-room-names.txt, which the
// Rust twin (crates/room/src/guessable.rs) reads in its tests too: the two cannot drift apart.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { COMMON_WORDS, GUESSABLE_BELOW_BITS, estimateBits, isGuessable, splitRuns } from '../assets/js/guessable.js';
import { generateRoomName, roomNameProblem, displayNameProblem } from '../assets/js/names.js';
import { decodeServerMessage, signalingUrl, ProtocolError } from '../assets/js/protocol.js';

const VECTORS_PATH = 'tests/vectors/guessable-room-names.txt';
const VECTORS = readFileSync(new URL(`../../${VECTORS_PATH}`, import.meta.url), 'utf8');

/** A name as the vector file writes it: `""` is the empty name. @param {string} token */
const vectorName = (token) => (token === '""' ? '' : token);

test(`the guessable rule gives the answers of ${VECTORS_PATH}`, () => {
  /** @type {string[]} */
  const words = [];
  /** @type {number | null} */
  let threshold = null;
  let names = 0;
  VECTORS.split('\n').forEach((raw, index) => {
    const at = `${VECTORS_PATH}:${index + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [statement, ...fields] = line.split(/\s+/);
    switch (statement) {
      case 'threshold':
        threshold = Number(fields[0]);
        break;
      case 'words':
        words.push(...fields);
        break;
      case 'runs': {
        const [name, arrow, ...runs] = fields;
        assert.equal(arrow, '->', `${at}: runs NAME -> RUN...`);
        assert.deepEqual(splitRuns(vectorName(name)), runs, `${at}: the runs of ${JSON.stringify(name)}`);
        break;
      }
      case 'name': {
        assert.equal(fields.length, 3, `${at}: name NAME BITS guessable|unguessable`);
        const name = vectorName(fields[0]);
        const bits = Number(fields[1]);
        assert.ok(Number.isFinite(bits), `${at}: ${fields[1]} is not a number`);
        const got = estimateBits(name);
        assert.ok(Math.abs(got - bits) < 1e-9, `${at}: ${JSON.stringify(name)} should be ${bits} bits, estimateBits gives ${got}`);
        assert.ok(fields[2] === 'guessable' || fields[2] === 'unguessable', `${at}: ${fields[2]} is neither guessable nor unguessable`);
        assert.equal(isGuessable(name), fields[2] === 'guessable', `${at}: ${JSON.stringify(name)}`);
        names++;
        break;
      }
      default:
        assert.fail(`${at}: unknown statement ${statement}`);
    }
  });
  assert.equal(threshold, GUESSABLE_BELOW_BITS, `${VECTORS_PATH}: threshold`);
  assert.deepEqual([...COMMON_WORDS], words, `COMMON_WORDS must be the words of ${VECTORS_PATH}, in the same order`);
  assert.ok(names >= 40, `${VECTORS_PATH}: only ${names} names`);
});

test('COMMON_WORDS: 125 distinct lower-case words', () => {
  assert.equal(COMMON_WORDS.length, 125);
  assert.equal(new Set(COMMON_WORDS).size, 125);
  for (const w of COMMON_WORDS) assert.match(w, /^[a-z]+$/);
});

test('generated room names are valid, unguessable and vary', () => {
  const seen = new Set();
  for (let i = 0; i < 500; i++) {
    const name = generateRoomName();
    assert.match(name, /^([bdfghjklmnprstvz][aeiou][bdfghjklmnprstvz][aeiou][bdfghjklmnprstvz]-){3}[bdfghjklmnprstvz][aeiou][bdfghjklmnprstvz][aeiou][bdfghjklmnprstvz]$/);
    assert.equal(roomNameProblem(name), null);
    assert.ok(!isGuessable(name), name);
    seen.add(name);
  }
  assert.equal(seen.size, 500);
});

test('room and display name rules', () => {
  for (const bad of ['', 'a b', 'a.b', 'x'.repeat(129), 'café', 'API', 'assets', 'healthz', 'metrics', 'privacy']) {
    assert.notEqual(roomNameProblem(bad), null, bad);
  }
  for (const good of ['a', 'Team-Sync_42', 'x'.repeat(128)]) assert.equal(roomNameProblem(good), null, good);
  assert.notEqual(displayNameProblem('   '), null);
  assert.notEqual(displayNameProblem('a\u0007b'), null);
  assert.notEqual(displayNameProblem('x'.repeat(65)), null);
  assert.equal(displayNameProblem('  Zoë 🎉  '), null);
  assert.equal(displayNameProblem('😀'.repeat(64)), null, '64 scalar values, not UTF-16 units');
});

test('server messages are decoded and checked', () => {
  const w = decodeServerMessage(JSON.stringify({ type: 'welcome', version: 1, room: 'r', you: { id: 'p1', name: 'A', audio: true, video: false }, participants: [] }));
  assert.equal(w?.type, 'welcome');
  const o = decodeServerMessage(JSON.stringify({ type: 'offer', sdp: 'v=0', tracks: [{ mid: '2', participant: 'p2', kind: 'video' }] }));
  // No source from an older server: a video track is taken as the camera. No slots: none.
  assert.deepEqual(o, { type: 'offer', sdp: 'v=0', tracks: [{ mid: '2', participant: 'p2', kind: 'video', source: 'camera' }], slots: [] });
  assert.equal(decodeServerMessage('{"type":"from_the_future"}'), null);
  assert.throws(() => decodeServerMessage('nope'), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"offer","sdp":"x","tracks":[{"mid":"1","participant":"p","kind":"data"}]}'), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"participant_joined","participant":{"id":"p","name":"n"}}'), ProtocolError);
  assert.equal(signalingUrl({ protocol: 'https:', host: 'm.example:8443' }), 'wss://m.example:8443/api/ws');
  assert.equal(signalingUrl({ protocol: 'http:', host: 'localhost:8080' }), 'ws://localhost:8080/api/ws');
});

test('SignalingClient: hello first, typed events in order, expected vs lost close', () => {
  /** A stand-in WebSocket the test drives by hand. */
  class FakeSocket extends EventTarget {
    /** @param {string} url */
    constructor(url) {
      super();
      this.url = url;
      this.readyState = 0;
      /** @type {string[]} */
      this.sent = [];
      FakeSocket.last = this;
    }
    /** @param {string} text */
    send(text) { this.sent.push(text); }
    close() { this.readyState = 3; this.dispatchEvent(Object.assign(new Event('close'), { code: 1000, reason: '' })); }
    open() { this.readyState = 1; this.dispatchEvent(new Event('open')); }
    /** @param {object} msg */
    deliver(msg) { this.dispatchEvent(Object.assign(new Event('message'), { data: JSON.stringify(msg) })); }
    /** @type {FakeSocket | null} */
    static last = null;
  }
  return import('../assets/js/protocol.js').then(({ SignalingClient }) => {
    const c = new SignalingClient({ url: 'ws://x/api/ws', room: 'r', name: 'N', WebSocketImpl: /** @type {any} */ (FakeSocket) });
    /** @type {string[]} */
    const seen = [];
    c.onMessage((m) => seen.push(m.type));
    c.on('participant_left', (m) => seen.push(`left ${m.id}`));
    /** @type {any[]} */
    const closes = [];
    c.addEventListener('close', (ev) => closes.push(/** @type {CustomEvent} */ (ev).detail));
    c.connect();
    const ws = /** @type {FakeSocket} */ (FakeSocket.last);
    ws.open();
    assert.deepEqual(JSON.parse(ws.sent[0]), { type: 'hello', version: 1, room: 'r', name: 'N' });
    ws.deliver({ type: 'participant_left', id: 'p9' });
    ws.deliver({ type: 'answer', sdp: 'v=0' });
    assert.deepEqual(seen, ['participant_left', 'left p9', 'answer']);
    c.sendMediaState(false, true);
    assert.deepEqual(JSON.parse(ws.sent[1]), { type: 'media_state', audio: false, video: true, screen: false });
    // The server drops us: unexpected.
    ws.close();
    assert.deepEqual(closes, [{ code: 1000, reason: '', expected: false, opened: true }]);
  });
});
