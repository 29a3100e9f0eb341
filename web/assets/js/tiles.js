// Participant tiles and the grid that lays them out.
//
// DOM contract (used by tests): each tile is
//   <div role="group" aria-label="NAME" | "NAME (you)" class="tile" data-participant-id="ID"
//        data-speaking="true|false" data-audio="on|off" data-video="on|off" [data-local="true"]>
// holding a <video autoplay playsinline muted> only while video is shown, otherwise an avatar
// (.avatar) with the initial; a .tile-name label; a .tile-muted indicator with the hidden text
// "microphone off" while the microphone is off; and, for remote participants, one hidden
// <audio autoplay> element; a .tile-hand indicator (hidden text "hand raised", data-hand) while
// the person's hand is raised.
// A screen share is a tile of its own: aria-label "NAME (screen)" (your own: "NAME (your
// screen)"), data-screen="true", data-participant-id of the sharer, its sound in its own <audio>.
// In speaker view (layout.js) the large tile has data-featured="true"; the server's dominant
// speaker has data-dominant="true".

import { h } from './dom.js';
import { micOffIcon, handIcon } from './icons.js';

/** @typedef {import('./protocol.js').Participant} Participant */

/**
 * The first letter (grapheme-ish) of a name, upper-cased, for the avatar.
 * @param {string} name
 * @returns {string}
 */
export function initialOf(name) {
  const first = [...name.trim()][0] ?? '?';
  return first.toLocaleUpperCase();
}

/** A small palette for avatars, picked by id so a person keeps their colour. */
const AVATAR_HUES = [210, 160, 280, 30, 340, 190, 100, 250];

/** One participant's tile. */
export class Tile {
  /**
   * @param {Participant} participant
   * @param {boolean} isLocal
   * @param {{screen?: boolean}} [opts] a screen share tile
   */
  constructor(participant, isLocal, opts = {}) {
    this.id = participant.id;
    this.isLocal = isLocal;
    this.screen = !!opts.screen;
    /** The grid's key: the participant id, or `ID:screen` for a screen share. */
    this.key = this.screen ? screenKey(participant.id) : participant.id;
    /** @type {Participant} */
    this.participant = participant;
    /** @type {MediaStreamTrack | null} */
    this.videoTrack = null;
    /** @type {MediaStreamTrack | null} */
    this.audioTrack = null;
    /** @type {HTMLVideoElement | null} */
    this.video = null;

    this.avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' });
    let hash = 0;
    for (const c of participant.id) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
    this.avatar.style.setProperty('--avatar-hue', String(AVATAR_HUES[hash % AVATAR_HUES.length]));
    this.nameLabel = h('span', { class: 'tile-name-text' });
    this.muted = h('span', { class: 'tile-muted' }, micOffIcon(), h('span', { class: 'visually-hidden', text: 'microphone off' }));
    this.hand = h('span', { class: 'tile-hand', hidden: true }, handIcon(true), h('span', { class: 'visually-hidden', text: 'hand raised' }));
    this.media = h('div', { class: 'tile-media' }, this.avatar);
    this.el = h(
      'div',
      { role: 'group', class: 'tile', 'data-participant-id': participant.id, 'data-speaking': 'false' },
      this.media,
      h('div', { class: 'tile-name' }, this.muted, this.nameLabel),
      this.hand,
    );
    if (isLocal) this.el.dataset.local = 'true';
    if (this.screen) this.el.dataset.screen = 'true';
    /** @type {HTMLAudioElement | null} */
    this.audio = null;
    if (!isLocal) {
      this.audio = h('audio', { autoplay: true, class: 'tile-audio' });
      this.el.append(this.audio);
    }
    this.update(participant);
  }

  /**
   * Applies a new name or media state.
   * @param {Participant} p
   */
  update(p) {
    this.participant = p;
    const label = this.screen ? (this.isLocal ? `${p.name} (your screen)` : `${p.name} (screen)`) : this.isLocal ? `${p.name} (you)` : p.name;
    this.el.setAttribute('aria-label', label);
    this.nameLabel.textContent = label;
    this.avatar.textContent = initialOf(p.name);
    this.el.dataset.audio = p.audio ? 'on' : 'off';
    this.muted.hidden = p.audio || this.screen;
    this.hand.hidden = !p.hand_raised || this.screen;
    this.el.dataset.hand = String(p.hand_raised);
    if (!p.audio || this.screen) this.setSpeaking(false);
    this.#renderVideo();
  }

  /**
   * Binds (or unbinds, with null) the camera track shown in this tile.
   * @param {MediaStreamTrack | null} track
   */
  setVideoTrack(track) {
    if (track === this.videoTrack) return;
    this.videoTrack = track;
    if (this.video) {
      this.video.remove();
      this.video = null;
    }
    this.#renderVideo();
  }

  /**
   * Binds (or unbinds) the remote audio track played by this tile's hidden <audio>.
   * @param {MediaStreamTrack | null} track
   */
  setAudioTrack(track) {
    if (track === this.audioTrack || !this.audio) return;
    this.audioTrack = track;
    // Never an empty MediaStream: that would hold up the page's load event.
    this.audio.srcObject = track ? new MediaStream([track]) : null;
    if (track) void this.audio.play().catch(() => {});
  }

  /** Shows the video while the person has the camera on and a track is bound, else the avatar. */
  #renderVideo() {
    const on = this.screen ? this.participant.screen : this.participant.video;
    const show = on && this.videoTrack !== null;
    this.el.dataset.video = show ? 'on' : 'off';
    if (show && !this.video && this.videoTrack) {
      const video = h('video', { autoplay: true, playsinline: true, muted: true, class: this.isLocal && !this.screen ? 'mirror' : null });
      video.muted = true; // the attribute alone does not mute a srcObject stream in every browser
      video.srcObject = new MediaStream([this.videoTrack]);
      void video.play().catch(() => {});
      this.video = video;
      this.media.prepend(video);
    } else if (!show && this.video) {
      this.video.srcObject = null;
      this.video.remove();
      this.video = null;
    }
    this.avatar.hidden = show;
  }

  /** @param {boolean} speaking */
  setSpeaking(speaking) {
    const on = speaking && this.participant.audio && !this.screen;
    this.el.dataset.speaking = on ? 'true' : 'false';
  }

  remove() {
    if (this.video) this.video.srcObject = null;
    if (this.audio) this.audio.srcObject = null;
    this.el.remove();
  }
}

/**
 * The grid key of a participant's screen share tile.
 * @param {string} id
 */
export function screenKey(id) {
  return `${id}:screen`;
}

/** Smallest tile width before the grid scrolls, px; tiles keep a 16:9 frame. */
const MIN_TILE = 150;
const GAP = 8;

/** The responsive grid of tiles. */
export class TileGrid {
  constructor() {
    this.el = h('div', { class: 'tile-grid', 'data-view': 'tile' });
    /** By key: participant id, or {@link screenKey} for a screen share. */
    /** @type {Map<string, Tile>} */
    this.tiles = new Map();
    /** `tile`: everyone the same size; `speaker`: one large tile (featured), the rest in a strip. */
    /** @type {'tile' | 'speaker'} */
    this.mode = 'tile';
    /** @type {string | null} */
    this.featured = null;
    this.observer = new ResizeObserver(() => this.layout());
    this.observer.observe(this.el);
  }

  /**
   * Adds a tile (or updates the existing one with this id).
   * @param {Participant} p
   * @param {boolean} [isLocal]
   * @returns {Tile}
   */
  add(p, isLocal = false) {
    const existing = this.tiles.get(p.id);
    if (existing) {
      existing.update(p);
      return existing;
    }
    const tile = new Tile(p, isLocal);
    tile.el.dataset.featured = String(tile.key === this.featured);
    this.tiles.set(p.id, tile);
    if (isLocal) this.el.prepend(tile.el);
    else this.el.append(tile.el);
    this.layout();
    return tile;
  }

  /**
   * Adds a participant's screen share tile (first in the grid), or updates it.
   * @param {Participant} p
   * @param {boolean} [isLocal]
   * @returns {Tile}
   */
  addScreen(p, isLocal = false) {
    const existing = this.tiles.get(screenKey(p.id));
    if (existing) {
      existing.update(p);
      return existing;
    }
    const tile = new Tile(p, isLocal, { screen: true });
    this.tiles.set(tile.key, tile);
    this.el.prepend(tile.el);
    this.layout();
    return tile;
  }

  /** @param {string} key a participant id, or a {@link screenKey} */
  get(key) {
    return this.tiles.get(key);
  }

  /**
   * @param {'tile' | 'speaker'} mode
   */
  setMode(mode) {
    this.mode = mode;
    this.el.dataset.view = mode;
    this.layout();
  }

  /**
   * Which tile is large in speaker view (null: none).
   * @param {string | null} key
   */
  setFeatured(key) {
    this.featured = key;
    for (const t of this.tiles.values()) t.el.dataset.featured = String(t.key === key);
  }

  /** @param {string} id */
  remove(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.remove();
    this.tiles.delete(id);
    this.layout();
  }

  /**
   * Picks the tile width that fits every tile (16:9) into the grid's box, never below a
   * phone-friendly minimum (the grid then scrolls); CSS grid auto-fit does the placing.
   */
  layout() {
    const n = Math.max(1, this.tiles.size);
    const width = (this.el.clientWidth || window.innerWidth) - 1;
    const height = (this.el.clientHeight || window.innerHeight) - 1;
    this.el.dataset.count = String(this.tiles.size);
    if (this.mode === 'speaker') {
      // One large tile over a strip of small ones (which wraps and scrolls when many).
      const stripW = Math.max(96, Math.min(200, Math.floor(width / 5)));
      const stripH = Math.floor((stripW * 9) / 16);
      const featuredH = this.tiles.size > 1 ? Math.max(stripH, height - stripH - GAP) : height;
      this.el.style.setProperty('--strip-width', `${stripW}px`);
      this.el.style.setProperty('--strip-height', `${stripH}px`);
      this.el.style.setProperty('--featured-height', `${featuredH}px`);
      return;
    }
    let best = 0;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = Math.min((width - GAP * (cols - 1)) / cols, ((height - GAP * (rows - 1)) / rows) * (16 / 9));
      if (w > best) best = w;
    }
    if (best < MIN_TILE) {
      // Too many to fit (a phone, or many people): as many columns of at least MIN_TILE as the
      // width allows, and the grid scrolls.
      const cols = Math.max(1, Math.floor((width + GAP) / (MIN_TILE + GAP)));
      best = (width - GAP * (cols - 1)) / cols;
    }
    const w = Math.max(1, Math.floor(best));
    this.el.style.setProperty('--tile-width', `${w}px`);
    this.el.style.setProperty('--tile-height', `${Math.floor((w * 9) / 16)}px`);
  }

  clear() {
    for (const tile of this.tiles.values()) tile.remove();
    this.tiles.clear();
    this.observer.disconnect();
  }
}
