// Unit tests of identity.js: the browser identity and host keys. (The moderation messages and
// the hello extras are in protocol.test.mjs.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserIdentity, hostKeyFor, hostKeyFromHash, hostLink, newIdentity, rememberHostKey, IDENTITY_KEY } from '../assets/js/identity.js';

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
