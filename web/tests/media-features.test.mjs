// Unit tests of the DOM-free parts of screen share, views, quality, names and reconnection:
// the new message shapes and the signaling client's reconnect/drop.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeServerMessage, ProtocolError, SignalingClient } from '../assets/js/protocol.js';

test('dominant_speaker, track sources, resume token and screen decode', () => {
  assert.deepEqual(decodeServerMessage('{"type":"dominant_speaker","id":"p3"}'), { type: 'dominant_speaker', id: 'p3' });
  assert.deepEqual(decodeServerMessage('{"type":"dominant_speaker","id":null}'), { type: 'dominant_speaker', id: null });
  assert.throws(() => decodeServerMessage('{"type":"dominant_speaker","id":3}'), ProtocolError);
  const o = decodeServerMessage(JSON.stringify({ type: 'offer', sdp: 'v=0', tracks: [
    { mid: '4', participant: 'p2', kind: 'video', source: 'screen' },
    { mid: '5', participant: 'p2', kind: 'audio', source: 'screen_audio' },
    { mid: '6', participant: 'p2', kind: 'audio' },
  ] }));
  assert.ok(o?.type === 'offer');
  assert.deepEqual(o.tracks.map((t) => t.source), ['screen', 'screen_audio', 'microphone']);
  const w = decodeServerMessage(JSON.stringify({ type: 'welcome', version: 1, room: 'r', you: { id: 'p1', name: 'A', audio: true, video: true, screen: true }, participants: [], resume_token: 'tok', resumed: true }));
  assert.ok(w?.type === 'welcome');
  assert.equal(w.resume_token, 'tok');
  assert.equal(w.resumed, true);
  assert.equal(w.you.screen, true);
});

test('SignalingClient: quality, name, offer sources; drop is unexpected; reconnect resumes on a new socket', () => {
  /** @type {FakeSocket[]} */
  const sockets = [];
  class FakeSocket extends EventTarget {
    /** @param {string} url */
    constructor(url) {
      super();
      this.url = url;
      this.readyState = 0;
      /** @type {string[]} */
      this.sent = [];
      sockets.push(this);
    }
    open() {
      this.readyState = 1;
      this.dispatchEvent(new Event('open'));
    }
    /** @param {string} d */
    send(d) {
      this.sent.push(d);
    }
    close(code = 1000, reason = '') {
      if (this.readyState === 3) return;
      this.readyState = 3;
      const ev = Object.assign(new Event('close'), { code, reason });
      this.dispatchEvent(ev);
    }
    /** @param {object} msg */
    deliver(msg) {
      this.dispatchEvent(Object.assign(new Event('message'), { data: JSON.stringify(msg) }));
    }
  }
  const c = new SignalingClient({ url: 'ws://x/api/ws', room: 'r', name: 'N', hello: { identity: 'i'.repeat(22) }, WebSocketImpl: /** @type {any} */ (FakeSocket) });
  /** @type {any[]} */
  const closes = [];
  /** @type {string[]} */
  const seen = [];
  c.addEventListener('close', (ev) => closes.push(/** @type {CustomEvent} */ (ev).detail));
  c.onMessage((m) => seen.push(m.type));
  c.connect();
  sockets[0].open();
  c.sendOffer('v=0', { 0: 'microphone', 1: 'camera', 2: 'screen', 3: 'screen_audio' });
  c.setQuality('audio_only');
  c.setName('New name');
  c.sendMediaState(true, false, true);
  assert.deepEqual(sockets[0].sent.slice(1).map((t) => JSON.parse(t)), [
    { type: 'offer', sdp: 'v=0', sources: { 0: 'microphone', 1: 'camera', 2: 'screen', 3: 'screen_audio' } },
    { type: 'set_quality', quality: 'audio_only' },
    { type: 'set_name', name: 'New name' },
    { type: 'media_state', audio: true, video: false, screen: true },
  ]);
  // A drop looks like a network failure: not expected.
  c.drop();
  assert.deepEqual(closes, [{ code: 4001, reason: 'dropped', expected: false, opened: true }]);
  // The old socket is silenced; the new one says hello with the resume token and the new name.
  c.reconnect('tok');
  sockets[0].deliver({ type: 'waiting' });
  sockets[1].open();
  assert.deepEqual(JSON.parse(sockets[1].sent[0]), { type: 'hello', version: 1, room: 'r', name: 'New name', identity: 'i'.repeat(22), resume: 'tok' });
  sockets[1].deliver({ type: 'dominant_speaker', id: 'p2' });
  assert.deepEqual(seen, ['dominant_speaker']);
  sockets[1].close(1006, '');
  assert.equal(closes.length, 2);
  assert.equal(closes[1].expected, false);
});
