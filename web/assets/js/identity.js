// What this browser keeps about itself across visits: a random identity (the server bans a
// removed person by it) and, per room, the host key that makes its holder moderator again.
// No DOM code here: storage and the random source are passed in (tests use stand-ins).

export const IDENTITY_KEY = 'moot.identity';
export const HOST_KEY_PREFIX = 'moot.hostKey.';

/** 22 base64url characters: 132 random bits. */
export const IDENTITY_LENGTH = 22;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The shape of localStorage that is used here. */
/** @typedef {{getItem(key: string): string | null, setItem(key: string, value: string): void, removeItem(key: string): void}} KeyValueStore */

/**
 * A fresh random identity: 22 base64url characters from `getRandomValues`.
 * @param {(a: Uint8Array<ArrayBuffer>) => unknown} [getRandomValues] fills its argument
 * @returns {string}
 */
export function newIdentity(getRandomValues = (a) => crypto.getRandomValues(a)) {
  const bytes = new Uint8Array(IDENTITY_LENGTH);
  getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += B64URL[b & 63];
  return out;
}

/** @param {string} s */
export const isIdentity = (s) => /^[A-Za-z0-9_-]{16,64}$/.test(s);

/**
 * This browser's identity, created once and kept in `store`. Without storage (disabled or
 * full) a new one per call: the server then sees a new browser each time.
 * @param {KeyValueStore | null} store
 * @param {(a: Uint8Array<ArrayBuffer>) => unknown} [getRandomValues]
 * @returns {string}
 */
export function browserIdentity(store, getRandomValues) {
  try {
    const kept = store?.getItem(IDENTITY_KEY);
    if (kept && isIdentity(kept)) return kept;
  } catch {
    // storage disabled
  }
  const id = newIdentity(getRandomValues);
  try {
    store?.setItem(IDENTITY_KEY, id);
  } catch {
    // nothing to keep it in
  }
  return id;
}

/** @param {string} room */
const hostKeyName = (room) => HOST_KEY_PREFIX + room.toLowerCase();

/**
 * The host key kept for a room (room names are case-insensitive), or null.
 * @param {KeyValueStore | null} store
 * @param {string} room
 * @returns {string | null}
 */
export function hostKeyFor(store, room) {
  try {
    const k = store?.getItem(hostKeyName(room));
    return k ? k : null;
  } catch {
    return null;
  }
}

/**
 * Keeps (or, with null, forgets) the host key of a room.
 * @param {KeyValueStore | null} store
 * @param {string} room
 * @param {string | null} key
 */
export function rememberHostKey(store, room, key) {
  try {
    if (key) store?.setItem(hostKeyName(room), key);
    else store?.removeItem(hostKeyName(room));
  } catch {
    // nothing to keep it in
  }
}

/**
 * The host key in an address fragment `#host=KEY`, or null.
 * @param {string} hash `location.hash`, with or without the leading '#'
 * @returns {string | null}
 */
export function hostKeyFromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const key = params.get('host');
  return key && key.length <= 256 ? key : null;
}

/**
 * The link that gives its holder the host key of a room.
 * @param {string} origin e.g. `https://meet.example`
 * @param {string} room
 * @param {string} key
 */
export function hostLink(origin, room, key) {
  return `${origin}/${room}#host=${encodeURIComponent(key)}`;
}
