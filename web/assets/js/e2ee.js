// End-to-end encryption keys (docs/e2ee.md). No DOM code here: WebCrypto only, so the key
// exchange and the verification codes are tested in Node.
//
// - Identity: an ECDH P-256 key pair per page, made when the meeting starts; its public half
//   goes in `hello.e2ee_public_key` and reaches everyone in our participant object.
// - Pairwise channel: ECDH(our private key, their public key) → HKDF-SHA256 → an AES-GCM key
//   for that pair. Key messages travel in `e2ee {to, payload}`, payload = base64(iv ‖
//   AES-GCM(JSON)), with "from|to" as additional data, so the server can neither read nor
//   redirect them.
// - Sender key: 16 random bytes per participant, KID = generation × 65536 + step. When someone
//   joins, every sender ratchets its key one step (RFC 9605 §5.1-style) and sends the new one
//   to the newcomer only; the others derive it themselves. When someone leaves or is removed,
//   every sender makes a fresh random key (next generation) and sends it to everyone left.
// - Verification: a code derived from both identity public keys, the same on both sides unless
//   the server handed one of them a different key.

import { deriveFrameKey, ratchet, encryptFrame, decryptFrame, frameHeader, clearBytes, concat } from './sframe.js';
import { GEN, learnKey, baseOf, decryptWith, slotKeyOrder, noteOpener, decryptSlotFrame } from './keyring.js';

// Importers of the frame-key functions from here keep working.
export { OLD_KEY_MS, learnKey, baseOf, frameKeyOf, decryptWith, slotKeyOrder, noteOpener, decryptSlotFrame } from './keyring.js';

/** @typedef {import('./sframe.js').FrameKey} FrameKey */

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What starts the `text` of an end-to-end encrypted chat message (docs/protocol.md). */
export const CHAT_PREFIX = 'e2ee:v1:';
const CHAT_GROUP = 1;
const CHAT_PRIVATE = 2;
/** type (1) ‖ KID (8) ‖ IV (12) before the ciphertext, and the 16-byte tag after it. */
const CHAT_HEADER = 21;
const CHAT_OVERHEAD = CHAT_HEADER + 16;
/** The server's chat limit, in characters (crates/room/src/chat.rs). */
const SERVER_CHAT_CHARS = 2000;
/**
 * Longest plaintext, in UTF-8 bytes, whose encrypted form fits the server's 2000 characters:
 * 8 characters of prefix, then base64 (4 characters per 3 bytes) of the overhead and the text.
 */
export const MAX_E2EE_CHAT_BYTES = Math.floor((SERVER_CHAT_CHARS - CHAT_PREFIX.length) / 4) * 3 - CHAT_OVERHEAD;
/** How long a receiver waits for a sender's key before calling a chat message undecryptable. */
export const CHAT_KEY_WAIT_MS = 5000;

/** @param {string} text @returns {number} its length in UTF-8 bytes */
export function utf8Length(text) {
  return enc.encode(text).length;
}

/** Whether a chat text is an encrypted message (rather than text in clear). @param {string} text */
export function isEncryptedChat(text) {
  return text.startsWith(CHAT_PREFIX);
}

/** @param {number} n @returns {Uint8Array<ArrayBuffer>} 8 bytes, big-endian */
function uint64(n) {
  const out = new Uint8Array(8);
  let v = BigInt(n);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** @param {Uint8Array<ArrayBuffer>} b @returns {number} */
function readUint64(b) {
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

/**
 * The chat key of a sender key: its own HKDF label, so chat (random IVs) and frames (salt XOR
 * counter) never share an AES-GCM key.
 * @param {Uint8Array<ArrayBuffer>} base
 * @param {number} kid
 * @returns {Promise<CryptoKey>}
 */
export async function deriveChatKey(base, kid) {
  const ikm = await crypto.subtle.importKey('raw', base, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: concat(enc.encode('Moot chat v1 key '), uint64(kid)) },
    ikm,
    { name: 'AES-GCM', length: 128 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/**
 * Additional data of a chat message: its header (type, KID, IV) and who sent it to whom, so a
 * server that changes the sender, the recipient or group ↔ private gets a message that fails.
 * @param {Uint8Array<ArrayBuffer>} header
 * @param {string} from
 * @param {string | null} to
 */
function chatAad(header, from, to) {
  return concat(header, enc.encode(`|Moot chat v1|${from}|${to ?? ''}`));
}

/**
 * The result of opening a chat text: the plaintext, or why not (`no-key`: we hold no key for
 * its KID, yet; `failed`: wrong key, changed bytes, not for us, malformed).
 * @typedef {{ok: true, text: string} | {ok: false, reason: 'no-key' | 'failed'}} OpenedChat
 */

/** @param {Uint8Array<ArrayBufferLike>} bytes @returns {string} */
export function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** @param {string} text @returns {Uint8Array<ArrayBuffer>} */
export function fromBase64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Whether this browser can encrypt frames: Chromium's encoded insertable streams
 * (createEncodedStreams), or RTCRtpScriptTransform with a module Worker (Firefox, Safari).
 */
export function e2eeSupported() {
  if (typeof RTCRtpSender === 'undefined' || typeof crypto?.subtle === 'undefined') return false;
  return 'createEncodedStreams' in RTCRtpSender.prototype || (typeof RTCRtpScriptTransform !== 'undefined' && typeof Worker !== 'undefined');
}

/**
 * The verification code of a pair: SHA-256 over both raw public keys (sorted, so both sides
 * agree), shown as four groups of five digits (about 66 bits).
 * @param {Uint8Array<ArrayBuffer>} a
 * @param {Uint8Array<ArrayBuffer>} b
 * @returns {Promise<string>}
 */
export async function verificationCode(a, b) {
  const [x, y] = compareBytes(a, b) <= 0 ? [a, b] : [b, a];
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', concat(enc.encode('Moot verification v1'), x, y)));
  const groups = [];
  for (let i = 0; i < 4; i++) {
    const v = ((digest[i * 3] << 16) | (digest[i * 3 + 1] << 8) | digest[i * 3 + 2]) % 100000;
    groups.push(String(v).padStart(5, '0'));
  }
  return groups.join(' ');
}

/** @param {Uint8Array<ArrayBuffer>} a @param {Uint8Array<ArrayBuffer>} b */
function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** @typedef {import('./keyring.js').Generation} Generation */
/** @typedef {import('./keyring.js').KeyRing} KeyRing */

/**
 * @typedef {{
 *   id: string,
 *   publicRaw: Uint8Array,
 *   pairKey: Promise<CryptoKey>,
 *   code: Promise<string>,
 *   gens: Map<number, Generation>,
 *   latestGen: number,
 *   verifiedByMe: boolean,
 *   verifiedByThem: boolean,
 * }} Peer
 */

/**
 * What the frame worker (sframe-worker.js, for browsers with RTCRtpScriptTransform only) is
 * told, so that it holds the same keys as the page: our sender key, a sender key learned from
 * someone, someone's keys replaced (test hook) or forgotten, and whether E2EE is on. Not key
 * updates but sent the same way (media-session.js): which participant each receiving mid carries
 * (`owners`), and which of those mids are audio slots (`slots`: their frames are tried with the
 * other senders' keys too, {@link decryptSlotFrame}).
 * @typedef {{t: 'send', gen: number, step: number, key: string}
 *   | {t: 'peer', id: string, gen: number, step: number, key: string}
 *   | {t: 'reset', id: string, keys: {gen: number, step: number, key: string}[]}
 *   | {t: 'remove', id: string}
 *   | {t: 'active', on: boolean}
 *   | {t: 'owners', owners: [string, string][], slots?: string[]}} KeyUpdate
 */

/**
 * What the frame worker tells the page: its counters (every 500 ms when they changed), and
 * whose key opened the frames of an audio slot whenever that changes (`opener`): with E2EE the
 * page shows that sender, not the server's `slot` claim, as the one speaking on the slot.
 * @typedef {{t: 'stats', stats: Record<string, number>}
 *   | {t: 'opener', mid: string, from: string}} WorkerReport
 */

/**
 * Keys of one participant in one meeting. Events: `key` (detail: peer id) when a peer's sender
 * key arrives; `verified` (detail: peer id) when a verification mark changes; `slotopener`
 * (detail: {mid, from}) when the sender whose key opens an audio slot's frames changes (see
 * {@link E2eeKeys.slotOpened}).
 */
export class E2eeKeys extends EventTarget {
  /**
   * @param {CryptoKeyPair} identity
   * @param {Uint8Array<ArrayBuffer>} publicRaw
   */
  constructor(identity, publicRaw) {
    super();
    this.identity = identity;
    this.publicRaw = publicRaw;
    this.publicKey = toBase64(publicRaw);
    /** Our participant id, once welcomed. */
    this.me = '';
    /** @type {Map<string, Peer>} */
    this.peers = new Map();
    /** Our sender key. */
    this.gen = 0;
    this.step = 0;
    this.base = crypto.getRandomValues(new Uint8Array(16));
    /** @type {Promise<FrameKey>} */
    this.frameKey = deriveFrameKey(this.base, 0);
    this.ctr = 0;
    /** Sends a key exchange payload to one participant (set by the meeting). */
    /** @type {(to: string, payload: string) => void} */
    this.send = () => {};
    /** Counters for tests and diagnostics. */
    /** `slotFallback`: frames on an audio slot that another sender's key than the owner's opened. */
    this.stats = { encrypted: 0, decrypted: 0, failed: 0, noKey: 0, slotFallback: 0, chatEncrypted: 0, chatDecrypted: 0, chatFailed: 0, chatNoKey: 0 };
    /** Our sender keys (base by KID) that our recent group chat messages used: to read their echo. */
    /** @type {Map<number, Uint8Array<ArrayBuffer>>} */
    this.ownChat = new Map();
    /** Audio slot mid → whose key last opened a frame on it (tried early next time, and who
     * the page shows speaking on it). */
    /** @type {Map<string, string>} */
    this.slotOpeners = new Map();
  }

  /**
   * Whose key opened the latest frame on audio slot `mid`: the page's own decryption calls this
   * for each slot frame, the frame worker's reports (media-session.js) on each change. A change is
   * told with a `slotopener` event: that sender, authenticated by their key, is who speaks on
   * the slot (the server's `slot` message only says whose key to try first).
   * @param {string} mid
   * @param {string} from
   */
  slotOpened(mid, from) {
    if (noteOpener(this.slotOpeners, mid, from)) this.dispatchEvent(new CustomEvent('slotopener', { detail: { mid, from } }));
  }

  /**
   * Forgets the openers of every mid but `mids` (the audio slots of a server offer; none for a
   * new media session, whose mids start afresh). No event.
   * @param {Iterable<string>} mids
   */
  keepSlots(mids) {
    const keep = new Set(mids);
    for (const mid of [...this.slotOpeners.keys()]) if (!keep.has(mid)) this.slotOpeners.delete(mid);
  }

  /** A new identity key pair. */
  static async create() {
    const identity = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']));
    const publicRaw = new Uint8Array(await crypto.subtle.exportKey('raw', identity.publicKey));
    return new E2eeKeys(identity, publicRaw);
  }

  get kid() {
    return this.gen * GEN + this.step;
  }

  /**
   * Someone whose client can encrypt (their participant object has a key).
   * @param {string} id
   * @param {string} publicKey base64
   */
  addPeer(id, publicKey) {
    const existing = this.peers.get(id);
    if (existing && toBase64(existing.publicRaw) === publicKey) return existing;
    const publicRaw = fromBase64(publicKey);
    /** @type {Peer} */
    const peer = {
      id,
      publicRaw,
      pairKey: this.#pairKey(publicRaw),
      code: verificationCode(this.publicRaw, publicRaw),
      gens: new Map(),
      latestGen: -1,
      verifiedByMe: false,
      verifiedByThem: false,
    };
    // A failed derivation (a bad key from the server) must not be an unhandled rejection.
    peer.pairKey.catch(() => {});
    peer.code.catch(() => {});
    this.peers.set(id, peer);
    return peer;
  }

  /** @param {string} id */
  removePeer(id) {
    this.peers.delete(id);
    this.#changed({ t: 'remove', id });
  }

  /**
   * Tells listeners (the frame worker's bridge) about a key change: a `framekeys` event.
   * @param {KeyUpdate} update
   */
  #changed(update) {
    this.dispatchEvent(new CustomEvent('framekeys', { detail: update }));
  }

  /** Our current sender key, as a KeyUpdate. @returns {KeyUpdate} */
  #sendUpdate() {
    return { t: 'send', gen: this.gen, step: this.step, key: toBase64(this.base) };
  }

  /**
   * Everything a new frame worker needs to hold the same frame keys as this page: our sender
   * key and every sender key we know; `framekeys` events carry the changes after that.
   * @returns {KeyUpdate[]}
   */
  frameKeyState() {
    /** @type {KeyUpdate[]} */
    const out = [this.#sendUpdate()];
    for (const [id, peer] of this.peers) {
      out.push({ t: 'reset', id, keys: [...peer.gens.values()].map((g) => ({ gen: g.gen, step: g.step, key: toBase64(g.base) })) });
    }
    return out;
  }

  /** @param {Uint8Array<ArrayBuffer>} publicRaw */
  async #pairKey(publicRaw) {
    const theirs = await crypto.subtle.importKey('raw', publicRaw, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
    const shared = await crypto.subtle.deriveBits({ name: 'ECDH', public: theirs }, this.identity.privateKey, 256);
    const ikm = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey']);
    const [x, y] = compareBytes(this.publicRaw, publicRaw) <= 0 ? [this.publicRaw, publicRaw] : [publicRaw, this.publicRaw];
    return crypto.subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: enc.encode('Moot pairwise v1'), info: concat(x, y) },
      ikm,
      { name: 'AES-GCM', length: 256 },
      false,
      ['encrypt', 'decrypt'],
    );
  }

  /**
   * Encrypts a message for one peer.
   * @param {string} to
   * @param {object} message
   * @returns {Promise<string>} the base64 payload
   */
  async seal(to, message) {
    const peer = this.peers.get(to);
    if (!peer) throw new Error(`no E2EE key for ${to}`);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(`${this.me}|${to}`) }, await peer.pairKey, enc.encode(JSON.stringify(message)));
    return toBase64(concat(iv, new Uint8Array(ct)));
  }

  /**
   * Decrypts a message from a peer; throws if it was not sealed by them for us.
   * @param {string} from
   * @param {string} payload
   * @returns {Promise<any>}
   */
  async open(from, payload) {
    const peer = this.peers.get(from);
    if (!peer) throw new Error(`no E2EE key for ${from}`);
    const bytes = fromBase64(payload);
    const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: enc.encode(`${from}|${this.me}`) }, await peer.pairKey, bytes.subarray(12));
    return JSON.parse(dec.decode(pt));
  }

  /** @param {string} to */
  async sendKey(to) {
    const payload = await this.seal(to, { t: 'key', gen: this.gen, step: this.step, key: toBase64(this.base) });
    this.send(to, payload);
  }

  /** Someone joined: ratchet our key one step and give them the new one. @param {string} id */
  async joined(id) {
    await this.#advance();
    if (this.peers.has(id)) await this.sendKey(id);
  }

  /** Someone left: a fresh key for everyone still here. */
  async left() {
    this.gen += 1;
    this.step = 0;
    this.base = crypto.getRandomValues(new Uint8Array(16));
    this.frameKey = deriveFrameKey(this.base, this.kid);
    this.ctr = 0;
    this.#changed(this.#sendUpdate());
    await Promise.all([...this.peers.keys()].map((id) => this.sendKey(id).catch(() => {})));
  }

  async #advance() {
    this.base = await ratchet(this.base);
    this.step += 1;
    this.frameKey = deriveFrameKey(this.base, this.kid);
    this.ctr = 0;
    this.#changed(this.#sendUpdate());
  }

  /**
   * A key exchange message arrived.
   * @param {string} from
   * @param {string} payload
   */
  async receive(from, payload) {
    const msg = await this.open(from, payload);
    const peer = /** @type {Peer} */ (this.peers.get(from));
    if (msg.t === 'key' && Number.isInteger(msg.gen) && Number.isInteger(msg.step) && typeof msg.key === 'string') {
      this.#learn(peer, msg.gen, msg.step, fromBase64(msg.key));
      this.dispatchEvent(new CustomEvent('key', { detail: from }));
    } else if (msg.t === 'verified') {
      peer.verifiedByThem = true;
      this.dispatchEvent(new CustomEvent('verified', { detail: from }));
    }
  }

  /**
   * @param {Peer} peer
   * @param {number} gen
   * @param {number} step
   * @param {Uint8Array<ArrayBuffer>} base
   */
  #learn(peer, gen, step, base) {
    learnKey(peer, gen, step, base);
    this.#changed({ t: 'peer', id: peer.id, gen, step, key: toBase64(base) });
  }

  /** We confirmed the code with this person (told them too). @param {string} id */
  async markVerified(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    peer.verifiedByMe = true;
    this.send(id, await this.seal(id, { t: 'verified' }));
    this.dispatchEvent(new CustomEvent('verified', { detail: id }));
  }

  /**
   * Encrypts one outgoing frame with our current key.
   * @param {'audio' | 'video'} kind
   * @param {Uint8Array<ArrayBuffer>} frame
   */
  async encrypt(kind, frame) {
    const fk = await this.frameKey;
    const ctr = this.ctr++;
    this.stats.encrypted++;
    return encryptFrame(fk, ctr, frame, clearBytes(kind, frame));
  }

  /**
   * Decrypts one incoming frame from `owner`; null when it cannot (no key yet, a wrong key, a
   * tampered frame): the caller drops it. A frame on an audio slot (`slot`: its mid) may be
   * someone else's (the `slot` message trails the media): it is tried with everyone's keys, and
   * whoever's key opens it is recorded ({@link E2eeKeys.slotOpened}).
   * @param {'audio' | 'video'} kind
   * @param {string | undefined} owner
   * @param {Uint8Array<ArrayBuffer>} data
   * @param {string} [slot]
   * @returns {Promise<Uint8Array<ArrayBuffer> | null>}
   */
  async decrypt(kind, owner, data, slot) {
    if (slot === undefined) return decryptWith(owner ? this.peers.get(owner) : undefined, kind, data, this.stats);
    const order = slotKeyOrder(owner, this.slotOpeners.get(slot), this.peers.keys());
    const opened = await decryptSlotFrame(this.peers, order, kind, data, this.stats);
    if (!opened) return null;
    this.slotOpened(slot, opened.from);
    return opened.plain;
  }

  /**
   * Encrypts a chat text: to everyone with our current sender key (its chat key), or privately
   * with the pairwise key we share with `to`. Returns the `text` to send (CHAT_PREFIX + base64).
   * @param {string} text
   * @param {string | null} to
   * @returns {Promise<string>}
   */
  async encryptChat(text, to) {
    const plain = enc.encode(text);
    if (plain.length > MAX_E2EE_CHAT_BYTES) throw new Error(`an encrypted message may have at most ${MAX_E2EE_CHAT_BYTES} bytes`);
    /** @type {CryptoKey} */
    let key;
    let kid = 0;
    if (to === null) {
      // Base and KID read together (a ratchet may be under way: it changes both at once).
      const base = this.base;
      kid = this.kid;
      this.ownChat.set(kid, base);
      while (this.ownChat.size > 4) this.ownChat.delete(this.ownChat.keys().next().value ?? -1);
      key = await deriveChatKey(base, kid);
    } else {
      const peer = this.peers.get(to);
      if (!peer) throw new Error(`no E2EE key for ${to}`);
      key = await peer.pairKey;
    }
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const header = concat(Uint8Array.of(to === null ? CHAT_GROUP : CHAT_PRIVATE), uint64(kid), iv);
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: chatAad(header, this.me, to) }, key, plain);
    this.stats.chatEncrypted++;
    return CHAT_PREFIX + toBase64(concat(header, new Uint8Array(ct)));
  }

  /**
   * Opens a chat text `from` → `to` (null: everyone) as the server delivered it. Group messages
   * open with the sender's key for their KID (ours for our own echo); private ones with the
   * pairwise key of the two people.
   * @param {string} from
   * @param {string | null} to
   * @param {string} text
   * @returns {Promise<OpenedChat>}
   */
  async decryptChat(from, to, text) {
    /** @type {OpenedChat} */
    const failed = { ok: false, reason: 'failed' };
    if (!isEncryptedChat(text)) return failed;
    /** @type {Uint8Array<ArrayBuffer>} */
    let bytes;
    try {
      bytes = fromBase64(text.slice(CHAT_PREFIX.length));
    } catch {
      return failed;
    }
    if (bytes.length < CHAT_OVERHEAD) return failed;
    const header = bytes.subarray(0, CHAT_HEADER);
    const type = header[0];
    const kid = readUint64(header.subarray(1, 9));
    /** @type {CryptoKey | null} */
    let key = null;
    if (type === CHAT_GROUP && to === null) {
      if (from === this.me) {
        const base = this.ownChat.get(kid);
        key = base ? await deriveChatKey(base, kid) : null;
      } else {
        const peer = this.peers.get(from);
        const base = peer ? await baseOf(peer, kid) : null;
        key = base ? await deriveChatKey(base, kid) : null;
      }
    } else if (type === CHAT_PRIVATE && to !== null && kid === 0 && (from === this.me || to === this.me)) {
      const peer = this.peers.get(from === this.me ? to : from);
      key = peer ? await peer.pairKey.catch(() => null) : null;
    } else {
      this.stats.chatFailed++;
      return failed;
    }
    if (!key) {
      this.stats.chatNoKey++;
      return { ok: false, reason: 'no-key' };
    }
    try {
      const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: header.subarray(9, 21), additionalData: chatAad(header.slice(), from, to) }, key, bytes.subarray(CHAT_HEADER));
      this.stats.chatDecrypted++;
      return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(pt) };
    } catch {
      this.stats.chatFailed++;
      return failed;
    }
  }

  /**
   * Like decryptChat, but when the sender's key has not arrived yet (it travels over the
   * pairwise channel and can trail a message sent right after a join), waits for it up to
   * `waitMs` and tries again.
   * @param {string} from
   * @param {string | null} to
   * @param {string} text
   * @param {number} [waitMs]
   * @returns {Promise<OpenedChat>}
   */
  async decryptChatWaiting(from, to, text, waitMs = CHAT_KEY_WAIT_MS) {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const opened = await this.decryptChat(from, to, text);
      const left = deadline - Date.now();
      if (opened.ok || opened.reason !== 'no-key' || from === this.me || left <= 0) return opened;
      const arrived = await new Promise((resolve) => {
        /** @param {Event} ev */
        const onKey = (ev) => {
          if (/** @type {CustomEvent<string>} */ (ev).detail !== from) return;
          done(true);
        };
        const timer = setTimeout(() => done(false), left);
        /** @param {boolean} v */
        const done = (v) => {
          clearTimeout(timer);
          this.removeEventListener('key', onKey);
          resolve(v);
        };
        this.addEventListener('key', onKey);
      });
      if (!arrived) return this.decryptChat(from, to, text);
    }
  }

  /**
   * Test hook: what we know of `id`'s sender keys, as a removed participant could have kept it.
   * @param {string} id
   */
  exportPeerKeys(id) {
    const peer = this.peers.get(id);
    if (!peer) return [];
    return [...peer.gens.values()].map((g) => ({ gen: g.gen, step: g.step, key: toBase64(g.base) }));
  }

  /**
   * Test hook: replaces what we know of `id`'s keys with a wrong one (same KIDs, wrong bytes).
   * @param {string} id
   */
  corruptPeerKeys(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    for (const g of peer.gens.values()) {
      g.base = crypto.getRandomValues(new Uint8Array(16));
      g.older.clear();
      g.keys.clear();
    }
    this.#changed({ t: 'reset', id, keys: this.exportPeerKeys(id) });
  }
}

/**
 * Tries captured keys (as `exportPeerKeys` gives them) on a captured frame, each as it is and
 * ratcheted up to 8 steps forward, whatever KID the frame names. For tests: true if one
 * decrypts it.
 * @param {{gen: number, step: number, key: string}[]} keys
 * @param {'audio' | 'video'} kind
 * @param {Uint8Array<ArrayBuffer>} data
 */
export async function canDecryptWith(keys, kind, data) {
  const clear = clearBytes(kind, data);
  const header = frameHeader(data, clear);
  if (!header) return false;
  // Whatever KID the frame names: every captured key, and each of its next ratchet steps.
  for (const k of keys) {
    let base = fromBase64(k.key);
    for (let s = 0; s <= 8; s++) {
      try {
        await decryptFrame(await deriveFrameKey(base, header.kid), data, clear);
        return true;
      } catch {
        // wrong key
      }
      base = await ratchet(base);
    }
  }
  return false;
}
