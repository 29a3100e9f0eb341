// Playing the audio slots of a large room (docs/protocol.md, "Large rooms" → "Audio slots"):
// the server sends the others' microphones on a few slots instead of one track each, and says
// with `slot` messages whose voice each slot carries now.
//
// DOM contract (used by tests): a hidden <div class="slot-audio"> holds one
//   <audio autoplay class="slot-audio-track" data-slot="MID" data-participant-id="OWNER">
// per slot (no data-participant-id while the slot has no owner yet). It plays on the chosen
// speaker like the tiles' audio. The speaking indicator of a tile follows the slot its person
// is on: a slot's level is watched (speaking.js) and rings its current owner's tile; when the
// slot changes hands, the old owner's ring goes off.
//
// Who owns a slot, for all of this: without end-to-end encryption, whom the server's `slot`
// message names (nothing else is known). With it, the sender whose key opened the slot's latest
// frames (E2eeKeys `slotopener` events, from the page's own decryption or the frame worker's):
// the server cannot forge that, so it cannot make one person's voice ring another's tile. The
// two legitimately differ for a frame or two when a slot changes hands (media and `slot`
// messages travel apart); if they still differ after MISMATCH_WARN_MS while the slot carries
// sound, a console warning says so (once per slot and occurrence).

import { h } from './dom.js';
import { applySpeaker } from './settings.js';

/** @typedef {import('./speaking.js').SpeakingDetector} SpeakingDetector */

/**
 * @typedef {{mid: string, track: MediaStreamTrack, who: SlotOwner, owner: string | null, speaking: boolean,
 *   audio: HTMLAudioElement, timer: ReturnType<typeof setTimeout> | null}} PlayedSlot
 * `owner` is the owner shown now (`who.owner` as last applied to the ring and the DOM).
 */

/**
 * What SlotAudio needs of an E2eeKeys (e2ee.js): the openers known so far, and their changes.
 * @typedef {Pick<import('./e2ee.js').E2eeKeys, 'slotOpeners' | 'addEventListener' | 'removeEventListener'>} OpenerSource
 */

/**
 * How long the server's owner of a slot and the sender whose key opens its frames may differ
 * (while it carries sound) before a console warning: a change of hands shows it briefly, until
 * the `slot` message arrives.
 */
export const MISMATCH_WARN_MS = 1000;

/**
 * Who one slot's sound is from. `claimed`: what the server says (`slot` messages); `opener`:
 * with end-to-end encryption, the sender whose key opened the latest frame, which wins. No DOM
 * and no clock of its own (times are passed in): tested in Node.
 */
export class SlotOwner {
  constructor() {
    /** @type {string | null} */
    this.claimed = null;
    /** @type {string | null} */
    this.opener = null;
    /** Since when (ms) claim and opener differ as they do now; null while they agree (or one is unknown). */
    /** @type {number | null} */
    this.differingSince = null;
    /** Whether this disagreement was warned about. */
    this.warned = false;
  }

  /** The owner to show: the opener if a key has opened a frame, else the server's claim. */
  get owner() {
    return this.opener ?? this.claimed;
  }

  /** The server says so (a `slot` message, or an offer). @param {string | null} who @param {number} now */
  claim(who, now) {
    if (who === this.claimed) return;
    this.claimed = who;
    this.#compare(now);
  }

  /** `who`'s key opened the slot's latest frame. @param {string} who @param {number} now */
  open(who, now) {
    if (who === this.opener) return;
    this.opener = who;
    this.#compare(now);
  }

  /** A new pair of claim and opener: a new occurrence if they differ. @param {number} now */
  #compare(now) {
    const differ = this.claimed !== null && this.opener !== null && this.claimed !== this.opener;
    this.differingSince = differ ? now : null;
    this.warned = false;
  }

  /** When to look again whether to warn (ms), or null: nothing to warn about. */
  get warnAt() {
    return this.differingSince === null || this.warned ? null : this.differingSince + MISMATCH_WARN_MS;
  }

  /**
   * Whether to warn now, once per occurrence: claim and opener have differed for
   * MISMATCH_WARN_MS and the slot carries sound (so frames keep coming that the opener's key
   * opens, not merely a claimed owner who has not spoken yet).
   * @param {number} now
   * @param {boolean} sounding
   */
  shouldWarn(now, sounding) {
    const at = this.warnAt;
    if (at === null || now < at || !sounding) return false;
    this.warned = true;
    return true;
  }
}

export class SlotAudio {
  /**
   * @param {{
   *   speaking: SpeakingDetector,
   *   ring: (participant: string, speaking: boolean) => void,
   *   sinkId: () => string,
   * }} opts `ring` turns a participant's speaking indicator on or off; `sinkId` is the chosen speaker
   */
  constructor(opts) {
    this.opts = opts;
    this.el = h('div', { class: 'slot-audio', hidden: true });
    /** @type {Map<string, PlayedSlot>} */
    this.played = new Map();
    /** @type {OpenerSource | null} */
    this.keys = null;
    this.onOpener = (/** @type {Event} */ ev) => {
      const { mid, from } = /** @type {CustomEvent<{mid: string, from: string}>} */ (ev).detail;
      this.setOpener(mid, from);
    };
  }

  /**
   * End-to-end encryption: from now on a slot's owner is whoever's key opens its frames
   * (`keys.slotOpeners`, and `slotopener` events).
   * @param {OpenerSource} keys
   */
  follow(keys) {
    this.keys?.removeEventListener('slotopener', this.onOpener);
    this.keys = keys;
    keys.addEventListener('slotopener', this.onOpener);
    for (const [mid, from] of keys.slotOpeners) this.setOpener(mid, from);
  }

  /**
   * Follows the slots of a media session after its offer: one <audio> per slot, none for a slot
   * that is gone, the owners as the session knows them.
   * @param {{slotTracks: () => {mid: string, owner: string | null, track: MediaStreamTrack}[]}} session
   */
  update(session) {
    const now = session.slotTracks();
    const mids = new Set(now.map((s) => s.mid));
    for (const mid of [...this.played.keys()]) if (!mids.has(mid)) this.#drop(mid);
    let added = false;
    for (const { mid, owner, track } of now) {
      const known = this.played.get(mid);
      if (known && known.track === track) {
        this.setOwner(mid, owner);
        continue;
      }
      if (known) this.#drop(mid);
      const audio = /** @type {HTMLAudioElement} */ (h('audio', { autoplay: true, class: 'slot-audio-track', 'data-slot': mid }));
      audio.srcObject = new MediaStream([track]);
      void audio.play().catch(() => {});
      this.el.append(audio);
      /** @type {PlayedSlot} */
      const slot = { mid, track, who: new SlotOwner(), owner: null, speaking: false, audio, timer: null };
      this.played.set(mid, slot);
      this.#watch(slot);
      // Frames may have been opened already (the slot's media starts with the offer).
      const opener = this.keys?.slotOpeners.get(mid);
      if (opener !== undefined) slot.who.open(opener, Date.now());
      this.setOwner(mid, owner);
      added = true;
    }
    if (added) void applySpeaker(this.el, this.opts.sinkId());
  }

  /**
   * The server says a slot changed hands (a `slot` message), or an offer said who is on it.
   * With end-to-end encryption, who is shown is the slot's opener once a key has opened a frame.
   * @param {string} mid
   * @param {string | null} owner
   */
  setOwner(mid, owner) {
    const slot = this.played.get(mid);
    if (!slot) return;
    slot.who.claim(owner, Date.now());
    this.#show(slot);
  }

  /**
   * `from`'s key opened the latest frame of a slot (end-to-end encryption): the slot's sound is
   * theirs, whatever the server said.
   * @param {string} mid
   * @param {string} from
   */
  setOpener(mid, from) {
    const slot = this.played.get(mid);
    if (!slot) return;
    slot.who.open(from, Date.now());
    this.#show(slot);
  }

  /** Shows the slot's owner (`who.owner`): its ring and data-participant-id. @param {PlayedSlot} slot */
  #show(slot) {
    this.#checkMismatch(slot);
    const owner = slot.who.owner;
    if (slot.owner === owner) return;
    const before = slot.owner;
    if (slot.speaking) {
      // The level measured so far was the previous owner's voice: start afresh for the new one.
      this.opts.speaking.unwatch(key(slot.mid));
      slot.speaking = false;
      if (before !== null) this.#ring(before);
      this.#watch(slot);
    }
    slot.owner = owner;
    if (owner === null) delete slot.audio.dataset.participantId;
    else slot.audio.dataset.participantId = owner;
  }

  /**
   * Puts a participant's speaking indicator right again (their tile may be new).
   * @param {string} participant
   */
  refresh(participant) {
    this.#ring(participant);
  }

  /**
   * Warns if the server's owner and the opener of a slot have differed too long while it sounds;
   * else looks again when that may be the case (a timer; and each time the slot starts sounding).
   * @param {PlayedSlot} slot
   */
  #checkMismatch(slot) {
    if (slot.timer !== null) clearTimeout(slot.timer);
    slot.timer = null;
    if (this.played.get(slot.mid) !== slot) return;
    const now = Date.now();
    const { claimed, opener } = slot.who;
    if (slot.who.shouldWarn(now, slot.speaking)) {
      console.warn(`moot: audio slot ${slot.mid}: the server says it carries ${claimed}'s microphone, but ${opener}'s key opens its frames; showing ${opener} as the speaker`);
      return;
    }
    const at = slot.who.warnAt;
    if (at !== null && at > now) slot.timer = setTimeout(() => this.#checkMismatch(slot), at - now);
  }

  /** @param {PlayedSlot} slot */
  #watch(slot) {
    this.opts.speaking.watch(key(slot.mid), slot.track, (speaking) => {
      if (this.played.get(slot.mid) !== slot) return;
      slot.speaking = speaking;
      if (slot.owner !== null) this.#ring(slot.owner);
      if (speaking) this.#checkMismatch(slot);
    });
  }

  /** @param {string} participant */
  #ring(participant) {
    let on = false;
    for (const s of this.played.values()) if (s.owner === participant && s.speaking) on = true;
    this.opts.ring(participant, on);
  }

  /** @param {string} mid */
  #drop(mid) {
    const slot = this.played.get(mid);
    if (!slot) return;
    this.played.delete(mid);
    if (slot.timer !== null) clearTimeout(slot.timer);
    this.opts.speaking.unwatch(key(mid));
    slot.audio.srcObject = null;
    slot.audio.remove();
    if (slot.speaking && slot.owner !== null) this.#ring(slot.owner);
  }

  /** Plays every slot on the chosen speaker. @param {string} sinkId */
  async applySpeaker(sinkId) {
    await applySpeaker(this.el, sinkId);
  }

  close() {
    for (const mid of [...this.played.keys()]) this.#drop(mid);
    this.keys?.removeEventListener('slotopener', this.onOpener);
    this.keys = null;
  }
}

/** The speaking detector's key of a slot (participants use their ids, and 'local'). @param {string} mid */
function key(mid) {
  return `slot:${mid}`;
}
