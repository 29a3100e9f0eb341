// Unit tests of the DOM-free parts of security and moderation: decoding the new server
// messages, the hello extras and moderator senders, the browser identity and host keys.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeServerMessage, ProtocolError, SignalingClient, DEFAULT_SETTINGS } from '../assets/js/protocol.js';
import { browserIdentity, hostKeyFor, hostKeyFromHash, hostLink, newIdentity, rememberHostKey, IDENTITY_KEY } from '../assets/js/identity.js';

const P = { id: 'p1', name: 'A', audio: true, video: false, moderator: true, hand_raised: false, audio_blocked: false, video_blocked: true };

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
    settings: { lobby: false, locked: true, password: false, allow_unmute: true, chat_history: false, e2ee: false },
  });
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

test('browser identity: 22 base64url characters, made once and kept', () => {
  /** @type {Map<string, string>} */
  const m = new Map();
  const store = { getItem: (/** @type {string} */ k) => m.get(k) ?? null, setItem: (/** @type {string} */ k, /** @type {string} */ v) => void m.set(k, v), removeItem: (/** @type {string} */ k) => void m.delete(k) };
  const id = browserIdentity(store);
  assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(m.get(IDENTITY_KEY), id);
  assert.equal(browserIdentity(store), id, 'the same on the next visit');
  assert.notEqual(newIdentity(), newIdentity());
  assert.equal(newIdentity((a) => a.fill(255)), '_'.repeat(22));
  // Storage that throws: still an identity, just not kept.
  const broken = { getItem() { throw new Error('no'); }, setItem() { throw new Error('no'); }, removeItem() {} };
  assert.match(browserIdentity(broken), /^[A-Za-z0-9_-]{22}$/);

  rememberHostKey(store, 'Team-Sync', 'key/1');
  assert.equal(hostKeyFor(store, 'team-sync'), 'key/1', 'room names are case-insensitive');
  assert.equal(m.get('moot.hostKey.team-sync'), 'key/1');
  rememberHostKey(store, 'team-sync', null);
  assert.equal(hostKeyFor(store, 'Team-Sync'), null);
  assert.equal(hostKeyFromHash('#host=abc_DEF-1'), 'abc_DEF-1');
  assert.equal(hostKeyFromHash('#host=key%2F1'), 'key/1');
  assert.equal(hostKeyFromHash(''), null);
  assert.equal(hostKeyFromHash('#other=1'), null);
  assert.equal(hostLink('https://m.example', 'room', 'key/1'), 'https://m.example/room#host=key%2F1');
  assert.equal(hostKeyFromHash(new URL(hostLink('https://m.example', 'room', 'k+y=1')).hash), 'k+y=1');
});
