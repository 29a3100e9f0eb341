// The stage: a tile per person (and per screen share), which one is large in speaker view, the
// speaking rings, and the remote tracks on them. It follows the roster (people come and go) and
// the media session (each server offer says which track is whose).

import { TileGrid, screenKey } from './tiles.js';
import { Layout } from './layout.js';
import { SpeakingDetector } from './speaking.js';
import { SlotAudio } from './slots.js';
import { applySpeaker } from './settings.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./media-session.js').MediaSession} MediaSession */

/**
 * @typedef {{
 *   roster: import('./roster.js').Roster,
 *   devices: import('./media.js').LocalMedia,
 *   screenShare: import('./screenshare.js').ScreenShare,
 *   sinkId: () => string,
 *   pc: () => MediaSession | null,
 * }} StageWiring
 * `pc` is the current media session, if any.
 */

export class Stage {
  /** @param {StageWiring} wiring */
  constructor(wiring) {
    this.wiring = wiring;
    this.speaking = new SpeakingDetector();
    this.grid = new TileGrid();
    this.layout = new Layout(this.grid);
    /** Large rooms: the others' microphones on audio slots, played apart from the tiles. */
    this.slotAudio = new SlotAudio({ speaking: this.speaking, ring: (id, on) => this.grid.get(id)?.setSpeaking(on), sinkId: wiring.sinkId });
    wiring.roster.listen({
      me: (me, before) => this.#me(me, before),
      joined: (p) => this.#joined(p),
      updated: (p) => {
        this.grid.get(p.id)?.update(p);
        this.#screenChanged(p);
      },
      left: (p) => {
        this.speaking.unwatch(p.id);
        this.grid.remove(p.id);
        this.grid.remove(screenKey(p.id));
        this.layout.forget(p.id);
      },
    });
  }

  /**
   * My tile: made on the first `welcome` (and again under a new id after a reconnection that
   * was not resumed), else brought up to date.
   * @param {Participant} me
   * @param {Participant | null} before
   */
  #me(me, before) {
    const { devices, screenShare } = this.wiring;
    if (before && before.id !== me.id) {
      this.speaking.unwatch('local');
      this.grid.remove(before.id);
      this.grid.remove(screenKey(before.id));
    }
    this.layout.me = me.id;
    let mine = this.grid.get(me.id);
    if (!mine) {
      mine = this.grid.add(me, true);
      const tile = mine;
      this.speaking.watch('local', devices.audioTrack, (s) => tile.setSpeaking(s));
    }
    mine.setVideoTrack(devices.videoTrack);
    mine.update(me);
    if (screenShare.active) this.grid.addScreen(me, true).setVideoTrack(screenShare.video);
    else this.grid.remove(screenKey(me.id));
    this.layout.refresh();
  }

  /** @param {Participant} p */
  #joined(p) {
    const tile = this.grid.add(p);
    this.slotAudio.refresh(p.id);
    this.#screenChanged(p);
    const pc = this.wiring.pc();
    if (pc) {
      // Their tracks, if any, arrive with the next server offer.
      const media = pc.remoteMedia(p.id);
      tile.setVideoTrack(media.video);
      tile.setAudioTrack(media.audio);
    }
  }

  /**
   * Someone else's screen share tile follows their `screen` state.
   * @param {Participant} p
   */
  #screenChanged(p) {
    if (p.screen) {
      const tile = this.grid.addScreen(p);
      const pc = this.wiring.pc();
      if (pc) {
        const media = pc.remoteMedia(p.id);
        tile.setVideoTrack(media.screen);
        tile.setAudioTrack(media.screenAudio);
      }
    } else {
      this.grid.remove(screenKey(p.id));
    }
    this.layout.setScreen(p.id, p.screen);
  }

  /** Puts each remote track from the last server offer on its participant's tiles. */
  bindRemoteMedia() {
    const pc = this.wiring.pc();
    if (!pc) return;
    for (const id of this.wiring.roster.others.keys()) {
      const tile = this.grid.get(id);
      if (tile) {
        const media = pc.remoteMedia(id);
        tile.setVideoTrack(media.video);
        tile.setAudioTrack(media.audio);
        this.speaking.watch(id, media.audio, (s) => tile.setSpeaking(s));
      }
    }
    for (const id of this.wiring.roster.others.keys()) {
      const tile = this.grid.get(screenKey(id));
      if (!tile) continue;
      const media = pc.remoteMedia(id);
      tile.setVideoTrack(media.screen);
      tile.setAudioTrack(media.screenAudio);
    }
    void applySpeaker(this.grid.el, this.wiring.sinkId());
    this.layout.refresh();
    this.slotAudio.update(pc);
  }

  /**
   * The local microphone changed: the speaking ring of my tile follows the new track.
   * @param {MediaStreamTrack | null} track
   */
  watchMyMicrophone(track) {
    const me = this.wiring.roster.me;
    const mine = me ? this.grid.get(me.id) : undefined;
    if (mine) this.speaking.watch('local', track, (s) => mine.setSpeaking(s));
  }

  /**
   * Plays everything on the chosen speaker.
   * @param {string} sinkId
   */
  async applySpeaker(sinkId) {
    await applySpeaker(this.grid.el, sinkId);
    await this.slotAudio.applySpeaker(sinkId);
  }

  /** Stops the audio graph and every track on the tiles. */
  close() {
    this.slotAudio.close();
    this.speaking.close();
    for (const tile of this.grid.tiles.values()) {
      tile.setVideoTrack(null);
      tile.setAudioTrack(null);
    }
  }
}
