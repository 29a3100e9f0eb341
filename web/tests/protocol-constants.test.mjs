// Constants the browser client copies from the Rust crates. The server enforces them and the
// client shows or obeys them, so a copy that drifts fails only in use ("why is my 2000th
// character refused?"). This test reads the Rust sources as text and compares every copy:
// change a limit on one side and it fails until the other side follows.
// If a constant is renamed or moved, the test says which one it cannot find: update it here.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ENTRY_ERRORS, MAX_CHAT_CHARS, PROTOCOL_VERSION, REACTIONS } from '../assets/js/protocol.js';
import { DISPLAY_NAME_MAX, RESERVED_ROOM_NAMES, ROOM_NAME_MAX } from '../assets/js/names.js';
import { MAX_VIEW_HEIGHT } from '../assets/js/viewsizes.js';
import { isIdentity } from '../assets/js/identity.js';

const ROOT = new URL('../../', import.meta.url);

/** A file of the repository as text. @param {string} path from the repository root */
const source = (path) => readFileSync(new URL(path, ROOT), 'utf8');

/**
 * The value text of `const NAME: TYPE = VALUE;` in a Rust file, looked for after `after`
 * (e.g. `impl RoomName {` for an associated constant).
 * @param {string} path @param {string} name @param {string} [after]
 */
function rustConst(path, name, after = '') {
  let text = source(path);
  if (after) {
    const at = text.indexOf(after);
    assert.ok(at >= 0, `${path}: no \`${after}\` (moved? update this test)`);
    text = text.slice(at);
  }
  const found = text.match(new RegExp(`\\bconst ${name}: [^=]+= ([^;]+);`));
  assert.ok(found, `${path}: no \`const ${name}\` (renamed or moved? update this test)`);
  return found[1].trim();
}

/** A Rust integer constant (`16_384`). @param {string} path @param {string} name @param {string} [after] */
function rustNumber(path, name, after) {
  const value = rustConst(path, name, after);
  assert.match(value, /^\d[\d_]*$/, `${path}: ${name} = ${value} is not a plain integer`);
  return Number(value.replaceAll('_', ''));
}

/** The string literals of a Rust array constant. @param {string} path @param {string} name */
function rustStrings(path, name) {
  return [...rustConst(path, name).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`));
}

/** `const NAME = VALUE;` of a browser module that does not export it. @param {string} path @param {string} name */
function jsConst(path, name) {
  const found = source(path).match(new RegExp(`\\bconst ${name} = ([^;]+);`));
  assert.ok(found, `${path}: no \`const ${name}\` (renamed or moved? update this test)`);
  return found[1].trim();
}

test('protocol version', () => {
  assert.equal(PROTOCOL_VERSION, rustNumber('crates/protocol/src/lib.rs', 'PROTOCOL_VERSION'));
});

test('reactions: the same emoji in the same order', () => {
  assert.deepEqual([...REACTIONS], rustStrings('crates/protocol/src/messages.rs', 'REACTIONS'));
});

test('chat length limit', () => {
  const server = rustNumber('crates/room/src/chat.rs', 'MAX_CHAT_CHARS');
  assert.equal(MAX_CHAT_CHARS, server, 'protocol.js MAX_CHAT_CHARS');
  // e2ee.js sizes encrypted chat to fit the server's limit with its own copy.
  assert.equal(Number(jsConst('web/assets/js/e2ee.js', 'SERVER_CHAT_CHARS')), server, 'e2ee.js SERVER_CHAT_CHARS');
});

test('view_sizes height limit', () => {
  assert.equal(MAX_VIEW_HEIGHT, rustNumber('crates/protocol/src/messages.rs', 'MAX_VIEW_HEIGHT'));
});

test('room and display name limits, reserved room names', () => {
  const names = 'crates/protocol/src/names.rs';
  assert.equal(ROOM_NAME_MAX, rustNumber(names, 'MAX_LEN', 'impl RoomName {'), 'room name length');
  assert.equal(DISPLAY_NAME_MAX, rustNumber(names, 'MAX_CHARS', 'impl DisplayName {'), 'display name length');
  assert.deepEqual([...RESERVED_ROOM_NAMES], rustStrings(names, 'RESERVED_ROOM_NAMES'));
});

test('room password length', () => {
  const server = rustNumber('crates/room/src/admission.rs', 'MAX_PASSWORD_CHARS');
  assert.equal(Number(jsConst('web/assets/js/security.js', 'MAX_PASSWORD')), server, 'security.js MAX_PASSWORD');
});

test('identity: the same lengths are accepted', () => {
  const path = 'crates/room/src/admission.rs';
  const range = source(path).match(/fn valid_identity[\s\S]*?\((\d+)\.\.=(\d+)\)\.contains/);
  assert.ok(range, `${path}: valid_identity no longer checks (MIN..=MAX).contains (update this test)`);
  const [min, max] = [Number(range[1]), Number(range[2])];
  for (const [length, valid] of [[min - 1, false], [min, true], [max, true], [max + 1, false]]) {
    assert.equal(isIdentity('a'.repeat(Number(length))), valid, `an identity of ${length} characters`);
  }
});

test('entry errors are error codes the server has', () => {
  const path = 'crates/protocol/src/messages.rs';
  const text = source(path);
  const start = text.indexOf('pub enum ErrorCode {');
  assert.ok(start >= 0, `${path}: no \`pub enum ErrorCode\``);
  assert.match(text.slice(Math.max(0, start - 200), start), /rename_all = "snake_case"/, 'ErrorCode is sent in snake_case');
  const body = text.slice(start, text.indexOf('}', start));
  const codes = [...body.matchAll(/^\s*([A-Z]\w*),?\s*$/gm)].map((m) =>
    m[1].replace(/[A-Z]/g, (c, i) => (i ? '_' : '') + c.toLowerCase()),
  );
  assert.ok(codes.length >= 20, `${path}: only ${codes.length} error codes found`);
  for (const code of ENTRY_ERRORS) assert.ok(codes.includes(code), `protocol.js ENTRY_ERRORS has ${code}, ErrorCode has not`);
});

test('the client stops trying to resume before the server gives up on it', () => {
  const grace = rustConst('crates/room/src/resume.rs', 'RESUME_GRACE').match(/^Duration::from_secs\((\d+)\)$/);
  assert.ok(grace, 'crates/room/src/resume.rs: RESUME_GRACE is not Duration::from_secs(N) (update this test)');
  const tries = Number(jsConst('web/assets/js/reconnect.js', 'RECONNECT_FOR_MS').replaceAll('_', ''));
  assert.ok(tries < Number(grace[1]) * 1000, `reconnect.js tries for ${tries} ms; the server's grace is ${grace[1]} s`);
});
