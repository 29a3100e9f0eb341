// Unit tests of guessable.js and names.js (room and display names): `node --test web/tests/`.
// The guessable-name rule is checked against tests/vectors/guessable-room-names.txt, which the
// Rust twin (crates/room/src/guessable.rs) reads in its tests too: the two cannot drift apart.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { COMMON_WORDS, GUESSABLE_BELOW_BITS, estimateBits, isGuessable, splitRuns } from '../assets/js/guessable.js';
import { generateRoomName, roomNameProblem, displayNameProblem } from '../assets/js/names.js';

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

