// Unit tests of guessable.js and names.js (room and display names): `node --test web/tests/`.
// The bit table is the one of crates/room/src/guessable.rs: the two twins must agree.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMON_WORDS, estimateBits, isGuessable, splitRuns } from '../assets/js/guessable.js';
import { generateRoomName, roomNameProblem, displayNameProblem } from '../assets/js/names.js';

test('bit estimates match the Rust twin', () => {
  /** @type {[string, number][]} */
  const table = [
    ['', 0], ['test', 6], ['meeting1', 6 + 3.3], ['my-secret-room', 18], ['team-sync-2024', 16],
    ['Team_Sync', 12], ['xkcd', 10], ['room42', 6 + 6.6], ['room1234', 10], ['abc987', 10],
    ['a890', 6 + 9.9], ['x77', 2.5 + 4], ['x7', 2.5 + 3.3], ['x1899', 2.5 + 13.2], ['x2099', 6.5],
    ['x2100', 2.5 + 13.2], ['x13', 2.5 + 6.6], ['--a__b--', 6 + 2.5], ['hello2world', 6 + 3.3 + 12.5],
    ['abcdefgh', 20], ['bafok-tisul-moraz-punek', 50],
  ];
  for (const [name, bits] of table) assert.ok(Math.abs(estimateBits(name) - bits) < 1e-9, `${name}: ${estimateBits(name)} ≠ ${bits}`);
  for (const name of ['test', 'meeting1', 'my-secret-room', 'team-sync-2024', 'abcdefgh']) assert.ok(isGuessable(name), name);
  assert.ok(!isGuessable('bafok-tisul-moraz-punek'));
  assert.ok(!isGuessable('q'.repeat(12) + '-test-room-chat'), '48 bits exactly is not guessable');
  assert.ok(isGuessable('q'.repeat(19)), '47.5 bits is guessable');
  assert.deepEqual(splitRuns('ab12cd-3_e'), ['ab', '12', 'cd', '3', 'e']);
  assert.deepEqual(splitRuns('--'), []);
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

