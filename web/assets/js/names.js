// Room and display names: the rules of docs/protocol.md "Names", and random room names.

import { isGuessable } from './guessable.js';

export const ROOM_NAME_MAX = 128;
export const DISPLAY_NAME_MAX = 64;

/** Paths the server keeps for itself. */
export const RESERVED_ROOM_NAMES = Object.freeze(['api', 'assets', 'healthz', 'metrics', 'privacy']);

const ROOM_CHARS = /^[A-Za-z0-9_-]+$/;

/**
 * Checks a room name; returns why it is refused, or null when it is fine.
 * @param {string} name
 * @returns {string | null}
 */
export function roomNameProblem(name) {
  if (name.length === 0) return 'Please enter a room name.';
  if (name.length > ROOM_NAME_MAX) return `A room name can be at most ${ROOM_NAME_MAX} characters long.`;
  if (!ROOM_CHARS.test(name)) {
    return 'A room name may only contain the letters A to Z, digits, "-" and "_".';
  }
  if (RESERVED_ROOM_NAMES.includes(name.toLowerCase())) {
    return `"${name}" is reserved; please choose another room name.`;
  }
  return null;
}

/**
 * Checks a display name; returns why it is refused, or null when it is fine.
 * @param {string} name
 * @returns {string | null}
 */
export function displayNameProblem(name) {
  const trimmed = name.trim();
  if (trimmed.length === 0) return 'Please enter your name so others know who joined.';
  if ([...trimmed].length > DISPLAY_NAME_MAX) {
    return `Your name can be at most ${DISPLAY_NAME_MAX} characters long.`;
  }
  if (/\p{Cc}/u.test(trimmed)) return 'Your name may not contain control characters.';
  return null;
}

const CONSONANTS = 'bdfghjklmnprstvz'; // 16: 4 bits each
const VOWELS = 'aeiou'; // 5: log2(5) bits each

/**
 * A uniformly random integer in [0, n), n ≤ 256, from crypto.getRandomValues (rejection sampling
 * so no value is favoured).
 * @param {number} n
 * @returns {number}
 */
function randomBelow(n) {
  const limit = 256 - (256 % n);
  const buf = new Uint8Array(16);
  for (;;) {
    crypto.getRandomValues(buf);
    for (const b of buf) if (b < limit) return b % n;
  }
}

/**
 * A random room name such as `bafok-tisul-moraz-punek`: four groups of consonant-vowel-consonant-
 * vowel-consonant, about 66 bits of entropy. Names the guessable rule would flag (a group that
 * happens to be a common word) are drawn again.
 * @returns {string}
 */
export function generateRoomName() {
  for (;;) {
    const groups = [];
    for (let g = 0; g < 4; g++) {
      let group = '';
      for (let i = 0; i < 5; i++) {
        group += i % 2 === 0 ? CONSONANTS[randomBelow(CONSONANTS.length)] : VOWELS[randomBelow(VOWELS.length)];
      }
      groups.push(group);
    }
    const name = groups.join('-');
    if (!isGuessable(name)) return name;
  }
}
