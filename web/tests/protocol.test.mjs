// protocol.js, the DOM-free signaling client: the decoder of every server message (defaults
// for fields an older server leaves out, ProtocolError for malformed known messages, null for
// types from a newer protocol), the shapes of what the client sends, and SignalingClient over a
// fake socket (hello first, typed events in order, drop, reconnect).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeServerMessage, signalingUrl, ProtocolError, SignalingClient, DEFAULT_SETTINGS } from '../assets/js/protocol.js';

/** A participant as a newer server sends it (moderation fields). */
const P = { id: 'p1', name: 'A', audio: true, video: false, moderator: true, hand_raised: false, audio_blocked: false, video_blocked: true };

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

test('new server messages decode', () => {
  const w = decodeServerMessage(JSON.stringify({ type: 'welcome', version: 1, room: 'r', you: P, participants: [], settings: { lobby: true, locked: false, password: true, allow_unmute: false }, host_key: 'k1' }));
  // Fields added later (screen, hand_seq, resume_token, ice_servers, chat_history…) default;
  // the ones this test is about must come through as sent.
  assert.ok(w?.type === 'welcome');
  assert.deepEqual({ type: w.type, version: w.version, room: w.room, participants: w.participants, host_key: w.host_key }, { type: 'welcome', version: 1, room: 'r', participants: [], host_key: 'k1' });
  assert.deepEqual(Object.fromEntries(Object.keys(P).map((k) => [k, /** @type {any} */ (w.you)[k]])), P);
  assert.deepEqual({ lobby: w.settings.lobby, locked: w.settings.locked, password: w.settings.password, allow_unmute: w.settings.allow_unmute }, { lobby: true, locked: false, password: true, allow_unmute: false });
  // An older server: no settings, no host key, short participants.
  const old = decodeServerMessage(JSON.stringify({ type: 'welcome', version: 1, room: 'r', you: { id: 'p1', name: 'A', audio: true, video: true }, participants: [] }));
  assert.equal(old?.type === 'welcome' && old.host_key, null);
  assert.deepEqual(old?.type === 'welcome' && old.settings, DEFAULT_SETTINGS);
  assert.equal(old?.type === 'welcome' && old.you.moderator, false);
  assert.deepEqual(decodeServerMessage('{"type":"waiting"}'), { type: 'waiting' });
  assert.deepEqual(decodeServerMessage('{"type":"lobby","waiting":[{"id":"p2","name":"B","knock":null},{"id":"p3","name":"C","knock":"hi"}]}'), {
    type: 'lobby',
    waiting: [{ id: 'p2', name: 'B', knock: null }, { id: 'p3', name: 'C', knock: 'hi' }],
  });
  assert.deepEqual(decodeServerMessage('{"type":"settings","settings":{"lobby":false,"locked":true,"password":false,"allow_unmute":true}}'), {
    type: 'settings',
    settings: { lobby: false, locked: true, password: false, allow_unmute: true, chat_history: false, e2ee: false, recording: false },
  });
  // `recording` (the server records the meeting): decoded when present, refused when not a boolean.
  const recorded = decodeServerMessage('{"type":"settings","settings":{"recording":true}}');
  assert.ok(recorded?.type === 'settings' && recorded.settings.recording);
  assert.throws(() => decodeServerMessage('{"type":"settings","settings":{"recording":"yes"}}'), ProtocolError);
  assert.deepEqual(decodeServerMessage('{"type":"muted","kind":"audio"}'), { type: 'muted', kind: 'audio' });
  assert.deepEqual(decodeServerMessage('{"type":"participant_left","id":"p2","reason":"removed"}'), { type: 'participant_left', id: 'p2', reason: 'removed' });
  assert.deepEqual(decodeServerMessage('{"type":"participant_left","id":"p2"}'), { type: 'participant_left', id: 'p2', reason: 'left' });
  assert.throws(() => decodeServerMessage('{"type":"muted","kind":"screen"}'), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"settings"}'), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"lobby","waiting":[{"id":"p2"}]}'), ProtocolError);
  assert.throws(() => decodeServerMessage(JSON.stringify({ type: 'participant_updated', participant: { ...P, moderator: 'yes' } })), ProtocolError);
});

test('hello carries identity, password, host key and knock; moderator actions have their shapes', () => {
  class FakeSocket extends EventTarget {
    constructor() {
      super();
      this.readyState = 0;
      /** @type {string[]} */
      this.sent = [];
      FakeSocket.last = this;
    }
    /** @param {string} t */
    send(t) { this.sent.push(t); }
    close() {}
    /** @type {FakeSocket | null} */
    static last = null;
  }
  const c = new SignalingClient({ url: 'ws://x/api/ws', room: 'r', name: 'N', hello: { identity: 'abcdefghijklmnopqrstuv', password: '', host_key: 'K', knock: 'hi' }, WebSocketImpl: /** @type {any} */ (FakeSocket) });
  c.connect();
  const ws = /** @type {FakeSocket} */ (FakeSocket.last);
  ws.readyState = 1;
  ws.dispatchEvent(new Event('open'));
  assert.deepEqual(JSON.parse(ws.sent[0]), { type: 'hello', version: 1, room: 'r', name: 'N', identity: 'abcdefghijklmnopqrstuv', host_key: 'K', knock: 'hi' }, 'an empty password is left out');
  c.setLobby(true);
  c.setPassword('pw');
  c.removePassword();
  c.setLock(false);
  c.setAllowUnmute(false);
  c.admit('p2');
  c.reject('p3');
  c.remove('p4');
  c.mute('p5', 'video');
  c.muteAll('audio');
  c.allowUnmute('p6');
  c.makeModerator('p7');
  c.raiseHand(true);
  assert.deepEqual(ws.sent.slice(1).map((t) => JSON.parse(t)), [
    { type: 'set_lobby', enabled: true },
    { type: 'set_password', password: 'pw' },
    { type: 'remove_password' },
    { type: 'set_lock', locked: false },
    { type: 'set_allow_unmute', allowed: false },
    { type: 'admit', id: 'p2' },
    { type: 'reject', id: 'p3' },
    { type: 'remove', id: 'p4' },
    { type: 'mute', id: 'p5', kind: 'video' },
    { type: 'mute_all', kind: 'audio' },
    { type: 'allow_unmute', id: 'p6' },
    { type: 'make_moderator', id: 'p7' },
    { type: 'raise_hand', raised: true },
  ]);
});

test('layers messages decode, and a malformed one is a protocol error', () => {
  assert.deepEqual(decodeServerMessage('{"type":"layers","mid":"1","active":["q","h"]}'), {
    type: 'layers',
    mid: '1',
    active: ['q', 'h'],
  });
  assert.throws(() => decodeServerMessage('{"type":"layers","mid":"1","active":"q"}'), ProtocolError);
});

test('chat, chat_history and reaction decode; malformed ones are refused', () => {
  const m = { seq: 3, from: 'p1', name: '<b>A</b>', text: 'hi', to: null };
  assert.deepEqual(decodeServerMessage(JSON.stringify({ type: 'chat', message: m })), { type: 'chat', message: m });
  assert.deepEqual(decodeServerMessage(JSON.stringify({ type: 'chat', message: { ...m, to: 'p2' } })), { type: 'chat', message: { ...m, to: 'p2' } });
  const { to: _to, ...noTo } = m;
  assert.deepEqual(decodeServerMessage(JSON.stringify({ type: 'chat', message: noTo })), { type: 'chat', message: m });
  assert.deepEqual(decodeServerMessage(JSON.stringify({ type: 'chat_history', messages: [m] })), { type: 'chat_history', messages: [m] });
  assert.deepEqual(decodeServerMessage('{"type":"reaction","id":"p1","emoji":"👍"}'), { type: 'reaction', id: 'p1', emoji: '👍' });
  assert.throws(() => decodeServerMessage(JSON.stringify({ type: 'chat', message: { ...m, seq: '3' } })), ProtocolError);
  assert.throws(() => decodeServerMessage(JSON.stringify({ type: 'chat', message: { ...m, to: 5 } })), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"chat_history","messages":{}}'), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"reaction","id":"p1"}'), ProtocolError);
});

test('hand_seq and the chat_history setting decode, with defaults for older servers', () => {
  const p = { id: 'p1', name: 'A', audio: true, video: true, hand_raised: true, hand_seq: 7 };
  const u = decodeServerMessage(JSON.stringify({ type: 'participant_updated', participant: p }));
  assert.equal(u?.type === 'participant_updated' && u.participant.hand_seq, 7);
  const old = decodeServerMessage(JSON.stringify({ type: 'participant_updated', participant: { ...p, hand_seq: undefined } }));
  assert.equal(old?.type === 'participant_updated' && old.participant.hand_seq, null);
  const s = decodeServerMessage('{"type":"settings","settings":{"lobby":false,"locked":false,"password":false,"allow_unmute":true,"chat_history":true}}');
  assert.equal(s?.type === 'settings' && s.settings.chat_history, true);
  assert.equal(DEFAULT_SETTINGS.chat_history, false);
});

test('chat, react and set_chat_history go out in their documented shapes', () => {
  /** @type {string[]} */
  const sent = [];
  class FakeSocket extends EventTarget {
    readyState = 1;
    /** @param {string} d */
    send(d) {
      sent.push(d);
    }
    close() {}
  }
  const c = new SignalingClient({ url: 'ws://x/api/ws', room: 'r', name: 'A', WebSocketImpl: /** @type {any} */ (FakeSocket) });
  c.connect();
  c.sendChat('hello', null);
  c.sendChat('psst', 'p2');
  c.react('🎉');
  c.setChatHistory(true);
  assert.deepEqual(sent.map((x) => JSON.parse(x)), [
    { type: 'chat', text: 'hello', to: null },
    { type: 'chat', text: 'psst', to: 'p2' },
    { type: 'react', emoji: '🎉' },
    { type: 'set_chat_history', enabled: true },
  ]);
});

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
