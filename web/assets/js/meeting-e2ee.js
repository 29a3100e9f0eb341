// End-to-end encryption in the meeting (docs/e2ee.md): this page's keys, their exchange over
// `e2ee` messages, the rekeying rules, the indicator, the verification codes, chat encryption,
// and the hooks the media session's frame transforms call.
//
// The rekeying rules follow the roster, whatever told it: someone new gets a ratcheted key
// (`joined`), someone gone makes us draw a fresh key for everyone left (`left`), live or after a
// reconnection (docs/e2ee.md, "Reconnection").

import { h, announce } from './dom.js';
import { E2eeKeys, e2eeSupported, isEncryptedChat } from './e2ee.js';
import { UNDECRYPTABLE } from './chat.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').RoomSettings} RoomSettings */
/** @typedef {import('./roster.js').Roster} Roster */

/**
 * What the encryption needs from the rest of the meeting.
 * @typedef {{
 *   roster: Roster,
 *   sendE2ee: (to: string, payload: string) => void,
 *   sendChat: (text: string, to: string | null) => void,
 *   settings: () => RoomSettings,
 *   panel: import('./participants.js').ParticipantsPanel,
 *   chat: import('./chat.js').ChatPanel,
 * }} E2eeWiring
 */

/**
 * The rekeying rules (docs/e2ee.md, "Keys"), on every path the roster learns of a change
 * (live, or a resync after a reconnection; docs/e2ee.md, "Reconnection"):
 * - someone known: their identity key, their verification code (`known`), and, unless they
 *   were here before us, our key ratcheted one step and sent to them (they must not read what
 *   we sent before);
 * - someone gone: whoever left must not read what follows, so a fresh key for everyone left;
 * - my id: key messages are bound to it.
 * No DOM.
 * @param {Roster} roster
 * @param {() => E2eeKeys | null} keysOf this page's keys, if it encrypts
 * @param {(id: string) => void} known
 * @returns {() => void} unsubscribes
 */
export function rekeyWithRoster(roster, keysOf, known) {
  return roster.listen({
    me: (me) => {
      const keys = keysOf();
      if (keys) keys.me = me.id;
    },
    joined: async (p, change) => {
      const keys = keysOf();
      if (!keys || !p.e2ee_public_key) return;
      try {
        keys.addPeer(p.id, p.e2ee_public_key);
      } catch (err) {
        console.warn('moot: a participant has an unusable encryption key:', err);
        return;
      }
      known(p.id);
      if (change.cause !== 'welcome' && keys.peers.has(p.id)) await keys.joined(p.id);
    },
    left: async (p) => {
      const keys = keysOf();
      if (!keys) return;
      keys.removePeer(p.id);
      await keys.left();
    },
  });
}

export class MeetingE2ee {
  /** @param {E2eeWiring} wiring */
  constructor(wiring) {
    this.wiring = wiring;
    /** Whether this browser can encrypt frames (false also when making the keys failed). */
    this.capable = e2eeSupported();
    /** This page's keys; null when it cannot encrypt. @type {E2eeKeys | null} */
    this.keys = null;
    /** Frames seen by the encryption layer, kept only with `?debug` (tests). */
    /** @type {Record<string, {kind: string, owner: string | undefined, bytes: Uint8Array}[]> | null} */
    this.captured = new URLSearchParams(location.search).has('debug') ? {} : null;
    /** The always-visible indicator in the meeting header. */
    this.indicator = h('p', { id: 'e2ee-state', class: 'e2ee-state', role: 'status', 'data-e2ee': 'off', text: 'Not end-to-end encrypted' });
    rekeyWithRoster(wiring.roster, () => this.keys, (id) => this.showVerification(id));
  }

  /**
   * Makes the identity key (it must be in `hello`); afterwards `keys` is set, or `capable` is
   * false.
   */
  async create() {
    if (!this.capable) return;
    try {
      this.keys = await E2eeKeys.create();
    } catch (err) {
      console.warn('moot: no end-to-end encryption keys:', err);
      this.capable = false;
      return;
    }
    const keys = this.keys;
    keys.send = (to, payload) => this.wiring.sendE2ee(to, payload);
    keys.addEventListener('verified', (ev) => {
      const id = /** @type {CustomEvent<string>} */ (ev).detail;
      this.showVerification(id);
      const p = this.wiring.roster.others.get(id);
      const peer = keys.peers.get(id);
      if (p && peer?.verifiedByMe && peer.verifiedByThem) announce(`You and ${p.name} verified the encryption`);
    });
  }

  /**
   * After every `welcome` (the roster is in sync): our id, and our current sender key to
   * everyone here (a newcomer's first key; after a reconnection, harmless for those who have it).
   * @param {string} me
   */
  async welcome(me) {
    const keys = this.keys;
    if (!keys) return;
    keys.me = me;
    const others = this.wiring.roster.others;
    for (const id of [...keys.peers.keys()]) if (!others.has(id)) keys.removePeer(id);
    await Promise.all([...keys.peers.keys()].map((id) => keys.sendKey(id).catch((err) => console.warn('moot: could not send a key:', err))));
    for (const id of keys.peers.keys()) this.showVerification(id);
  }

  /** @param {import('./protocol.js').E2eeMessage} msg */
  async receive(msg) {
    try {
      await this.keys?.receive(msg.from, msg.payload);
    } catch (err) {
      console.warn('moot: ignored a key exchange message that did not open:', err);
    }
  }

  /** @param {string} id */
  verify(id) {
    void this.keys?.markVerified(id);
  }

  /**
   * The indicator says what is true for this page's media.
   * @param {import('./media-session.js').MediaSession | null} pc
   */
  show(pc) {
    const setting = this.wiring.settings().e2ee;
    const on = setting && !!this.keys;
    pc?.refreshE2ee();
    this.wiring.chat.setEncrypted(setting);
    this.indicator.dataset.e2ee = on ? 'on' : 'off';
    this.indicator.textContent = on ? 'End-to-end encrypted' : 'Not end-to-end encrypted';
    this.indicator.title = on
      ? 'Audio, video and chat are encrypted so that only the people in this meeting can read them. Compare verification codes in Participants to be sure nobody is in between.'
      : 'The server can see this meeting’s audio and video.';
  }

  /** @param {string} id */
  showVerification(id) {
    const peer = this.keys?.peers.get(id);
    if (!peer) return;
    peer.code.then(
      (code) => this.wiring.panel.setVerification(id, { code, byMe: peer.verifiedByMe, byThem: peer.verifiedByThem }),
      () => this.wiring.panel.setVerification(id, null),
    );
  }

  /**
   * Sends a chat message; in an end-to-end encrypted meeting only encrypted (docs/e2ee.md,
   * "Chat"): to everyone under our sender key, privately under the pairwise key. Returns
   * whether it went out.
   * @param {string} text
   * @param {string | null} to
   */
  async sendChat(text, to) {
    if (!this.wiring.settings().e2ee) {
      this.wiring.sendChat(text, to);
      return true;
    }
    if (!this.keys) {
      this.wiring.chat.refused('This meeting is end-to-end encrypted and this browser cannot encrypt: the message was not sent.');
      return false;
    }
    try {
      this.wiring.sendChat(await this.keys.encryptChat(text, to), to);
      return true;
    } catch (err) {
      this.wiring.chat.refused(`The message could not be encrypted, so it was not sent: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  /**
   * A chat message as the server relayed it → as the panel shows it. In an encrypted meeting:
   * decrypted (waiting briefly for the sender's key when `wait`), or marked undecryptable (never
   * shown as text), or, if it came in clear, marked so.
   * @param {import('./protocol.js').ChatEntry} m
   * @param {boolean} wait
   * @returns {Promise<import('./chat.js').ShownChat>}
   */
  async openChat(m, wait) {
    if (!this.wiring.settings().e2ee) return m;
    if (!isEncryptedChat(m.text)) return { ...m, e2ee: 'clear' };
    const keys = this.keys;
    const opened = keys ? await (wait ? keys.decryptChatWaiting(m.from, m.to, m.text) : keys.decryptChat(m.from, m.to, m.text)) : null;
    if (!opened?.ok) return { ...m, text: UNDECRYPTABLE, e2ee: 'undecryptable' };
    // The server's rule for text in clear, kept for text it cannot see: no control characters
    // but newline and tab (rendering is text-only anyway).
    const text = opened.text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
    return { ...m, text, e2ee: 'encrypted' };
  }

  /**
   * The frame transforms' hooks for a new media session; null when this page cannot encrypt.
   * @returns {import('./media-session.js').FrameCrypto | null}
   */
  frameCrypto() {
    const keys = this.keys;
    if (!keys) return null;
    const captured = this.captured;
    return {
      active: () => this.wiring.settings().e2ee,
      encrypt: (kind, frame) => keys.encrypt(kind, frame),
      decrypt: (kind, owner, data, slot) => keys.decrypt(kind, owner, data, slot),
      connectWorker: (post) => {
        for (const update of keys.frameKeyState()) post(update);
        /** @param {Event} ev */
        const onChange = (ev) => post(/** @type {CustomEvent<import('./e2ee.js').KeyUpdate>} */ (ev).detail);
        keys.addEventListener('framekeys', onChange);
        return () => keys.removeEventListener('framekeys', onChange);
      },
      countWorker: (delta) => {
        const stats = /** @type {Record<string, number>} */ (/** @type {unknown} */ (keys.stats));
        for (const [k, v] of Object.entries(delta)) if (k in stats) stats[k] += v;
      },
      slotOpened: (mid, from) => keys.slotOpened(mid, from),
      keepSlots: (mids) => keys.keepSlots(mids),
      capture: captured
        ? (where, kind, owner, bytes) => {
            if (kind !== 'video') return;
            const list = (captured[where] ??= []);
            list.push({ kind, owner, bytes: bytes.slice() });
            if (list.length > 60) list.shift();
          }
        : undefined,
    };
  }
}
