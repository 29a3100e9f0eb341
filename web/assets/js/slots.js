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

import { h } from './dom.js';
import { applySpeaker } from './settings.js';

/** @typedef {import('./speaking.js').SpeakingDetector} SpeakingDetector */

/**
 * @typedef {{mid: string, track: MediaStreamTrack, owner: string | null, speaking: boolean, audio: HTMLAudioElement}} PlayedSlot
 */

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
      const slot = { mid, track, owner: null, speaking: false, audio };
      this.played.set(mid, slot);
      this.#watch(slot);
      this.setOwner(mid, owner);
      added = true;
    }
    if (added) void applySpeaker(this.el, this.opts.sinkId());
  }

  /**
   * A slot changed hands (a `slot` message), or an offer said who is on it.
   * @param {string} mid
   * @param {string | null} owner
   */
  setOwner(mid, owner) {
    const slot = this.played.get(mid);
    if (!slot || slot.owner === owner) return;
    const before = slot.owner;
    if (slot.speaking) {
      // The level measured so far was the previous owner's voice: start afresh for the new one.
      this.opts.speaking.unwatch(key(mid));
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

  /** @param {PlayedSlot} slot */
  #watch(slot) {
    this.opts.speaking.watch(key(slot.mid), slot.track, (speaking) => {
      if (this.played.get(slot.mid) !== slot) return;
      slot.speaking = speaking;
      if (slot.owner !== null) this.#ring(slot.owner);
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
  }
}

/** The speaking detector's key of a slot (participants use their ids, and 'local'). @param {string} mid */
function key(mid) {
  return `slot:${mid}`;
}
