// How easy a room name is to guess. This must stay identical to the Rust twin
// (crates/room/src/guessable.rs): docs/protocol.md, "Guessable room names", is the rule.

/** Bits below which a room name counts as guessable. */
export const GUESSABLE_BELOW_BITS = 48;

/**
 * Words people pick for rooms; a run of letters that is one of these is worth 6 bits only.
 * Same list, same order, as `COMMON_WORDS` in crates/room/src/guessable.rs.
 * @type {readonly string[]}
 */
export const COMMON_WORDS = Object.freeze(
  ('meeting meet meetings test testing tests room rooms call calls chat team teams daily standup ' +
    'sync demo hello hi my our your the a an and of for with weekly monthly party class school ' +
    'office work project group family friends zoom jitsi moot video conference conf talk lobby ' +
    'main general public private secret admin user guest home lunch coffee board sales dev devs ' +
    'ops hr it support help interview review planning retro sprint kickoff all hands allhands ' +
    'company news live event webinar session lesson course study club game games fun music ' +
    'church prayer yoga fitness doctor health quick new open welcome abc xyz qwerty asdf foo bar ' +
    'baz password letmein one two three first last monday tuesday wednesday thursday friday ' +
    'saturday sunday morning evening night').split(' '),
);

const COMMON = new Set(COMMON_WORDS);

/**
 * Splits a lower-cased name into runs of letters and runs of digits. `-` and `_` separate runs;
 * so does any other character (valid room names contain none).
 * @param {string} name
 * @returns {string[]}
 */
export function splitRuns(name) {
  /** @type {string[]} */
  const runs = [];
  let current = '';
  /** @type {'letter' | 'digit' | null} */
  let kind = null;
  for (const ch of name.toLowerCase()) {
    /** @type {'letter' | 'digit' | null} */
    const k = ch >= 'a' && ch <= 'z' ? 'letter' : ch >= '0' && ch <= '9' ? 'digit' : null;
    if (k !== kind || k === null) {
      if (current) runs.push(current);
      current = '';
    }
    kind = k;
    if (k !== null) current += ch;
  }
  if (current) runs.push(current);
  return runs;
}

/**
 * Whether a run of digits follows a pattern people pick: one digit repeated (length ≥ 2), an
 * ascending or descending sequence of consecutive digits (length ≥ 3), or a year 1900–2099.
 * @param {string} digits
 * @returns {boolean}
 */
export function isDigitPattern(digits) {
  const n = digits.length;
  if (n >= 2 && [...digits].every((d) => d === digits[0])) return true;
  if (n >= 3) {
    const codes = [...digits].map((d) => d.charCodeAt(0));
    const step = (/** @type {number} */ s) => codes.every((c, i) => i === 0 || c - codes[i - 1] === s);
    if (step(1) || step(-1)) return true;
  }
  if (n === 4) {
    const year = Number(digits);
    if (year >= 1900 && year <= 2099) return true;
  }
  return false;
}

/**
 * Estimated strength of a room name, in bits.
 * @param {string} name
 * @returns {number}
 */
export function estimateBits(name) {
  let bits = 0;
  for (const run of splitRuns(name)) {
    if (run[0] >= '0' && run[0] <= '9') {
      bits += isDigitPattern(run) ? 4 : 3.3 * run.length;
    } else {
      bits += COMMON.has(run) ? 6 : 2.5 * run.length;
    }
  }
  return bits;
}

/**
 * Whether anyone could plausibly guess this room name (estimate under 48 bits).
 * @param {string} name
 * @returns {boolean}
 */
export function isGuessable(name) {
  return estimateBits(name) < GUESSABLE_BELOW_BITS;
}
